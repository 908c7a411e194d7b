#pragma once

// The participant's connection, surviving drops: signs in through a server or
// load-balancer URL (POST /api/token with the persistent client_id, then /ws
// with the same cookie jar so a stickiness cookie pins the socket), rejoins
// every room with `since` after a reconnect and delivers what was missed in
// order, queues chats typed while offline and sends each exactly once (nonce),
// and keeps todos, presence and broadcasts flowing as signals. Reconnects with
// exponential backoff and jitter, a fresh token each time. Owned by
// ParticipantSession (or a test); no widgets.

#include "participanttypes.h"
#include "requesttracker.h"
#include "wsclient.h"

#include <QElapsedTimer>
#include <QMap>
#include <QNetworkAccessManager>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include <optional>

namespace sb::console {

class ParticipantClient final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ParticipantClient)
public:
    enum class State {
        SignedOut,
        Connecting,   // token request or WebSocket handshake under way
        Connected,    // welcome received
        Reconnecting, // waiting before the next attempt
        Failed,       // cannot go on without the user (bad name, refused sign-in)
    };
    Q_ENUM(State)

    struct Options
    {
        int backoffFirstMs = 1000;
        int backoffCapMs = 16000;
        int httpTimeoutMs = 10000;
        int requestTimeoutMs = 15000;
        int pingIntervalMs = 10000; // WebSocket pings; no answer in 3 intervals: reconnect
        int historyPage = 50;
        int resendDelayMs = 2000;   // after a chat or join refused for a passing reason
    };

    explicit ParticipantClient(QObject *parent = nullptr);
    explicit ParticipantClient(const Options &options, QObject *parent = nullptr);
    ~ParticipantClient() override;

    void setClientId(const QString &clientId) { m_clientId = clientId; }
    QString clientId() const { return m_clientId; }
    QString user() const { return m_user; }
    QUrl serverUrl() const { return m_server; }
    State state() const { return m_state; }
    bool isConnected() const { return m_state == State::Connected; }
    const WelcomeInfo &welcome() const { return m_welcome; }
    QNetworkAccessManager &network() { return m_ws.network(); }
    static QString stateName(State state);

    // Starts (or restarts) the connection as `user` through `server`.
    void signIn(const QUrl &server, const QString &user);
    void signOut();
    // Drops the socket as if the network failed (tests, "reconnect now").
    void reconnectNow();

    // Rooms the user wants to be in; kept across reconnects.
    void joinRoom(const QString &room);
    void leaveRoom(const QString &room);
    QStringList rooms() const { return m_rooms.keys(); }
    bool isJoined(const QString &room) const;
    qint64 lastSeq(const QString &room) const;

    // Queues a chat (sent at once when possible); returns its nonce.
    QString sendChat(const QString &room, const QString &text);
    QList<PendingMessage> pendingMessages() const;
    // Loads the page of history before the oldest message held.
    void loadOlder(const QString &room);
    // Loads the room's members that sort after `after` (a session id), a page at a time.
    void loadMembers(const QString &room, const QString &after);

    void refreshTodos();
    void addTodo(const QString &title);
    void updateTodo(qint64 id, const std::optional<QString> &title, const std::optional<bool> &done);
    void deleteTodo(qint64 id);

Q_SIGNALS:
    void stateChanged(sb::console::ParticipantClient::State state);
    void welcomed(const sb::WelcomeInfo &welcome);
    void reconnectScheduled(int delayMs, const QString &why);
    // `members` lists at most 200 of the room's `memberCount`.
    void roomJoined(const QString &room, const QList<sb::console::RoomMember> &members, qint64 memberCount);
    // A page of members; `next` is empty after the last page.
    void membersLoaded(const QString &room, const QList<sb::console::RoomMember> &members, const QString &next);
    void roomLeft(const QString &room);
    // New messages in seq order, to append.
    void messagesArrived(const QString &room, const QList<sb::console::ChatMessage> &messages);
    // A page of history: older messages to prepend, or (`replace`) the room's
    // whole view after messages could not be recovered. `more`: older exist.
    void historyLoaded(const QString &room, const QList<sb::console::ChatMessage> &messages, bool replace, bool more);
    void notice(const QString &room, const QString &text);
    void pendingQueued(const sb::console::PendingMessage &message);
    void pendingSent(const QString &nonce, const QString &room, qint64 seq);
    void pendingFailed(const QString &nonce, const QString &room, const QString &why);
    void presenceChanged(const QString &room, const sb::console::RoomMember &member, bool joined);
    // Big rooms: what changed since the last batch (lists cut at 100) and the count now.
    void presenceBatch(const QString &room, const QList<sb::console::RoomMember> &joined,
                       const QList<sb::console::RoomMember> &left, qint64 count);
    void todosLoaded(const QList<sb::console::TodoItem> &items);
    void todoChanged(sb::console::TodoChange change, const sb::console::TodoItem &item);
    void broadcastReceived(const sb::console::BroadcastMessage &broadcast);
    void errorText(const QString &text);

private:
    struct RoomState
    {
        qint64 lastSeq = -1;   // highest seq delivered; -1: nothing yet
        qint64 oldestSeq = -1; // lowest seq delivered or loaded
        bool joined = false;
        bool joining = false;
        QList<ChatMessage> buffered; // live chats that came while the join was answered
    };
    struct Outgoing
    {
        PendingMessage message;
        bool inFlight = false;
    };

    void setState(State state);
    void requestToken();
    void onText(const QString &text);
    void socketGone(const WsClient::Gone &how);
    void scheduleReconnect(const QString &why, int delayMs = -1);
    void dropSocket();
    void onWelcome(const QJsonObject &frame);
    void sendJoin(const QString &room);
    void onChat(const ChatMessage &message);
    void deliver(const QString &room, QList<ChatMessage> messages);
    void loadLatest(const QString &room, bool replace);
    void flushOutbox();
    void request(QJsonObject frame, ReplyHandler handler);
    void report(const QString &text);

    Options m_options;
    QUrl m_server;
    QString m_user;
    QString m_clientId;
    WsClient m_ws;
    QTimer m_pingTimer;
    QTimer m_resendTimer;
    QElapsedTimer m_sinceTraffic;
    WelcomeInfo m_welcome;
    State m_state = State::SignedOut;
    bool m_running = false;
    int m_reconnectAfterMs = -1; // from a "reconnect" frame
    QString m_reconnectReason;
    QMap<QString, RoomState> m_rooms;
    QList<Outgoing> m_outbox;
};

} // namespace sb::console
