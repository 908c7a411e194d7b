#include "server.h"

#include "admin/adminservice.h"
#include "backplane/backplanefactory.h"
#include "broadcast/ticker.h"
#include "chat/chatservice.h"
#include "cluster/clusterbus.h"
#include "core/dispatcher.h"
#include "core/servicecontext.h"
#include "http/httpserver.h"
#include "http/routes.h"
#include "sessions/sessionregistry.h"
#include "store/storefactory.h"
#include "todo/todoservice.h"
#include "wire.h"
#include "ws/closehandshake.h"
#include "ws/upgradegate.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDeadlineTimer>
#include <QLoggingCategory>
#include <QRandomGenerator>

Q_LOGGING_CATEGORY(lcServer, "sb.server")

namespace sb {

Server::Server(Config config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
{
    m_uptime.start();
    m_startedAt = QDateTime::currentMSecsSinceEpoch();

    // The backplane and what uses it are made in start(), once the instance
    // id is final (port 0).
    m_store = makeStore(m_config);
    m_http = std::make_unique<HttpServer>(
        &m_metrics,
        [this](const HttpRequest &r, QTcpSocket *s, HttpServer::Responder respond) {
            m_routes->handle(r, s, std::move(respond));
        },
        [this](const HttpRequest &r, QTcpSocket *s) { m_gate->handle(r, s); });

    m_metrics.uptime->setCallback([this] { return static_cast<double>(m_uptime.elapsed()) / 1000.0; });
    m_metrics.backplaneUp->setCallback([this] { return m_backplane && m_backplane->isUp() ? 1.0 : 0.0; });
    m_metrics.backplaneRtt->setCallback([this] { return m_backplane ? m_backplane->rttMs() / 1000.0 : 0.0; });
    m_metrics.storeUp->setCallback([this] { return m_store->isUp() ? 1.0 : 0.0; });
    m_metrics.httpSockets->setCallback([this] { return static_cast<double>(m_http->socketCount()); });
    m_metrics.sendQueueBytes->setCallback(
        [this] { return m_sessions ? static_cast<double>(m_sessions->largestQueue()) : 0.0; });

    connect(m_store.get(), &Store::upChanged, this, [this](bool up) {
        qCInfo(lcServer).noquote() << "store" << m_store->kind() << (up ? "up" : "down");
        m_storeHeard = true;
    });

    // Checked twice per interval, so a silent peer goes between 2 and 2.5 intervals.
    m_heartbeatTimer.setInterval(qMax(50, m_config.heartbeatMs / 2));
    connect(&m_heartbeatTimer, &QTimer::timeout, this, &Server::heartbeatTick);
    m_secondTimer.setInterval(1000);
    connect(&m_secondTimer, &QTimer::timeout, this, &Server::secondTick);
    m_cleanupTimer.setInterval(60 * 60 * 1000);
    connect(&m_cleanupTimer, &QTimer::timeout, this, [this] {
        m_store->cleanup(QDateTime::currentMSecsSinceEpoch(), 7LL * 24 * 3600 * 1000, m_config.history,
                         [](const StoreResult<CleanupStats> &r) {
                             if (r.ok)
                                 qCInfo(lcServer) << "cleanup removed" << r.value.sessions << "sessions,"
                                                  << r.value.messages << "messages," << r.value.nonces << "nonces";
                             else
                                 qCWarning(lcServer).noquote() << "cleanup failed:" << r.error;
                         });
    });
    connect(&m_drainTimer, &QTimer::timeout, this, [this] { drainNext(true); });
}

Server::~Server()
{
    m_secondTimer.stop();
    m_heartbeatTimer.stop();
    // Sessions first, without their close handlers: those use the services.
    m_sessions.reset();
    if (m_backplane)
        m_backplane->removeInstance();
}

bool Server::start(QString *error)
{
    if (!m_http->listen(m_config.listenAddress, m_config.listenPort, m_config.listenBacklog, error))
        return false;
    if (m_config.listenPort == 0 && m_config.instanceId.endsWith(QLatin1StringView("-0")))
        m_config.instanceId = m_config.instanceId.chopped(1) + QString::number(m_http->port());
    wire();
    qCInfo(lcServer).noquote() << "instance" << m_config.instanceId << "listening on"
                               << m_http->address().toString() + QLatin1Char(':') + QString::number(m_http->port())
                               << "backplane" << m_backplane->kind() << "store" << m_store->kind();
    m_bus->start();
    m_backplane->start();
    m_store->start();
    m_heartbeatTimer.start();
    m_secondTimer.start();
    m_cleanupTimer.start();
    m_ticker->start();
    m_started = true;
    // A dependency that has said nothing after a few seconds is down, not starting.
    QTimer::singleShot(5000, this, [this] {
        m_storeHeard = true;
        m_backplaneHeard = true;
    });
    secondTick();
    return true;
}

void Server::wire()
{
    m_backplane = makeBackplane(m_config);
    m_bus = std::make_unique<ClusterBus>(m_config.instanceId, *m_backplane, m_metrics, m_flow);
    m_sessions = std::make_unique<SessionRegistry>(m_config, m_metrics, *m_store, *m_backplane, *m_bus);
    m_dispatcher = std::make_unique<Dispatcher>(m_config.instanceId, m_metrics, m_flow);
    m_context.reset(new ServiceContext{m_config, m_config.instanceId, m_metrics, *m_store, *m_backplane, *m_sessions,
                                       *m_bus, m_flow, this});
    m_chat = std::make_unique<ChatService>(*m_context);
    m_todo = std::make_unique<TodoService>(*m_context);
    m_ticker = std::make_unique<Ticker>(*m_context);
    m_admin = std::make_unique<AdminService>(
        *m_context, AdminService::InstanceControl{[this] { return instanceJson(); },
                                                  [this](bool on) { on ? startDrain(false) : stopDrain(); }});
    m_routes = std::make_unique<HttpRoutes>(
        m_config, m_metrics, *m_backplane,
        HttpRoutes::Status{[this] { return readiness(); }, [this] { return instanceJson(); }});
    m_gate = std::make_unique<UpgradeGate>(
        m_config, m_metrics, *m_backplane, [this] { return m_draining; },
        [this](QWebSocket *socket, QTcpSocket *tcp, const TokenRecord &record, const QString &remote) {
            m_sessions->open(socket, tcp, record, remote);
        });
    routeServices();

    connect(m_backplane.get(), &Backplane::upChanged, this, [this](bool up) {
        qCInfo(lcServer).noquote() << "backplane" << m_backplane->kind() << (up ? "up" : "down");
        m_backplaneHeard = true;
        // The backplane itself re-registers sessions and memberships after a reconnect.
        if (up)
            m_chat->catchUpAll();
    });
    // The backplane logs the failover itself; here it is only counted.
    connect(m_backplane.get(), &Backplane::failedOver, this, [this] { m_metrics.backplaneFailovers->inc(); });
    connect(m_backplane.get(), &Backplane::instanceGone, this,
            [this](const QString &instance, const QList<QPair<QString, Member>> &members) {
                qCWarning(lcServer).noquote() << "instance" << instance << "is gone;" << members.size()
                                              << "room memberships removed";
                m_chat->onInstanceGone(members);
            });
}

void Server::routeServices()
{
    // Frames from clients, by type (the table in shared/protocol.h says who may send each).
    Dispatcher &d = *m_dispatcher;
    d.on(MessageType::Join, [this](Session *s, const Request &r) { m_chat->join(s, r); });
    d.on(MessageType::Leave, [this](Session *s, const Request &r) { m_chat->leave(s, r); });
    d.on(MessageType::Chat, [this](Session *s, const Request &r) { m_chat->chat(s, r); });
    d.on(MessageType::History, [this](Session *s, const Request &r) { m_chat->history(s, r); });
    d.on(MessageType::Members, [this](Session *s, const Request &r) { m_chat->members(s, r); });
    d.on(MessageType::TodoList, [this](Session *s, const Request &r) { m_todo->list(s, r); });
    d.on(MessageType::TodoAdd, [this](Session *s, const Request &r) { m_todo->add(s, r); });
    d.on(MessageType::TodoUpdate, [this](Session *s, const Request &r) { m_todo->update(s, r); });
    d.on(MessageType::TodoDelete, [this](Session *s, const Request &r) { m_todo->remove(s, r); });
    d.on(MessageType::AdminSubscribe, [this](Session *s, const Request &r) { m_admin->subscribe(s, r); });
    d.on(MessageType::AdminInject, [this](Session *s, const Request &r) { m_admin->inject(s, r); });
    d.on(MessageType::AdminDisconnect, [this](Session *s, const Request &r) { m_admin->disconnectSession(s, r); });
    d.on(MessageType::AdminDrain, [this](Session *s, const Request &r) { m_admin->drain(s, r, true); });
    d.on(MessageType::AdminUndrain, [this](Session *s, const Request &r) { m_admin->drain(s, r, false); });
    d.on(MessageType::AdminTicker, [this](Session *s, const Request &r) { m_admin->ticker(s, r); });

    // Envelopes from the backplane, by channel.
    m_bus->route(Channel::Kind::Room, [this](const QString &room, const Envelope &e) { m_chat->onRoomEnvelope(room, e); });
    m_bus->route(Channel::Kind::Client,
                 [this](const QString &clientId, const Envelope &e) { m_todo->onClientEnvelope(clientId, e); });
    m_bus->route(Channel::Kind::All, [this](const QString &, const Envelope &e) { m_ticker->onEnvelope(e); });
    m_bus->setCommandRunner([this](const QJsonObject &command) { return m_admin->execute(command); });

    // Sessions coming and going.
    connect(m_sessions.get(), &SessionRegistry::opened, this, [this](Session *session) {
        connect(session, &Session::textReceived, this,
                [this](Session *s, const QString &text) { m_dispatcher->dispatch(s, text); });
        connect(session, &Session::binaryReceived, this, [this](Session *s) { m_dispatcher->refuseBinary(s); });
    });
    connect(m_sessions.get(), &SessionRegistry::leaving, this, [this](Session *s) { m_chat->leaveAll(s); });
    connect(m_sessions.get(), &SessionRegistry::closed, this, [this] {
        if (m_draining)
            drainNext(false);
    });
}

quint16 Server::port() const
{
    return m_http->port();
}

int Server::connectionCount() const
{
    return m_sessions ? m_sessions->count() : 0;
}

Readiness Server::readiness() const
{
    if (m_draining)
        return Readiness::Draining;
    if (!m_started)
        return Readiness::Starting;
    // "starting" only until each dependency has answered once, up or down.
    if (m_storeHeard && !m_store->isUp())
        return Readiness::StoreDown;
    if (m_backplaneHeard && !m_backplane->isUp())
        return Readiness::BackplaneDown;
    if (!m_storeHeard || !m_backplaneHeard)
        return Readiness::Starting;
    return Readiness::Ready;
}

QJsonObject Server::instanceJson() const
{
    InstanceInfo info;
    info.id = m_config.instanceId;
    info.color = m_config.color;
    info.version = QStringLiteral(SB_VERSION);
    info.startedAt = m_startedAt;
    info.connections = connectionCount();
    info.backplane = m_backplane->kind();
    info.backplaneUp = m_backplane->isUp();
    info.backplaneKind = m_backplane->topology();
    info.redisMaster = m_backplane->masterAddress();
    info.backplaneFailovers = static_cast<qint64>(m_backplane->failovers());
    info.store = m_store->kind();
    info.storeUp = m_store->isUp();
    info.ready = readiness() == Readiness::Ready;
    return info.toJson();
}

void Server::heartbeatTick()
{
    // A tick far behind its time means this process did not run (CPU
    // starvation, a stopped process): pongs may wait unread in the sockets,
    // so it only pings and leaves the verdict to the next tick, on time.
    const qint64 sinceLast = m_sinceHeartbeatTick.isValid() ? m_sinceHeartbeatTick.restart() : 0;
    if (!m_sinceHeartbeatTick.isValid())
        m_sinceHeartbeatTick.start();
    const bool onTime = sinceLast <= m_heartbeatTimer.interval() + m_heartbeatTimer.interval() / 2;
    if (!onTime)
        qCInfo(lcServer).noquote() << "heartbeat tick" << sinceLast << "ms apart; no peer is judged on this one";
    for (Session *s : m_sessions->all()) {
        if (!s->heartbeat(m_config.heartbeatMs, onTime)) {
            qCInfo(lcServer).noquote() << "session" << s->id() << "answered no ping for two intervals; dropping";
            s->close(1001, QStringLiteral("heartbeat timeout"));
        }
    }
}

void Server::secondTick()
{
    Fields fields{{QStringLiteral("id"), m_config.instanceId},
                  {QStringLiteral("color"), m_config.color},
                  {QStringLiteral("host"), m_http->address().toString()},
                  {QStringLiteral("port"), QString::number(m_http->port())},
                  {QStringLiteral("version"), QStringLiteral(SB_VERSION)},
                  {QStringLiteral("started_at"), QString::number(m_startedAt)},
                  {QStringLiteral("connections"), QString::number(connectionCount())},
                  {QStringLiteral("ready"), readiness() == Readiness::Ready ? QStringLiteral("1") : QStringLiteral("0")},
                  {QStringLiteral("draining"), m_draining ? QStringLiteral("1") : QStringLiteral("0")}};
    m_backplane->putInstance(fields);
    m_admin->tick();
    // A connection that never reads is judged even while nothing is sent to it.
    for (Session *s : m_sessions->all())
        s->checkBacklog();
    m_sessions->releaseFreedMemory();
}

void Server::startDrain(bool exitWhenDone)
{
    m_exitAfterDrain = m_exitAfterDrain || exitWhenDone;
    if (!m_draining) {
        m_draining = true;
        qCInfo(lcServer) << "draining:" << connectionCount() << "connections over" << m_config.drainS << "s";
        int participants = 0;
        for (Session *s : m_sessions->all())
            participants += s->isOperator() ? 0 : 1;
        // Spread the closes over SB_DRAIN_S so clients do not all come back at once.
        const int interval = participants > 0 ? qMax(1, m_config.drainS * 1000 / participants) : 1;
        m_drainTimer.start(interval);
    }
    drainNext(false);
}

void Server::stopDrain()
{
    if (!m_draining)
        return;
    m_draining = false;
    m_exitAfterDrain = false;
    m_drainTimer.stop();
    qCInfo(lcServer) << "drain cancelled; accepting participants again";
}

void Server::drainNext(bool closeOne)
{
    if (!m_draining)
        return;
    Session *next = nullptr;
    int remaining = 0;
    for (Session *s : m_sessions->all()) {
        if (s->isOperator() || !s->isOpen())
            continue;
        ++remaining;
        if (!next)
            next = s;
    }
    if (closeOne && next) {
        const int afterMs = QRandomGenerator::global()->bounded(250, 2000);
        next->sendFrame(makeFrame(MessageType::Reconnect, {{QLatin1StringView("reason"), QStringLiteral("draining")},
                                                           {QLatin1StringView("after_ms"), afterMs}}));
        next->close(CloseCode::ServiceRestart, QStringLiteral("draining"));
        --remaining;
    }
    if (remaining > 0)
        return;
    // Every participant was asked to leave; wait for their sockets to go.
    for (Session *s : m_sessions->all()) {
        if (!s->isOperator())
            return;
    }
    m_drainTimer.stop();
    qCInfo(lcServer) << "drain complete";
    Q_EMIT drainFinished();
    if (m_exitAfterDrain) {
        for (Session *s : m_sessions->all())
            s->close(1001, QStringLiteral("shutting down"));
        m_backplane->removeInstance();
        exitWhenHandshakesDone();
    }
}

void Server::exitWhenHandshakesDone()
{
    // Clients that answer the close frame are let go cleanly; none may hold
    // the exit back by more than one handshake timeout.
    const QDeadlineTimer deadline(CloseHandshake::TimeoutMs);
    auto *poll = new QTimer(this);
    connect(poll, &QTimer::timeout, this, [poll, deadline] {
        if (CloseHandshake::inProgress() > 0 && !deadline.hasExpired())
            return;
        poll->stop();
        QCoreApplication::exit(0);
    });
    poll->start(20);
}

} // namespace sb
