#include "redisbackplane.h"

#include "envelope.h"
#include "hashes.h"
#include "redisbackplanehelpers.h"

#include <QJsonArray>

#include <algorithm>
#include <utility>

// The registry half of RedisBackplane: the shared state the contract keeps in
// Redis (instances, sessions, room members, tokens, rate limits, leases), its
// Lua scripts, the replay of what this instance registered after a reconnect,
// and the cleanup after an instance that died. redisbackplane.cpp has the
// connections and pub/sub; redisbackplanecluster.cpp the Redis Cluster variants.

namespace sb {

using namespace redisdetail;

namespace {

const QString kGoneType = QStringLiteral("backplane.instance_gone");
constexpr std::size_t kMaxPendingClientEntries = 1000;

// Scripts run atomically on the server; each one is one round trip. They are
// sent with EVAL every time (Redis caches the compiled script), which keeps
// them working across a Redis restart without NOSCRIPT handling. Some touch
// keys they derive from the prefix instead of KEYS: fine on a single Redis,
// not on Redis Cluster.

// Removes an instance's room memberships and sessions; returns
// {room, member JSON, room, member JSON, …} of the memberships removed.
#define SB_LUA_PURGE                                                                                   \
    "local function purge(p, inst)\n"                                                                  \
    "  local removed = {}\n"                                                                           \
    "  local mkey = p .. 'instance-members:' .. inst\n"                                                \
    "  for _, entry in ipairs(redis.call('SMEMBERS', mkey)) do\n"                                      \
    "    local sep = string.find(entry, '|', 1, true)\n"                                               \
    "    if sep then\n"                                                                                \
    "      local room = string.sub(entry, 1, sep - 1)\n"                                               \
    "      local sid = string.sub(entry, sep + 1)\n"                                                   \
    "      local hkey = p .. 'room:' .. room .. ':members'\n"                                          \
    "      local json = redis.call('HGET', hkey, sid)\n"                                               \
    "      if json then\n"                                                                             \
    "        redis.call('HDEL', hkey, sid)\n"                                                          \
    "        redis.call('ZREM', p .. 'room:' .. room .. ':member-ids', sid)\n"                       \
    "        removed[#removed + 1] = room\n"                                                           \
    "        removed[#removed + 1] = json\n"                                                           \
    "      end\n"                                                                                      \
    "    end\n"                                                                                        \
    "  end\n"                                                                                          \
    "  local skey = p .. 'instance-sessions:' .. inst\n"                                               \
    "  for _, sid in ipairs(redis.call('SMEMBERS', skey)) do\n"                                        \
    "    redis.call('DEL', p .. 'session:' .. sid)\n"                                                  \
    "  end\n"                                                                                          \
    "  redis.call('DEL', mkey, skey)\n"                                                                \
    "  return removed\n"                                                                               \
    "end\n"

// An instance that registers something is alive: make sure its hash exists
// even before the first putInstance(), or a survivor could clean it up.
#define SB_LUA_ALIVE                                                                                   \
    "local function alive(hkey, known, id, ttl)\n"                                                     \
    "  redis.call('SADD', known, id)\n"                                                                \
    "  if redis.call('EXISTS', hkey) == 0 then\n"                                                      \
    "    redis.call('HSET', hkey, 'id', id)\n"                                                         \
    "    redis.call('PEXPIRE', hkey, ttl)\n"                                                           \
    "  end\n"                                                                                          \
    "end\n"

// ARGV: prefix, instance id.
const char kResyncScript[] = SB_LUA_PURGE "return purge(ARGV[1], ARGV[2])\n";

// KEYS: instances:known. ARGV: prefix, our id (the claimer), claim ms.
// Returns {{instance, {room, json, …}}, …} for each dead instance we claimed.
const char kCleanupScript[] = SB_LUA_PURGE R"lua(
local p = ARGV[1]
local out = {}
for _, inst in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if inst ~= ARGV[2] and redis.call('EXISTS', p .. 'instance:' .. inst) == 0 then
    if redis.call('SET', p .. 'cleanup:' .. inst, ARGV[2], 'NX', 'PX', ARGV[3]) then
      out[#out + 1] = {inst, purge(p, inst)}
      redis.call('SREM', KEYS[1], inst)
    end
  end
end
return out
)lua";

// KEYS: instance hash, instances:known. ARGV: ttl ms, id, field, value, …
// Returns 1 when the instance was not known: a survivor took it for dead.
const char kHeartbeatScript[] = R"lua(
redis.call('DEL', KEYS[1])
if #ARGV > 2 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
else
  redis.call('HSET', KEYS[1], 'id', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('SADD', KEYS[2], ARGV[2])
)lua";

// KEYS: instance hash, instance-members, instance-sessions, instances:known.
// ARGV: id. A clean exit leaves nothing for survivors to clean up.
const char kRemoveInstanceScript[] = R"lua(
redis.call('DEL', KEYS[1])
if redis.call('SCARD', KEYS[2]) == 0 and redis.call('SCARD', KEYS[3]) == 0 then
  redis.call('SREM', KEYS[4], ARGV[1])
end
return 1
)lua";

// KEYS: room members hash, instance-members, instances:known, instance hash,
// room member ids (a sorted set, for paging in session id order).
// ARGV: session id, member JSON, "room|session id", instance id, ttl ms.
const char kAddMemberScript[] = SB_LUA_ALIVE R"lua(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[5], 0, ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
alive(KEYS[4], KEYS[3], ARGV[4], ARGV[5])
return 1
)lua";

