#include "redisshardedpubsub.h"

#include <utility>

namespace sb {

namespace {

constexpr int kBackoffMinMs = 250;
constexpr int kBackoffMaxMs = 2000;
constexpr int kRetryMs = 1000;

} // namespace

RedisShardedPubSub::RedisShardedPubSub(RedisCluster *cluster, QObject *parent)
    : QObject(parent)
    , m_cluster(cluster)
{
    connect(m_cluster, &RedisCluster::mapRefreshed, this, &RedisShardedPubSub::reconcile);
    connect(m_cluster, &RedisCluster::readyChanged, this, &RedisShardedPubSub::reconcile);
    m_retry.setInterval(kRetryMs);
    connect(&m_retry, &QTimer::timeout, this, &RedisShardedPubSub::reconcile);
}

RedisShardedPubSub::~RedisShardedPubSub()
{
    m_retry.stop();
    for (auto &[name, shard] : m_shards)
        QObject::disconnect(shard.connection.get(), nullptr, this, nullptr);
    m_shards.clear();
}

QString RedisShardedPubSub::ownerOf(const QByteArray &channel) const
{
    const auto master = m_cluster->masterOf(clusterKeySlot(channel));
    return master ? master->hostPort() : QString();
}

RedisShardedPubSub::Shard &RedisShardedPubSub::shard(const QString &hostPort)
{
    const auto it = m_shards.find(hostPort);
    if (it != m_shards.end())
        return it->second;
    Shard &s = m_shards[hostPort];
    s.connection = std::make_unique<RedisShardSubscriber>();
    s.connection->setConnectTimeout(m_connectTimeoutMs);
    s.connection->setReplyTimeout(m_replyTimeoutMs);
    RedisShardSubscriber *c = s.connection.get();
    connect(c, &RedisShardSubscriber::connected, this, [this, hostPort] { onShardConnected(hostPort); });
    connect(c, &RedisShardSubscriber::disconnected, this, [this, hostPort] { onShardDisconnected(hostPort); });
    connect(c, &RedisShardSubscriber::subscribed, this,
            [this, hostPort](const QByteArray &channel) { onAnswer(hostPort, channel, true); });
    connect(c, &RedisShardSubscriber::refused, this,
            [this, hostPort](const QByteArray &channel, const QByteArray &error) {
                qCInfo(lcRedis).noquote() << "SSUBSCRIBE" << QString::fromUtf8(channel) << "on" << hostPort
                                          << "refused:" << QString::fromUtf8(error);
                onAnswer(hostPort, channel, false);
            });
    connect(c, &RedisShardSubscriber::lost, this, [this](const QByteArray &channel) {
        if (!m_channels.contains(channel))
            return;
        m_misplaced.insert(channel);
        m_cluster->refresh();
        updateHealth();
    });
    connect(c, &RedisShardSubscriber::message, this, [this](const QByteArray &channel, const QByteArray &payload) {
        if (m_channels.contains(channel))
            Q_EMIT message(channel, payload);
    });
    s.reconnect = new QTimer(this);
    s.reconnect->setSingleShot(true);
    connect(s.reconnect, &QTimer::timeout, this, [this, hostPort] {
        const auto it = m_shards.find(hostPort);
        const auto address = m_cluster->masterAddress(hostPort);
        if (it != m_shards.end() && address)
            it->second.connection->connectTo(*address);
    });
    if (const auto address = m_cluster->masterAddress(hostPort))
        c->connectTo(*address);
    return s;
}

void RedisShardedPubSub::dropShard(const QString &hostPort)
{
    const auto it = m_shards.find(hostPort);
    if (it == m_shards.end())
        return;
    Shard s = std::move(it->second);
    m_shards.erase(it);
    delete s.reconnect;
    QObject::disconnect(s.connection.get(), nullptr, this, nullptr);
    s.connection->disconnectFromServer();
    s.connection.release()->deleteLater(); // may be inside one of its signals
    for (auto placed = m_placed.begin(); placed != m_placed.end();)
        placed = placed.value() == hostPort ? m_placed.erase(placed) : std::next(placed);
    m_perShard.remove(hostPort);
}

void RedisShardedPubSub::place(const QByteArray &channel, const QString &hostPort)
{
    const auto it = m_placed.find(channel);
    if (it != m_placed.end()) {
        if (*it == hostPort)
            return;
        --m_perShard[*it];
    }
    m_placed.insert(channel, hostPort);
    ++m_perShard[hostPort];
}

QString RedisShardedPubSub::unplace(const QByteArray &channel)
{
    const QString was = m_placed.take(channel);
    if (!was.isEmpty())
        --m_perShard[was];
    return was;
}

void RedisShardedPubSub::subscribe(const QByteArray &channel)
{
    if (m_channels.contains(channel))
        return;
    m_channels.insert(channel);
    placeOne(channel);
    updateHealth();
}

void RedisShardedPubSub::unsubscribe(const QByteArray &channel)
{
    if (!m_channels.remove(channel))
        return;
    m_misplaced.remove(channel);
    const QString placed = unplace(channel);
    const auto it = m_shards.find(placed);
    if (it != m_shards.end() && it->second.connection->isConnected())
        it->second.connection->sunsubscribe(channel);
    updateHealth();
}

void RedisShardedPubSub::reconcile()
{
    // Connections to nodes that serve no slot any more go; their channels
    // are placed again below.
    const QStringList masters = m_cluster->masters();
    QStringList stale;
    for (const auto &[name, shard] : m_shards) {
        if (!masters.contains(name))
            stale.append(name);
    }
    for (const QString &name : std::as_const(stale))
        dropShard(name);
    // One connection to every master from the start, so that a room's first
    // channel on a master never waits for a connection (nor takes health away).
    for (const QString &name : masters)
        shard(name);

    for (const QByteArray &channel : std::as_const(m_channels))
        placeOne(channel);
    updateHealth();
}

void RedisShardedPubSub::placeOne(const QByteArray &channel)
{
    const QString owner = ownerOf(channel);
    const QString placed = m_placed.value(channel);
    if (placed == owner && !m_misplaced.contains(channel))
        return;
    if (!placed.isEmpty() && placed != owner) {
        const auto old = m_shards.find(placed);
        if (old != m_shards.end() && old->second.connection->isConnected())
            old->second.connection->sunsubscribe(channel);
    }
    if (owner.isEmpty()) {
        unplace(channel);
        return;
    }
    place(channel, owner);
    m_misplaced.remove(channel);
    Shard &s = shard(owner);
    if (s.connection->isConnected()) {
        if (!s.ready)
            ++s.confirming;
        s.connection->ssubscribe(channel);
    } // else sent once it connects
}

void RedisShardedPubSub::onShardConnected(const QString &hostPort)
{
    const auto it = m_shards.find(hostPort);
    if (it == m_shards.end())
        return;
    Shard &s = it->second;
    s.backoffMs = kBackoffMinMs;
    s.confirming = 0;
    for (auto placed = m_placed.cbegin(); placed != m_placed.cend(); ++placed) {
        if (placed.value() == hostPort) {
            ++s.confirming;
            s.connection->ssubscribe(placed.key());
        }
    }
    s.ready = s.confirming == 0;
    updateHealth();
}

void RedisShardedPubSub::onShardDisconnected(const QString &hostPort)
{
    const auto it = m_shards.find(hostPort);
    if (it == m_shards.end())
        return;
    Shard &s = it->second;
    s.ready = false;
    s.confirming = 0;
    if (!s.reconnect->isActive()) {
        s.reconnect->start(s.backoffMs);
        s.backoffMs = qMin(s.backoffMs * 2, kBackoffMaxMs);
    }
    m_cluster->refresh();
    updateHealth();
}

void RedisShardedPubSub::onAnswer(const QString &hostPort, const QByteArray &channel, bool ok)
{
    const auto it = m_shards.find(hostPort);
    if (it == m_shards.end())
        return;
    Shard &s = it->second;
    if (!ok && m_channels.contains(channel)) {
        m_misplaced.insert(channel);
        m_cluster->refresh();
    }
    if (!s.ready && s.confirming > 0 && --s.confirming == 0)
        s.ready = true;
    updateHealth();
}

void RedisShardedPubSub::updateHealth()
{
    // Every channel placed (none waiting for a master), none refused, and
    // every connection that carries some ready.
    bool healthy = m_misplaced.isEmpty() && m_placed.size() == m_channels.size();
    for (auto it = m_perShard.cbegin(); healthy && it != m_perShard.cend(); ++it) {
        if (it.value() <= 0)
            continue;
        const auto shard = m_shards.find(it.key());
        healthy = shard != m_shards.end() && shard->second.ready;
    }
    if (healthy)
        m_retry.stop();
    else if (!m_retry.isActive())
        m_retry.start();
    if (healthy == m_healthy)
        return;
    m_healthy = healthy;
    Q_EMIT healthChanged(healthy);
}

} // namespace sb
