#pragma once

// Sharded pub/sub over a Redis Cluster: keeps every channel asked for
// SSUBSCRIBEd on the master that serves the channel's slot, one
// RedisShardSubscriber per master, and moves channels when the slot map
// changes, a master connection is lost or a node gives a channel up (MOVED,
// an unasked "sunsubscribe"). Owned by the RedisBackplane next to its
// RedisCluster, which it follows.
//
// It is healthy while every channel is subscribed (or, for channels added
// since, being subscribed) on a live connection to its slot's master; after a
// connection is (re)made, only once every channel it carries is confirmed.

#include "rediscluster.h"
#include "redisshardsubscriber.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <map>
#include <memory>

namespace sb {

class RedisShardedPubSub final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RedisShardedPubSub)
public:
    explicit RedisShardedPubSub(RedisCluster *cluster, QObject *parent = nullptr);
    ~RedisShardedPubSub() override;

    // For connections made from now on.
    void setTimeouts(int connectMs, int replyMs)
    {
        m_connectTimeoutMs = connectMs;
        m_replyTimeoutMs = replyMs;
    }

    // A set: subscribing twice is once.
    void subscribe(const QByteArray &channel);
    void unsubscribe(const QByteArray &channel);
    bool isHealthy() const { return m_healthy; }

Q_SIGNALS:
    void message(const QByteArray &channel, const QByteArray &payload);
    void healthChanged(bool healthy);

private:
    struct Shard
    {
        std::unique_ptr<RedisShardSubscriber> connection;
        QTimer *reconnect = nullptr; // child of this, deleted with the shard
        int backoffMs = 250;
        int confirming = 0; // channels sent at (re)connect not yet answered
        bool ready = false;
    };

    QString ownerOf(const QByteArray &channel) const;
    Shard &shard(const QString &hostPort);
    void dropShard(const QString &hostPort);
    void reconcile();
    void placeOne(const QByteArray &channel);
    void place(const QByteArray &channel, const QString &hostPort);
    QString unplace(const QByteArray &channel); // where it was
    void onShardConnected(const QString &hostPort);
    void onShardDisconnected(const QString &hostPort);
    void onAnswer(const QString &hostPort, const QByteArray &channel, bool ok);
    void updateHealth();

    RedisCluster *const m_cluster;
    int m_connectTimeoutMs = 3000;
    int m_replyTimeoutMs = 3000;
    QSet<QByteArray> m_channels;
    QHash<QByteArray, QString> m_placed;  // channel -> the master it was sent to
    QHash<QString, int> m_perShard;       // master -> channels placed there
    QSet<QByteArray> m_misplaced;         // refused or lost: placed again after the next map
    std::map<QString, Shard> m_shards;    // by "host:port"
    QTimer m_retry;
    bool m_healthy = false;
};

} // namespace sb
