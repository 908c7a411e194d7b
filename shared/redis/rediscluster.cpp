#include "rediscluster.h"

#include <QPointer>

#include <utility>

namespace sb {

namespace {

constexpr int kMaxRedirects = 5;
constexpr int kRetryNotReadyMs = 500;
constexpr int kRefreshReadyMs = 5000;
constexpr int kRetryMaxMs = 5000; // while no node answers at all
constexpr int kBackoffMinMs = 250;
constexpr int kBackoffMaxMs = 2000;
constexpr qsizetype kMaxWaiting = 10000;

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster
// specifies for key slots.
constexpr std::array<quint16, 256> makeCrcTable()
{
    std::array<quint16, 256> table{};
    for (int i = 0; i < 256; ++i) {
        quint16 crc = static_cast<quint16>(i << 8);
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 0x8000) ? static_cast<quint16>((crc << 1) ^ 0x1021) : static_cast<quint16>(crc << 1);
        table[static_cast<std::size_t>(i)] = crc;
    }
    return table;
}
constexpr std::array<quint16, 256> kCrcTable = makeCrcTable();

quint16 crc16(const char *data, qsizetype size)
{
    quint16 crc = 0;
    for (qsizetype i = 0; i < size; ++i) {
        const auto byte = static_cast<quint8>(data[i]);
        crc = static_cast<quint16>((crc << 8) ^ kCrcTable[((crc >> 8) ^ byte) & 0xff]);
    }
    return crc;
}

QString hostPort(const QString &host, quint16 port)
{
    RedisAddress a;
    a.host = host;
    a.port = port;
    return a.hostPort();
}

// "host:port" of a MOVED/ASK reply: the last ':' separates the port (IPv6
// hosts have colons of their own). An empty host means the node that answered.
std::optional<std::pair<QString, quint16>> parseEndpoint(const QByteArray &text, const RedisAddress &from)
{
    const qsizetype colon = text.lastIndexOf(':');
    if (colon < 0)
        return std::nullopt;
    bool ok = false;
    const uint port = text.mid(colon + 1).toUInt(&ok);
    if (!ok || port == 0 || port > 65535)
        return std::nullopt;
    QString host = QString::fromUtf8(text.left(colon));
    if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
        host = host.mid(1, host.size() - 2);
    if (host.isEmpty() || host == QLatin1StringView("?"))
        host = from.host;
    return std::pair{host, static_cast<quint16>(port)};
}

} // namespace

quint16 clusterKeySlot(const QByteArray &key)
{
    const qsizetype open = key.indexOf('{');
    if (open >= 0) {
        const qsizetype close = key.indexOf('}', open + 1);
        if (close > open + 1)
            return crc16(key.constData() + open + 1, close - open - 1) & (ClusterSlotCount - 1);
    }
    return crc16(key.constData(), key.size()) & (ClusterSlotCount - 1);
}

std::optional<QByteArray> clusterRoutingKey(const QList<QByteArray> &argv)
{
    if (argv.size() < 2)
        return std::nullopt;
    const QByteArray name = argv.first().toUpper();
    if (name == "EVAL" || name == "EVALSHA") {
        if (argv.size() > 3 && argv.at(2).toInt() > 0)
            return argv.at(3);
        return std::nullopt;
    }
    if (name == "SCAN" || name == "PING" || name == "INFO" || name == "CLUSTER" || name == "ROLE")
        return std::nullopt;
    return argv.at(1);
}

struct RedisCluster::Call
{
    QList<QByteArray> argv;
    ReplyCallback callback;
    int redirects = 0;
};

RedisCluster::RedisCluster(const RedisUrl &url, QObject *parent)
    : QObject(parent)
    , m_url(url)
    , m_query(std::make_unique<RedisConnection>(RedisConnection::Mode::Commands))
{
    Q_ASSERT(m_url.kind == RedisUrl::Kind::Cluster && !m_url.nodes.isEmpty());
    m_owner.fill(-1);
    setTimeouts(m_connectTimeoutMs, m_commandTimeoutMs);
    connect(m_query.get(), &RedisConnection::connected, this, &RedisCluster::onQueryConnected);
    connect(m_query.get(), &RedisConnection::disconnected, this, &RedisCluster::onQueryDisconnected);
    m_refreshTimer.setSingleShot(true);
    connect(&m_refreshTimer, &QTimer::timeout, this, &RedisCluster::refresh);
}

