#pragma once

// One connection to Redis, driven by hiredis' async API on the Qt event loop of
// the thread that owns it. It owns the redisAsyncContext and the two
// QSocketNotifiers that wake hiredis up; whoever creates it owns it (as a
// QObject child or a std::unique_ptr). A connection either runs commands or, in
// Subscriber mode, only (un)subscribes and delivers messages: Redis allows
// nothing else on a subscribed connection.
//
// Every callback and signal is delivered from the event loop, never from inside
// hiredis or from inside the call that caused it, so a callback may issue new
// commands, disconnect or even delete the connection. A command that gets no
// reply within its timeout is answered with an error and the connection is
// treated as broken: it is dropped and every other pending command fails too.
// The timeout runs from when the command's last byte was written to the
// socket (a command still queued behind a slow socket has not been asked
// yet), and before a command is declared late, whatever already waits in the
// socket is read and handed to hiredis: a reply that arrived while this
// process was starved of CPU is a reply, not a dead server.
// Nothing reconnects by itself; react to disconnected().

#include "redisaddress.h"
#include "redisreply.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QLoggingCategory>
#include <QObject>
#include <QString>
#include <QTimer>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>

struct redisAsyncContext;
struct redisReply;
class QSocketNotifier;

namespace sb {

Q_DECLARE_LOGGING_CATEGORY(lcRedis) // "sb.redis"

class RedisConnection final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RedisConnection)
public:
    enum class Mode { Commands, Subscriber };
    enum class State { Disconnected, Connecting, Connected };

    using ReplyCallback = std::function<void(const RedisReply &reply)>;
    using MessageCallback = std::function<void(const QByteArray &channel, const QByteArray &payload)>;
    using PatternMessageCallback =
        std::function<void(const QByteArray &pattern, const QByteArray &channel, const QByteArray &payload)>;

    explicit RedisConnection(Mode mode = Mode::Commands, QObject *parent = nullptr);
    // Frees the context; callbacks still pending are dropped without a call.
    ~RedisConnection() override;

    Mode mode() const { return m_mode; }
    State state() const { return m_state; }
    bool isConnected() const { return m_state == State::Connected; }
    const RedisAddress &address() const { return m_address; }

    // Time allowed for TCP connect plus AUTH/SELECT/PING (default 3000 ms).
    void setConnectTimeout(int ms) { m_connectTimeoutMs = ms; }
    // Default reply timeout of command() and subscribe() (default 3000 ms).
    void setCommandTimeout(int ms) { m_commandTimeoutMs = ms; }
    int commandTimeout() const { return m_commandTimeoutMs; }
    // Makes the handshake ask ROLE and refuse a server that is not a master
    // (a replica, or an old master Sentinel has demoted): connected() is then
    // never emitted and disconnected(error) names the role found.
    void setRequireMaster(bool require) { m_requireMaster = require; }

    // Starts connecting (host names are resolved without blocking); connected()
    // or disconnected(error) follows. Ignored unless Disconnected.
    void connectTo(const QString &host, quint16 port, const std::optional<QByteArray> &password = std::nullopt,
                   int db = 0);
    void connectTo(const RedisAddress &address);
    // Drops the connection now: pending commands fail, disconnected("") follows.
    void disconnectFromServer();

    // Sends one command, binary safe (redisAsyncCommandArgv). The callback gets
    // the reply, or an Error reply when Redis answered with one, the
    // connection is not Connected, it broke, or no reply came within
    // `timeoutMs` (-1: commandTimeout(); 0: no limit).
    void command(const QList<QByteArray> &argv, ReplyCallback callback = {}, int timeoutMs = -1);

    // Subscriber mode only. `onMessage` receives every message published on
    // `channel` until unsubscribe() or the connection ends (subscriptions do
    // not survive a reconnect). `onSubscribed` gets Redis' confirmation or an
    // Error reply.
    void subscribe(const QByteArray &channel, MessageCallback onMessage, ReplyCallback onSubscribed = {});
    void unsubscribe(const QByteArray &channel);

    // Subscriber mode only: PSUBSCRIBE. `onMessage` receives every message
    // published on a channel matching the glob `pattern` (Redis' "pmessage":
    // the pattern, the channel, the payload) until punsubscribe() or the
    // connection ends. A channel matching both a subscribed channel and a
    // pattern is delivered to both, as Redis sends it twice.
    void psubscribe(const QByteArray &pattern, PatternMessageCallback onMessage, ReplyCallback onSubscribed = {});
    void punsubscribe(const QByteArray &pattern);

