// RedisBackplane on Redis Cluster: what redisbackplane.cpp does with one
// script or one MULTI/EXEC on a single Redis, done slot by slot here. A
// script may only touch keys of one slot; a room's keys share one through
// their "{room:<room>}" hash tag, but the registry keys of section 5 keep
// their names (sb:instance:<id>, sb:session:<sid>) and each lands in a slot
// of its own, as do instances:known, instance-members:<id> and
// instance-sessions:<id>. So registering and cleaning up are several
// commands, ordered so that a crash between them leaves what the crash
// cleanup removes anyway. Not atomic: another instance may see this one's
// registry half rewritten for a moment after a reconnect.

#include "redisbackplane.h"

#include "redisbackplanehelpers.h"

#include <memory>
#include <utility>

namespace sb {

using namespace redisdetail;

namespace {

// KEYS: instance hash. ARGV: ttl ms, id, field, value, …
const char kHeartbeatHashScript[] = R"lua(
redis.call('DEL', KEYS[1])
if #ARGV > 2 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
else
  redis.call('HSET', KEYS[1], 'id', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
)lua";

// An instance that registers something is alive: its hash exists even before
// the first heartbeat. KEYS: instance hash. ARGV: id, ttl ms.
const char kAliveScript[] = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
)lua";

// KEYS: room members hash, room member ids (one slot). ARGV: session id, member JSON.
const char kRoomAddScript[] = R"lua(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
)lua";

// KEYS: room members hash, room member ids. ARGV: session id. The member JSON removed, or nil.
const char kRoomRemoveScript[] = R"lua(
local json = redis.call('HGET', KEYS[1], ARGV[1])
if json then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return json
)lua";

// KEYS: session hash. ARGV: field, value, …
const char kSessionScript[] = R"lua(
redis.call('DEL', KEYS[1])
if #ARGV > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV))
end
return 1
)lua";

struct ScanState
{
    QSet<QString> found;
    int remaining = 0;
    bool ok = true;
    QByteArray pattern;
    qsizetype skip = 0;
    std::function<void(bool, QStringList)> done;
};

void finishScan(const std::shared_ptr<ScanState> &state)
{
    if (--state->remaining > 0)
        return;
    QStringList ids = state->found.values();
    ids.sort();
    state->done(state->ok, ids);
}

// SCAN one master to the end; every master holds its own share of the keys.
void scanMaster(RedisCluster *cluster, const QString &master, const QByteArray &cursor,
                const std::shared_ptr<ScanState> &state)
{
    cluster->commandOn(master,
                       {QByteArrayLiteral("SCAN"), cursor, QByteArrayLiteral("MATCH"), state->pattern,
                        QByteArrayLiteral("COUNT"), "200"},
                       [cluster, master, state](const RedisReply &reply) {
                           if (!reply.isArray() || reply.size() != 2 || !reply.at(1).isArray()) {
                               state->ok = false;
                               finishScan(state);
                               return;
                           }
                           for (const RedisReply &k : reply.at(1).elements())
                               state->found.insert(QString::fromUtf8(k.bytes().mid(state->skip)));
                           const QByteArray next = reply.at(0).bytes();
                           if (next == "0")
                               finishScan(state);
                           else
                               scanMaster(cluster, master, next, state);
                       });
}

} // namespace

void RedisBackplane::setUpCluster()
{
    m_cluster = std::make_unique<RedisCluster>(*m_url);
    m_shards = std::make_unique<RedisShardedPubSub>(m_cluster.get());
    connect(m_cluster.get(), &RedisCluster::readyChanged, this, &RedisBackplane::onClusterReady);
    connect(m_cluster.get(), &RedisCluster::failedOver, this, &RedisBackplane::onClusterFailover);
    connect(m_shards.get(), &RedisShardedPubSub::healthChanged, this, [this] { updateUp(); });
    connect(m_shards.get(), &RedisShardedPubSub::message, this, &RedisBackplane::onPubSubMessage);
}

void RedisBackplane::onClusterReady(bool ready)
{
    // Every slot's master reachable is what "the commands connection is up"
    // means on a cluster.
    if (ready) {
        onCommandsConnected();
        connectSubscriber();
    } else {
        onCommandsDisconnected(QString());
    }
}

void RedisBackplane::onClusterFailover(const QString &from, const QString &to)
{
    ++m_failovers;
    qCWarning(lcRedis).noquote() << "Redis failover: cluster master" << from << "replaced by" << to
                                 << "- backplane" << m_instanceId << "follows the new slot map";
    Q_EMIT failedOver(from, to);
}

