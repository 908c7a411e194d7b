#pragma once

// The in-process backplane of a single instance: pub/sub loops back to this
// process, and tokens, rate limits, members and leases live in memory. It is
// always up. Owned by the Server when SB_REDIS_URL is unset.

#include "backplane.h"

#include <QDeadlineTimer>
#include <QSet>
#include <QTimer>

#include <deque>

namespace sb {

class LocalBackplane final : public Backplane
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LocalBackplane)
public:
    explicit LocalBackplane(const Config &config, QObject *parent = nullptr);

    QString kind() const override { return QStringLiteral("local"); }
    bool isUp() const override { return true; }
    double rttMs() const override { return 0; }
    void start() override;

    void subscribe(const QString &channel) override;
    void unsubscribe(const QString &channel) override;
    void publish(const QString &channel, const QByteArray &payload, std::function<void(bool)> done) override;

    void storeToken(const QString &token, const TokenRecord &record, int ttlSeconds,
                    std::function<void(bool)> done) override;
    void takeToken(const QString &token, std::function<void(bool, std::optional<TokenRecord>)> done) override;
    void hitRateLimit(const QString &key, RateSpec spec, std::function<void(bool, int)> done) override;

    void addMember(const QString &room, const Member &member) override;
    void removeMember(const QString &room, const QString &sessionId) override;
    void members(const QString &room, const QString &after, int limit,
                 std::function<void(bool, MemberPage)> done) override;
    void memberCount(const QString &room, std::function<void(bool, qint64)> done) override;

    void putInstance(const Fields &) override {}
    void removeInstance() override {}
    void putSession(const QString &, const Fields &) override {}
    void removeSession(const QString &) override {}
    void recordClientInstance(const QString &, const QString &) override {}
    void liveInstances(std::function<void(bool, QStringList)> done) override;
    void tryLease(const QString &name, const QString &holder, int ttlMs, std::function<void(bool)> done) override;

    // Drops expired tokens and idle rate-limit windows; run periodically.
    int prune();

private:
    struct StoredToken
    {
        TokenRecord record;
        qint64 expiresAt;
    };
    // Answers later, like a remote backplane would, so callers never rely on re-entrancy.
    void later(std::function<void()> fn);

    QString m_instanceId;
    QSet<QString> m_subscriptions;
    QHash<QString, StoredToken> m_tokens;
    QHash<QString, std::deque<qint64>> m_attempts;
    QHash<QString, QMap<QString, Member>> m_members; // room -> session id (ordered) -> member
    QTimer m_pruneTimer;
};

} // namespace sb
