#pragma once

// Value types the Redis monitor hands to models: an instance as its heartbeat
// hash describes it (sb:instance:<id>), one backplane envelope seen on pub/sub
// with its measured latency, and one entry of a client's stickiness history
// (sb:client:<id>:instances, "<instance>|<ms>"). Parsed once here so models
// never look at Redis key or field names (docs/protocol.md section 5).

#include "operatortypes.h"

#include <QByteArray>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QUrl>

#include <optional>

namespace sb::console {

struct DiscoveredInstance
{
    QString id;
    QString color;
    QString host;
    quint16 port = 0;
    QString version;
    qint64 startedAt = 0;
    int connections = 0;
    bool ready = false;
    bool draining = false;

    // From the HGETALL answer (field -> value); nullopt without id or port.
    static std::optional<DiscoveredInstance> fromHash(const QHash<QByteArray, QByteArray> &fields);
    // http://host:port; a wildcard or empty host is replaced by `fallbackHost`
    // (the Redis host: the instance listens everywhere, so it is reachable
    // where Redis is).
    QUrl url(const QString &fallbackHost) const;
    QString toString() const;
};

struct BackplaneEnvelope
{
    qint64 receivedAt = 0; // ms since epoch, when the console read it
    QString channel;       // full channel name, prefix included
    QString origin;
    QString id;
    qint64 ts = 0;         // the envelope's own time stamp
    QString target;        // the target as compact JSON ({"room":"lobby"})
    QString frameType;     // frame.type, or what the channel says ("probe")
    QString room;          // frame.room when there is one
    qint64 size = 0;       // payload bytes
    qint64 latencyMs = 0;  // receivedAt - ts
    QByteArray payload;    // kept for export

    // nullopt when the payload is not a v1 envelope.
    static std::optional<BackplaneEnvelope> parse(const QByteArray &channel, const QByteArray &payload,
                                                  qint64 receivedAt);
    // One export line: the columns plus the envelope itself.
    QJsonObject toJson() const;
    QString toString() const;
};

struct ClientVisit
{
    QString instance;
    qint64 at = 0; // ms since epoch

    // "<instance>|<ms>"; nullopt when malformed.
    static std::optional<ClientVisit> parse(const QByteArray &entry);
    QString toString() const;
    bool operator==(const ClientVisit &) const = default;
};

// A connection record from sb:session:<id> (the conn fields as strings).
std::optional<ConnectionInfo> connectionFromSessionHash(const QHash<QByteArray, QByteArray> &fields);

} // namespace sb::console