// KEYS: session hash, instance-sessions, instances:known, instance hash.
// ARGV: session id, instance id, ttl ms, field, value, …
const char kPutSessionScript[] = SB_LUA_ALIVE R"lua(
redis.call('DEL', KEYS[1])
if #ARGV > 3 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 4))
end
redis.call('SADD', KEYS[2], ARGV[1])
alive(KEYS[4], KEYS[3], ARGV[2], ARGV[3])
return 1
)lua";

// KEYS: token. Works on any Redis (GETDEL needs 6.2).
const char kTakeTokenScript[] = R"lua(
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v
)lua";

// A page of a room's members. KEYS: room members hash, room member ids.
// ARGV: after ("" from the first), limit. Returns {count, more, member JSON…}.
const char kMembersPageScript[] = R"lua(
local limit = tonumber(ARGV[2])
local min = '-'
if ARGV[1] ~= '' then min = '(' .. ARGV[1] end
local ids = redis.call('ZRANGEBYLEX', KEYS[2], min, '+', 'LIMIT', 0, limit + 1)
local out = {redis.call('HLEN', KEYS[1]), 0}
if #ids > limit then
  out[2] = 1
  ids[#ids] = nil
end
if #ids > 0 then
  for _, json in ipairs(redis.call('HMGET', KEYS[1], unpack(ids))) do
    if json then out[#out + 1] = json end
  end
end
return out
)lua";

// Sliding window log. KEYS: rate zset. ARGV: window ms, limit, unique member.
// Redis' clock, not ours, so instances with skewed clocks agree. Only the
// newest `limit` attempts are kept: enough to decide, and bounded memory
// however hard a client hammers. Returns {allowed 1|0, ms until allowed}.
const char kRateScript[] = R"lua(
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(limit + 1))
redis.call('PEXPIRE', KEYS[1], window)
if count < limit then return {1, 0} end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
)lua";

// KEYS: lease. ARGV: holder, ttl ms. 1 when `holder` holds it now.
const char kLeaseScript[] = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
)lua";

#undef SB_LUA_PURGE
#undef SB_LUA_ALIVE

} // namespace

// --- registry writes, replayed after each reconnect --------------------------