void RedisBackplane::clusterResync()
{
    // As resync(): replace what Redis holds for this instance by what it has.
    const quint64 generation = m_commandsGeneration;
    clusterPurge(m_instanceId, [this, generation](bool ok, const MemberList &removed) {
        if (generation != m_commandsGeneration)
            return;
        if (!ok)
            qCWarning(lcRedis).noquote() << "removing this instance's old registry entries failed";
        MemberList stale;
        for (const auto &[room, member] : removed) {
            if (!m_localMembers.value(room).contains(member.sessionId))
                stale.append({room, member});
        }
        if (!stale.isEmpty()) {
            qCInfo(lcRedis).noquote() << "removed" << stale.size() << "stale room memberships of" << m_instanceId;
            publishGone(m_instanceId, stale);
        }
        if (m_instanceFields)
            clusterHeartbeat(*m_instanceFields);
        for (auto room = m_localMembers.cbegin(); room != m_localMembers.cend(); ++room) {
            for (const Member &member : room.value())
                clusterAddMember(room.key(), member);
        }
        for (auto session = m_localSessions.cbegin(); session != m_localSessions.cend(); ++session)
            clusterPutSession(session.key(), session.value());
        m_synced = true;
        updateUp();
    });
    flushPendingClientEntries();
}

void RedisBackplane::clusterHeartbeat(const Fields &fields)
{
    QList<QByteArray> args{number(m_timings.heartbeatTtlMs), bytes(m_instanceId)};
    args.append(fieldArgs(fields));
    eval(kHeartbeatHashScript, {key(QStringLiteral("instance:") + m_instanceId)}, args,
         logFailure("instance heartbeat"));
    send({QByteArrayLiteral("SADD"), key(QStringLiteral("instances:known")), bytes(m_instanceId)},
         [this, log = logFailure("instance heartbeat")](const RedisReply &reply) {
             log(reply);
             // Not known any more: a survivor took us for dead and removed
             // our registry entries (see sendHeartbeat()).
             if (reply.isInteger() && reply.integer() == 1 && m_synced
                 && (!m_localMembers.isEmpty() || !m_localSessions.isEmpty())) {
                 qCWarning(lcRedis).noquote() << "instance" << m_instanceId
                                              << "was taken for dead; writing its registry again";
                 resync();
             }
         });
}

void RedisBackplane::clusterAlive()
{
    send({QByteArrayLiteral("SADD"), key(QStringLiteral("instances:known")), bytes(m_instanceId)},
         logFailure("registering the instance"));
    eval(kAliveScript, {key(QStringLiteral("instance:") + m_instanceId)},
         {bytes(m_instanceId), number(m_timings.heartbeatTtlMs)}, logFailure("registering the instance"));
}

void RedisBackplane::clusterAddMember(const QString &room, const Member &member)
{
    // The crash-cleanup record first: a crash after it leaves nothing the
    // cleanup would not find.
    clusterAlive();
    send({QByteArrayLiteral("SADD"), key(QStringLiteral("instance-members:") + m_instanceId),
          bytes(room + QLatin1Char('|') + member.sessionId)},
         logFailure("addMember"));
    eval(kRoomAddScript, {roomKey(room, "members"), roomKey(room, "member-ids")},
         {bytes(member.sessionId), toJson(member.toJson())}, logFailure("addMember"));
}

void RedisBackplane::clusterPutSession(const QString &sessionId, const Fields &fields)
{
    clusterAlive();
    send({QByteArrayLiteral("SADD"), key(QStringLiteral("instance-sessions:") + m_instanceId), bytes(sessionId)},
         logFailure("putSession"));
    eval(kSessionScript, {key(QStringLiteral("session:") + sessionId)}, fieldArgs(fields), logFailure("putSession"));
}

void RedisBackplane::clusterRemoveInstance()
{
    send({QByteArrayLiteral("DEL"), key(QStringLiteral("instance:") + m_instanceId)}, logFailure("removeInstance"));
    // Forgotten only when nothing is left for a survivor to clean up.
    const QByteArray members = key(QStringLiteral("instance-members:") + m_instanceId);
    const QByteArray sessions = key(QStringLiteral("instance-sessions:") + m_instanceId);
    send({QByteArrayLiteral("SCARD"), members}, [this, sessions](const RedisReply &reply) {
        if (!reply.isInteger() || reply.integer() != 0)
            return;
        send({QByteArrayLiteral("SCARD"), sessions}, [this](const RedisReply &reply) {
            if (reply.isInteger() && reply.integer() == 0)
                send({QByteArrayLiteral("SREM"), key(QStringLiteral("instances:known")), bytes(m_instanceId)},
                     logFailure("removeInstance"));
        });
    });
}

