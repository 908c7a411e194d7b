#pragma once

// The console's link to the cluster's Redis: discovers the live instances
// from their heartbeat keys (SCAN sb:instance:*, then HGETALL, every second),
// watches every backplane channel (PSUBSCRIBE sb:*) and hands the envelopes
// over in batches, and reads clients' stickiness histories (LRANGE) and
// session records (HGETALL) on request. Two RedisConnections from
// Switchboard::Redis run on the Qt event loop: one for commands, one
// subscribed. When Redis goes away it says so in plain words and retries with
// backoff; nothing it does blocks the event loop. Owned by OperatorSession;
// models only see its signals.
//
// On a Redis Cluster (start(RedisUrl)) a RedisCluster takes the commands
// connection's place: reads go to each key's master, discovery SCANs every
// master, and the subscriber connection (PSUBSCRIBE) is on one master, where
// every cluster-wide channel arrives; room channels are sharded there and
// not seen.
//
// On Redis Sentinel (start(RedisUrl) with a redis-sentinel:// URL) a
// RedisSentinel names the master: both connections go there (each checks
// ROLE), and follow it when the Sentinels move it.
//
// Every few seconds (topologyIntervalMs), and right after a failover, it
// reads the topology: INFO replication of the one Redis; SENTINEL master,
// replicas and sentinels of a Sentinel (asked in turn, also while the master
// is down); CLUSTER NODES of a cluster master. topologyRead() hands it over.

#include "backoff.h"
#include "backplanetypes.h"
#include "redistopology.h"

#include "redisaddress.h"
#include "rediscluster.h"
#include "redisconnection.h"
#include "redissentinel.h"
#include "redisurl.h"

#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <memory>

namespace sb::console {

class RedisMonitor final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RedisMonitor)
public:
    enum class State {
        Idle,       // no Redis configured
        Connecting, // connecting both links and subscribing
        Connected,  // discovering and watching
        Retrying,   // Redis unreachable or lost: waiting to try again
    };
    Q_ENUM(State)

    struct Options
    {
        QByteArray prefix = QByteArrayLiteral("sb:");
        int discoveryIntervalMs = 1000;
        int batchIntervalMs = 100;      // envelopes are handed over at most this often
        int maxEnvelopesPerSecond = 20000; // beyond this the monitor counts instead of parsing
        int commandTimeoutMs = 3000;
        int backoffFirstMs = 1000;
        int backoffCapMs = 30000;
        int historyLength = 50;         // LRANGE 0 historyLength-1
        int topologyIntervalMs = 3000;  // how often the topology is read again
    };

    explicit RedisMonitor(QObject *parent = nullptr);
    RedisMonitor(const Options &options, QObject *parent = nullptr);
    ~RedisMonitor() override;

    void setOptions(const Options &options);
    const Options &options() const { return m_options; }
    // Starts connecting (and keeps trying) to `address`.
    void start(const RedisAddress &address);
    // Starts watching the Redis of any SB_REDIS_URL: one server, the master
    // the Sentinels name (followed through failovers), or a Redis Cluster.
    void start(const RedisUrl &url);
    void stop();

    State state() const { return m_state; }
    bool isConnected() const { return m_state == State::Connected; }
    bool isConfigured() const { return m_configured; }
    RedisAddress address() const { return m_address; }
    QString lastError() const { return m_lastError; }
    // "connected", "unreachable — retrying in 4 s", …
    QString statusText() const;
    static QString stateName(State state);

    // Counters since start.
    qint64 envelopesSeen() const { return m_envelopesSeen; }
    qint64 envelopesShed() const { return m_envelopesShed; }
    qint64 malformed() const { return m_malformed; }

    // Reads sb:client:<id>:instances for each id, pipelined; clientHistoriesRead
    // follows once with every answer. Ignored while not connected.
    void readClientHistories(const QStringList &clientIds);
    // HGETALL sb:session:<id>; sessionRead follows.
    void readSession(const QString &sessionId);
    // Runs one discovery round now (the timer does so every second).
    void discoverNow();
    // Reads the topology now (the timer does so every topologyIntervalMs).
    void readTopology();
    // The last topology read (kind empty before the first).
    const RedisTopology &topology() const { return m_topology; }

