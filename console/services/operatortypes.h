#pragma once

// Value types the operator service hands to models: one connection (`conn`),
// an instance's description (/api/instance), its 1 s statistics and one flow
// sample (docs/protocol.md section 4). Parsed once from JSON here so models
// never look at wire field names.

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace sb::console {

struct ConnectionInfo
{
    QString sessionId;
    QString clientId;
    QString user;
    QString role;
    QString remote;
    QString instance;
    QStringList rooms;
    qint64 connectedAt = 0;
    qint64 framesIn = 0;
    qint64 framesOut = 0;
    bool sticky = true;
    qint64 queueBytes = 0;

    static ConnectionInfo fromJson(const QJsonObject &conn);
    QJsonObject toJson() const;
    QString toString() const;
    // What changes between two looks at a session (counters, rooms) is compared first.
    bool operator==(const ConnectionInfo &other) const;
};

struct InstanceInfo
{
    QString id;
    QString color;
    QString version;
    qint64 startedAt = 0;
    int connections = 0;
    QString backplane; // "redis" | "local"
    bool backplaneUp = false;
    QString backplaneKind; // "local" | "redis" | "sentinel"; empty from servers before v1.1
    QString redisMaster;   // "host:port" of the Redis master in use; empty when none
    qint64 backplaneFailovers = 0;
    QString store;
    bool storeUp = false;
    bool ready = false;

    static InstanceInfo fromJson(const QJsonObject &instance);
    QString toString() const;
};

struct InstanceStats
{
    QString instance;
    qint64 timestamp = 0; // when the console received it, ms since epoch
    int connections = 0;
    double framesInPerS = 0;
    double framesOutPerS = 0;
    double bytesInPerS = 0;
    double bytesOutPerS = 0;
    double backplaneRttMs = 0;
    qint64 queueMaxBytes = 0;
    qint64 rssBytes = 0;

    static InstanceStats fromJson(const QJsonObject &stats, qint64 receivedAt);
    QString toString() const;
};

struct FlowSample
{
    QString dir; // in | out | publish | deliver
    QString frameType;
    QString room;
    QString sessionId;
    QString origin;
    qint64 size = 0;
    qint64 ts = 0;

    static FlowSample fromJson(const QJsonObject &flow);
    QJsonObject toJson() const;
    QString toString() const;
};

// The five inject targets of admin.inject.
struct InjectTarget
{
    enum class Kind { All, Room, Instance, ClientId, SessionId };
    Kind kind = Kind::All;
    QString value;

    QJsonObject toJson() const;
    QString toString() const;
    static QString kindName(Kind kind);
};

} // namespace sb::console
