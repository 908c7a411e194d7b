#pragma once

// The WebSocket side both client kinds share (InstanceClient for operators,
// ParticipantClient for people): endpoint URLs below the server's base URL,
// the token request (POST /api/token), opening /ws?token=… (with the load
// balancer's stickiness cookie when asked), telling a refused handshake from a
// dropped connection and from a close handshake, requests with a "ref"
// answered once (RequestTracker), pings, and the backoff and timer of the next
// attempt. What a frame means, and when to reconnect, stays with the owner.
// Owned by one client, as a member.

#include "backoff.h"
#include "protocol.h"
#include "requesttracker.h"

#include <QAbstractSocket>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QObject>
#include <QPointer>
#include <QTimer>
#include <QUrl>

#include <functional>
#include <optional>

class QNetworkReply;
class QWebSocket;

namespace sb::console {

class WsClient final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(WsClient)
public:
    struct Options
    {
        qint64 maxMessageBytes = 64 * 1024 * 1024;
        bool stickyCookie = false; // send the cookies of /ws with the upgrade
        int httpTimeoutMs = 10000;
        int requestTimeoutMs = 10000;
        int backoffFirstMs = 1000;
        int backoffCapMs = 30000;
    };

    // The answer to POST /api/token.
    struct TokenAnswer
    {
        int status = 0;      // HTTP status; 0: no answer
        QJsonObject body;    // the JSON answer, empty when it was none
        QString message;     // the network error (status 0) or the answer's "message"
        int retryAfterMs = 0; // from Retry-After, at least a second
    };

    // How the socket ended.
    struct Gone
    {
        bool wasOpen = false;        // the handshake had succeeded
        bool closeHandshake = false; // a close frame was exchanged
        int closeCode = 0;
        QString closeReason;
        QAbstractSocket::SocketError error = QAbstractSocket::UnknownSocketError;
        QString errorString;
    };

    explicit WsClient(const Options &options, QObject *parent = nullptr);
    ~WsClient() override;

    void setBaseUrl(const QUrl &url) { m_baseUrl = url; }
    QUrl baseUrl() const { return m_baseUrl; }
    // `path` below the base URL, without its query and fragment; ws(s):// for `websocket`.
    QUrl endpoint(const QString &path, bool websocket = false) const;
    QNetworkAccessManager &network() { return m_nam; }

    // POST /api/token with `body` (and `bearer` as Authorization when given);
    // `done` runs once unless abortToken() comes first.
    void requestToken(const QJsonObject &body, const std::optional<QString> &bearer,
                      std::function<void(const TokenAnswer &)> done);
    void abortToken();

    // Opens /ws with the token, dropping any socket before.
    void open(const QString &token);
    bool hasSocket() const { return m_socket != nullptr; }
    bool isOpen() const { return m_socket && m_open; }
    // Starts the close handshake when open.
    void close();
    // Forgets the socket at once; no signal follows.
    void drop();
    void ping();

    // Sends `frame` with a fresh ref; the handler runs once with the answer,
    // or (asynchronously) with `offlineText` when no socket is open.
    void request(QJsonObject frame, QObject *context, ReplyHandler handler, const QString &offlineText);
    // Delivers an ack or error frame to its request; false when no request has its ref.
    bool resolve(const QJsonObject &frame) { return m_requests.resolve(frame); }
    void failAll(const QString &text) { m_requests.failAll(text); }

    // The next attempt: retryDue() after `delayMs`, or after the next backoff delay.
    int nextBackoffMs() { return m_backoff.next(); }
    void resetBackoff() { m_backoff.reset(); }
    void retryIn(int delayMs) { m_retryTimer.start(delayMs); }
    bool retryPending() const { return m_retryTimer.isActive(); }
    void cancelRetry() { m_retryTimer.stop(); }

    // The message type of a frame the server sent; nullopt when unknown.
    static std::optional<MessageType> typeOf(const QJsonObject &frame);

Q_SIGNALS:
    void opened();
    void textReceived(const QString &text);
    void pong();
    void gone(const sb::console::WsClient::Gone &how);
    void retryDue();

private:
    void socketGone();

    Options m_options;
    QUrl m_baseUrl;
    QNetworkAccessManager m_nam;
    QPointer<QNetworkReply> m_tokenReply;
    QWebSocket *m_socket = nullptr;
    bool m_open = false;
    bool m_closeHandshake = false;
    RequestTracker m_requests;
    Backoff m_backoff;
    QTimer m_retryTimer;
};

} // namespace sb::console
