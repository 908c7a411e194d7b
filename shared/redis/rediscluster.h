#pragma once

// Redis Cluster for commands: the slot map, one command connection per
// master, and routing. The map comes from `CLUSTER SLOTS`, asked of any node
// that answers (the masters in use, then every node seen, then the seeds of
// the redis-cluster:// URL). Each command goes to the master of its key's
// hash slot; a `MOVED` reply refreshes the map and sends the command again
// to the node named, an `ASK` reply sends `ASKING` and the command there.
// Owned by whoever routes commands (the RedisBackplane); it owns its
// RedisConnections.
//
// The cluster is ready while every slot has a master and this process holds
// a connection to each of them. A lost master connection asks for the map
// again (every 500 ms until ready, backing off to 5 s while no node answers
// at all; every 5 s once ready), so a failover inside
// the cluster (a replica promoted) shows as not ready, then ready on the new
// master, with failedOver() in between.

#include "redisaddress.h"
#include "redisconnection.h"

#include "redisurl.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QStringList>
#include <QTimer>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace sb {

inline constexpr int ClusterSlotCount = 16384;

// The hash slot of `key`: CRC16 (XMODEM) of its hash tag (the bytes between
// the first '{' and the next '}', when not empty), else of the whole key.
quint16 clusterKeySlot(const QByteArray &key);

// The key a command is routed by: the first key of EVAL/EVALSHA, nothing for
// keyless commands (SCAN, PING …), else the first argument. A channel counts
// as a key (PUBLISH, SPUBLISH).
std::optional<QByteArray> clusterRoutingKey(const QList<QByteArray> &argv);

class RedisCluster final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RedisCluster)
public:
    using ReplyCallback = RedisConnection::ReplyCallback;

    // `url` must be a cluster URL; its login is used for every node.
    explicit RedisCluster(const RedisUrl &url, QObject *parent = nullptr);
    ~RedisCluster() override;

    void setTimeouts(int connectMs, int commandMs);
    // Asks for the slot map and connects to the masters.
    void start();
    // Asks for the slot map again; calls while one question is out make one
    // more round.
    void refresh();

    bool isReady() const { return m_ready; }
    // The masters in the map ("host:port"), in the order CLUSTER SLOTS listed them.
    QStringList masters() const;
    // The master of `slot`, with the URL's login; nullopt when none is known.
    std::optional<RedisAddress> masterOf(quint16 slot) const;
    std::optional<RedisAddress> masterAddress(const QString &hostPort) const;
    // "redis-cluster://seed,…" without the password.
    QString describe() const { return m_url.toString(); }

    // Sends `argv` to the master of its routing key's slot (keyless commands:
    // the first master) and follows MOVED and ASK (at most 5 redirections).
    // When that master has no connection the callback gets an error soon.
    void command(const QList<QByteArray> &argv, ReplyCallback callback = {});
    // Sends `argv` to the master `hostPort` (one of masters()), e.g. SCAN.
    void commandOn(const QString &hostPort, const QList<QByteArray> &argv, ReplyCallback callback);

Q_SIGNALS:
    void readyChanged(bool ready);
    // After every map received, changed or not: subscriptions follow it.
    void mapRefreshed();
    // The slots of master `from` are served by `to`, a node that was not a
    // master before: a replica was promoted.
    void failedOver(const QString &from, const QString &to);

private:
    struct Call;
    struct Node
    {
        RedisAddress address;
        std::unique_ptr<RedisConnection> connection;
        QList<std::function<void(bool connected)>> waiting; // redirected calls
        QTimer *reconnect = nullptr; // child of the cluster, deleted with the node
        int backoffMs = 250;
    };

    RedisAddress addressOf(const QString &host, quint16 port) const;
    Node &node(const QString &hostPort, const RedisAddress &address);
    void removeNode(const QString &hostPort);
    void connectNode(const QString &hostPort);
    void onNodeConnected(const QString &hostPort);
    void onNodeDisconnected(const QString &hostPort, const QString &error);
    void send(const std::shared_ptr<Call> &call, const QString &hostPort, bool asking);
    void onReply(const std::shared_ptr<Call> &call, const QString &from, const RedisReply &reply);
    void redirect(const std::shared_ptr<Call> &call, const QString &to, bool asking);

    void askNext();
    void onQueryConnected();
    void askConnected();
    void onQueryDisconnected(const QString &error);
    bool applyMap(const RedisReply &reply, const RedisAddress &askedNode);
    void finishAsking(bool ok);
    qint64 retryDelay() const; // after m_failedRounds rounds no node answered
    void updateReady();

    const RedisUrl m_url;
    int m_connectTimeoutMs = 3000;
    int m_commandTimeoutMs = 3000;

    // The map: slot -> index into m_masters, -1 when no master serves it.
    std::array<qint16, ClusterSlotCount> m_owner{};
    QStringList m_masters;
    QStringList m_knownNodes; // every node seen in a map, replicas included
    QHash<QString, RedisAddress> m_addresses;

    std::map<QString, Node> m_nodes; // the masters' connections, by "host:port"

    std::unique_ptr<RedisConnection> m_query; // CLUSTER SLOTS, one node at a time, kept open
    QStringList m_candidates;
    qsizetype m_asked = -1;
    quint64 m_attempt = 0; // invalidates the answer of a connection given up on
    bool m_started = false;
    bool m_asking = false;
    bool m_askAgain = false;
    QString m_lastError;
    int m_failedRounds = 0;
    QElapsedTimer m_sinceFailure;
    QTimer m_refreshTimer;

    bool m_ready = false;
    bool m_destroying = false;
};

} // namespace sb
