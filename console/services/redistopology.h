#pragma once

// What the console knows of the Redis deployment behind the backplane: its
// masters (with their hash slots on a Redis Cluster), their replicas, the
// Sentinels, and how each link stands. A plain value read by RedisMonitor
// (INFO replication; SENTINEL master/replicas/sentinels; CLUSTER NODES) and
// shown by RedisTopologyModel. The parsers are here, free of any socket, so
// they are tested on Redis' own answers.

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QMetaType>
#include <QString>

#include <utility>

namespace sb::console {

struct RedisNodeInfo
{
    enum class Role { Master, Replica, Sentinel };

    QString address;       // "host:port" as the deployment names it
    QString id;            // the cluster node id; empty elsewhere
    Role role = Role::Master;
    QString masterAddress; // replicas: the master they replicate ("" when none or unknown)
    QList<std::pair<int, int>> slotRanges; // cluster masters: first and last slot of each range
    int migratingSlots = 0; // cluster masters: slots being moved to or from this node
    bool healthy = true;    // false: failed, down, or its link is broken
    QString state;          // Redis' own words: "connected", "fail", "online", "s_down" …

    // "0-5460, 10923" (empty without slots).
    QString slotsText() const;
    int slotCount() const;
    static QString roleName(Role role);
    QString toString() const;
};

struct RedisTopology
{
    QString kind;    // "redis", "sentinel" or "cluster"; empty: not read yet
    QString source;  // where it was read: "127.0.0.1:7000", the Sentinel asked …
    QList<RedisNodeInfo> nodes;
    QString error;   // why the last read failed (nodes keep the last good answer)

    QList<RedisNodeInfo> masters() const;
    // The replicas of `masterAddress`, in the order read.
    QList<RedisNodeInfo> replicasOf(const QString &masterAddress) const;
    const RedisNodeInfo *node(const QString &address) const;

    // CLUSTER NODES' text: one node per line (id, address@bus, flags,
    // master id, …, link state, slots).
    static RedisTopology fromClusterNodes(const QByteArray &text);
    // INFO replication of the server at `self` ("host:port"): a master and
    // its replicas (slaveN:ip=…,port=…,state=…), or a replica and its master.
    static RedisTopology fromInfoReplication(const QByteArray &info, const QString &self);
};

// SENTINEL master/replicas/sentinels answer with flat field/value lists.
QHash<QByteArray, QByteArray> sentinelFields(const QList<QByteArray> &flat);
// One node from such a list (`role` says which command it answered).
RedisNodeInfo sentinelNode(const QHash<QByteArray, QByteArray> &fields, RedisNodeInfo::Role role,
                           const QString &masterAddress = {});

// "localhost:6379" and "127.0.0.1:6379" are one server; so are IPv6 spellings of loopback.
QString normalizedHostPort(const QString &hostPort);

} // namespace sb::console

Q_DECLARE_METATYPE(sb::console::RedisTopology)
