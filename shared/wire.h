#pragma once

// The records both programs put on and read off the wire (docs/protocol.md
// sections 3 and 4): the welcome, one connection (`conn`, also the registry
// entry in Redis; its identity part is the store's session record), an instance's description
// (/api/instance), its 1 s statistics and one flow sample. The server builds
// them and writes toJson(); the console reads them with fromJson(), leniently:
// a missing field reads as empty, 0 or false.

#include <QJsonObject>
#include <QString>
#include <QStringList>

namespace sb {

struct WelcomeInfo
{
    QString sessionId;
    QString clientId;
    QString user;
    QString role;
    QString instance;
    QString color;
    bool sticky = true;
    int heartbeatMs = 25000;
    qint64 serverTime = 0;

    QJsonObject toJson() const; // the fields of the welcome frame
    static WelcomeInfo fromJson(const QJsonObject &welcome);
};

// Who a session is and where it came in: what the store keeps of it.
struct SessionIdentity
{
    QString sessionId;
    QString clientId;
    QString user;
    QString role; // participant | operator
    QString remote;
    QString instance;
    qint64 connectedAt = 0;

    bool isOperator() const { return role == QLatin1StringView("operator"); }
};

struct ConnectionInfo : SessionIdentity
{
    // What changes while the session lives.
    QStringList rooms;
    qint64 framesIn = 0;
    qint64 framesOut = 0;
    bool sticky = true;
    qint64 queueBytes = 0;

    QJsonObject toJson() const;
    // Reads the contract's form (rooms an array) and the Redis registry's
    // (every field a string, rooms comma-separated).
    static ConnectionInfo fromJson(const QJsonObject &conn);
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
    QString backplaneKind; // "local" | "redis" | "sentinel" | "cluster"; empty from servers before v1.1
    QString redisMaster;   // "host:port" of the Redis master in use; empty when none (null on the wire)
    qint64 backplaneFailovers = 0;
    QString store;
    bool storeUp = false;
    bool ready = false;

    QJsonObject toJson() const;
    static InstanceInfo fromJson(const QJsonObject &instance);
    QString toString() const;
};

struct InstanceStats
{
    QString instance;
    qint64 timestamp = 0; // when the console received it, ms since epoch (not on the wire)
    int connections = 0;
    double framesInPerS = 0;
    double framesOutPerS = 0;
    double bytesInPerS = 0;
    double bytesOutPerS = 0;
    double backplaneRttMs = 0;
    qint64 queueMaxBytes = 0;
    qint64 rssBytes = 0;

    QJsonObject toJson() const;
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
    qint64 size = 0; // the frame's bytes on the wire
    qint64 ts = 0;

    QJsonObject toJson() const;
    static FlowSample fromJson(const QJsonObject &flow);
    QString toString() const;
};

} // namespace sb