Q_SIGNALS:
    void stateChanged(sb::console::RedisMonitor::State state);
    // Plain words for the status bar: unreachable, lost, back.
    void errorText(const QString &text);
    // The complete list of live instances after each discovery round.
    void instancesDiscovered(const QList<sb::console::DiscoveredInstance> &instances);
    // Backplane envelopes in arrival order, at most one batch per batchIntervalMs.
    void envelopesReceived(const QList<sb::console::BackplaneEnvelope> &envelopes);
    // client id -> visits, newest first (an empty list: no history).
    void clientHistoriesRead(const QHash<QString, QList<sb::console::ClientVisit>> &histories);
    // `found` false when the key does not exist (the session closed).
    void sessionRead(const QString &sessionId, bool found, const sb::ConnectionInfo &connection);
    // After every topology read; on failure the last nodes come again with `error` set.
    void topologyRead(const sb::console::RedisTopology &topology);

private:
    void setState(State state);
    void connectBoth();
    void onLinkUp();
    void onLinkDown(const QString &error);
    void scheduleRetry(const QString &why);
    void subscribeAll();
    void onPatternMessage(const QByteArray &channel, const QByteArray &payload);
    void flushEnvelopes();
    // SCAN of one server: `node` is a cluster master, or empty for the one Redis.
    void scanStep(const QString &node, const QByteArray &cursor, quint64 round, std::shared_ptr<QSet<QByteArray>> keys,
                  std::shared_ptr<qsizetype> nodesLeft);
    void command(const QList<QByteArray> &argv, RedisConnection::ReplyCallback callback);
    bool commandsUp() const;
    void startCluster(quint64 generation);
    void startSentinel();
    void onSentinelMaster(const RedisAddress &master);
    void readSentinelTopology();
    void askSentinel();
    void publishTopology(RedisTopology topology);
    void topologyFailed(const QString &error);
    // The Redis server, or the cluster's URL, for messages.
    QString describe() const;
    void readInstances(quint64 round, const QSet<QByteArray> &keys);
    QByteArray key(const QString &suffix) const;
    static QByteArray globEscape(const QByteArray &text);

    Options m_options;
    RedisAddress m_address;
    std::unique_ptr<RedisConnection> m_commands; // one Redis
    std::unique_ptr<RedisConnection> m_subscriber;
    std::optional<RedisUrl> m_clusterUrl;        // Redis Cluster, with:
    std::unique_ptr<RedisCluster> m_cluster;
    std::optional<RedisUrl> m_sentinelUrl;       // Redis Sentinel, with:
    std::unique_ptr<RedisSentinel> m_sentinel;   // names the master
    std::unique_ptr<RedisConnection> m_sentinelQuery; // asks one Sentinel for the topology
    qsizetype m_sentinelAsked = 0;                // index of that Sentinel in the URL
    State m_state = State::Idle;
    bool m_configured = false;
    bool m_subscribed = false;
    bool m_subscribing = false;
    QString m_lastError;
    Backoff m_backoff;
    QTimer m_retryTimer;
    QTimer m_discoveryTimer;
    QTimer m_batchTimer;
    quint64 m_generation = 0;      // invalidates answers of an earlier connection
    quint64 m_discoveryRound = 0;
    bool m_discovering = false;
    QTimer m_topologyTimer;
    bool m_readingTopology = false;
    quint64 m_topologyRound = 0;
    RedisTopology m_topology;

    QList<BackplaneEnvelope> m_batch;
    QElapsedTimer m_rateWindow;
    int m_parsedThisSecond = 0;
    qint64 m_envelopesSeen = 0;
    qint64 m_envelopesShed = 0;
    qint64 m_malformed = 0;
};

} // namespace sb::console
