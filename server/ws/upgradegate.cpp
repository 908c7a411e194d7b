#include "upgradegate.h"

#include "closehandshake.h"
#include "config.h"
#include "handshake.h"
#include "http/clientaddress.h"
#include "http/httpserver.h"
#include "metrics/metrics.h"
#include "protocol.h"

#include <QLoggingCategory>
#include <QWebSocket>

Q_LOGGING_CATEGORY(lcUpgrade, "sb.upgrade")

namespace sb {

namespace {
QString peerKey(const QHostAddress &address, quint16 port)
{
    return address.toString() + QLatin1Char('|') + QString::number(port);
}
} // namespace

UpgradeGate::UpgradeGate(const Config &config, Metrics &metrics, Backplane &backplane, std::function<bool()> draining,
                         Accepted accepted, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_metrics(metrics)
    , m_backplane(backplane)
    , m_draining(std::move(draining))
    , m_accepted(std::move(accepted))
    , m_wsServer(QStringLiteral("switchboard"), QWebSocketServer::NonSecureMode)
{
    m_wsServer.setHandshakeTimeout(10000);
    connect(&m_wsServer, &QWebSocketServer::newConnection, this, &UpgradeGate::onWebSocket);
}

void UpgradeGate::refuse(QTcpSocket *socket, int status, const QString &reason, const HttpResponse &response)
{
    m_metrics.upgradesRefused->inc({reason});
    m_metrics.httpRequests->inc({QStringLiteral("/ws"), QString::number(status)});
    HttpServer::respond(socket, response);
}

void UpgradeGate::handle(const HttpRequest &request, QTcpSocket *socket)
{
    if (request.path != QLatin1StringView("/ws") || request.method != "GET") {
        m_metrics.httpRequests->inc({QStringLiteral("other"), QStringLiteral("404")});
        HttpServer::respond(socket, HttpResponse::error(404, QStringLiteral("not_found")));
        return;
    }
    const QString remote = clientAddress(m_config, socket, request);
    QPointer<QTcpSocket> guard(socket);
    // Every attempt counts toward SB_CONNECT_RATE, whatever its answer.
    m_backplane.hitRateLimit(remote, m_config.connectRate, [this, guard, request, remote](bool allowed, int retry) {
        if (!guard)
            return;
        if (!allowed) {
            m_metrics.rateLimited->inc();
            refuse(guard, 429, QStringLiteral("rate_limited"), HttpResponse::rateLimited(retry));
            return;
        }
        const QString origin = QString::fromUtf8(request.header("origin"));
        if (!origin.isEmpty() && !m_config.allowedOrigins.isEmpty() && !m_config.allowedOrigins.contains(origin)) {
            qCInfo(lcUpgrade).noquote() << "upgrade refused: origin" << origin << "not allowed";
            refuse(guard, 403, QStringLiteral("origin"),
                   HttpResponse::error(403, QStringLiteral("forbidden"), QStringLiteral("origin not allowed")));
            return;
        }
        // Checked before the token is taken: a refused handshake spends nothing.
        const QString problem = upgradeProblem(request);
        if (!problem.isEmpty()) {
            refuse(guard, 400, QStringLiteral("bad_handshake"),
                   HttpResponse::error(400, QStringLiteral("bad_handshake"), problem));
            return;
        }
        checkToken(request, guard, remote);
    });
}

void UpgradeGate::checkToken(const HttpRequest &request, QTcpSocket *socket, const QString &remote)
{
    const QString token = request.query.queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded);
    if (token.isEmpty()) {
        m_metrics.tokensRejected->inc({QStringLiteral("missing")});
        handOver(socket, std::nullopt, remote);
        return;
    }
    QPointer<QTcpSocket> guard(socket);
    m_backplane.takeToken(token, [this, guard, remote](bool ok, std::optional<TokenRecord> record) {
        if (!guard)
            return;
        if (!ok) {
            refuse(guard, 503, QStringLiteral("backplane_down"),
                   HttpResponse::error(503, QStringLiteral("backplane_unavailable"),
                                       QStringLiteral("cannot check tokens while the backplane is down")));
            return;
        }
        if (!record)
            m_metrics.tokensRejected->inc({QStringLiteral("invalid")});
        handOver(guard, std::move(record), remote);
    });
}

void UpgradeGate::handOver(QTcpSocket *socket, std::optional<TokenRecord> record, const QString &remote)
{
    if (m_draining() && (!record || record->role != QLatin1StringView("operator"))) {
        refuse(socket, 503, QStringLiteral("draining"),
               HttpResponse::error(503, QStringLiteral("draining"),
                                   QStringLiteral("this instance is draining; connect to another")));
        return;
    }
    m_metrics.httpRequests->inc({QStringLiteral("/ws"), QStringLiteral("101")});
    const QString key = peerKey(socket->peerAddress(), socket->peerPort());
    m_pendingUpgrades.insert(key, {std::move(record), remote, socket});
    // Should Qt still refuse the handshake, the entry goes with the socket.
    connect(socket, &QObject::destroyed, &m_pendingUpgradesContext, [this, key] {
        // (The entry's own pointer is null by now; a newer entry under the key is not.)
        auto it = m_pendingUpgrades.find(key);
        if (it != m_pendingUpgrades.end() && it->tcp.isNull())
            m_pendingUpgrades.erase(it);
    });
    // Frames are small and each one is due now: without TCP_NODELAY, Nagle holds
    // a frame until the peer's (delayed, up to 40 ms) ACK of the previous one.
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    m_wsServer.handleConnection(socket);
}

void UpgradeGate::onWebSocket()
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
            qCInfo(lcUpgrade) << "upgrade abandoned by its peer before the handshake completed";
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
        m_accepted(socket, pending.tcp, *pending.record, pending.remote);
    }
}

} // namespace sb
