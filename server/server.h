#pragma once

// One switchboard-server instance: the port (HTTP + WebSocket), the session
// table, the message dispatcher and the services behind it, wired to a
// backplane and a store. Tests create it in-process; main() creates one and
// runs the event loop. Everything runs on the thread that owns it.

#include "backplane/backplane.h"
#include "backplane/envelope.h"
#include "codec.h"
#include "config.h"
#include "http/httpserver.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "ws/session.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>
#include <QWebSocketServer>

#include <array>
#include <functional>
#include <memory>

namespace sb {

class ChatService;
class TodoService;
class Ticker;
class AdminService;

class Server final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Server)
public:
    explicit Server(Config config, QObject *parent = nullptr);
    ~Server() override;

    // Listens and starts the backplane and store; false (with the error
    // logged and in `error`) when the port cannot be bound.
    bool start(QString *error);
    quint16 port() const;

    enum class Readiness { Starting, Ready, Draining, BackplaneDown, StoreDown };
    Readiness readiness() const;
    bool isDraining() const { return m_draining; }

    // Drain (PROTOCOL.md "Closing"). `exitWhenDone` is the SIGTERM path.
    void startDrain(bool exitWhenDone);
    void stopDrain();

    const Config &config() const { return m_config; }
    const QString &instanceId() const { return m_config.instanceId; }
    Metrics &metrics() { return m_metrics; }
    Backplane &backplane() { return *m_backplane; }
    Store &store() { return *m_store; }
    qint64 startedAt() const { return m_startedAt; }
    QJsonObject instanceJson() const;
    int connectionCount() const { return static_cast<int>(m_sessions.size()); }
    const QHash<QString, Session *> &sessions() const { return m_sessions; }
    QList<Session *> sessionsOfClient(const QString &clientId) const { return m_byClient.values(clientId); }

    // Answers a request.
    void reply(Session *session, const QString &ref, QJsonObject fields = {});
    void fail(Session *session, const QString &ref, ErrorCode code, const QString &message);
    void fail(Session *session, const QString &ref, const ProtocolError &error) { fail(session, ref, error.code, error.message); }

    // Publishes `frame` in an envelope on `channel`.
    void publish(const QString &channel, const QJsonValue &target, const QJsonObject &frame,
                 std::function<void(bool)> done = {});
    // Runs a command on every live instance and collects their replies.
    void clusterCommand(const QJsonObject &command, std::function<void(bool ok, QList<QJsonObject> replies)> done);

    // Flow samples for operators (admin.flow).
    void sampleFlow(const char *dir, const QString &frameType, const QString &room, const QString &sessionId,
                    const QString &origin, qsizetype size);

    // Keeps the session's registry entry (rooms) current in the backplane.
    void updateSessionRecord(Session *session);
    void refCountChannel(const QString &channel, int delta);

Q_SIGNALS:
    void drainFinished();
    void sessionOpened(Session *session);
    void sessionClosed(Session *session, int code);

private:
    using Handler = std::function<void(Session *, const Request &)>;

    void handleHttp(const HttpRequest &request, QTcpSocket *socket, HttpServer::Responder respond);
    void handleTokenRequest(const HttpRequest &request, const QString &remote, HttpServer::Responder respond);
    void handleUpgrade(const HttpRequest &request, QTcpSocket *socket);
    void refuseUpgrade(QTcpSocket *socket, int status, const QString &reason, const HttpResponse &response);
    void onWebSocket();
    void openSession(QWebSocket *socket, QTcpSocket *tcp, const TokenRecord &record, const QString &remote);
    void checkToken(const HttpRequest &request, QTcpSocket *socket, const QString &remote);
    void answerTokenRequest(const HttpRequest &request, const QString &remote, const HttpServer::Responder &answer);
    void onText(Session *session, const QString &text);
    void onSessionClosed(Session *session);
    void onBackplaneMessage(const QString &channel, const QByteArray &payload);
    void onClusterCommand(const Envelope &envelope);
    void heartbeatTick();
    void secondTick();
    void releaseFreedMemory();
    void drainNext();
    void exitWhenHandshakesDone();
    QString clientAddress(QTcpSocket *socket, const HttpRequest &request) const;
    void registerHandlers();

    Config m_config;
    Metrics m_metrics;
    std::unique_ptr<Backplane> m_backplane;
    std::unique_ptr<Store> m_store;
    std::unique_ptr<HttpServer> m_http;
    QWebSocketServer m_wsServer;
    std::unique_ptr<ChatService> m_chat;
    std::unique_ptr<TodoService> m_todo;
    std::unique_ptr<Ticker> m_ticker;
    std::unique_ptr<AdminService> m_admin;

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
    QHash<QString, Session *> m_sessions;
    QMultiHash<QString, Session *> m_byClient; // one node a session, no set per client
    QHash<QString, int> m_channelRefs;
    std::array<Handler, messageTypes.size()> m_handlers;

    struct PendingCommand
    {
        std::function<void(bool, QList<QJsonObject>)> done;
        QList<QJsonObject> replies;
        int expected = -1;
        QTimer *timer = nullptr;
    };
    QHash<QString, PendingCommand> m_pendingCommands;
    void finishCommand(const QString &id);

    QTimer m_heartbeatTimer;
    QElapsedTimer m_sinceHeartbeatTick;
    QTimer m_secondTimer;
    QTimer m_cleanupTimer;
    QTimer m_drainTimer;
    QElapsedTimer m_uptime;
    // Closes since memory was last handed back (releaseFreedMemory()).
    static constexpr int TrimAfterCloses = 1000;
    int m_closedSinceTrim = 0;
    QElapsedTimer m_sinceLastClose;
    qint64 m_startedAt = 0;
    bool m_started = false;
    bool m_storeHeard = false;     // the store has reported up or down at least once
    bool m_backplaneHeard = false; // likewise the backplane
    bool m_draining = false;
    bool m_exitAfterDrain = false;
    quint64 m_flowCounter = 0;
    qint64 m_lastFlowMs = 0;
};

QString readinessName(Server::Readiness readiness);

} // namespace sb
