#include "wsclient.h"

#include "codec.h"

#include <QNetworkCookie>
#include <QNetworkCookieJar>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QUrlQuery>
#include <QWebSocket>

namespace sb::console {

WsClient::WsClient(const Options &options, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_backoff(options.backoffFirstMs, options.backoffCapMs)
{
    m_requests.setTimeoutMs(m_options.requestTimeoutMs);
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &WsClient::retryDue);
}

WsClient::~WsClient()
{
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
    }
}

QUrl WsClient::endpoint(const QString &path, bool websocket) const
{
    QUrl url = m_baseUrl;
    QString base = url.path();
    while (base.endsWith(QLatin1Char('/')))
        base.chop(1);
    url.setPath(base + path);
    url.setQuery(QString());
    url.setFragment(QString());
    if (websocket)
        url.setScheme(url.scheme() == QLatin1StringView("https") ? QStringLiteral("wss") : QStringLiteral("ws"));
    return url;
}

void WsClient::requestToken(const QJsonObject &body, const std::optional<QString> &bearer,
                            std::function<void(const TokenAnswer &)> done)
{
    QNetworkRequest request(endpoint(QStringLiteral("/api/token")));
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    if (bearer)
        request.setRawHeader("Authorization", "Bearer " + bearer->toUtf8());
    request.setTransferTimeout(m_options.httpTimeoutMs);
    QNetworkReply *reply = m_nam.post(request, encode(body));
    m_tokenReply = reply;
    connect(reply, &QNetworkReply::finished, this, [reply, done = std::move(done)] {
        reply->deleteLater();
        TokenAnswer answer;
        answer.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        answer.body = decodeObject(reply->readAll()).value_or(QJsonObject{});
        answer.message = answer.status == 0 ? reply->errorString()
                                            : answer.body.value(QLatin1StringView("message")).toString();
        answer.retryAfterMs = qMax(1, reply->rawHeader("Retry-After").toInt()) * 1000;
        done(answer);
    });
}

void WsClient::abortToken()
{
    if (m_tokenReply)
        m_tokenReply->abort();
}

void WsClient::open(const QString &token)
{
    drop();
    m_socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    m_socket->setMaxAllowedIncomingMessageSize(m_options.maxMessageBytes);
    m_closeHandshake = false;
    connect(m_socket, &QWebSocket::connected, this, [this] {
        m_open = true;
        Q_EMIT opened();
    });
    // Emitted for a close handshake only; a socket that just drops skips it.
    connect(m_socket, &QWebSocket::aboutToClose, this, [this] { m_closeHandshake = true; });
    connect(m_socket, &QWebSocket::textMessageReceived, this, &WsClient::textReceived);
    connect(m_socket, &QWebSocket::pong, this, &WsClient::pong);
    connect(m_socket, &QWebSocket::disconnected, this, &WsClient::socketGone);
    connect(m_socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this, [this] {
        // A refused handshake may end without "disconnected"; let that come first if it will.
        if (!m_open)
            QTimer::singleShot(0, this, [this, socket = QPointer<QWebSocket>(m_socket)] {
                if (socket && socket == m_socket)
                    socketGone();
            });
    });

    QUrl url = endpoint(QStringLiteral("/ws"), true);
    QUrlQuery query;
    query.addQueryItem(QStringLiteral("token"), QString::fromLatin1(QUrl::toPercentEncoding(token)));
    url.setQuery(query);
    QNetworkRequest request(url);
    if (m_options.stickyCookie) {
        // The load balancer's stickiness cookie came with the token answer; send
        // it with the upgrade so the socket lands where the token was issued.
        const QList<QNetworkCookie> cookies = m_nam.cookieJar()->cookiesForUrl(endpoint(QStringLiteral("/ws")));
        if (!cookies.isEmpty()) {
            QByteArrayList pairs;
            for (const QNetworkCookie &c : cookies)
                pairs.append(c.toRawForm(QNetworkCookie::NameAndValueOnly));
            request.setRawHeader("Cookie", pairs.join("; "));
        }
    }
    m_socket->open(request);
}

void WsClient::close()
{
    if (isOpen())
        m_socket->close();
}

void WsClient::drop()
{
    m_open = false;
    if (!m_socket)
        return;
    QWebSocket *socket = m_socket;
    m_socket = nullptr;
    socket->disconnect(this);
    socket->abort();
    socket->deleteLater();
}

void WsClient::ping()
{
    if (isOpen())
        m_socket->ping();
}

void WsClient::socketGone()
{
    if (!m_socket)
        return;
    Gone how;
    how.wasOpen = m_open;
    how.closeHandshake = m_closeHandshake;
    how.closeCode = m_socket->closeCode();
    how.closeReason = m_socket->closeReason();
    how.error = m_socket->error();
    how.errorString = m_socket->errorString();
    Q_EMIT gone(how);
}

void WsClient::request(QJsonObject frame, QObject *context, ReplyHandler handler, const QString &offlineText)
{
    if (!isOpen()) {
        const Reply reply{false, {}, QStringLiteral("disconnected"), offlineText};
        QPointer<QObject> guard(context);
        const bool hasContext = context != nullptr;
        // Answer asynchronously, like a real reply, so callers see one code path.
        QTimer::singleShot(0, this, [guard, hasContext, handler = std::move(handler), reply] {
            if ((!hasContext || guard) && handler)
                handler(reply);
        });
        return;
    }
    frame.insert(QLatin1StringView("ref"), m_requests.add(context, std::move(handler)));
    m_socket->sendTextMessage(QString::fromUtf8(encode(frame)));
}

std::optional<MessageType> WsClient::typeOf(const QJsonObject &frame)
{
    const QString type = frame.value(QLatin1StringView("type")).toString();
    // "chat" is listed once, as a request; the server sends it back with the same name.
    std::optional<MessageType> known = messageTypeFromName(type, Direction::ToClient);
    if (!known)
        known = messageTypeFromName(type, Direction::ToServer);
    return known;
}

} // namespace sb::console