RedisCluster::~RedisCluster()
{
    m_destroying = true;
    m_refreshTimer.stop();
    // Each connection frees its context and drops the callbacks still
    // pending, which capture `this`.
    m_nodes.clear();
    m_query.reset();
}

void RedisCluster::setTimeouts(int connectMs, int commandMs)
{
    m_connectTimeoutMs = connectMs;
    m_commandTimeoutMs = commandMs;
    m_query->setConnectTimeout(qMin(connectMs, 1000));
    m_query->setCommandTimeout(qMin(commandMs, 1000));
    for (auto &[name, node] : m_nodes) {
        node.connection->setConnectTimeout(connectMs);
        node.connection->setCommandTimeout(commandMs);
    }
}

void RedisCluster::start()
{
    if (m_started)
        return;
    m_started = true;
    refresh();
}

QStringList RedisCluster::masters() const
{
    return m_masters;
}

std::optional<RedisAddress> RedisCluster::masterOf(quint16 slot) const
{
    const qint16 owner = m_owner[slot % ClusterSlotCount];
    if (owner < 0)
        return std::nullopt;
    return masterAddress(m_masters.at(owner));
}

std::optional<RedisAddress> RedisCluster::masterAddress(const QString &hostPort) const
{
    const auto it = m_addresses.constFind(hostPort);
    if (it == m_addresses.cend())
        return std::nullopt;
    return *it;
}

RedisAddress RedisCluster::addressOf(const QString &host, quint16 port) const
{
    RedisAddress address = RedisAddress::fromNode(m_url, -1);
    address.host = host;
    address.port = port;
    address.db = 0; // Redis Cluster has only database 0
    return address;
}

// --- connections to the masters ---------------------------------------------

RedisCluster::Node &RedisCluster::node(const QString &hostPort, const RedisAddress &address)
{
    auto it = m_nodes.find(hostPort);
    if (it != m_nodes.end())
        return it->second;
    Node &n = m_nodes[hostPort];
    n.address = address;
    n.connection = std::make_unique<RedisConnection>(RedisConnection::Mode::Commands);
    n.connection->setConnectTimeout(m_connectTimeoutMs);
    n.connection->setCommandTimeout(m_commandTimeoutMs);
    // A node the map calls a master may have been demoted since: ROLE says.
    n.connection->setRequireMaster(true);
    n.reconnect = new QTimer(this);
    n.reconnect->setSingleShot(true);
    connect(n.reconnect, &QTimer::timeout, this, [this, hostPort] { connectNode(hostPort); });
    connect(n.connection.get(), &RedisConnection::connected, this, [this, hostPort] { onNodeConnected(hostPort); });
    connect(n.connection.get(), &RedisConnection::disconnected, this,
            [this, hostPort](const QString &error) { onNodeDisconnected(hostPort, error); });
    connectNode(hostPort);
    return n;
}

void RedisCluster::removeNode(const QString &hostPort)
{
    auto it = m_nodes.find(hostPort);
    if (it == m_nodes.end())
        return;
    Node node = std::move(it->second);
    m_nodes.erase(it);
    delete node.reconnect;
    for (const auto &wake : std::as_const(node.waiting))
        wake(false);
    // Its commands in flight fail ("connection lost") through their own
    // callbacks; its signals no longer reach us.
    QObject::disconnect(node.connection.get(), nullptr, this, nullptr);
    node.connection->disconnectFromServer();
    node.connection->deleteLater();
    (void)node.connection.release();
}

void RedisCluster::connectNode(const QString &hostPort)
{
    const auto it = m_nodes.find(hostPort);
    if (it != m_nodes.end() && it->second.connection->state() == RedisConnection::State::Disconnected)
        it->second.connection->connectTo(it->second.address);
}

void RedisCluster::onNodeConnected(const QString &hostPort)
{
    const auto it = m_nodes.find(hostPort);
    if (it == m_nodes.end())
        return;
    it->second.backoffMs = kBackoffMinMs;
    const auto waiting = std::exchange(it->second.waiting, {});
    for (const auto &wake : waiting)
        wake(true);
    updateReady();
}

