#pragma once

// The cluster's backplane on Redis (docs/protocol.md section 5): pub/sub
// between instances plus the shared registries, tokens, rate limits, room
// members and leases. Owned by the Server when SB_REDIS_URL is set.
//
// It owns two RedisConnections, one for commands and one subscribed to
// "<prefix><channel>" for every channel asked for, and reconnects each with a
// backoff (250 ms doubling to 2 s). With a redis-sentinel:// URL it also owns
// a RedisSentinel: both connections go to the master the Sentinels name, check
// that it is one (ROLE), ask the Sentinels again whenever a connection is lost
// and move to the new master on a failover, which then looks to the rest of
// the server exactly like a Redis restart. With a redis-cluster:// URL it owns
// a RedisCluster (slot map, a command connection per master) and a
// RedisShardedPubSub (room channels, SSUBSCRIBE on each slot's master)
// instead of the commands connection; the subscriber connection, on any
// master, carries the cluster-wide channels. Registry operations that span
// several slots are done slot by slot there (redisbackplanecluster.cpp), and
// per-room keys carry the "{room:<room>}" hash tag. It is up while both are connected, this
// instance's registry entries are rewritten and every channel is subscribed
// again. While down, every call that takes a callback answers soon with
// ok=false (hitRateLimit, which has no ok, lets the attempt through: the token
// calls that follow fail anyway). Registry writes (members, sessions, the
// instance hash) are also kept in memory and written again after each
// reconnect, so an outage or a Redis restart loses none of them.
//
// Keys besides those of section 5 (all under the prefix):
//   room:<room>:members          hash session_id -> Member JSON
//   instance-members:<id>        set of "<room>|<session_id>" an instance added
//   instance-sessions:<id>       set of the session ids an instance put
//   instances:known              set of instances that registered anything
//   cleanup:<id>                 a survivor's claim on cleaning up a dead instance
//   token:<token>                TokenRecord JSON, expiring after its TTL
//   rate:<key>                   sorted set of attempt times (sliding window)
//   lease:<name>                 the holder's id, expiring after the lease
// Internal channels: "backplane:gone" (a dead instance's memberships, so every
// survivor emits instanceGone) and "backplane:probe:<id>" (the RTT probe).

#include "backplane.h"

#include "rediscluster.h"
#include "redisconnection.h"
#include "redisshardedpubsub.h"
#include "redissentinel.h"
#include "redisurl.h"

#include <QElapsedTimer>
#include <QSet>
#include <QTimer>

#include <deque>
#include <memory>

namespace sb {

class RedisBackplane final : public Backplane
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RedisBackplane)
public:
    struct Timings
    {
        int heartbeatTtlMs = 5000;    // expiry of <prefix>instance:<id>
        int cleanupIntervalMs = 2000; // how often to look for dead instances
        int cleanupClaimMs = 10000;   // how long a survivor's claim on one lasts
        int probeIntervalMs = 1000;   // RTT probe
        int probeTimeoutMs = 5000;    // no probe back for this long: resubscribe
        int commandTimeoutMs = 3000;  // no reply: the call fails, the connection is dropped
        int connectTimeoutMs = 3000;
        int reconnectMinMs = 250;
        int reconnectMaxMs = 2000;
    };

    // Takes the Redis URL, the key prefix and this instance's id from `config`.
    explicit RedisBackplane(const Config &config, QObject *parent = nullptr);
    ~RedisBackplane() override;

    // Test-only: shorter intervals, so crash cleanup can be tested in seconds.
    // Call before start().
    void setTimings(const Timings &timings);
    const Timings &timings() const { return m_timings; }
    const QString &instanceId() const { return m_instanceId; }

    QString kind() const override { return QStringLiteral("redis"); }
    QString topology() const override;
    QString masterAddress() const override;
    quint64 failovers() const override { return m_failovers; }
    bool isUp() const override { return m_up; }
    double rttMs() const override { return m_rttMs; }
    void start() override;

    // A set, not a count: subscribing twice is once, one unsubscribe ends it.
    void subscribe(const QString &channel) override;
    void unsubscribe(const QString &channel) override;
    void publish(const QString &channel, const QByteArray &payload, std::function<void(bool ok)> done = {}) override;

    void storeToken(const QString &token, const TokenRecord &record, int ttlSeconds,
                    std::function<void(bool ok)> done) override;
    void takeToken(const QString &token, std::function<void(bool ok, std::optional<TokenRecord> record)> done) override;
    // A spec with count 0 disables the limit.
    void hitRateLimit(const QString &key, RateSpec spec,
                      std::function<void(bool allowed, int retryAfterSeconds)> done) override;

    void addMember(const QString &room, const Member &member) override;
    void removeMember(const QString &room, const QString &sessionId) override;
    void members(const QString &room, const QString &after, int limit,
                 std::function<void(bool ok, MemberPage page)> done) override;
    void memberCount(const QString &room, std::function<void(bool ok, qint64 count)> done) override;

    void putInstance(const Fields &fields) override;
    void removeInstance() override;
    void putSession(const QString &sessionId, const Fields &fields) override;
    void removeSession(const QString &sessionId) override;
    void recordClientInstance(const QString &clientId, const QString &entry) override;
    void liveInstances(std::function<void(bool ok, QStringList ids)> done) override;

    void tryLease(const QString &name, const QString &holder, int ttlMs, std::function<void(bool held)> done) override;

