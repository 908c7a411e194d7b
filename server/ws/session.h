#pragma once

// One WebSocket connection of a participant or operator: its identity, the
// rooms it is in with the last seq it was sent, its counters and limits.
// Sending goes through send(), which enforces the slow-consumer rule. Owned by
// the Server's session table; the QWebSocket is owned by the Session.

#include "codec.h"
#include "protocol.h"
#include "textframe.h"
#include "wire.h"

#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QString>
#include <QTcpSocket>
#include <QWebSocket>

#include <memory>

namespace sb {

struct Config;
class Metrics;

// Who the session is, as the `conn` record names it; its rooms and counters
// live in the Session and join in connection().
using SessionInfo = ConnectionInfo;

class Session final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Session)
public:
    // `tcp` is the connection under `socket`, used for the closing handshake.
    Session(QWebSocket *socket, QTcpSocket *tcp, SessionInfo info, const Config &config, Metrics *metrics,
            QObject *parent = nullptr);
    ~Session() override;

    const SessionInfo &info() const { return m_info; }
    const QString &id() const { return m_info.sessionId; }
    bool isOperator() const { return m_info.role == QLatin1StringView("operator"); }
    bool isOpen() const { return !m_closing; }

    // Sends a text frame, built once by the caller for any number of
    // sessions; false when the connection is closing or was just closed as a
    // slow consumer.
    bool send(const TextFrame &frame);
    void sendFrame(const QJsonObject &frame);
    // Answers a request: an ack with `fields`, or an error frame. An error the
    // client caused counts toward the ten-in-ten-seconds rule (1008).
    void reply(const QString &ref, QJsonObject fields = {});
    // The same, with one field whose value is JSON text already (encodeWith).
    void reply(const QString &ref, QJsonObject fields, QLatin1StringView key, const QByteArray &json);
    void fail(const QString &ref, ErrorCode code, const QString &message);
    void fail(const QString &ref, const ProtocolError &error) { fail(ref, error.code, error.message); }
    // Starts the closing handshake (see CloseHandshake), which finishes on its
    // own; closed() follows in the next event-loop turn, never from inside this call.
    void close(int code, const QString &reason);
    // The slow-consumer rule for a connection that is not being sent to:
    // closes with 1013 when the peer left more than SB_MAX_QUEUE unread.
    void checkBacklog();

    // Per-connection message rate (token bucket); false when over the limit.
    bool takeRateToken();
    // Counts an error frame; true when this one crosses ten in ten seconds.
    bool countError();

    qint64 queueBytes() const;
    quint64 framesIn() const { return m_framesIn; }
    quint64 framesOut() const { return m_framesOut; }
    quint64 bytesIn() const { return m_bytesIn; }
    quint64 bytesOut() const { return m_bytesOut; }

    // Rooms joined (the room keeps what it last sent to this connection).
    QSet<QString> &rooms() { return m_rooms; }
    const QSet<QString> &rooms() const { return m_rooms; }

    // join requests of this session still waiting for the store or the backplane
    int joinsInFlight = 0;

    bool adminFlow = false; // an admin.subscribe asked for flow samples

    // Heartbeat: called twice per interval; pings once per interval and
    // answers false when the peer has been silent for two (never when not
    // `judge`: a late tick only pings).
    bool heartbeat(qint64 intervalMs, bool judge = true);
    int closeCode() const { return m_closeCode; }

    ConnectionInfo connection() const;
    QJsonObject toConnJson() const { return connection().toJson(); }

Q_SIGNALS:
    void textReceived(Session *session, const QString &text);
    void binaryReceived(Session *session);
    // Always from an event-loop turn of its own, so that no table of sessions
    // or room members changes under a loop that is sending.
    void closed(Session *session);

private:
    // Frames sent in one turn of the event loop go to the kernel together,
    // before the loop waits again: one write per connection and turn, and the
    // socket's write notifier (an epoll change each way) is not involved.
    void queueFlush();
    void flushPending();
    static void flushQueued();
    void onDisconnected();
    void emitClosedLater();
    // True when more than SB_MAX_QUEUE bytes stay unsent after a flush.
    bool isBacklogged();
    void closeSlowConsumer(qint64 backlog);

    std::unique_ptr<QWebSocket, void (*)(QWebSocket *)> m_socket;
    QPointer<QTcpSocket> m_tcp;
    SessionInfo m_info;
    Metrics *m_metrics;
    qint64 m_maxQueue;
    double m_rate;
    double m_tokens;
    QElapsedTimer m_tokenClock;
    QList<qint64> m_errorTimes; // within the last 10 s; empty (no allocation) for most sessions
    QElapsedTimer m_sinceAlive;
    QElapsedTimer m_sincePing;
    QSet<QString> m_rooms;
    quint64 m_framesIn = 0;
    quint64 m_framesOut = 0;
    quint64 m_bytesIn = 0;
    quint64 m_bytesOut = 0;
    // The frames of this turn not yet handed to the kernel (see send()),
    // shared with every other session they went to.
    QList<QByteArray> m_pending;
    bool m_closing = false;
    bool m_flushQueued = false;
    int m_closeCode = 1006;
};

// A session held by an asynchronous continuation (a store or backplane
// answer): null once the session is closing or gone, so that a late answer
// neither touches freed memory nor re-adds a closed session anywhere.
class SessionRef
{
public:
    SessionRef(Session *session) : m_session(session) {} // NOLINT: implicit by design
    Session *get() const { return m_session && m_session->isOpen() ? m_session.data() : nullptr; }
    operator Session *() const { return get(); } // NOLINT
    Session *operator->() const { return get(); }

private:
    QPointer<Session> m_session;
};

} // namespace sb