void RedisCluster::onNodeDisconnected(const QString &hostPort, const QString &error)
{
    Q_UNUSED(error) // logged by RedisConnection
    const auto it = m_nodes.find(hostPort);
    if (it == m_nodes.end())
        return;
    Node &n = it->second;
    const auto waiting = std::exchange(n.waiting, {});
    if (!n.reconnect->isActive()) {
        n.reconnect->start(n.backoffMs);
        n.backoffMs = qMin(n.backoffMs * 2, kBackoffMaxMs);
    }
    updateReady();
    // A master gone may mean a failover: the map says where its slots went.
    refresh();
    for (const auto &wake : waiting)
        wake(false);
}

// --- routing ------------------------------------------------------------------

void RedisCluster::command(const QList<QByteArray> &argv, ReplyCallback callback)
{
    auto call = std::make_shared<Call>(Call{argv, std::move(callback), 0});
    QString target;
    if (const auto key = clusterRoutingKey(argv)) {
        const qint16 owner = m_owner[clusterKeySlot(*key)];
        if (owner >= 0)
            target = m_masters.at(owner);
    } else if (!m_masters.isEmpty()) {
        target = m_masters.first();
    }
    const auto it = target.isEmpty() ? m_nodes.end() : m_nodes.find(target);
    if (it == m_nodes.end() || !it->second.connection->isConnected()) {
        if (call->callback) {
            QMetaObject::invokeMethod(
                this,
                [call] { call->callback(RedisReply::error(QByteArrayLiteral("CLUSTERDOWN no connection to the master"))); },
                Qt::QueuedConnection);
        }
        return;
    }
    send(call, target, false);
}

void RedisCluster::commandOn(const QString &hostPort, const QList<QByteArray> &argv, ReplyCallback callback)
{
    auto call = std::make_shared<Call>(Call{argv, std::move(callback), kMaxRedirects});
    send(call, hostPort, false);
}

void RedisCluster::send(const std::shared_ptr<Call> &call, const QString &hostPort, bool asking)
{
    const auto it = m_nodes.find(hostPort);
    if (it == m_nodes.end()) {
        if (call->callback) {
            QMetaObject::invokeMethod(
                this, [call] { call->callback(RedisReply::error(QByteArrayLiteral("CLUSTERDOWN unknown node"))); },
                Qt::QueuedConnection);
        }
        return;
    }
    RedisConnection &connection = *it->second.connection;
    if (asking)
        connection.command({QByteArrayLiteral("ASKING")});
    QPointer<RedisCluster> self(this);
    connection.command(call->argv, [self, call, hostPort](const RedisReply &reply) {
        if (self && !self->m_destroying)
            self->onReply(call, hostPort, reply);
    });
}

void RedisCluster::onReply(const std::shared_ptr<Call> &call, const QString &from, const RedisReply &reply)
{
    if (reply.isError() && call->redirects < kMaxRedirects) {
        const QByteArray &text = reply.bytes();
        const bool moved = text.startsWith("MOVED ");
        if (moved || text.startsWith("ASK ")) {
            // "MOVED <slot> <host>:<port>"
            const QList<QByteArray> parts = text.split(' ');
            const auto fromAddress = masterAddress(from).value_or(addressOf(QString(), 0));
            const auto endpoint = parts.size() >= 3 ? parseEndpoint(parts.at(2), fromAddress) : std::nullopt;
            if (endpoint) {
                ++call->redirects;
                const QString to = hostPort(endpoint->first, endpoint->second);
                if (!m_addresses.contains(to))
                    m_addresses.insert(to, addressOf(endpoint->first, endpoint->second));
                if (moved) {
                    // A slot moved between masters we know: route it there at
                    // once. A new master comes with the map (failedOver()).
                    bool slotOk = false;
                    const uint slot = parts.at(1).toUInt(&slotOk);
                    const qsizetype index = m_masters.indexOf(to);
                    if (slotOk && slot < ClusterSlotCount && index >= 0)
                        m_owner[slot] = static_cast<qint16>(index);
                    refresh();
                }
                redirect(call, to, !moved);
                return;
            }
        }
    }
    if (call->callback)
        call->callback(reply);
}

void RedisCluster::redirect(const std::shared_ptr<Call> &call, const QString &to, bool asking)
{
    Node &n = node(to, m_addresses.value(to));
    if (n.connection->isConnected()) {
        send(call, to, asking);
        return;
    }
    if (n.waiting.size() >= kMaxWaiting) {
        if (call->callback)
            call->callback(RedisReply::error(QByteArrayLiteral("CLUSTERDOWN too many redirected commands waiting")));
        return;
    }
    n.waiting.append([this, call, to, asking](bool connected) {
        if (connected)
            send(call, to, asking);
        else if (call->callback)
            call->callback(RedisReply::error(QByteArrayLiteral("CLUSTERDOWN the node a command was redirected to is unreachable")));
    });
}