void RedisBackplane::resync()
{
    // Replace whatever Redis holds for this instance by what it really has:
    // entries written before an outage may be stale (removed while down), gone
    // (Redis restarted) or left by an earlier process with the same id.
    // MULTI/EXEC, so no other instance sees the registry half rewritten.
    if (m_cluster)
        return clusterResync();
    const quint64 generation = m_commandsGeneration;
    send({QByteArrayLiteral("MULTI")});
    eval(kResyncScript, {}, {bytes(m_prefix), bytes(m_instanceId)});
    if (m_instanceFields)
        sendHeartbeat(*m_instanceFields);
    for (auto room = m_localMembers.cbegin(); room != m_localMembers.cend(); ++room) {
        for (const Member &member : room.value())
            sendAddMember(room.key(), member);
    }
    for (auto session = m_localSessions.cbegin(); session != m_localSessions.cend(); ++session)
        sendPutSession(session.key(), session.value());
    send({QByteArrayLiteral("EXEC")}, [this, generation](const RedisReply &reply) {
        if (generation != m_commandsGeneration)
            return;
        if (reply.isError() || !reply.isArray()) {
            qCWarning(lcRedis).noquote() << "rewriting this instance's registry failed:" << reply.toString();
        } else {
            // Memberships Redis still had but this process does not (left by
            // an earlier run with the same id, or ended while we were cut
            // off): others must hear they are gone, as if their instance died.
            MemberList stale;
            const RedisReply &removed = reply.at(0);
            for (std::size_t i = 0; i + 1 < removed.size(); i += 2) {
                const QString room = removed.at(i).text();
                const auto object = parseObject(removed.at(i + 1).bytes());
                if (!object)
                    continue;
                const Member member = Member::fromJson(*object);
                if (!m_localMembers.value(room).contains(member.sessionId))
                    stale.append({room, member});
            }
            if (!stale.isEmpty()) {
                qCInfo(lcRedis).noquote() << "removed" << stale.size() << "stale room memberships of" << m_instanceId;
                publishGone(m_instanceId, stale);
            }
        }
        m_synced = true;
        updateUp();
    });
    flushPendingClientEntries();
}

void RedisBackplane::sendHeartbeat(const Fields &fields)
{
    if (m_cluster)
        return clusterHeartbeat(fields);
    QList<QByteArray> args{number(m_timings.heartbeatTtlMs), bytes(m_instanceId)};
    args.append(fieldArgs(fields));
    eval(kHeartbeatScript, {key(QStringLiteral("instance:") + m_instanceId), key(QStringLiteral("instances:known"))},
         args, [this, log = logFailure("instance heartbeat")](const RedisReply &reply) {
             log(reply);
             // Our heartbeat lapsed (a stalled event loop, say) and a survivor
             // removed our registry entries while the connection stayed up.
             if (reply.isInteger() && reply.integer() == 1 && m_synced
                 && (!m_localMembers.isEmpty() || !m_localSessions.isEmpty())) {
                 qCWarning(lcRedis).noquote() << "instance" << m_instanceId
                                              << "was taken for dead; writing its registry again";
                 resync();
             }
         });
}

void RedisBackplane::sendAddMember(const QString &room, const Member &member)
{
    if (m_cluster)
        return clusterAddMember(room, member);
    eval(kAddMemberScript,
         {roomKey(room, "members"), key(QStringLiteral("instance-members:") + m_instanceId),
          key(QStringLiteral("instances:known")), key(QStringLiteral("instance:") + m_instanceId),
          roomKey(room, "member-ids")},
         {bytes(member.sessionId), toJson(member.toJson()), bytes(room + QLatin1Char('|') + member.sessionId),
          bytes(m_instanceId), number(m_timings.heartbeatTtlMs)},
         logFailure("addMember"));
}

void RedisBackplane::sendPutSession(const QString &sessionId, const Fields &fields)
{
    if (m_cluster)
        return clusterPutSession(sessionId, fields);
    QList<QByteArray> args{bytes(sessionId), bytes(m_instanceId), number(m_timings.heartbeatTtlMs)};
    args.append(fieldArgs(fields));
    eval(kPutSessionScript,
         {key(QStringLiteral("session:") + sessionId), key(QStringLiteral("instance-sessions:") + m_instanceId),
          key(QStringLiteral("instances:known")), key(QStringLiteral("instance:") + m_instanceId)},
         args, logFailure("putSession"));
}

void RedisBackplane::flushPendingClientEntries()
{
    // Client entries recorded while Redis was away, oldest first.
    while (!m_pendingClientEntries.empty()) {
        const auto [clientId, entry] = m_pendingClientEntries.front();
        m_pendingClientEntries.pop_front();
        sendClientEntry(clientId, entry);
    }
}

void RedisBackplane::sendClientEntry(const QString &clientId, const QString &entry)
{
    const QByteArray listKey = key(QStringLiteral("client:%1:instances").arg(clientId));
    send({QByteArrayLiteral("LPUSH"), listKey, bytes(entry)}, logFailure("recordClientInstance"));
    send({QByteArrayLiteral("LTRIM"), listKey, "0", "49"}, logFailure("recordClientInstance"));
}