Q_SIGNALS:
    void connected();
    // `error` is empty when disconnectFromServer() asked for it.
    void disconnected(const QString &error);

private:
    struct Pending
    {
        enum class Kind { Command, Handshake, Subscribe, PatternSubscribe };
        Kind kind = Kind::Command;
        ReplyCallback callback;
        QByteArray name; // the command (handshake errors), the channel or the pattern
        int timeoutMs = 0;
        std::multimap<qint64, quint64>::iterator deadline;
        bool hasDeadline = false;
        qint64 endOffset = 0; // m_bytesQueued once the command was queued
        bool written = false;  // its last byte went to the socket
    };

    // hiredis event hooks and callbacks; the context's data and ev.data are `this`.
    static void hookAddRead(void *self);
    static void hookDelRead(void *self);
    static void hookAddWrite(void *self);
    static void hookDelWrite(void *self);
    static void hookCleanup(void *self);
    static void onConnectStatus(const redisAsyncContext *ac, int status);
    static void onDisconnectStatus(const redisAsyncContext *ac, int status);
    static void onCommandReply(redisAsyncContext *ac, void *reply, void *privdata);
    static void onPubSubReply(redisAsyncContext *ac, void *reply, void *privdata);

    void startConnect(const QString &ip);
    void sendHandshake();
    void onSocketActivated(bool readable);
    quint64 submit(Pending pending, const QList<QByteArray> &argv, int timeoutMs, bool pubsub);
    void completePending(quint64 id, const RedisReply &reply);
    void removeDeadline(Pending &pending);
    void armDeadline(quint64 id, Pending &pending, qint64 deadline);
    int appendCommand(void *fn, void *privdata, int argc, const char **argv, const size_t *lengths);
    void noteWritten();
    void onTimeoutTimer();
    void lateReply(std::multimap<qint64, quint64>::iterator first);
    void fail(const QString &error);
    void afterHiredis();
    void teardown();
    void finishDisconnect();
    void sendUnsubscribe(const char *command, const QByteArray &name);
    void routePubSubReply(const redisReply *reply);
    void post(std::function<void()> fn);
    void deliver();
    QString describeError(const redisAsyncContext *ac) const;

    const Mode m_mode;
    State m_state = State::Disconnected;
    RedisAddress m_address;
    int m_connectTimeoutMs = 3000;
    int m_commandTimeoutMs = 3000;
    bool m_requireMaster = false;

    redisAsyncContext *m_ctx = nullptr; // owned; nulled by hookCleanup when hiredis frees it
    std::unique_ptr<QSocketNotifier> m_readNotifier;
    std::unique_ptr<QSocketNotifier> m_writeNotifier;
    int m_hiredisDepth = 0;          // > 0 while hiredis is on the stack: never free the context then
    bool m_teardownRequested = false; // asked for while m_hiredisDepth > 0
    bool m_contextGone = false;       // hiredis freed the context on its own
    bool m_freeing = false;           // inside our own redisAsyncFree()
    bool m_destroying = false;
    quint64 m_generation = 0;         // invalidates host lookups of an earlier attempt
    QString m_failure;                // why the connection is ending; empty when asked to

    std::map<quint64, Pending> m_pending; // by id, i.e. in the order sent
    qint64 m_bytesQueued = 0;             // command bytes given to this context's output buffer
    quint64 m_firstUnwritten = 0;         // pending ids below it were all written
    quint64 m_nextId = 1;
    int m_handshakeRemaining = 0;
    std::multimap<qint64, quint64> m_deadlines; // m_clock ms -> pending id
    QElapsedTimer m_clock;
    QTimer m_timeoutTimer;
    qint64 m_timerDeadline = 0;
    QTimer m_connectTimer;

    QHash<QByteArray, MessageCallback> m_subscriptions;
    QHash<QByteArray, PatternMessageCallback> m_patternSubscriptions;

    std::deque<std::function<void()>> m_outbox;
    bool m_deliveryPosted = false;
};

} // namespace sb