// --- the slot map ---------------------------------------------------------------

void RedisCluster::refresh()
{
    if (!m_started || m_destroying)
        return;
    if (m_asking) {
        m_askAgain = true;
        return;
    }
    if (m_failedRounds > 0 && m_sinceFailure.elapsed() < retryDelay()) {
        // No node answered last time: ask again after the backoff, not at
        // every lost connection.
        if (!m_refreshTimer.isActive())
            m_refreshTimer.start(static_cast<int>(retryDelay() - m_sinceFailure.elapsed()));
        return;
    }
    m_asking = true;
    m_askAgain = false;
    m_refreshTimer.stop();
    // The masters in use first (they know the newest map), then every node
    // seen, then the seeds.
    m_candidates = m_masters;
    for (const QString &n : std::as_const(m_knownNodes)) {
        if (!m_candidates.contains(n))
            m_candidates.append(n);
    }
    for (qsizetype i = 0; i < m_url.nodes.size(); ++i) {
        const RedisNode &seed = m_url.nodes.at(i);
        const QString name = hostPort(seed.host, seed.port);
        if (!m_addresses.contains(name))
            m_addresses.insert(name, addressOf(seed.host, seed.port));
        if (!m_candidates.contains(name))
            m_candidates.append(name);
    }
    m_asked = -1;
    m_lastError.clear();
    // The node that answered last is asked first, on the connection kept
    // open to it.
    if (m_query->isConnected()) {
        askConnected();
        return;
    }
    m_query->disconnectFromServer(); // still connecting from an earlier round
    askNext();
}

void RedisCluster::askNext()
{
    ++m_attempt;
    ++m_asked;
    if (m_asked >= m_candidates.size()) {
        if (m_failedRounds == 0)
            qCWarning(lcRedis).noquote() << "no Redis Cluster node answered CLUSTER SLOTS (" << m_lastError
                                         << ") - asking again with a backoff";
        else
            qCDebug(lcRedis).noquote() << "no Redis Cluster node answered CLUSTER SLOTS (" << m_lastError << ")";
        finishAsking(false);
        return;
    }
    m_query->connectTo(m_addresses.value(m_candidates.at(m_asked)));
}

void RedisCluster::onQueryConnected()
{
    if (m_asking)
        askConnected();
}

void RedisCluster::askConnected()
{
    const RedisAddress asked = m_query->address();
    const quint64 attempt = m_attempt;
    m_query->command({QByteArrayLiteral("CLUSTER"), QByteArrayLiteral("SLOTS")}, [this, asked, attempt](const RedisReply &reply) {
        if (!m_asking || attempt != m_attempt)
            return; // its connection broke and the next node is being asked
        if (applyMap(reply, asked)) {
            finishAsking(true);
            return;
        }
        m_lastError = asked.hostPort() + QStringLiteral(": ") + reply.toString().left(200);
        m_query->disconnectFromServer(); // its disconnected("") is ignored
        askNext();
    });
}

void RedisCluster::onQueryDisconnected(const QString &error)
{
    // Lost between two questions, or dropped by us: nothing to go on with.
    if (!m_asking || error.isEmpty() || m_query->state() != RedisConnection::State::Disconnected)
        return;
    if (!error.isEmpty())
        m_lastError = m_query->address().hostPort() + QStringLiteral(": ") + error;
    askNext();
}