void RedisBackplane::putInstance(const Fields &fields)
{
    m_instanceFields = fields;
    if (commandsConnected())
        sendHeartbeat(fields);
}

void RedisBackplane::removeInstance()
{
    m_instanceFields.reset();
    if (!commandsConnected())
        return;
    if (m_cluster)
        return clusterRemoveInstance();
    eval(kRemoveInstanceScript,
         {key(QStringLiteral("instance:") + m_instanceId), key(QStringLiteral("instance-members:") + m_instanceId),
          key(QStringLiteral("instance-sessions:") + m_instanceId), key(QStringLiteral("instances:known"))},
         {bytes(m_instanceId)}, logFailure("removeInstance"));
}

void RedisBackplane::addMember(const QString &room, const Member &member)
{
    m_localMembers[room].insert(member.sessionId, member);
    if (commandsConnected())
        sendAddMember(room, member);
}

void RedisBackplane::removeMember(const QString &room, const QString &sessionId)
{
    const auto it = m_localMembers.find(room);
    if (it != m_localMembers.end()) {
        it->remove(sessionId);
        if (it->isEmpty())
            m_localMembers.erase(it);
    }
    if (!commandsConnected())
        return;
    send({QByteArrayLiteral("HDEL"), roomKey(room, "members"), bytes(sessionId)},
         logFailure("removeMember"));
    send({QByteArrayLiteral("ZREM"), roomKey(room, "member-ids"), bytes(sessionId)},
         logFailure("removeMember"));
    send({QByteArrayLiteral("SREM"), key(QStringLiteral("instance-members:") + m_instanceId),
          bytes(room + QLatin1Char('|') + sessionId)},
         logFailure("removeMember"));
}

void RedisBackplane::putSession(const QString &sessionId, const Fields &fields)
{
    m_localSessions.insert(sessionId, fields);
    if (commandsConnected())
        sendPutSession(sessionId, fields);
}

void RedisBackplane::removeSession(const QString &sessionId)
{
    m_localSessions.remove(sessionId);
    squeezeIfSparse(m_localSessions);
    if (!commandsConnected())
        return;
    send({QByteArrayLiteral("DEL"), key(QStringLiteral("session:") + sessionId)}, logFailure("removeSession"));
    send({QByteArrayLiteral("SREM"), key(QStringLiteral("instance-sessions:") + m_instanceId), bytes(sessionId)},
         logFailure("removeSession"));
}

void RedisBackplane::recordClientInstance(const QString &clientId, const QString &entry)
{
    if (commandsConnected()) {
        sendClientEntry(clientId, entry);
        return;
    }
    if (m_pendingClientEntries.size() >= kMaxPendingClientEntries) {
        qCWarning(lcRedis).noquote() << "backplane down: dropping the oldest unsent client history entry";
        m_pendingClientEntries.pop_front();
    }
    m_pendingClientEntries.emplace_back(clientId, entry);
}

// --- calls that answer -------------------------------------------------------

void RedisBackplane::storeToken(const QString &token, const TokenRecord &record, int ttlSeconds,
                                std::function<void(bool ok)> done)
{
    if (!m_up) {
        later([done = std::move(done)] { done(false); });
        return;
    }
    const QJsonObject json{{QLatin1StringView("user"), record.user},
                           {QLatin1StringView("client_id"), record.clientId},
                           {QLatin1StringView("role"), record.role},
                           {QLatin1StringView("instance"), record.instance}};
    send({QByteArrayLiteral("SET"), key(QStringLiteral("token:") + token), toJson(json), QByteArrayLiteral("EX"),
          number(qMax(1, ttlSeconds))},
         [done = std::move(done)](const RedisReply &reply) { done(reply.isOk()); });
}

