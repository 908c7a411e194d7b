#pragma once

// Accepts TCP connections on the instance's one port, reads HTTP requests and
// hands each to the Server: plain requests get one response and a close;
// WebSocket upgrade requests are handed over with their bytes still unread
// in the socket, so the gateway can refuse them (403/429/503) or pass them to
// QWebSocketServer. Malformed input gets 400 (431/413 for sizes) and a close.

#include "httpmessage.h"

#include <QObject>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>

#include <functional>

namespace sb {

class Metrics;

class HttpServer final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpServer)
public:
    using Responder = std::function<void(const HttpResponse &)>;
    using RequestHandler = std::function<void(const HttpRequest &, QTcpSocket *, Responder)>;
    using UpgradeHandler = std::function<void(const HttpRequest &, QTcpSocket *)>;

    HttpServer(Metrics *metrics, RequestHandler onRequest, UpgradeHandler onUpgrade, QObject *parent = nullptr);
    ~HttpServer() override;

    // `backlog`: the kernel's accept queue (Qt's default is 50: a burst of
    // clients beyond it has its SYNs dropped and retried only after a second).
    bool listen(const QHostAddress &address, quint16 port, int backlog, QString *error);
    // Connections still held here: requests being answered and upgrades in
    // progress (an upgraded socket moves to its QWebSocket).
    qsizetype socketCount() const;
    quint16 port() const { return m_server.serverPort(); }
    QHostAddress address() const { return m_server.serverAddress(); }
    void close() { m_server.close(); }

    static constexpr qsizetype MaxHeadBytes = 16 * 1024;
    static constexpr qint64 MaxBodyBytes = 64 * 1024;
    static constexpr int HeadTimeoutMs = 10000;

    // Writes a response (without its body for HEAD) and closes the socket once it has been sent.
    static void respond(QTcpSocket *socket, const HttpResponse &response,
                        HttpResponse::Body body = HttpResponse::Body::Include);

private:
    void onNewConnection();
    void onReadyRead(QTcpSocket *socket);
    void reject(QTcpSocket *socket, int status, const QString &reason, const QString &message);

    Metrics *m_metrics;
    RequestHandler m_onRequest;
    UpgradeHandler m_onUpgrade;
    QTcpServer m_server;
};

} // namespace sb