bool RedisCluster::applyMap(const RedisReply &reply, const RedisAddress &askedNode)
{
    // [[start, end, [host, port, id, …], replica…], …]
    if (!reply.isArray() || reply.size() == 0)
        return false;
    std::array<qint16, ClusterSlotCount> owner;
    owner.fill(-1);
    QStringList masters;
    QStringList known;
    for (const RedisReply &range : reply.elements()) {
        if (!range.isArray() || range.size() < 3 || !range.at(0).isInteger() || !range.at(1).isInteger())
            return false;
        const qint64 first = range.at(0).integer();
        const qint64 last = range.at(1).integer();
        if (first < 0 || last >= ClusterSlotCount || first > last)
            return false;
        for (std::size_t i = 2; i < range.size(); ++i) {
            const RedisReply &n = range.at(i);
            if (!n.isArray() || n.size() < 2 || !n.at(1).isInteger() || n.at(1).integer() <= 0
                || n.at(1).integer() > 65535)
                return false;
            QString host = n.at(0).text();
            if (host.isEmpty() || host == QLatin1StringView("?"))
                host = askedNode.host;
            const auto port = static_cast<quint16>(n.at(1).integer());
            const QString name = hostPort(host, port);
            if (!m_addresses.contains(name))
                m_addresses.insert(name, addressOf(host, port));
            if (!known.contains(name))
                known.append(name);
            if (i == 2) {
                qsizetype index = masters.indexOf(name);
                if (index < 0) {
                    masters.append(name);
                    index = masters.size() - 1;
                }
                for (qint64 slot = first; slot <= last; ++slot)
                    owner[static_cast<std::size_t>(slot)] = static_cast<qint16>(index);
            }
        }
    }

    // A master whose slots went to a node that was not a master: failover.
    QList<std::pair<QString, QString>> failovers;
    for (qsizetype i = 0; i < m_masters.size(); ++i) {
        const QString &old = m_masters.at(i);
        if (masters.contains(old))
            continue;
        const auto slot = std::find(m_owner.cbegin(), m_owner.cend(), static_cast<qint16>(i));
        if (slot == m_owner.cend())
            continue;
        const qint16 now = owner[static_cast<std::size_t>(slot - m_owner.cbegin())];
        if (now >= 0 && !m_masters.contains(masters.at(now)))
            failovers.append({old, masters.at(now)});
    }
    const bool changed = masters != m_masters || owner != m_owner;
    m_owner = owner;
    m_masters = masters;
    for (const QString &n : std::as_const(known)) {
        if (!m_knownNodes.contains(n))
            m_knownNodes.append(n);
    }
    if (changed) {
        qCInfo(lcRedis).noquote() << "Redis Cluster map from" << askedNode.hostPort() << ": masters"
                                  << m_masters.join(QLatin1Char(','));
    }

    QStringList gone;
    for (const auto &[name, n] : m_nodes) {
        if (!m_masters.contains(name))
            gone.append(name);
    }
    for (const QString &name : std::as_const(gone))
        removeNode(name);
    for (const QString &name : std::as_const(m_masters))
        node(name, m_addresses.value(name));
    updateReady();
    for (const auto &[from, to] : std::as_const(failovers))
        Q_EMIT failedOver(from, to);
    Q_EMIT mapRefreshed();
    return true;
}

qint64 RedisCluster::retryDelay() const
{
    return qMin<qint64>(qint64(kRetryNotReadyMs) << qMin(m_failedRounds - 1, 4), kRetryMaxMs);
}

void RedisCluster::finishAsking(bool ok)
{
    m_asking = false;
    if (ok) {
        if (m_failedRounds > 0)
            qCInfo(lcRedis).noquote() << "Redis Cluster answers CLUSTER SLOTS again";
        m_failedRounds = 0;
    } else {
        ++m_failedRounds;
        m_sinceFailure.start();
    }
    if (m_askAgain && ok) {
        QMetaObject::invokeMethod(this, &RedisCluster::refresh, Qt::QueuedConnection);
        return;
    }
    m_refreshTimer.start(!ok ? static_cast<int>(retryDelay()) : m_ready ? kRefreshReadyMs : kRetryNotReadyMs);
}

void RedisCluster::updateReady()
{
    bool ready = !m_masters.isEmpty();
    for (qsizetype slot = 0; ready && slot < ClusterSlotCount; ++slot)
        ready = m_owner[static_cast<std::size_t>(slot)] >= 0;
    for (const QString &name : std::as_const(m_masters)) {
        const auto it = m_nodes.find(name);
        if (!ready)
            break;
        ready = it != m_nodes.end() && it->second.connection->isConnected();
    }
    if (!ready && !m_asking && !m_refreshTimer.isActive() && m_started)
        m_refreshTimer.start(kRetryNotReadyMs);
    if (ready == m_ready)
        return;
    m_ready = ready;
    if (!ready && m_started && !m_asking)
        m_refreshTimer.start(kRetryNotReadyMs);
    Q_EMIT readyChanged(ready);
}

} // namespace sb