void RedisBackplane::takeToken(const QString &token,
                               std::function<void(bool ok, std::optional<TokenRecord> record)> done)
{
    if (!m_up) {
        later([done = std::move(done)] { done(false, std::nullopt); });
        return;
    }
    eval(kTakeTokenScript, {key(QStringLiteral("token:") + token)}, {},
         [done = std::move(done)](const RedisReply &reply) {
             if (reply.isError()) {
                 done(false, std::nullopt);
                 return;
             }
             const auto object = reply.isString() ? parseObject(reply.bytes()) : std::nullopt;
             if (!object) {
                 if (reply.isString())
                     qCWarning(lcRedis) << "ignored a malformed token record";
                 done(true, std::nullopt);
                 return;
             }
             done(true, TokenRecord{object->value(QLatin1StringView("user")).toString(),
                                    object->value(QLatin1StringView("client_id")).toString(),
                                    object->value(QLatin1StringView("role")).toString(),
                                    object->value(QLatin1StringView("instance")).toString()});
         });
}

void RedisBackplane::hitRateLimit(const QString &key, RateSpec spec,
                                  std::function<void(bool allowed, int retryAfterSeconds)> done)
{
    // Unknowable while down: let the attempt through; the token it needs
    // cannot be stored or taken then, so the caller refuses it anyway.
    if (spec.count <= 0 || !m_up) {
        later([done = std::move(done)] { done(true, 0); });
        return;
    }
    const QByteArray member = bytes(m_instanceId) + ':' + number(++m_rateSeq);
    eval(kRateScript, {this->key(QStringLiteral("rate:") + key)},
         {number(qint64(qMax(1, spec.seconds)) * 1000), number(spec.count), member},
         [done = std::move(done)](const RedisReply &reply) {
             if (!reply.isArray() || reply.size() < 2) {
                 qCWarning(lcRedis).noquote() << "rate limit check failed:" << reply.toString();
                 done(true, 0);
                 return;
             }
             if (reply.at(0).integer() == 1) {
                 done(true, 0);
                 return;
             }
             const qint64 waitMs = reply.at(1).integer();
             done(false, static_cast<int>(qMax<qint64>(1, (waitMs + 999) / 1000)));
         });
}

void RedisBackplane::members(const QString &room, const QString &after, int limit,
                             std::function<void(bool ok, MemberPage page)> done)
{
    if (!m_up) {
        later([done = std::move(done)] { done(false, {}); });
        return;
    }
    eval(kMembersPageScript, {roomKey(room, "members"), roomKey(room, "member-ids")},
         {bytes(after), number(qMax(1, limit))}, [done = std::move(done)](const RedisReply &reply) {
             if (!reply.isArray() || reply.size() < 2) {
                 done(false, {});
                 return;
             }
             MemberPage page;
             page.count = reply.at(0).integer();
             page.more = reply.at(1).integer() != 0;
             for (std::size_t i = 2; i < reply.size(); ++i) {
                 if (const auto object = parseObject(reply.at(i).bytes()))
                     page.members.append(Member::fromJson(*object));
             }
             done(true, page);
         });
}

void RedisBackplane::memberCount(const QString &room, std::function<void(bool ok, qint64 count)> done)
{
    if (!m_up) {
        later([done = std::move(done)] { done(false, 0); });
        return;
    }
    send({QByteArrayLiteral("HLEN"), roomKey(room, "members")},
         [done = std::move(done)](const RedisReply &reply) {
             if (!reply.isInteger())
                 return done(false, 0);
             done(true, reply.integer());
         });
}

void RedisBackplane::liveInstances(std::function<void(bool ok, QStringList ids)> done)
{
    if (!m_up) {
        later([done = std::move(done)] { done(false, {}); });
        return;
    }
    if (m_cluster)
        return clusterScanInstances(std::move(done));
    scanInstances(QByteArrayLiteral("0"), std::make_shared<QSet<QString>>(), std::move(done));
}

void RedisBackplane::scanInstances(const QByteArray &cursor, std::shared_ptr<QSet<QString>> found,
                                   std::function<void(bool, QStringList)> done)
{
    // SCAN, not KEYS: it never blocks Redis however many keys there are. It may
    // return a key twice, hence the set.
    const QByteArray pattern = globEscape(key(QStringLiteral("instance:"))) + '*';
    send({QByteArrayLiteral("SCAN"), cursor, QByteArrayLiteral("MATCH"), pattern, QByteArrayLiteral("COUNT"), "200"},
         [this, found, done = std::move(done)](const RedisReply &reply) mutable {
             if (!reply.isArray() || reply.size() != 2 || !reply.at(1).isArray()) {
                 done(false, {});
                 return;
             }
             const qsizetype skip = key(QStringLiteral("instance:")).size();
             for (const RedisReply &k : reply.at(1).elements())
                 found->insert(QString::fromUtf8(k.bytes().mid(skip)));
             const QByteArray next = reply.at(0).bytes();
             if (next == "0") {
                 QStringList ids = found->values();
                 ids.sort();
                 done(true, ids);
                 return;
             }
             scanInstances(next, found, std::move(done));
         });
}

