#pragma once

// One connection for sharded pub/sub (SSUBSCRIBE, Redis 7) to one node of a
// Redis Cluster. hiredis 0.14's async API cannot carry it: it knows only
// "message"/"pmessage" pushes, takes an "smessage" for the reply to the next
// command (or asserts when none is pending), and never enters subscriber
// mode for SSUBSCRIBE. So this connection is a raw RESP stream of our own: a
// QTcpSocket on the event loop, commands written as RESP arrays, replies
// parsed by hiredis' reader (limited like RedisConnection's). Owned by
// RedisShardedPubSub, one per master.
//
// Replies come in order, so errors (a MOVED for a slot this node does not
// serve) are matched to the (S)SUBSCRIBE they answer. A "sunsubscribe" push
// nobody asked for means the node gave up the channel's slot: lost().

#include "redisaddress.h"

#include <QByteArray>
#include <QObject>
#include <QTimer>

#include <deque>
#include <memory>

class QTcpSocket;
struct redisReader;

namespace sb {

class RedisReply;

class RedisShardSubscriber final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RedisShardSubscriber)
public:
    explicit RedisShardSubscriber(QObject *parent = nullptr);
    ~RedisShardSubscriber() override;

    // TCP connect plus AUTH (default 3000 ms).
    void setConnectTimeout(int ms) { m_connectTimeoutMs = ms; }
    // A (S)SUBSCRIBE unanswered this long drops the connection (default 3000 ms).
    void setReplyTimeout(int ms) { m_replyTimeoutMs = ms; }
    const RedisAddress &address() const { return m_address; }
    bool isConnected() const { return m_connected; }

    // connected() or disconnected(error) follows. Ignored while connecting or connected.
    void connectTo(const RedisAddress &address);
    // disconnected("") follows from the event loop.
    void disconnectFromServer();

    // Ignored unless connected; subscribed() or refused() follows.
    void ssubscribe(const QByteArray &channel);
    void sunsubscribe(const QByteArray &channel);

Q_SIGNALS:
    void connected();
    void disconnected(const QString &error);
    void subscribed(const QByteArray &channel);
    void refused(const QByteArray &channel, const QByteArray &error);
    void lost(const QByteArray &channel);
    void message(const QByteArray &channel, const QByteArray &payload);

private:
    enum class Expect { Auth, Subscribe, Unsubscribe };

    void write(const QList<QByteArray> &argv);
    void onReadyRead();
    void onReply(const RedisReply &reply);
    void fail(const QString &error);

    RedisAddress m_address;
    int m_connectTimeoutMs = 3000;
    int m_replyTimeoutMs = 3000;
    std::unique_ptr<QTcpSocket> m_socket;
    redisReader *m_reader = nullptr; // owned
    std::deque<std::pair<Expect, QByteArray>> m_expected;
    QTimer m_connectTimer;
    QTimer m_replyTimer; // runs while a reply is expected
    bool m_active = false;    // connecting or connected
    bool m_connected = false; // logged in
};

} // namespace sb
