#pragma once

// The WebSocket door of the instance's port (PROTOCOL.md section 2, "/ws"):
// an upgrade request is checked — connection-attempt rate, Origin, the
// handshake itself, then the one-time token, taken from the backplane — before
// QWebSocketServer completes it; a refusal is a plain HTTP answer, counted. An
// upgrade without a valid token completes and is closed with 4401. An accepted
// one is handed on with its token record.

#include "backplane/backplane.h"
#include "http/httpmessage.h"

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QWebSocketServer>

#include <functional>
#include <optional>

namespace sb {

class Metrics;
struct Config;

class UpgradeGate final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(UpgradeGate)
public:
    using Accepted = std::function<void(QWebSocket *socket, QTcpSocket *tcp, const TokenRecord &record,
                                        const QString &remote)>;
    // `draining` says whether participants are turned away (503).
    UpgradeGate(const Config &config, Metrics &metrics, Backplane &backplane, std::function<bool()> draining,
                Accepted accepted, QObject *parent = nullptr);

    void handle(const HttpRequest &request, QTcpSocket *socket);

private:
    void checkToken(const HttpRequest &request, QTcpSocket *socket, const QString &remote);
    void handOver(QTcpSocket *socket, std::optional<TokenRecord> record, const QString &remote);
    void refuse(QTcpSocket *socket, int status, const QString &reason, const HttpResponse &response);
    void onWebSocket();

    const Config &m_config;
    Metrics &m_metrics;
    Backplane &m_backplane;
    std::function<bool()> m_draining;
    Accepted m_accepted;
    QWebSocketServer m_wsServer;

    struct PendingUpgrade
    {
        std::optional<TokenRecord> record;
        QString remote;
        QPointer<QTcpSocket> tcp;
    };
    // By peer "address|port", from the hand-over to QWebSocketServer until the
    // QWebSocket appears; an entry goes with its TCP socket when Qt refuses.
    QHash<QString, PendingUpgrade> m_pendingUpgrades;
    // Context of the sockets' destroyed() handlers: declared after the table, so
    // it dies first and no handler runs against a destroyed table.
    QObject m_pendingUpgradesContext;
};

} // namespace sb
