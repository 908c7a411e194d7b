#include "server.h"

#include "admin/adminservice.h"
#include "backplane/backplanefactory.h"
#include "broadcast/ticker.h"
#include "chat/chatservice.h"
#include "store/storefactory.h"
#include "todo/todoservice.h"
#include "ws/closehandshake.h"
#include "ws/handshake.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QUuid>

#include <malloc.h>

Q_LOGGING_CATEGORY(lcServer, "sb.server")

namespace sb {

namespace {

QString peerKey(const QHostAddress &address, quint16 port)
{
    return address.toString() + QLatin1Char('|') + QString::number(port);
}

QString newToken()
{
    QByteArray bytes(32, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()), bytes.size() / 4);
    return QString::fromLatin1(bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

// Compares every byte whatever the first difference, so the time taken says
// nothing about how much of a guess was right.
bool constantTimeEquals(const QByteArray &given, const QByteArray &expected)
{
    const qsizetype n = qMax(given.size(), expected.size());
    unsigned diff = given.size() == expected.size() ? 0u : 1u;
    for (qsizetype i = 0; i < n; ++i) {
        const auto a = i < given.size() ? static_cast<uchar>(given[i]) : 0u;
        const auto b = i < expected.size() ? static_cast<uchar>(expected[i]) : 0u;
        diff |= a ^ b;
    }
    return diff == 0;
}

bool isValidClientId(const QString &id)
{
    if (id.isEmpty() || id.size() > 64)
        return false;
    for (const QChar ch : id) {
        const char16_t c = ch.unicode();
        if (!((c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9') || c == u'-'
              || c == u'_' || c == u'.'))
            return false;
    }
    return true;
}

const QStringList knownRoutes{QStringLiteral("/health/"), QStringLiteral("/healthz"), QStringLiteral("/readyz"),
                              QStringLiteral("/metrics"), QStringLiteral("/api/instance"),
                              QStringLiteral("/api/token"), QStringLiteral("/ws")};

} // namespace

QString readinessName(Server::Readiness readiness)
{
    switch (readiness) {
    case Server::Readiness::Starting: return QStringLiteral("starting");
    case Server::Readiness::Ready: return QStringLiteral("ready");
    case Server::Readiness::Draining: return QStringLiteral("draining");
    case Server::Readiness::BackplaneDown: return QStringLiteral("backplane_down");
    case Server::Readiness::StoreDown: return QStringLiteral("store_down");
    }
    return {};
}

Server::Server(Config config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_wsServer(QStringLiteral("switchboard"), QWebSocketServer::NonSecureMode)
{
    m_uptime.start();
    m_startedAt = QDateTime::currentMSecsSinceEpoch();

    // The backplane is made in start(), once the instance id is final (port 0).
    m_store = makeStore(m_config);

    m_http = std::make_unique<HttpServer>(
        &m_metrics,
        [this](const HttpRequest &r, QTcpSocket *s, HttpServer::Responder respond) { handleHttp(r, s, std::move(respond)); },
        [this](const HttpRequest &r, QTcpSocket *s) { handleUpgrade(r, s); });
    m_wsServer.setHandshakeTimeout(10000);
    connect(&m_wsServer, &QWebSocketServer::newConnection, this, &Server::onWebSocket);

    m_chat = std::make_unique<ChatService>(this);
    m_todo = std::make_unique<TodoService>(this);
    m_ticker = std::make_unique<Ticker>(this);
    m_admin = std::make_unique<AdminService>(this);
    registerHandlers();

    m_metrics.uptime->setCallback([this] { return static_cast<double>(m_uptime.elapsed()) / 1000.0; });
    m_metrics.backplaneUp->setCallback([this] { return m_backplane && m_backplane->isUp() ? 1.0 : 0.0; });
    m_metrics.backplaneRtt->setCallback([this] { return m_backplane ? m_backplane->rttMs() / 1000.0 : 0.0; });
    m_metrics.storeUp->setCallback([this] { return m_store->isUp() ? 1.0 : 0.0; });
    m_metrics.httpSockets->setCallback([this] { return static_cast<double>(m_http->socketCount()); });
    m_metrics.sendQueueBytes->setCallback([this] {
        qint64 largest = 0;
        for (Session *s : std::as_const(m_sessions))
            largest = qMax(largest, s->queueBytes());
        return static_cast<double>(largest);
    });

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
    connect(&m_drainTimer, &QTimer::timeout, this, &Server::drainNext);
}

Server::~Server()
{
    m_secondTimer.stop();
    m_heartbeatTimer.stop();
    // Sessions first: their close handlers use the services and the backplane.
    const auto sessions = m_sessions.values();
    for (Session *s : sessions) {
        s->disconnect(this);
        delete s;
    }
    m_sessions.clear();
    if (m_backplane)
        m_backplane->removeInstance();
}

bool Server::start(QString *error)
{
    if (!m_http->listen(m_config.listenAddress, m_config.listenPort, m_config.listenBacklog, error))
        return false;
    if (m_config.listenPort == 0 && m_config.instanceId.endsWith(QLatin1StringView("-0")))
        m_config.instanceId = m_config.instanceId.chopped(1) + QString::number(m_http->port());
    m_backplane = makeBackplane(m_config);
    connect(m_backplane.get(), &Backplane::message, this, &Server::onBackplaneMessage);
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
    qCInfo(lcServer).noquote() << "instance" << m_config.instanceId << "listening on"
                               << m_http->address().toString() + QLatin1Char(':') + QString::number(m_http->port())
                               << "backplane" << m_backplane->kind() << "store" << m_store->kind();
    for (const QString &channel : {QStringLiteral("all"), QStringLiteral("cluster"),
                                   QStringLiteral("reply:") + m_config.instanceId})
        refCountChannel(channel, +1);
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

quint16 Server::port() const
{
    return m_http->port();
}

Server::Readiness Server::readiness() const
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
    return {{QLatin1StringView("id"), m_config.instanceId},
            {QLatin1StringView("color"), m_config.color},
            {QLatin1StringView("version"), QStringLiteral(SB_VERSION)},
            {QLatin1StringView("started_at"), m_startedAt},
            {QLatin1StringView("connections"), connectionCount()},
            {QLatin1StringView("backplane"), m_backplane->kind()},
            {QLatin1StringView("backplane_up"), m_backplane->isUp()},
            {QLatin1StringView("backplane_kind"), m_backplane->topology()},
            {QLatin1StringView("redis_master"), m_backplane->masterAddress().isEmpty()
                                                    ? QJsonValue(QJsonValue::Null)
                                                    : QJsonValue(m_backplane->masterAddress())},
            {QLatin1StringView("backplane_failovers"), static_cast<qint64>(m_backplane->failovers())},
            {QLatin1StringView("store"), m_store->kind()},
            {QLatin1StringView("store_up"), m_store->isUp()},
            {QLatin1StringView("ready"), readiness() == Readiness::Ready}};
}

QString Server::clientAddress(QTcpSocket *socket, const HttpRequest &request) const
{
    const QHostAddress peer = socket->peerAddress();
    bool isV4 = false;
    const quint32 v4 = peer.toIPv4Address(&isV4);
    const QString peerText = isV4 ? QHostAddress(v4).toString() : peer.toString();
    if (!m_config.isTrustedProxy(peer))
        return peerText;
    const QByteArray forwarded = request.header("x-forwarded-for");
    if (forwarded.isEmpty())
        return peerText;
    const QList<QByteArray> hops = forwarded.split(',');
    for (auto it = hops.crbegin(); it != hops.crend(); ++it) {
        QString hop = QString::fromLatin1(it->trimmed());
        if (hop.startsWith(QLatin1Char('[')) && hop.contains(QLatin1Char(']')))
            hop = hop.mid(1, hop.indexOf(QLatin1Char(']')) - 1);
        const QHostAddress address(hop);
        if (address.isNull())
            return peerText; // unparseable hop: do not trust anything left of it
        if (!m_config.isTrustedProxy(address)) {
            bool hopV4 = false;
            const quint32 a4 = address.toIPv4Address(&hopV4);
            return hopV4 ? QHostAddress(a4).toString() : address.toString();
        }
    }
    return peerText;
}

void Server::handleHttp(const HttpRequest &request, QTcpSocket *socket, HttpServer::Responder respond)
{
    const QString route = knownRoutes.contains(request.path) ? request.path : QStringLiteral("other");
    auto answer = [this, route, respond](const HttpResponse &response) {
        m_metrics.httpRequests->inc({route, QString::number(response.status)});
        respond(response);
    };
    const bool isGet = request.method == "GET" || request.method == "HEAD";

    if (route == QLatin1StringView("other")) {
        answer(HttpResponse::error(404, QStringLiteral("not_found")));
        return;
    }
    if (route == QLatin1StringView("/api/token")) {
        if (request.method != "POST") {
            HttpResponse r = HttpResponse::error(405, QStringLiteral("method_not_allowed"));
            r.headers.append(qMakePair(QByteArray("Allow"), QByteArray("POST")));
            answer(r);
            return;
        }
        handleTokenRequest(request, clientAddress(socket, request), answer);
        return;
    }
    if (!isGet) {
        HttpResponse r = HttpResponse::error(405, QStringLiteral("method_not_allowed"));
        r.headers.append(qMakePair(QByteArray("Allow"), QByteArray("GET")));
        answer(r);
        return;
    }
    if (route == QLatin1StringView("/health/")) {
        HttpResponse r = HttpResponse::json(200, "ok");
        r.contentType = "text/plain; charset=utf-8";
        answer(r);
    } else if (route == QLatin1StringView("/healthz")) {
        answer(HttpResponse::json(200, encode({{QLatin1StringView("status"), QStringLiteral("ok")},
                                               {QLatin1StringView("instance"), m_config.instanceId}})));
    } else if (route == QLatin1StringView("/readyz")) {
        const Readiness r = readiness();
        if (r == Readiness::Ready) {
            answer(HttpResponse::json(200, R"({"status":"ready"})"));
        } else {
            static const QHash<Readiness, QString> reasons{
                {Readiness::Starting, QStringLiteral("the store or the backplane is not connected yet")},
                {Readiness::Draining, QStringLiteral("the instance is draining")},
                {Readiness::BackplaneDown, QStringLiteral("the backplane is unreachable")},
                {Readiness::StoreDown, QStringLiteral("the store is unreachable")}};
            answer(HttpResponse::json(503, encode({{QLatin1StringView("status"), readinessName(r)},
                                                   {QLatin1StringView("reason"), reasons.value(r)}})));
        }
    } else if (route == QLatin1StringView("/metrics")) {
        HttpResponse r = HttpResponse::json(200, m_metrics.render());
        r.contentType = "text/plain; version=0.0.4; charset=utf-8";
        answer(r);
    } else if (route == QLatin1StringView("/api/instance")) {
        answer(HttpResponse::json(200, encode(instanceJson())));
    } else { // "/ws" without an upgrade
        HttpResponse r = HttpResponse::error(426, QStringLiteral("upgrade_required"),
                                             QStringLiteral("use a WebSocket client"));
        r.headers.append(qMakePair(QByteArray("Upgrade"), QByteArray("websocket")));
        answer(r);
    }
}

void Server::handleTokenRequest(const HttpRequest &request, const QString &remote, HttpServer::Responder answer)
{
    // Every request counts toward SB_CONNECT_RATE, whatever its answer: a
    // wrong operator key costs an attempt like any other.
    m_backplane->hitRateLimit(remote, m_config.connectRate, [this, request, remote, answer](bool allowed, int retry) {
        if (!allowed) {
            m_metrics.rateLimited->inc();
            m_metrics.tokensRejected->inc({QStringLiteral("rate_limited")});
            HttpResponse r = HttpResponse::error(429, QStringLiteral("rate_limited"),
                                                 QStringLiteral("too many connection attempts"));
            r.headers.append(qMakePair(QByteArray("Retry-After"), QByteArray(QByteArray::number(retry))));
            answer(r);
            return;
        }
        answerTokenRequest(request, remote, answer);
    });
}

void Server::answerTokenRequest(const HttpRequest &request, const QString &remote, const HttpServer::Responder &answer)
{
    const auto bad = [this, answer](const QString &message) {
        m_metrics.tokensRejected->inc({QStringLiteral("bad_request")});
        answer(HttpResponse::error(400, QStringLiteral("bad_request"), message));
    };
    const auto object = decodeObject(request.body);
    if (!object) {
        bad(QStringLiteral("the body must be a JSON object"));
        return;
    }
    QString user;
    std::optional<QString> clientId;
    std::optional<QString> role;
    if (auto e = fields::requiredString(*object, QLatin1StringView("user"), &user)) {
        bad(e->message);
        return;
    }
    if (!isValidUser(user)) {
        bad(QStringLiteral("\"user\" must be 1-32 characters of A-Z, a-z, 0-9, '_', '.', '-'"));
        return;
    }
    if (auto e = fields::optionalString(*object, QLatin1StringView("client_id"), &clientId)) {
        bad(e->message);
        return;
    }
    if (clientId && !isValidClientId(*clientId)) {
        bad(QStringLiteral("\"client_id\" must be 1-64 characters of A-Z, a-z, 0-9, '-', '_', '.'"));
        return;
    }
    if (auto e = fields::optionalString(*object, QLatin1StringView("role"), &role)) {
        bad(e->message);
        return;
    }
    const QString roleName = role.value_or(QStringLiteral("participant"));
    if (roleName != QLatin1StringView("participant") && roleName != QLatin1StringView("operator")) {
        bad(QStringLiteral("\"role\" must be participant or operator"));
        return;
    }
    if (roleName == QLatin1StringView("operator")) {
        const QByteArray expected = "Bearer " + m_config.operatorKey.toUtf8();
        const QByteArray given = request.header("authorization");
        if (m_config.operatorKey.isEmpty() || !constantTimeEquals(given, expected)) {
            m_metrics.tokensRejected->inc({QStringLiteral("operator_key")});
            qCWarning(lcServer).noquote() << "operator token refused for" << remote << "(wrong or missing key)";
            answer(HttpResponse::error(403, QStringLiteral("forbidden"), QStringLiteral("operator key required")));
            return;
        }
    }

    const TokenRecord record{user, clientId.value_or(QUuid::createUuid().toString(QUuid::WithoutBraces)), roleName,
                             m_config.instanceId};
    const QString token = newToken();
    m_backplane->storeToken(token, record, m_config.tokenTtlS, [this, token, record, answer](bool ok) {
        if (!ok) {
            answer(HttpResponse::error(503, QStringLiteral("backplane_unavailable"),
                                       QStringLiteral("cannot issue tokens while the backplane is down")));
            return;
        }
        answer(HttpResponse::json(200, encode({{QLatin1StringView("token"), token},
                                               {QLatin1StringView("expires_in"), m_config.tokenTtlS},
                                               {QLatin1StringView("client_id"), record.clientId},
                                               {QLatin1StringView("instance"), m_config.instanceId}})));
    });
}

void Server::refuseUpgrade(QTcpSocket *socket, int status, const QString &reason, const HttpResponse &response)
{
    m_metrics.upgradesRefused->inc({reason});
    m_metrics.httpRequests->inc({QStringLiteral("/ws"), QString::number(status)});
    HttpServer::respond(socket, response);
}

void Server::handleUpgrade(const HttpRequest &request, QTcpSocket *socket)
{
    if (request.path != QLatin1StringView("/ws") || request.method != "GET") {
        m_metrics.httpRequests->inc({QStringLiteral("other"), QStringLiteral("404")});
        HttpServer::respond(socket, HttpResponse::error(404, QStringLiteral("not_found")));
        return;
    }
    const QString remote = clientAddress(socket, request);
    QPointer<QTcpSocket> guard(socket);
    // Every attempt counts toward SB_CONNECT_RATE, whatever its answer.
    m_backplane->hitRateLimit(remote, m_config.connectRate, [this, guard, request, remote](bool allowed, int retry) {
        if (!guard)
            return;
        if (!allowed) {
            m_metrics.rateLimited->inc();
            HttpResponse r = HttpResponse::error(429, QStringLiteral("rate_limited"),
                                                 QStringLiteral("too many connection attempts"));
            r.headers.append(qMakePair(QByteArray("Retry-After"), QByteArray(QByteArray::number(retry))));
            refuseUpgrade(guard, 429, QStringLiteral("rate_limited"), r);
            return;
        }
        const QString origin = QString::fromUtf8(request.header("origin"));
        if (!origin.isEmpty() && !m_config.allowedOrigins.isEmpty() && !m_config.allowedOrigins.contains(origin)) {
            qCInfo(lcServer).noquote() << "upgrade refused: origin" << origin << "not allowed";
            refuseUpgrade(guard, 403, QStringLiteral("origin"),
                          HttpResponse::error(403, QStringLiteral("forbidden"), QStringLiteral("origin not allowed")));
            return;
        }
        // Checked before the token is taken: a refused handshake spends nothing.
        const QString problem = upgradeProblem(request);
        if (!problem.isEmpty()) {
            refuseUpgrade(guard, 400, QStringLiteral("bad_handshake"),
                          HttpResponse::error(400, QStringLiteral("bad_handshake"), problem));
            return;
        }
        checkToken(request, guard, remote);
    });
}

void Server::checkToken(const HttpRequest &request, QTcpSocket *socket, const QString &remote)
{
    QPointer<QTcpSocket> guard(socket);
    const auto proceed = [this, guard, remote](std::optional<TokenRecord> record) {
        if (!guard)
            return;
        if (m_draining && (!record || record->role != QLatin1StringView("operator"))) {
            refuseUpgrade(guard, 503, QStringLiteral("draining"),
                          HttpResponse::error(503, QStringLiteral("draining"),
                                              QStringLiteral("this instance is draining; connect to another")));
            return;
        }
        m_metrics.httpRequests->inc({QStringLiteral("/ws"), QStringLiteral("101")});
        const QString key = peerKey(guard->peerAddress(), guard->peerPort());
        m_pendingUpgrades.insert(key, {record, remote, guard});
        // Should Qt still refuse the handshake, the entry goes with the socket.
        connect(guard.data(), &QObject::destroyed, &m_pendingUpgradesContext, [this, key] {
            // (The entry's own pointer is null by now; a newer entry under the key is not.)
            auto it = m_pendingUpgrades.find(key);
            if (it != m_pendingUpgrades.end() && it->tcp.isNull())
                m_pendingUpgrades.erase(it);
        });
        // Frames are small and each one is due now: without TCP_NODELAY, Nagle holds
        // a frame until the peer's (delayed, up to 40 ms) ACK of the previous one.
        guard->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        m_wsServer.handleConnection(guard);
    };
    const QString token = request.query.queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded);
    if (token.isEmpty()) {
        m_metrics.tokensRejected->inc({QStringLiteral("missing")});
        proceed(std::nullopt);
        return;
    }
    m_backplane->takeToken(token, [this, guard, proceed](bool ok, std::optional<TokenRecord> record) {
        if (!guard)
            return;
        if (!ok) {
            refuseUpgrade(guard, 503, QStringLiteral("backplane_down"),
                          HttpResponse::error(503, QStringLiteral("backplane_unavailable"),
                                              QStringLiteral("cannot check tokens while the backplane is down")));
            return;
        }
        if (!record)
            m_metrics.tokensRejected->inc({QStringLiteral("invalid")});
        proceed(record);
    });
}

void Server::onWebSocket()
{
    while (QWebSocket *socket = m_wsServer.nextPendingConnection()) {
        const auto pending = m_pendingUpgrades.take(peerKey(socket->peerAddress(), socket->peerPort()));
        // Qt's WebSocket server stays connected to each socket it upgraded, and
        // finds the socket of every new handshake with sender(), which walks
        // those connections: one upgrade cost O(connections) until this.
        if (pending.tcp) {
            QObject::disconnect(pending.tcp, nullptr, &m_wsServer, nullptr);
            // The TCP socket goes with its QWebSocket (Qt leaves it with its old
            // parent, the HTTP front end, which kept every connection ever
            // upgraded until exit).
            pending.tcp->setParent(socket);
        }
        if (!pending.tcp || pending.tcp->state() != QAbstractSocket::ConnectedState) {
            // The peer left (a reset) while its upgrade was checked: the socket
            // is already unconnected and will never report disconnected(), so
            // a session opened on it would stay forever. The QWebSocket owns
            // the TCP socket and takes it along.
            qCInfo(lcServer) << "upgrade abandoned by its peer before the handshake completed";
            socket->deleteLater();
            continue;
        }
        if (!pending.record) {
            // Refused, but the limits hold all the same until the handshake ends.
            socket->setMaxAllowedIncomingMessageSize(static_cast<quint64>(m_config.maxFrame));
            socket->setMaxAllowedIncomingFrameSize(static_cast<quint64>(m_config.maxFrame));
            m_metrics.closes->inc({QString::number(CloseCode::Unauthorized)});
            connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
            CloseHandshake::start(socket, pending.tcp, CloseCode::Unauthorized, QStringLiteral("unauthorized"));
            continue;
        }
        openSession(socket, pending.tcp, *pending.record, pending.remote);
    }
}

void Server::openSession(QWebSocket *socket, QTcpSocket *tcp, const TokenRecord &record, const QString &remote)
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
    connect(session, &Session::textReceived, this, &Server::onText);
    connect(session, &Session::binaryReceived, this, [this](Session *s) {
        m_metrics.framesIn->inc({QStringLiteral("invalid")});
        fail(s, {}, ErrorCode::BadRequest, QStringLiteral("binary frames are not accepted; send JSON text"));
    });
    connect(session, &Session::closed, this, &Server::onSessionClosed);

    if (!info.sticky) {
        m_metrics.stickyMiss->inc();
        qCInfo(lcServer).noquote() << "sticky miss: token of" << record.instance << "used by session"
                                   << info.sessionId;
    }
    m_metrics.connectionsTotal->inc();
    m_metrics.connectionsActive->inc({info.role});
    refCountChannel(QStringLiteral("client:") + info.clientId, +1);
    updateSessionRecord(session);
    m_backplane->recordClientInstance(info.clientId, m_config.instanceId + QLatin1Char('|')
                                                         + QString::number(info.connectedAt));
    m_store->sessionOpened({info.sessionId, info.clientId, info.user, info.role, info.remote, info.instance,
                            info.connectedAt});
    qCInfo(lcServer).noquote() << "session" << info.sessionId << "opened:" << info.role << info.user << "client"
                               << info.clientId << "from" << remote << (info.sticky ? "" : "(sticky miss)");

    session->sendFrame(makeFrame(MessageType::Welcome, {{QLatin1StringView("session_id"), info.sessionId},
                                                        {QLatin1StringView("client_id"), info.clientId},
                                                        {QLatin1StringView("user"), info.user},
                                                        {QLatin1StringView("role"), info.role},
                                                        {QLatin1StringView("instance"), m_config.instanceId},
                                                        {QLatin1StringView("color"), m_config.color},
                                                        {QLatin1StringView("sticky"), info.sticky},
                                                        {QLatin1StringView("heartbeat_ms"), m_config.heartbeatMs},
                                                        {QLatin1StringView("server_time"), QDateTime::currentMSecsSinceEpoch()}}));
    Q_EMIT sessionOpened(session);
}

void Server::onSessionClosed(Session *session)
{
    const SessionInfo &info = session->info();
    const int code = session->closeCode();
    m_sessions.remove(info.sessionId);
    m_byClient.remove(info.clientId, session);
    ++m_closedSinceTrim;
    m_sinceLastClose.start();
    m_chat->leaveAll(session);
    refCountChannel(QStringLiteral("client:") + info.clientId, -1);
    m_backplane->removeSession(info.sessionId);
    m_store->sessionClosed(info.sessionId, code, QDateTime::currentMSecsSinceEpoch());
    m_metrics.connectionsActive->inc({info.role}, -1);
    m_metrics.closes->inc({QString::number(code)});
    qCInfo(lcServer).noquote() << "session" << info.sessionId << "closed with" << code;
    Q_EMIT sessionClosed(session, code);
    session->deleteLater();
    if (m_draining)
        drainNext();
}

void Server::updateSessionRecord(Session *session)
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
    m_backplane->putSession(session->id(), fields);
}

void Server::refCountChannel(const QString &channel, int delta)
{
    int &refs = m_channelRefs[channel];
    const int before = refs;
    refs += delta;
    if (before == 0 && refs > 0) {
        m_backplane->subscribe(channel);
    } else if (refs <= 0) {
        m_channelRefs.remove(channel);
        if (before > 0)
            m_backplane->unsubscribe(channel);
    }
}

void Server::reply(Session *session, const QString &ref, QJsonObject fields)
{
    session->sendFrame(makeAck(ref, std::move(fields)));
}

void Server::fail(Session *session, const QString &ref, ErrorCode code, const QString &message)
{
    m_metrics.errors->inc({QString(name(code))});
    session->sendFrame(makeError(ref, code, message));
    // Only what the client caused counts toward 1008: an outage of a
    // dependency must not disconnect well-behaved clients.
    const bool clientsFault = code != ErrorCode::BackplaneUnavailable && code != ErrorCode::StoreUnavailable
                              && code != ErrorCode::Internal;
    if (clientsFault && session->countError()) {
        qCInfo(lcServer).noquote() << "session" << session->id() << "sent too many bad frames; closing with 1008";
        session->close(CloseCode::PolicyViolation, QStringLiteral("too many errors"));
    }
}

void Server::onText(Session *session, const QString &text)
{
    if (!session->takeRateToken()) {
        m_metrics.rateLimited->inc();
        m_metrics.framesIn->inc({QStringLiteral("rate_limited")});
        fail(session, {}, ErrorCode::RateLimited, QStringLiteral("too many messages; slow down"));
        return;
    }
    const QByteArray utf8 = text.toUtf8();
    DecodeResult decoded = decodeRequest(utf8);
    m_metrics.framesIn->inc({decoded.typeName});
    if (!decoded.ok()) {
        if (decoded.error.code == ErrorCode::UnknownType && !session->isOperator()
            && decoded.sentType.startsWith(QLatin1StringView("admin."))) {
            // Any admin.* name, known or not, tells a participant the same.
            fail(session, decoded.ref, ErrorCode::Forbidden, QStringLiteral("operator requests need an operator token"));
            return;
        }
        fail(session, decoded.ref, decoded.error);
        return;
    }
    const Request &request = *decoded.request;
    if (info(request.type).operatorOnly && !session->isOperator()) {
        fail(session, request.ref, ErrorCode::Forbidden, QStringLiteral("operator requests need an operator token"));
        return;
    }
    sampleFlow("in", decoded.typeName, request.body.value(QLatin1StringView("room")).toString(), session->id(),
               m_config.instanceId, utf8.size());
    const Handler &handler = m_handlers[static_cast<std::size_t>(request.type)];
    if (!handler) {
        fail(session, request.ref, ErrorCode::Internal, QStringLiteral("no handler"));
        return;
    }
    handler(session, request);
}

void Server::registerHandlers()
{
    const auto on = [this](MessageType type, Handler handler) {
        m_handlers[static_cast<std::size_t>(type)] = std::move(handler);
    };
    on(MessageType::Ping, [](Session *s, const Request &r) {
        // The pong is the ping's direct answer, so it echoes the ref like an ack.
        QJsonObject pong{{QLatin1StringView("server_time"), QDateTime::currentMSecsSinceEpoch()}};
        if (!r.ref.isEmpty())
            pong.insert(QLatin1StringView("ref"), r.ref);
        s->sendFrame(makeFrame(MessageType::Pong, std::move(pong)));
    });
    on(MessageType::Join, [this](Session *s, const Request &r) { m_chat->join(s, r); });
    on(MessageType::Leave, [this](Session *s, const Request &r) { m_chat->leave(s, r); });
    on(MessageType::Chat, [this](Session *s, const Request &r) { m_chat->chat(s, r); });
    on(MessageType::History, [this](Session *s, const Request &r) { m_chat->history(s, r); });
    on(MessageType::Members, [this](Session *s, const Request &r) { m_chat->members(s, r); });
    on(MessageType::TodoList, [this](Session *s, const Request &r) { m_todo->list(s, r); });
    on(MessageType::TodoAdd, [this](Session *s, const Request &r) { m_todo->add(s, r); });
    on(MessageType::TodoUpdate, [this](Session *s, const Request &r) { m_todo->update(s, r); });
    on(MessageType::TodoDelete, [this](Session *s, const Request &r) { m_todo->remove(s, r); });
    on(MessageType::AdminSubscribe, [this](Session *s, const Request &r) { m_admin->subscribe(s, r); });
    on(MessageType::AdminInject, [this](Session *s, const Request &r) { m_admin->inject(s, r); });
    on(MessageType::AdminDisconnect, [this](Session *s, const Request &r) { m_admin->disconnectSession(s, r); });
    on(MessageType::AdminDrain, [this](Session *s, const Request &r) { m_admin->drain(s, r, true); });
    on(MessageType::AdminUndrain, [this](Session *s, const Request &r) { m_admin->drain(s, r, false); });
    on(MessageType::AdminTicker, [this](Session *s, const Request &r) { m_admin->ticker(s, r); });
}

void Server::publish(const QString &channel, const QJsonValue &target, const QJsonObject &frame,
                     std::function<void(bool)> done)
{
    const Envelope envelope = Envelope::make(m_config.instanceId, target, frame);
    const QByteArray payload = envelope.encode();
    sampleFlow("publish", frame.value(QLatin1StringView("type")).toString(),
               frame.value(QLatin1StringView("room")).toString(), {}, m_config.instanceId, payload.size());
    m_backplane->publish(channel, payload, std::move(done));
}

void Server::onBackplaneMessage(const QString &channel, const QByteArray &payload)
{
    const auto envelope = Envelope::decode(payload);
    if (!envelope) {
        qCWarning(lcServer).noquote() << "ignored a malformed envelope on" << channel;
        return;
    }
    const QString type = envelope->frame.value(QLatin1StringView("type")).toString();
    const bool toClients = channel.startsWith(QLatin1StringView("room:")) || channel.startsWith(QLatin1StringView("client:"))
                           || type == QLatin1StringView("broadcast");
    if (toClients) {
        // Envelope timestamp to the socket writes that follow right below.
        const qint64 ageMs = QDateTime::currentMSecsSinceEpoch() - envelope->ts;
        m_metrics.deliveryLatency->observe(static_cast<double>(qMax<qint64>(0, ageMs)) / 1000.0);
    }
    if (channel.startsWith(QLatin1StringView("room:"))) {
        m_chat->onRoomEnvelope(channel.mid(5), *envelope);
    } else if (channel.startsWith(QLatin1StringView("client:"))) {
        m_todo->onClientEnvelope(channel.mid(7), *envelope);
    } else if (channel == QLatin1StringView("all")) {
        if (type == QLatin1StringView("broadcast"))
            m_ticker->deliver(*envelope);
        else if (type == QLatin1StringView("ticker.set"))
            m_ticker->setEnabled(envelope->frame.value(QLatin1StringView("enabled")).toBool());
    } else if (channel == QLatin1StringView("cluster")) {
        onClusterCommand(*envelope);
    } else if (channel.startsWith(QLatin1StringView("reply:"))) {
        const QString id = envelope->frame.value(QLatin1StringView("request")).toString();
        auto it = m_pendingCommands.find(id);
        if (it == m_pendingCommands.end())
            return;
        it->replies.append(envelope->frame);
        if (it->expected >= 0 && it->replies.size() >= it->expected)
            finishCommand(id);
    }
}

void Server::clusterCommand(const QJsonObject &command, std::function<void(bool, QList<QJsonObject>)> done)
{
    if (!m_backplane->isUp()) {
        done(false, {});
        return;
    }
    const Envelope envelope = Envelope::make(m_config.instanceId, QJsonObject{{QLatin1StringView("all"), true}}, command);
    const QString id = envelope.id;
    PendingCommand pending;
    pending.done = std::move(done);
    pending.timer = new QTimer(this);
    pending.timer->setSingleShot(true);
    connect(pending.timer, &QTimer::timeout, this, [this, id] { finishCommand(id); });
    pending.timer->start(2000);
    m_pendingCommands.insert(id, std::move(pending));
    m_backplane->liveInstances([this, id](bool ok, const QStringList &ids) {
        auto it = m_pendingCommands.find(id);
        if (it == m_pendingCommands.end())
            return;
        it->expected = ok ? static_cast<int>(ids.size()) : -1;
        if (it->expected >= 0 && it->replies.size() >= it->expected)
            finishCommand(id);
    });
    m_backplane->publish(QStringLiteral("cluster"), envelope.encode(), [this, id](bool ok) {
        if (!ok && m_pendingCommands.contains(id)) {
            auto pending = m_pendingCommands.take(id);
            pending.timer->deleteLater();
            pending.done(false, {});
        }
    });
}

void Server::finishCommand(const QString &id)
{
    auto it = m_pendingCommands.find(id);
    if (it == m_pendingCommands.end())
        return;
    PendingCommand pending = std::move(*it);
    m_pendingCommands.erase(it);
    pending.timer->deleteLater();
    pending.done(true, pending.replies);
}

void Server::onClusterCommand(const Envelope &envelope)
{
    QJsonObject result = m_admin->execute(envelope.frame);
    result.insert(QLatin1StringView("type"), QStringLiteral("cluster.reply"));
    result.insert(QLatin1StringView("request"), envelope.id);
    result.insert(QLatin1StringView("instance"), m_config.instanceId);
    const Envelope reply = Envelope::make(m_config.instanceId,
                                          QJsonObject{{QLatin1StringView("instance"), envelope.origin}}, result);
    m_backplane->publish(QStringLiteral("reply:") + envelope.origin, reply.encode());
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
    for (Session *s : std::as_const(m_sessions)) {
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
    for (Session *s : std::as_const(m_sessions))
        s->checkBacklog();
    releaseFreedMemory();
}

void Server::releaseFreedMemory()
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
    qCInfo(lcServer).noquote() << "released freed memory after a wave of disconnects: resident"
                               << before / (1024 * 1024) << "MiB ->" << residentBytes() / (1024 * 1024) << "MiB; heap in use"
                               << heap.uordblks / (1024 * 1024) << "MiB, free" << heap.fordblks / (1024 * 1024) << "MiB in"
                               << heap.ordblks << "pieces";
}

void Server::sampleFlow(const char *dir, const QString &frameType, const QString &room, const QString &sessionId,
                        const QString &origin, qsizetype size)
{
    if (!m_admin->hasFlowSubscribers() || frameType.startsWith(QLatin1StringView("admin.")))
        return;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    ++m_flowCounter;
    if (m_flowCounter % 100 != 1 && now - m_lastFlowMs < 1000 && m_flowCounter > 100)
        return;
    m_lastFlowMs = now;
    m_admin->emitFlow(makeFrame(MessageType::AdminFlow, {{QLatin1StringView("dir"), QLatin1StringView(dir)},
                                                         {QLatin1StringView("frame_type"), frameType},
                                                         {QLatin1StringView("room"), room},
                                                         {QLatin1StringView("session_id"), sessionId},
                                                         {QLatin1StringView("origin"), origin},
                                                         {QLatin1StringView("size"), static_cast<qint64>(size)},
                                                         {QLatin1StringView("ts"), now}}));
}

void Server::startDrain(bool exitWhenDone)
{
    m_exitAfterDrain = m_exitAfterDrain || exitWhenDone;
    if (!m_draining) {
        m_draining = true;
        qCInfo(lcServer) << "draining:" << connectionCount() << "connections over" << m_config.drainS << "s";
        int participants = 0;
        for (Session *s : std::as_const(m_sessions))
            participants += s->isOperator() ? 0 : 1;
        // Spread the closes over SB_DRAIN_S so clients do not all come back at once.
        const int interval = participants > 0 ? qMax(1, m_config.drainS * 1000 / participants) : 1;
        m_drainTimer.start(interval);
    }
    drainNext();
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

void Server::drainNext()
{
    if (!m_draining)
        return;
    Session *next = nullptr;
    int remaining = 0;
    for (Session *s : std::as_const(m_sessions)) {
        if (s->isOperator() || !s->isOpen())
            continue;
        ++remaining;
        if (!next)
            next = s;
    }
    if (sender() == &m_drainTimer && next) {
        const int afterMs = QRandomGenerator::global()->bounded(250, 2000);
        next->sendFrame(makeFrame(MessageType::Reconnect, {{QLatin1StringView("reason"), QStringLiteral("draining")},
                                                           {QLatin1StringView("after_ms"), afterMs}}));
        next->close(CloseCode::ServiceRestart, QStringLiteral("draining"));
        --remaining;
    }
    if (remaining > 0)
        return;
    // Every participant was asked to leave; wait for their sockets to go.
    for (Session *s : std::as_const(m_sessions)) {
        if (!s->isOperator())
            return;
    }
    m_drainTimer.stop();
    qCInfo(lcServer) << "drain complete";
    Q_EMIT drainFinished();
    if (m_exitAfterDrain) {
        for (Session *s : std::as_const(m_sessions))
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
