#include "ticker.h"

#include "backplane/backplane.h"
#include "channel.h"
#include "cluster/clusterbus.h"
#include "config.h"
#include "metrics/metrics.h"
#include "sessions/sessionregistry.h"
#include "ws/session.h"

#include <QDateTime>
#include <QLoggingCategory>
#include <QRandomGenerator>

Q_LOGGING_CATEGORY(lcTicker, "sb.ticker")

namespace sb {

namespace {
const QStringList tickerLines{
    QStringLiteral("Tip: rejoin a room with \"since\" and nothing is lost."),
    QStringLiteral("Every message carries a per-room seq; gaps are bugs."),
    QStringLiteral("Operators can see which instance you are pinned to."),
    QStringLiteral("Todos sync across every tab and instance."),
    QStringLiteral("Backplane round trip is measured every second."),
    QStringLiteral("Draining instances ask clients to reconnect elsewhere."),
    QStringLiteral("Stay hydrated."),
    QStringLiteral("Switchboard: many instances, one conversation."),
};
} // namespace

Ticker::Ticker(const ServiceContext &context)
    : m_ctx(context)
    , m_enabled(context.config.tickerEnabled)
{
    m_leaseTimer.setInterval(LeaseRenewMs);
    QObject::connect(&m_leaseTimer, &QTimer::timeout, m_ctx.owner, [this] { renewLease(); });
    m_fireTimer.setSingleShot(true);
    QObject::connect(&m_fireTimer, &QTimer::timeout, m_ctx.owner, [this] { fire(); });
}

void Ticker::start()
{
    m_leaseTimer.start();
    renewLease();
}

void Ticker::setEnabled(bool enabled)
{
    if (m_enabled == enabled)
        return;
    m_enabled = enabled;
    qCInfo(lcTicker) << "ticker" << (enabled ? "enabled" : "disabled");
    if (!enabled)
        m_fireTimer.stop();
    else if (m_holder)
        scheduleNext();
    else
        renewLease(); // take the lease now rather than at the next renewal, up to LeaseRenewMs later
}

void Ticker::renewLease()
{
    if (!m_enabled) {
        m_holder = false;
        return;
    }
    m_ctx.backplane.tryLease(QStringLiteral("ticker"), m_ctx.instanceId, LeaseTtlMs, [this](bool held) {
        if (held != m_holder)
            qCInfo(lcTicker) << (held ? "this instance now runs the ticker" : "another instance runs the ticker");
        m_holder = held;
        if (m_holder && m_enabled && !m_fireTimer.isActive())
            scheduleNext();
        if (!m_holder)
            m_fireTimer.stop();
    });
}

void Ticker::scheduleNext()
{
    const Config &c = m_ctx.config;
    const int seconds = static_cast<int>(QRandomGenerator::global()->bounded(c.tickerMinS, c.tickerMaxS + 1));
    m_fireTimer.start(seconds * 1000);
}

void Ticker::fire()
{
    if (!m_enabled || !m_holder)
        return;
    const QString &line = tickerLines[QRandomGenerator::global()->bounded(static_cast<int>(tickerLines.size()))];
    m_ctx.bus.publish(Channel::all(), QJsonObject{{QLatin1StringView("all"), true}},
                      makeFrame(MessageType::Broadcast, {{QLatin1StringView("kind"), QStringLiteral("ticker")},
                                                         {QLatin1StringView("text"), line},
                                                         {QLatin1StringView("from"), QStringLiteral("system")},
                                                         {QLatin1StringView("ts"), QDateTime::currentMSecsSinceEpoch()},
                                                         {QLatin1StringView("origin"), m_ctx.instanceId}}));
    scheduleNext();
}

void Ticker::onEnvelope(const Envelope &envelope)
{
    const QString type = envelope.frame.value(QLatin1StringView("type")).toString();
    if (type == name(MessageType::Broadcast))
        deliver(envelope);
    else if (type == name(InternalType::TickerSet))
        setEnabled(envelope.frame.value(QLatin1StringView("enabled")).toBool());
}

int Ticker::deliver(const Envelope &envelope)
{
    const TextFrame text(encode(envelope.frame));
    int count = 0;
    for (Session *s : m_ctx.sessions.all()) {
        if (s->send(text))
            ++count;
    }
    m_ctx.metrics.broadcasts->inc({envelope.frame.value(QLatin1StringView("kind")).toString()});
    return count;
}

} // namespace sb
