#include "httpserver.h"

#include "metrics/metrics.h"
#include "closingtimeout.h"
#include "socketbuffers.h"

#include <QLoggingCategory>
#include <QTimer>

Q_LOGGING_CATEGORY(lcHttp, "sb.http")

namespace sb {

namespace {
const char *const HandledProperty = "sb_http_handled";
}

HttpServer::HttpServer(Metrics *metrics, RequestHandler onRequest, UpgradeHandler onUpgrade, QObject *parent)
    : QObject(parent)
    , m_metrics(metrics)
    , m_onRequest(std::move(onRequest))
    , m_onUpgrade(std::move(onUpgrade))
{
    connect(&m_server, &QTcpServer::pendingConnectionAvailable, this, &HttpServer::onNewConnection);
    m_server.setMaxPendingConnections(4096);
}

HttpServer::~HttpServer() = default;

bool HttpServer::listen(const QHostAddress &address, quint16 port, int backlog, QString *error)
{
    m_server.setListenBacklogSize(backlog);
    if (!m_server.listen(address, port)) {
        *error = m_server.errorString();
        qCCritical(lcHttp).noquote() << "cannot listen on" << address.toString() << port << ":" << *error;
        return false;
    }
    return true;
}

qsizetype HttpServer::socketCount() const
{
    return findChildren<QTcpSocket *>(Qt::FindDirectChildrenOnly).size();
}

void HttpServer::onNewConnection()
{
    while (QTcpSocket *socket = m_server.nextPendingConnection()) {
        socket->setParent(this);
        shrinkSocketBuffers(socket);
        auto *timeout = new QTimer(socket);
        timeout->setSingleShot(true);
        timeout->setObjectName(QStringLiteral("sb_head_timeout"));
        connect(timeout, &QTimer::timeout, socket, [this, socket] {
            if (!socket->property(HandledProperty).toBool())
                reject(socket, 408, QStringLiteral("timeout"), QStringLiteral("request not received in time"));
        });
        timeout->start(HeadTimeoutMs);
        connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onReadyRead(socket); });
        connect(socket, &QTcpSocket::disconnected, socket, [socket] {
            if (!socket->property(HandledProperty).toBool())
                socket->deleteLater();
        });
    }
}

void HttpServer::reject(QTcpSocket *socket, int status, const QString &reason, const QString &message)
{
    socket->setProperty(HandledProperty, true);
    disconnect(socket, &QTcpSocket::readyRead, this, nullptr);
    m_metrics->badHttp->inc({reason});
    m_metrics->httpRequests->inc({QStringLiteral("other"), QString::number(status)});
    qCInfo(lcHttp).noquote() << "refused malformed request from" << socket->peerAddress().toString() << ":" << message;
    respond(socket, HttpResponse::error(status, QStringLiteral("bad_request"), message));
}

void HttpServer::onReadyRead(QTcpSocket *socket)
{
    if (socket->property(HandledProperty).toBool())
        return;
    // Peek, so that an upgrade request stays in the socket for QWebSocketServer.
    const QByteArray data = socket->peek(qMin<qint64>(socket->bytesAvailable(), MaxHeadBytes + MaxBodyBytes + 1));
    HttpRequest request;
    const ParseOutcome outcome = parseRequestHead(data, MaxHeadBytes, &request);
    switch (outcome.status) {
    case ParseStatus::Incomplete:
        return;
    case ParseStatus::TooLarge:
        reject(socket, 431, QStringLiteral("too_large"), outcome.problem);
        return;
    case ParseStatus::Malformed:
        reject(socket, 400, QStringLiteral("malformed"), outcome.problem);
        return;
    case ParseStatus::Complete:
        break;
    }

    if (request.isWebSocketUpgrade()) {
        socket->setProperty(HandledProperty, true);
        disconnect(socket, &QTcpSocket::readyRead, this, nullptr);
        if (auto *timer = socket->findChild<QTimer *>(QStringLiteral("sb_head_timeout")))
            timer->deleteLater();
        m_onUpgrade(request, socket);
        return;
    }

    if (request.contentLength > MaxBodyBytes) {
        reject(socket, 413, QStringLiteral("too_large"), QStringLiteral("request body too large"));
        return;
    }
    if (data.size() < request.headerBytes + request.contentLength)
        return; // wait for the rest of the body

    socket->setProperty(HandledProperty, true);
    disconnect(socket, &QTcpSocket::readyRead, this, nullptr);
    if (auto *timer = socket->findChild<QTimer *>(QStringLiteral("sb_head_timeout")))
        timer->stop();
    socket->read(request.headerBytes);
    request.body = socket->read(request.contentLength);
    QPointer<QTcpSocket> guard(socket);
    const HttpResponse::Body body = request.method == "HEAD" ? HttpResponse::Body::Omit : HttpResponse::Body::Include;
    m_onRequest(request, socket, [guard, body](const HttpResponse &response) {
        if (guard)
            respond(guard, response, body);
    });
}

void HttpServer::respond(QTcpSocket *socket, const HttpResponse &response, HttpResponse::Body body)
{
    socket->setProperty(HandledProperty, true);
    socket->write(response.serialize(body));
    socket->disconnectFromHost();
    if (socket->state() == QAbstractSocket::UnconnectedState) {
        socket->deleteLater();
    } else {
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        abortIfOpenAfter(socket, 10000); // aborting disconnects it, and so deletes it
    }
}

} // namespace sb
