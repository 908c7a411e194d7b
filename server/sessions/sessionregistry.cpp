#include "sessionregistry.h"

#include "backplane/backplane.h"
#include "channel.h"
#include "cluster/clusterbus.h"
#include "config.h"
#include "hashes.h"
#include "metrics/metrics.h"
#include "store/store.h"

#include <QDateTime>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QUuid>

#include <malloc.h>

Q_LOGGING_CATEGORY(lcSessions, "sb.sessions")

namespace sb {

SessionRegistry::SessionRegistry(const Config &config, Metrics &metrics, Store &store, Backplane &backplane,
                                 ClusterBus &bus, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_metrics(metrics)
    , m_store(store)
    , m_backplane(backplane)
    , m_bus(bus)
{
}

SessionRegistry::~SessionRegistry()
{
    // No close handler runs now: the services may be gone already.
    const auto sessions = m_sessions.values();
    for (Session *s : sessions) {
        s->disconnect(this);
        delete s;
    }
}

Session *SessionRegistry::open(QWebSocket *socket, QTcpSocket *tcp, const TokenRecord &record, const QString &remote)
{
    SessionInfo info;
    info.sessionId = QUuid::createUuid().toString(QUuid::WithoutBraces);
    info.clientId = record.clientId;
    info.user = record.user;
    info.role = record.role;
    info.remote = remote;
    info.instance = m_config.instanceId;
    info.connectedAt = QDateTime::currentMSecsSinceEpoch();
    info.sticky = record.instance == m_config.instanceId;

    auto *session = new Session(socket, tcp, info, m_config, &m_metrics, this);
    m_sessions.insert(info.sessionId, session);
    m_byClient.insert(info.clientId, session);
    connect(session, &Session::closed, this, &SessionRegistry::onClosed);

    if (!info.sticky) {
        m_metrics.stickyMiss->inc();
        qCInfo(lcSessions).noquote() << "sticky miss: token of" << record.instance << "used by session"
                                     << info.sessionId;
    }
    m_metrics.connectionsTotal->inc();
    m_metrics.connectionsActive->inc({info.role});
    m_bus.retain(Channel::client(info.clientId));
    updateRecord(session);
    m_backplane.recordClientInstance(info.clientId, m_config.instanceId + QLatin1Char('|')
                                                        + QString::number(info.connectedAt));
    m_store.sessionOpened(info);
    qCInfo(lcSessions).noquote() << "session" << info.sessionId << "opened:" << info.role << info.user << "client"
                                 << info.clientId << "from" << remote << (info.sticky ? "" : "(sticky miss)");

    const WelcomeInfo welcome{info.sessionId, info.clientId, info.user, info.role, m_config.instanceId,
                              m_config.color, info.sticky, m_config.heartbeatMs, QDateTime::currentMSecsSinceEpoch()};
    session->sendFrame(makeFrame(MessageType::Welcome, welcome.toJson()));
    Q_EMIT opened(session);
    return session;
}

void SessionRegistry::onClosed(Session *session)
{
    const SessionInfo &info = session->info();
    const int code = session->closeCode();
    m_sessions.remove(info.sessionId);
    m_byClient.remove(info.clientId, session);
    squeezeIfSparse(m_sessions);
    squeezeIfSparse(m_byClient);
    ++m_closedSinceTrim;
    m_sinceLastClose.start();
    Q_EMIT leaving(session);
    m_bus.release(Channel::client(info.clientId));
    m_backplane.removeSession(info.sessionId);
    m_store.sessionClosed(info.sessionId, code, QDateTime::currentMSecsSinceEpoch());
    m_metrics.connectionsActive->inc({info.role}, -1);
    m_metrics.closes->inc({QString::number(code)});
    qCInfo(lcSessions).noquote() << "session" << info.sessionId << "closed with" << code;
    Q_EMIT closed(session, code);
    session->deleteLater();
}

qint64 SessionRegistry::largestQueue() const
{
    qint64 largest = 0;
    for (const Session *s : m_sessions)
        largest = qMax(largest, s->queueBytes());
    return largest;
}

void SessionRegistry::updateRecord(Session *session)
{
    const QJsonObject conn = session->toConnJson();
    Fields fields;
    for (auto it = conn.begin(); it != conn.end(); ++it) {
        if (it.key() == QLatin1StringView("rooms")) {
            QStringList rooms;
            for (const QJsonValue &r : it.value().toArray())
                rooms.append(r.toString());
            fields.insert(it.key(), rooms.join(QLatin1Char(',')));
        } else if (it.value().isBool()) {
            fields.insert(it.key(), it.value().toBool() ? QStringLiteral("1") : QStringLiteral("0"));
        } else if (it.value().isDouble()) {
            fields.insert(it.key(), QString::number(it.value().toInteger()));
        } else {
            fields.insert(it.key(), it.value().toString());
        }
    }
    m_backplane.putSession(session->id(), fields);
}

void SessionRegistry::releaseFreedMemory()
{
    // After many connections went (a mass disconnect, a drained peer's
    // clients moving on), glibc keeps their freed memory in its arenas; give
    // it back to the system once the wave is over (docs/benchmarks.md).
    if (m_closedSinceTrim < TrimAfterCloses || m_sinceLastClose.elapsed() < 2000)
        return;
    m_closedSinceTrim = 0;
    const qint64 before = residentBytes();
    ::malloc_trim(0);
    const struct mallinfo2 heap = ::mallinfo2();
    qCInfo(lcSessions).noquote() << "released freed memory after a wave of disconnects: resident"
                                 << before / (1024 * 1024) << "MiB ->" << residentBytes() / (1024 * 1024)
                                 << "MiB; heap in use" << heap.uordblks / (1024 * 1024) << "MiB, free"
                                 << heap.fordblks / (1024 * 1024) << "MiB in" << heap.ordblks << "pieces";
}

} // namespace sb
