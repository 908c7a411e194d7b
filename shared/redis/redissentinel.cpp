#include "redissentinel.h"

#include <utility>

namespace sb {

namespace {

constexpr int kWatcherBackoffMinMs = 250;
constexpr int kWatcherBackoffMaxMs = 2000;
const QByteArray kSwitchMaster = QByteArrayLiteral("+switch-master");

} // namespace

RedisSentinel::RedisSentinel(const RedisUrl &url, QObject *parent)
    : QObject(parent)
    , m_url(url)
    , m_query(std::make_unique<RedisConnection>(RedisConnection::Mode::Commands))
    , m_watcher(std::make_unique<RedisConnection>(RedisConnection::Mode::Subscriber))
{
    Q_ASSERT(m_url.kind == RedisUrl::Kind::Sentinel && !m_url.nodes.isEmpty());
    setTimeouts(1000, 1000);
    connect(m_query.get(), &RedisConnection::connected, this, &RedisSentinel::onQueryConnected);
    connect(m_query.get(), &RedisConnection::disconnected, this, &RedisSentinel::onQueryDisconnected);
    connect(m_watcher.get(), &RedisConnection::connected, this, &RedisSentinel::onWatcherConnected);
    connect(m_watcher.get(), &RedisConnection::disconnected, this, &RedisSentinel::onWatcherDisconnected);
    m_watcherReconnect.setSingleShot(true);
    connect(&m_watcherReconnect, &QTimer::timeout, this, &RedisSentinel::connectWatcher);
}

RedisSentinel::~RedisSentinel()
{
    m_watcherReconnect.stop();
    // Each frees its context and drops the callbacks still pending (they capture `this`).
    m_watcher.reset();
    m_query.reset();
}

void RedisSentinel::setTimeouts(int connectMs, int commandMs)
{
    for (RedisConnection *c : {m_query.get(), m_watcher.get()}) {
        c->setConnectTimeout(connectMs);
        c->setCommandTimeout(commandMs);
    }
}

void RedisSentinel::start()
{
    if (m_started)
        return;
    m_started = true;
    connectWatcher();
    askForMaster();
}

RedisAddress RedisSentinel::sentinel(qsizetype index) const
{
    RedisAddress address = RedisAddress::fromNode(m_url, index % m_url.nodes.size());
    address.db = 0; // Sentinels have no databases
    return address;
}

RedisAddress RedisSentinel::master(const QString &host, const QByteArray &port) const
{
    RedisAddress address = RedisAddress::fromNode(m_url, -1);
    address.host = host;
    address.port = static_cast<quint16>(port.toUInt());
    return address;
}

// --- asking for the master -------------------------------------------------

void RedisSentinel::askForMaster()
{
    if (m_asking) {
        m_askAgain = true;
        return;
    }
    m_asking = true;
    m_askAgain = false;
    m_askTried = 0;
    m_lastError.clear();
    askNext();
}

void RedisSentinel::askNext()
{
    if (m_askTried >= m_url.nodes.size()) {
        const QString error = QStringLiteral("no Sentinel of %1 named the master (last: %2)")
                                  .arg(m_url.toString(), m_lastError);
        qCWarning(lcRedis).noquote() << error;
        finishAsking();
        Q_EMIT masterUnknown(error);
        return;
    }
    m_asked = (m_askFirst + m_askTried) % m_url.nodes.size();
    ++m_askTried;
    // A stale disconnect of the previous question is told apart by its empty error.
    m_query->disconnectFromServer();
    m_query->connectTo(sentinel(m_asked));
}

void RedisSentinel::onQueryConnected()
{
    const qsizetype asked = m_asked;
    m_query->command(
        {QByteArrayLiteral("SENTINEL"), QByteArrayLiteral("get-master-addr-by-name"), m_url.masterName.toUtf8()},
        [this, asked](const RedisReply &reply) {
            if (!m_asking || asked != m_asked)
                return;
            if (reply.isError() && !m_query->isConnected())
                return; // the connection broke: onQueryDisconnected() moves on
            const RedisAddress from = sentinel(asked);
            if (!reply.isArray() || reply.size() < 2 || reply.at(1).bytes().toUInt() == 0) {
                m_lastError = QStringLiteral("%1 answered %2").arg(from.hostPort(), reply.toString());
                qCWarning(lcRedis).noquote() << "Sentinel" << from.hostPort() << "does not name master"
                                             << m_url.masterName << "-" << reply.toString();
                askNext();
                return;
            }
            m_askFirst = asked;
            const RedisAddress found = master(reply.at(0).text(), reply.at(1).bytes());
            qCDebug(lcRedis).noquote() << "Sentinel" << from.hostPort() << "names" << found.hostPort() << "as master"
                                       << m_url.masterName;
            finishAsking();
            Q_EMIT masterFound(found);
        });
}

void RedisSentinel::onQueryDisconnected(const QString &error)
{
    if (error.isEmpty() || !m_asking)
        return; // we hung up: the question was answered, or a new one started
    m_lastError = QStringLiteral("%1: %2").arg(sentinel(m_asked).hostPort(), error);
    askNext();
}

void RedisSentinel::finishAsking()
{
    m_asking = false;
    m_query->disconnectFromServer();
    if (m_askAgain)
        QMetaObject::invokeMethod(this, [this] { askForMaster(); }, Qt::QueuedConnection);
}

// --- watching for failovers -------------------------------------------------

void RedisSentinel::connectWatcher()
{
    if (m_watcher->state() == RedisConnection::State::Disconnected)
        m_watcher->connectTo(sentinel(m_watched));
}

void RedisSentinel::onWatcherConnected()
{
    m_watcher->subscribe(
        kSwitchMaster, [this](const QByteArray &, const QByteArray &payload) { onSwitchMaster(payload); },
        [this](const RedisReply &reply) {
            if (reply.isError()) {
                qCWarning(lcRedis).noquote() << "cannot watch" << sentinel(m_watched).hostPort()
                                             << "for failovers:" << reply.text();
                m_watcher->disconnectFromServer();
                return;
            }
            m_watcherBackoffMs = kWatcherBackoffMinMs;
            // Failovers while nobody watched went unheard: ask once more.
            askForMaster();
        });
}

void RedisSentinel::onWatcherDisconnected(const QString &error)
{
    Q_UNUSED(error) // logged by RedisConnection
    // That Sentinel may be gone for good: watch the next one.
    m_watched = (m_watched + 1) % m_url.nodes.size();
    if (!m_watcherReconnect.isActive()) {
        m_watcherReconnect.start(m_watcherBackoffMs);
        m_watcherBackoffMs = qMin(m_watcherBackoffMs * 2, kWatcherBackoffMaxMs);
    }
}

void RedisSentinel::onSwitchMaster(const QByteArray &payload)
{
    // "<master name> <old ip> <old port> <new ip> <new port>"
    const QList<QByteArray> parts = payload.split(' ');
    if (parts.size() != 5 || parts.at(0) != m_url.masterName.toUtf8())
        return;
    const RedisAddress found = master(QString::fromUtf8(parts.at(3)), parts.at(4));
    if (found.port == 0) {
        qCWarning(lcRedis).noquote() << "ignored a malformed +switch-master:" << QString::fromUtf8(payload);
        return;
    }
    qCInfo(lcRedis).noquote() << "Sentinel" << sentinel(m_watched).hostPort() << "announces a failover of"
                              << m_url.masterName << "from" << QString::fromUtf8(parts.at(1) + ':' + parts.at(2))
                              << "to" << found.hostPort();
    Q_EMIT masterFound(found);
}

} // namespace sb