private:
    using ReplyCallback = RedisConnection::ReplyCallback;
    using MemberList = QList<QPair<QString, Member>>;

    QByteArray key(const QString &rest) const;
    // "<prefix>room:<room>:<what>", or "<prefix>{room:<room>}:<what>" on Redis Cluster.
    QByteArray roomKey(const QString &room, const char *what) const;
    // Room channels go over sharded pub/sub on Redis Cluster.
    bool isSharded(const QString &channel) const;
    // The commands connection is up, or on Redis Cluster every master's.
    bool commandsConnected() const;
    QString probeChannel() const;
    void later(std::function<void()> fn);
    void send(const QList<QByteArray> &argv, ReplyCallback callback = {});
    void eval(const char *script, const QList<QByteArray> &keys, const QList<QByteArray> &args,
              ReplyCallback callback = {});
    ReplyCallback logFailure(const char *what);

    void onMasterFound(const RedisAddress &master);
    void askSentinels();
    void connectCommands();
    void connectSubscriber();
    void onCommandsConnected();
    void onCommandsDisconnected(const QString &error);
    void onSubscriberConnected();
    void onSubscriberDisconnected(const QString &error);
    void subscribeOnServer(const QString &channel, quint64 generation);
    void updateUp();

    void resync();
    void sendHeartbeat(const Fields &fields);
    void sendAddMember(const QString &room, const Member &member);
    void sendPutSession(const QString &sessionId, const Fields &fields);
    void flushPendingClientEntries();
    void sendClientEntry(const QString &clientId, const QString &entry);
    void scanInstances(const QByteArray &cursor, std::shared_ptr<QSet<QString>> found,
                       std::function<void(bool, QStringList)> done);

    void cleanupTick();
    // The first reply of a cleanup pass: dropped when it answers a connection
    // since replaced; otherwise the pass is over, and `onList` gets the reply
    // when it is a list (anything else is logged).
    ReplyCallback cleanupPassReply(std::function<void(const RedisReply &list)> onList);
    // This instance removed a dead one's memberships: log it, tell the others, emit.
    void removedDeadInstance(const QString &instance, const MemberList &members);
    void publishGone(const QString &instance, const MemberList &members);
    void probeTick();
    void onPubSubMessage(const QByteArray &channel, const QByteArray &payload);

    // Redis Cluster (redisbackplanecluster.cpp): what a script does in one
    // call on a single Redis, done slot by slot.
    void setUpCluster();
    void onClusterReady(bool ready);
    void onClusterFailover(const QString &from, const QString &to);
    void clusterResync();
    void clusterHeartbeat(const Fields &fields);
    void clusterAlive(); // what SB_LUA_ALIVE does
    void clusterAddMember(const QString &room, const Member &member);
    void clusterPutSession(const QString &sessionId, const Fields &fields);
    void clusterRemoveInstance();
    void clusterCleanupTick();
    void clusterPurge(const QString &instance, std::function<void(bool ok, MemberList removed)> done);
    void clusterScanInstances(std::function<void(bool ok, QStringList ids)> done);
    void onProbe(const QByteArray &payload);
    void onGone(const QByteArray &payload);

    const QString m_instanceId;
    const QString m_prefix;
    std::optional<RedisUrl> m_url;
    std::optional<RedisAddress> m_address; // the server, or the master the Sentinels named last
    Timings m_timings;
    quint64 m_failovers = 0;

    // Destroyed in the destructor body, subscriber first, so no callback of
    // theirs can run into a half-destroyed backplane.
    std::unique_ptr<RedisConnection> m_commands;
    std::unique_ptr<RedisConnection> m_subscriber;
    std::unique_ptr<RedisSentinel> m_sentinel; // Sentinel mode only
    std::unique_ptr<RedisCluster> m_cluster;   // Cluster mode only, with:
    std::unique_ptr<RedisShardedPubSub> m_shards;
    qsizetype m_subscriberNode = 0;            // the master the subscriber tries next (Cluster)

    bool m_started = false;
    bool m_up = false;
    bool m_synced = false;     // the commands connection has rewritten our registry entries
    bool m_subscribed = false; // every channel is subscribed on the current subscriber connection
    quint64 m_commandsGeneration = 0;
    quint64 m_subscriberGeneration = 0;
    int m_subscribesPending = 0;
    QTimer m_commandsReconnect;
    QTimer m_subscriberReconnect;
    int m_commandsBackoffMs = 0;
    int m_subscriberBackoffMs = 0;

    QSet<QString> m_channels; // as asked for, without the prefix

    // What this instance has registered, rewritten after every reconnect.
    QHash<QString, QHash<QString, Member>> m_localMembers; // room -> session id -> member
    QHash<QString, Fields> m_localSessions;
    std::optional<Fields> m_instanceFields;
    std::deque<QPair<QString, QString>> m_pendingClientEntries; // written once connected

    QTimer m_cleanupTimer;
    bool m_cleanupRunning = false;

    QTimer m_probeTimer;
    QElapsedTimer m_clock;
    QHash<qint64, qint64> m_probesInFlight; // seq -> m_clock ns when sent
    qint64 m_probeSeq = 0;
    qint64 m_lastProbeBackMs = 0;
    qint64 m_lastProbeTickMs = 0;
    double m_rttMs = 0;

    quint64 m_rateSeq = 0;
};

} // namespace sb
