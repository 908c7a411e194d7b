#include "requesttracker.h"

#include "plainerror.h"

#include <QDateTime>

namespace sb::console {

RequestTracker::RequestTracker(QObject *parent)
    : QObject(parent)
{
    m_timer.setInterval(500);
    connect(&m_timer, &QTimer::timeout, this, &RequestTracker::expire);
}

QString RequestTracker::add(QObject *context, ReplyHandler handler)
{
    const QString ref = QStringLiteral("c%1").arg(m_next++);
    m_pending.insert(ref, {context, context != nullptr, std::move(handler),
                           QDateTime::currentMSecsSinceEpoch() + m_timeoutMs});
    if (!m_timer.isActive())
        m_timer.start();
    return ref;
}

bool RequestTracker::resolve(const QJsonObject &frame)
{
    const QString ref = frame.value(QLatin1StringView("ref")).toString();
    if (ref.isEmpty() || !m_pending.contains(ref))
        return false;
    Reply reply;
    reply.frame = frame;
    reply.ok = frame.value(QLatin1StringView("type")).toString() == QLatin1StringView("ack");
    if (!reply.ok) {
        reply.code = frame.value(QLatin1StringView("code")).toString();
        reply.text = plainErrorText(reply.code, frame.value(QLatin1StringView("message")).toString());
    }
    finish(ref, reply);
    return true;
}

void RequestTracker::failAll(const QString &text)
{
    const QStringList refs = m_pending.keys();
    for (const QString &ref : refs)
        finish(ref, Reply{false, {}, QStringLiteral("disconnected"), text});
}

void RequestTracker::finish(const QString &ref, const Reply &reply)
{
    const Pending pending = m_pending.take(ref);
    if (m_pending.isEmpty())
        m_timer.stop();
    if (pending.hasContext && !pending.context)
        return;
    if (pending.handler)
        pending.handler(reply);
}

void RequestTracker::expire()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    QStringList expired;
    for (auto it = m_pending.cbegin(); it != m_pending.cend(); ++it) {
        if (it->deadline <= now)
            expired.append(it.key());
    }
    for (const QString &ref : std::as_const(expired))
        finish(ref, Reply{false, {}, QStringLiteral("timeout"), tr("The server did not answer in time.")});
}

} // namespace sb::console
