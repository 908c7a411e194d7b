#include "localbackplane.h"

#include "hashes.h"

#include <QDateTime>

namespace sb {

LocalBackplane::LocalBackplane(const Config &config, QObject *parent)
    : Backplane(parent)
    , m_instanceId(config.instanceId)
{
    m_pruneTimer.setInterval(60 * 1000);
    connect(&m_pruneTimer, &QTimer::timeout, this, &LocalBackplane::prune);
}

void LocalBackplane::start()
{
    m_pruneTimer.start();
    later([this] { Q_EMIT upChanged(true); });
}

void LocalBackplane::later(std::function<void()> fn)
{
    QMetaObject::invokeMethod(this, std::move(fn), Qt::QueuedConnection);
}

void LocalBackplane::subscribe(const QString &channel)
{
    m_subscriptions.insert(channel);
}

void LocalBackplane::unsubscribe(const QString &channel)
{
    m_subscriptions.remove(channel);
    squeezeIfSparse(m_subscriptions);
}

void LocalBackplane::publish(const QString &channel, const QByteArray &payload, std::function<void(bool)> done)
{
    later([this, channel, payload, done = std::move(done)] {
        if (m_subscriptions.contains(channel))
            Q_EMIT message(channel, payload);
        if (done)
            done(true);
    });
}

void LocalBackplane::storeToken(const QString &token, const TokenRecord &record, int ttlSeconds,
                                std::function<void(bool)> done)
{
    m_tokens.insert(token, {record, QDateTime::currentMSecsSinceEpoch() + qint64(ttlSeconds) * 1000});
    later([done = std::move(done)] { done(true); });
}

void LocalBackplane::takeToken(const QString &token, std::function<void(bool, std::optional<TokenRecord>)> done)
{
    std::optional<TokenRecord> record;
    const auto it = m_tokens.constFind(token);
    if (it != m_tokens.cend()) {
        if (it->expiresAt > QDateTime::currentMSecsSinceEpoch())
            record = it->record;
        m_tokens.erase(it);
        squeezeIfSparse(m_tokens);
    }
    later([record, done = std::move(done)] { done(true, record); });
}

void LocalBackplane::hitRateLimit(const QString &key, RateSpec spec, std::function<void(bool, int)> done)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const qint64 windowMs = qint64(spec.seconds) * 1000;
    std::deque<qint64> &attempts = m_attempts[key];
    while (!attempts.empty() && attempts.front() <= now - windowMs)
        attempts.pop_front();
    attempts.push_back(now); // refused attempts count too
    const bool allowed = attempts.size() <= static_cast<std::size_t>(spec.count);
    int retryAfter = 0;
    if (!allowed) {
        // When enough old attempts leave the window to get back under the limit.
        const std::size_t excess = attempts.size() - static_cast<std::size_t>(spec.count);
        const qint64 freeAt = attempts[excess - 1] + windowMs;
        retryAfter = static_cast<int>(qMax<qint64>(1, (freeAt - now + 999) / 1000));
    }
    later([allowed, retryAfter, done = std::move(done)] { done(allowed, retryAfter); });
}

void LocalBackplane::addMember(const QString &room, const Member &member)
{
    m_members[room].insert(member.sessionId, member);
}

void LocalBackplane::removeMember(const QString &room, const QString &sessionId)
{
    auto it = m_members.find(room);
    if (it == m_members.end())
        return;
    it->remove(sessionId);
    if (it->isEmpty())
        m_members.erase(it);
}

void LocalBackplane::members(const QString &room, const QString &after, int limit,
                             std::function<void(bool, MemberPage)> done)
{
    MemberPage page;
    const auto found = m_members.constFind(room);
    if (found != m_members.cend()) {
        page.count = found->size();
        auto it = after.isEmpty() ? found->cbegin() : found->upperBound(after);
        for (; it != found->cend() && page.members.size() < limit; ++it)
            page.members.append(it.value());
        page.more = it != found->cend();
    }
    later([page = std::move(page), done = std::move(done)] { done(true, page); });
}

void LocalBackplane::memberCount(const QString &room, std::function<void(bool, qint64)> done)
{
    const qint64 count = m_members.value(room).size();
    later([count, done = std::move(done)] { done(true, count); });
}

void LocalBackplane::liveInstances(std::function<void(bool, QStringList)> done)
{
    later([this, done = std::move(done)] { done(true, {m_instanceId}); });
}

void LocalBackplane::tryLease(const QString &, const QString &, int, std::function<void(bool)> done)
{
    later([done = std::move(done)] { done(true); });
}

int LocalBackplane::prune()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    int removed = 0;
    for (auto it = m_tokens.begin(); it != m_tokens.end();) {
        if (it->expiresAt <= now) {
            it = m_tokens.erase(it);
            ++removed;
        } else {
            ++it;
        }
    }
    // A window is never longer than a day; anything older is idle.
    for (auto it = m_attempts.begin(); it != m_attempts.end();) {
        if (it->empty() || it->back() < now - 24 * 3600 * 1000LL) {
            it = m_attempts.erase(it);
            ++removed;
        } else {
            ++it;
        }
    }
    squeezeIfSparse(m_tokens);
    squeezeIfSparse(m_attempts);
    return removed;
}

} // namespace sb
