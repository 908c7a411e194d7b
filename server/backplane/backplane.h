#pragma once

// What joins instances into one cluster: pub/sub between instances plus the
// small amount of shared state the contract needs (one-time tokens, connection
// rate limits, presence, session and instance registries, leases). Two
// implementations: LocalBackplane (in-process, single instance) and
// RedisBackplane. Every call is asynchronous and answers on the caller's
// thread; none blocks the event loop. Names passed in are without the key
// prefix; the implementation adds it (SB_REDIS_PREFIX).

#include "config.h"
#include "messages.h"

#include <QByteArray>
#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QStringList>

#include <functional>
#include <optional>

namespace sb {

struct TokenRecord
{
    QString user;
    QString clientId;
    QString role;     // "participant" | "operator"
    QString instance; // the issuing instance (sticky-miss detection)
};

using Fields = QHash<QString, QString>;

// One page of a room's members, ordered by session_id, with the room's size.
struct MemberPage
{
    QList<Member> members;
    qint64 count = 0;  // the room's members now, cluster-wide
    bool more = false; // members follow the last one listed
};

class Backplane : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;

    virtual QString kind() const = 0; // "redis" | "local"
    // How the backplane is deployed: "local", "redis" (one server) or
    // "sentinel" (a master found through Redis Sentinel).
    virtual QString topology() const { return kind(); }
    // "host:port" of the Redis master in use; empty when none (or local).
    virtual QString masterAddress() const { return {}; }
    // How often this process followed a failover to a new master.
    virtual quint64 failovers() const { return 0; }
    virtual bool isUp() const = 0;
    virtual double rttMs() const = 0; // last measured publish-to-self round trip

    // Starts connecting; upChanged() follows.
    virtual void start() = 0;

    // Pub/sub. Channel names like "room:lobby"; subscribe only while needed.
    virtual void subscribe(const QString &channel) = 0;
    virtual void unsubscribe(const QString &channel) = 0;
    // `done(ok)` says whether the publish was handed to the backplane.
    virtual void publish(const QString &channel, const QByteArray &payload,
                         std::function<void(bool ok)> done = {}) = 0;

    // One-time tokens, valid on every instance.
    virtual void storeToken(const QString &token, const TokenRecord &record, int ttlSeconds,
                            std::function<void(bool ok)> done) = 0;
    // Atomically takes the token: a second take, anywhere, finds nothing.
    // `ok` false means the backplane could not be asked.
    virtual void takeToken(const QString &token,
                           std::function<void(bool ok, std::optional<TokenRecord> record)> done) = 0;

    // Counts one attempt for `key` (a client address) in a sliding window.
    virtual void hitRateLimit(const QString &key, RateSpec spec,
                              std::function<void(bool allowed, int retryAfterSeconds)> done) = 0;

    // Room membership across the cluster.
    virtual void addMember(const QString &room, const Member &member) = 0;
    virtual void removeMember(const QString &room, const QString &sessionId) = 0;
    // At most `limit` members whose session_id sorts after `after` ("" from
    // the first), and the room's member count.
    virtual void members(const QString &room, const QString &after, int limit,
                         std::function<void(bool ok, MemberPage page)> done) = 0;
    virtual void memberCount(const QString &room, std::function<void(bool ok, qint64 count)> done) = 0;

    // Registries (PROTOCOL.md section 5).
    virtual void putInstance(const Fields &fields) = 0; // called every second
    virtual void removeInstance() = 0;
    virtual void putSession(const QString &sessionId, const Fields &fields) = 0;
    virtual void removeSession(const QString &sessionId) = 0;
    virtual void recordClientInstance(const QString &clientId, const QString &entry) = 0;
    virtual void liveInstances(std::function<void(bool ok, QStringList ids)> done) = 0;

    // A lease held by one instance of the cluster at a time (the ticker).
    virtual void tryLease(const QString &name, const QString &holder, int ttlMs,
                          std::function<void(bool held)> done) = 0;

Q_SIGNALS:
    void message(const QString &channel, const QByteArray &payload);
    void upChanged(bool up);
    // The backplane left master `from` for master `to` ("host:port" each).
    void failedOver(const QString &from, const QString &to);
    // Another instance vanished (its heartbeat expired); `members` are the
    // room memberships it left behind, already removed from the registry.
    void instanceGone(const QString &instance, const QList<QPair<QString, Member>> &members);
};

} // namespace sb