void RedisBackplane::clusterPurge(const QString &instance, std::function<void(bool ok, MemberList removed)> done)
{
    // Removes the memberships and sessions `instance` recorded, then the
    // records themselves: only the entries read (SREM, not DEL), so one
    // added meanwhile by a live instance stays.
    struct Purge
    {
        MemberList removed;
        int waiting = 1;
        bool ok = true;
        std::function<void()> next;
        std::function<void(bool, MemberList)> done;
    };
    auto purge = std::make_shared<Purge>();
    purge->done = std::move(done);
    const QByteArray membersKey = key(QStringLiteral("instance-members:") + instance);
    const QByteArray sessionsKey = key(QStringLiteral("instance-sessions:") + instance);
    purge->next = [this, purge, sessionsKey] {
        send({QByteArrayLiteral("SMEMBERS"), sessionsKey}, [this, purge, sessionsKey](const RedisReply &reply) {
            if (!reply.isArray()) {
                purge->ok = false;
            } else if (reply.size() > 0) {
                QList<QByteArray> srem{QByteArrayLiteral("SREM"), sessionsKey};
                for (const RedisReply &sid : reply.elements()) {
                    send({QByteArrayLiteral("DEL"), key(QStringLiteral("session:") + sid.text())},
                         logFailure("removing a session"));
                    srem.append(sid.bytes());
                }
                send(srem, logFailure("removing a session"));
            }
            auto finish = std::move(purge->done);
            purge->next = nullptr; // it captures `purge`
            finish(purge->ok, purge->removed);
        });
    };
    const auto oneDone = [purge] {
        if (--purge->waiting == 0 && purge->next)
            purge->next();
    };
    send({QByteArrayLiteral("SMEMBERS"), membersKey}, [this, purge, membersKey, oneDone](const RedisReply &reply) {
        if (!reply.isArray()) {
            purge->ok = false;
            purge->next = nullptr;
            auto finish = std::move(purge->done);
            finish(false, {});
            return;
        }
        QList<QByteArray> srem{QByteArrayLiteral("SREM"), membersKey};
        for (const RedisReply &entry : reply.elements()) {
            const QString text = entry.text();
            const qsizetype sep = text.indexOf(QLatin1Char('|'));
            srem.append(entry.bytes());
            if (sep < 0)
                continue;
            const QString room = text.left(sep);
            const QString sessionId = text.mid(sep + 1);
            ++purge->waiting;
            eval(kRoomRemoveScript, {roomKey(room, "members"), roomKey(room, "member-ids")}, {bytes(sessionId)},
                 [purge, room, oneDone](const RedisReply &removed) {
                     if (removed.isError())
                         purge->ok = false;
                     else if (removed.isString()) {
                         if (const auto object = parseObject(removed.bytes()))
                             purge->removed.append({room, Member::fromJson(*object)});
                     }
                     oneDone();
                 });
        }
        if (srem.size() > 2)
            send(srem, logFailure("removing memberships"));
        oneDone();
    });
}

void RedisBackplane::clusterCleanupTick()
{
    send({QByteArrayLiteral("SMEMBERS"), key(QStringLiteral("instances:known"))},
         cleanupPassReply([this](const RedisReply &reply) {
             for (const RedisReply &known : reply.elements()) {
                 const QString instance = known.text();
                 if (instance == m_instanceId)
                     continue;
                 send({QByteArrayLiteral("EXISTS"), key(QStringLiteral("instance:") + instance)},
                      [this, instance](const RedisReply &exists) {
                          if (!exists.isInteger() || exists.integer() != 0)
                              return;
                          // One survivor claims it, as in the single-Redis script.
                          send({QByteArrayLiteral("SET"), key(QStringLiteral("cleanup:") + instance), bytes(m_instanceId),
                                QByteArrayLiteral("NX"), QByteArrayLiteral("PX"), number(m_timings.cleanupClaimMs)},
                               [this, instance](const RedisReply &claim) {
                                   if (!claim.isOk())
                                       return;
                                   clusterPurge(instance, [this, instance](bool ok, const MemberList &members) {
                                       if (ok)
                                           send({QByteArrayLiteral("SREM"), key(QStringLiteral("instances:known")),
                                                 bytes(instance)},
                                                logFailure("forgetting a dead instance"));
                                       removedDeadInstance(instance, members);
                                   });
                               });
                      });
             }
         }));
}

void RedisBackplane::clusterScanInstances(std::function<void(bool ok, QStringList ids)> done)
{
    const QStringList masters = m_cluster->masters();
    if (masters.isEmpty()) {
        later([done = std::move(done)] { done(false, {}); });
        return;
    }
    auto state = std::make_shared<ScanState>();
    state->remaining = static_cast<int>(masters.size());
    state->pattern = globEscape(key(QStringLiteral("instance:"))) + '*';
    state->skip = key(QStringLiteral("instance:")).size();
    state->done = std::move(done);
    for (const QString &master : masters)
        scanMaster(m_cluster.get(), master, QByteArrayLiteral("0"), state);
}

} // namespace sb