void RedisBackplane::tryLease(const QString &name, const QString &holder, int ttlMs, std::function<void(bool held)> done)
{
    if (!m_up) {
        later([done = std::move(done)] { done(false); });
        return;
    }
    eval(kLeaseScript, {key(QStringLiteral("lease:") + name)}, {bytes(holder), number(qMax(1, ttlMs))},
         [done = std::move(done)](const RedisReply &reply) { done(reply.isInteger() && reply.integer() == 1); });
}

// --- crash cleanup -----------------------------------------------------------

void RedisBackplane::cleanupTick()
{
    if (!m_up || m_cleanupRunning)
        return;
    if (m_cluster)
        return clusterCleanupTick();
    eval(kCleanupScript, {key(QStringLiteral("instances:known"))},
         {bytes(m_prefix), bytes(m_instanceId), number(m_timings.cleanupClaimMs)},
         cleanupPassReply([this](const RedisReply &reply) {
             for (const RedisReply &gone : reply.elements()) {
                 const RedisReply &removed = gone.at(1);
                 MemberList members;
                 for (std::size_t i = 0; i + 1 < removed.size(); i += 2) {
                     if (const auto object = parseObject(removed.at(i + 1).bytes()))
                         members.append({removed.at(i).text(), Member::fromJson(*object)});
                 }
                 removedDeadInstance(gone.at(0).text(), members);
             }
         }));
}

RedisBackplane::ReplyCallback RedisBackplane::cleanupPassReply(std::function<void(const RedisReply &list)> onList)
{
    m_cleanupRunning = true;
    return [this, generation = m_commandsGeneration, onList = std::move(onList)](const RedisReply &reply) {
        if (generation != m_commandsGeneration)
            return;
        m_cleanupRunning = false;
        if (!reply.isArray()) {
            logFailure("looking for dead instances")(reply);
            return;
        }
        onList(reply);
    };
}

void RedisBackplane::removedDeadInstance(const QString &instance, const MemberList &members)
{
    qCWarning(lcRedis).noquote() << "instance" << instance << "stopped its heartbeat; removed" << members.size()
                                 << "room memberships it left";
    // We emit here; every other instance emits on the gone channel.
    publishGone(instance, members);
    Q_EMIT instanceGone(instance, members);
}

void RedisBackplane::publishGone(const QString &instance, const MemberList &members)
{
    QJsonArray list;
    for (const auto &[room, member] : members) {
        QJsonObject entry = member.toJson();
        entry.insert(QLatin1StringView("room"), room);
        list.append(entry);
    }
    const Envelope envelope = Envelope::make(m_instanceId, QJsonObject{{QLatin1StringView("all"), true}},
                                             {{QLatin1StringView("type"), kGoneType},
                                              {QLatin1StringView("instance"), instance},
                                              {QLatin1StringView("members"), list}});
    send({QByteArrayLiteral("PUBLISH"), key(kGoneChannel), envelope.encode()}, logFailure("publishing a gone instance"));
}

void RedisBackplane::onGone(const QByteArray &payload)
{
    const auto envelope = Envelope::decode(payload);
    if (!envelope || envelope->frame.value(QLatin1StringView("type")).toString() != kGoneType)
        return;
    if (envelope->origin == m_instanceId)
        return; // emitted when we published it
    const QString instance = envelope->frame.value(QLatin1StringView("instance")).toString();
    MemberList members;
    const QJsonArray list = envelope->frame.value(QLatin1StringView("members")).toArray();
    for (const QJsonValue &v : list) {
        const QJsonObject o = v.toObject();
        members.append({o.value(QLatin1StringView("room")).toString(), Member::fromJson(o)});
    }
    Q_EMIT instanceGone(instance, members);
}

} // namespace sb
