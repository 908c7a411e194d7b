#include "redismonitor.h"

#include <QDateTime>
#include <QLoggingCategory>

#include <algorithm>
#include <utility>

Q_LOGGING_CATEGORY(lcMonitor, "sb.console.redis", QtInfoMsg)

namespace sb::console {

namespace {

// HGETALL's answer (field, value, field, value …) as a hash.
QHash<QByteArray, QByteArray> hashOf(const RedisReply &reply)
{
    QHash<QByteArray, QByteArray> out;
    if (!reply.isArray())
        return out;
    for (std::size_t i = 0; i + 1 < reply.size(); i += 2)
        out.insert(reply.at(i).bytes(), reply.at(i + 1).bytes());
    return out;
}

} // namespace

RedisMonitor::RedisMonitor(QObject *parent)
    : RedisMonitor(Options{}, parent)
{
}

RedisMonitor::RedisMonitor(const Options &options, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_backoff(options.backoffFirstMs, options.backoffCapMs)
{
    m_batchTimer.setObjectName(QStringLiteral("RedisMonitor.batch"));
    m_discoveryTimer.setObjectName(QStringLiteral("RedisMonitor.discovery"));
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &RedisMonitor::connectBoth);
    m_discoveryTimer.setInterval(m_options.discoveryIntervalMs);
    connect(&m_discoveryTimer, &QTimer::timeout, this, &RedisMonitor::discoverNow);
    m_batchTimer.setSingleShot(true);
    m_batchTimer.setInterval(m_options.batchIntervalMs);
    connect(&m_batchTimer, &QTimer::timeout, this, &RedisMonitor::flushEnvelopes);
    m_topologyTimer.setObjectName(QStringLiteral("RedisMonitor.topology"));
    m_topologyTimer.setInterval(m_options.topologyIntervalMs);
    connect(&m_topologyTimer, &QTimer::timeout, this, &RedisMonitor::readTopology);
    m_rateWindow.start();
}

RedisMonitor::~RedisMonitor()
{
    // Connections first: no callback of theirs may reach a half-destroyed monitor.
    ++m_generation;
    m_sentinelQuery.reset();
    m_sentinel.reset();
    m_subscriber.reset();
    m_commands.reset();
}

void RedisMonitor::setOptions(const Options &options)
{
    m_options = options;
    m_backoff.setLimits(options.backoffFirstMs, options.backoffCapMs);
    m_discoveryTimer.setInterval(options.discoveryIntervalMs);
    m_batchTimer.setInterval(options.batchIntervalMs);
    m_topologyTimer.setInterval(options.topologyIntervalMs);
}

QString RedisMonitor::stateName(State state)
{
    switch (state) {
    case State::Idle: return tr("not configured");
    case State::Connecting: return tr("connecting");
    case State::Connected: return tr("connected");
    case State::Retrying: return tr("unreachable");
    }
    return {};
}

QString RedisMonitor::statusText() const
{
    switch (m_state) {
    case State::Idle: return tr("Redis: not configured");
    case State::Connecting: return tr("Redis: connecting to %1").arg(describe());
    case State::Connected: return tr("Redis: connected to %1").arg(describe());
    case State::Retrying: return m_lastError;
    }
    return {};
}

QByteArray RedisMonitor::key(const QString &suffix) const
{
    return m_options.prefix + suffix.toUtf8();
}

QByteArray RedisMonitor::globEscape(const QByteArray &text)
{
    QByteArray out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
            out += '\\';
        out += c;
    }
    return out;
}

void RedisMonitor::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

void RedisMonitor::start(const RedisUrl &url)
{
    if (url.kind == RedisUrl::Kind::Single) {
        start(RedisAddress::fromNode(url, 0));
        return;
    }
    stop();
    if (url.kind == RedisUrl::Kind::Cluster)
        m_clusterUrl = url;
    else
        m_sentinelUrl = url;
    m_address = RedisAddress::fromNode(url, 0); // the master's once known
    m_configured = true;
    m_backoff.reset();
    connectBoth();
    // The Sentinels can tell how things stand while no master is reachable.
    if (m_sentinelUrl) {
        m_topologyTimer.start();
        readTopology();
    }
}

QString RedisMonitor::describe() const
{
    if (m_sentinelUrl)
        return m_sentinelUrl->toString();
    return m_clusterUrl ? m_clusterUrl->toString() : m_address.toString();
}

bool RedisMonitor::commandsUp() const
{
    return m_cluster ? m_cluster->isReady() : m_commands && m_commands->isConnected();
}

void RedisMonitor::command(const QList<QByteArray> &argv, RedisConnection::ReplyCallback callback)
{
    if (m_cluster)
        m_cluster->command(argv, std::move(callback));
    else if (m_commands)
        m_commands->command(argv, std::move(callback));
}

void RedisMonitor::start(const RedisAddress &address)
{
    stop();
    m_address = address;
    m_configured = true;
    m_backoff.reset();
    connectBoth();
}

void RedisMonitor::stop()
{
    ++m_generation;
    m_configured = false;
    m_retryTimer.stop();
    m_discoveryTimer.stop();
    m_topologyTimer.stop();
    m_batchTimer.stop();
    m_batch.clear();
    m_discovering = false;
    m_readingTopology = false;
    m_subscribed = false;
    m_subscribing = false;
    m_subscriber.reset();
    m_commands.reset();
    if (m_cluster) {
        QObject::disconnect(m_cluster.get(), nullptr, this, nullptr);
        m_cluster.release()->deleteLater(); // stop() may run inside one of its signals
    }
    // Neither one's signals lead here, so they go at once (their pending
    // callbacks, which hold `this`, go with them).
    m_sentinelQuery.reset();
    m_sentinel.reset();
    m_clusterUrl.reset();
    m_sentinelUrl.reset();
    m_topology = {};
    m_lastError.clear();
    setState(State::Idle);
}

void RedisMonitor::connectBoth()
{
    if (!m_configured)
        return;
    const quint64 generation = ++m_generation;
    m_discovering = false;
    if (!m_sentinelUrl)
        m_readingTopology = false;
    m_subscribed = false;
    m_subscribing = false;
    // Fresh connections each attempt; the old ones are never on the stack here
    // (this runs from start() or the retry timer).
    m_subscriber.reset();
    m_commands.reset();
    if (!m_clusterUrl)
        m_commands = std::make_unique<RedisConnection>(RedisConnection::Mode::Commands);
    m_subscriber = std::make_unique<RedisConnection>(RedisConnection::Mode::Subscriber);
    QList<RedisConnection *> links{m_subscriber.get()};
    if (m_commands)
        links.append(m_commands.get());
    for (RedisConnection *link : std::as_const(links)) {
        link->setRequireMaster(m_sentinelUrl.has_value()); // a Sentinel's word is not proof
        link->setConnectTimeout(m_options.commandTimeoutMs);
        link->setCommandTimeout(m_options.commandTimeoutMs);
        connect(link, &RedisConnection::connected, this, [this, generation] {
            if (generation == m_generation)
                onLinkUp();
        });
        connect(link, &RedisConnection::disconnected, this, [this, generation](const QString &error) {
            if (generation == m_generation)
                onLinkDown(error.isEmpty() ? tr("the connection was closed") : error);
        });
    }
    setState(State::Connecting);
    if (m_clusterUrl) {
        startCluster(generation);
        return;
    }
    if (m_sentinelUrl) {
        startSentinel(); // the links connect once a Sentinel names the master
        return;
    }
    m_commands->connectTo(m_address);
    m_subscriber->connectTo(m_address);
}

void RedisMonitor::startCluster(quint64 generation)
{
    if (m_cluster) {
        QObject::disconnect(m_cluster.get(), nullptr, this, nullptr);
        m_cluster.release()->deleteLater();
    }
    m_cluster = std::make_unique<RedisCluster>(*m_clusterUrl);
    m_cluster->setTimeouts(m_options.commandTimeoutMs, m_options.commandTimeoutMs);
    connect(m_cluster.get(), &RedisCluster::readyChanged, this, [this, generation](bool ready) {
        if (generation != m_generation)
            return;
        if (!ready) {
            onLinkDown(tr("a hash slot has no reachable master"));
            return;
        }
        // The cluster-wide channels arrive on every node: the first master will do.
        const QStringList masters = m_cluster->masters();
        const auto master = masters.isEmpty() ? std::nullopt : m_cluster->masterAddress(masters.first());
        if (master && m_subscriber->state() == RedisConnection::State::Disconnected) {
            m_address = *master;
            m_subscriber->connectTo(*master);
        }
        onLinkUp();
    });
    connect(m_cluster.get(), &RedisCluster::failedOver, this, [this, generation] {
        if (generation == m_generation)
            readTopology();
    });
    m_cluster->start();
}

void RedisMonitor::startSentinel()
{
    if (m_sentinel) {
        m_sentinel->askForMaster();
        return;
    }
    m_sentinel = std::make_unique<RedisSentinel>(*m_sentinelUrl);
    m_sentinel->setTimeouts(m_options.commandTimeoutMs, m_options.commandTimeoutMs);
    connect(m_sentinel.get(), &RedisSentinel::masterFound, this, &RedisMonitor::onSentinelMaster);
    connect(m_sentinel.get(), &RedisSentinel::masterUnknown, this, [this](const QString &error) {
        if (m_state == State::Connecting && m_commands && m_commands->state() == RedisConnection::State::Disconnected)
            scheduleRetry(tr("No Sentinel of %1 named the master (%2).").arg(describe(), error));
    });
    m_sentinel->start();
}

void RedisMonitor::onSentinelMaster(const RedisAddress &master)
{
    if (!m_commands || !m_subscriber)
        return;
    if (m_state == State::Retrying) {
        // The master went away and the Sentinels name another: go there now,
        // not when the backoff is over.
        if (master.hostPort() != m_address.hostPort()) {
            m_retryTimer.stop();
            m_address = master;
            const quint64 generation = m_generation;
            QTimer::singleShot(0, this, [this, generation] {
                if (generation == m_generation && m_state == State::Retrying)
                    connectBoth();
            });
        }
        return;
    }
    if (m_state == State::Connecting) {
        if (m_commands->state() != RedisConnection::State::Disconnected)
            return; // already on its way to the master named
        m_address = master;
        m_commands->connectTo(master);
        m_subscriber->connectTo(master);
        return;
    }
    if (m_state != State::Connected || master.hostPort() == m_address.hostPort())
        return;
    // The Sentinels moved the master (+switch-master): follow it now, not
    // when the old one's connection finally breaks.
    qCInfo(lcMonitor).noquote() << "Redis failover: master" << m_sentinelUrl->masterName << "moved from"
                                << m_address.hostPort() << "to" << master.hostPort();
    Q_EMIT errorText(tr("Redis failover: the Sentinels now name %1 as the master (was %2).")
                         .arg(master.hostPort(), m_address.hostPort()));
    m_address = master;
    const quint64 generation = m_generation;
    QTimer::singleShot(0, this, [this, generation] {
        if (generation == m_generation)
            connectBoth();
    });
    readTopology();
}

void RedisMonitor::onLinkUp()
{
    if (!commandsUp() || !m_subscriber->isConnected() || m_subscribing || m_subscribed)
        return; // the other one is still on its way, or both are up already
    subscribeAll();
}

void RedisMonitor::subscribeAll()
{
    const quint64 generation = m_generation;
    const QByteArray pattern = globEscape(m_options.prefix) + '*';
    m_subscribing = true;
    m_subscriber->psubscribe(
        pattern,
        [this](const QByteArray &, const QByteArray &channel, const QByteArray &payload) {
            onPatternMessage(channel, payload);
        },
        [this, generation, pattern](const RedisReply &reply) {
            if (generation != m_generation)
                return;
            m_subscribing = false;
            if (reply.isError()) {
                scheduleRetry(tr("Redis at %1 refused PSUBSCRIBE %2: %3")
                                  .arg(describe(), QString::fromUtf8(pattern), reply.text()));
                return;
            }
            m_subscribed = true;
            const bool wasFailing = !m_lastError.isEmpty();
            m_lastError.clear();
            m_backoff.reset();
            qCInfo(lcMonitor).noquote() << "watching" << describe() << "pattern" << pattern;
            setState(State::Connected);
            if (wasFailing)
                Q_EMIT errorText(tr("Redis at %1 is reachable again.").arg(describe()));
            m_discoveryTimer.start();
            discoverNow();
            m_topologyTimer.start();
            readTopology();
        });
}

void RedisMonitor::onLinkDown(const QString &error)
{
    const QString why = m_state == State::Connected
                            ? tr("Lost the connection to Redis at %1 (%2).").arg(describe(), error)
                            : tr("Redis at %1 is unreachable (%2).").arg(describe(), error);
    scheduleRetry(why);
}

void RedisMonitor::scheduleRetry(const QString &why)
{
    ++m_generation; // whatever the old links still report is ignored
    m_discoveryTimer.stop();
    m_discovering = false;
    if (!m_sentinelUrl) { // the Sentinels go on answering while the master is away
        m_topologyTimer.stop();
        m_readingTopology = false;
    }
    m_subscribed = false;
    m_subscribing = false;
    flushEnvelopes();
    if (m_commands)
        m_commands->disconnectFromServer();
    if (m_subscriber)
        m_subscriber->disconnectFromServer();
    if (m_cluster) {
        QObject::disconnect(m_cluster.get(), nullptr, this, nullptr);
        m_cluster.release()->deleteLater(); // we may be inside its readyChanged()
    }
    const int delay = m_backoff.next();
    m_lastError = tr("%1 Retrying in %2 s.").arg(why).arg((delay + 999) / 1000);
    qCWarning(lcMonitor).noquote() << m_lastError;
    setState(State::Retrying);
    Q_EMIT errorText(m_lastError);
    m_retryTimer.start(delay);
    if (!m_sentinelUrl && !m_topology.kind.isEmpty()) {
        m_topology.error = tr("not read since Redis became unreachable");
        Q_EMIT topologyRead(m_topology);
    }
}

void RedisMonitor::onPatternMessage(const QByteArray &channel, const QByteArray &payload)
{
    ++m_envelopesSeen;
    if (m_rateWindow.elapsed() >= 1000) {
        m_rateWindow.restart();
        m_parsedThisSecond = 0;
    }
    // Far beyond anything a view can show: count, do not parse, so the
    // console cannot fall behind the backplane.
    if (m_parsedThisSecond >= m_options.maxEnvelopesPerSecond) {
        ++m_envelopesShed;
        return;
    }
    ++m_parsedThisSecond;
    std::optional<BackplaneEnvelope> envelope =
        BackplaneEnvelope::parse(channel, payload, QDateTime::currentMSecsSinceEpoch());
    if (!envelope) {
        ++m_malformed;
        return;
    }
    m_batch.append(std::move(*envelope));
    if (!m_batchTimer.isActive())
        m_batchTimer.start();
}

void RedisMonitor::flushEnvelopes()
{
    m_batchTimer.stop();
    if (m_batch.isEmpty())
        return;
    Q_EMIT envelopesReceived(std::exchange(m_batch, {}));
}

void RedisMonitor::discoverNow()
{
    if (m_state != State::Connected || m_discovering)
        return;
    m_discovering = true;
    const quint64 round = ++m_discoveryRound;
    auto keys = std::make_shared<QSet<QByteArray>>();
    // Every cluster master holds its own share of the keys.
    const QStringList nodes = m_cluster ? m_cluster->masters() : QStringList{QString()};
    auto nodesLeft = std::make_shared<qsizetype>(nodes.size());
    for (const QString &node : nodes)
        scanStep(node, QByteArrayLiteral("0"), round, keys, nodesLeft);
}

void RedisMonitor::scanStep(const QString &node, const QByteArray &cursor, quint64 round,
                            std::shared_ptr<QSet<QByteArray>> keys, std::shared_ptr<qsizetype> nodesLeft)
{
    // SCAN, not KEYS: it never blocks Redis however many keys it holds. A key
    // may come twice, hence the set.
    const quint64 generation = m_generation;
    const QByteArray pattern = globEscape(key(QStringLiteral("instance:"))) + '*';
    const QList<QByteArray> argv{QByteArrayLiteral("SCAN"), cursor, QByteArrayLiteral("MATCH"), pattern,
                                 QByteArrayLiteral("COUNT"), QByteArrayLiteral("1000")};
    auto onReply = [this, generation, round, keys, node, nodesLeft](const RedisReply &reply) {
            if (generation != m_generation || round != m_discoveryRound)
                return;
            if (!reply.isArray() || reply.size() != 2 || !reply.at(1).isArray()) {
                m_discovering = false;
                ++m_discoveryRound; // the other masters' answers are ignored
                if (reply.isError())
                    qCWarning(lcMonitor).noquote() << "SCAN failed:" << reply.text();
                return;
            }
            for (const RedisReply &k : reply.at(1).elements())
                keys->insert(k.bytes());
            const QByteArray next = reply.at(0).bytes();
            if (next != "0")
                scanStep(node, next, round, keys, nodesLeft);
            else if (--*nodesLeft == 0)
                readInstances(round, *keys);
        };
    if (node.isEmpty())
        m_commands->command(argv, std::move(onReply));
    else
        m_cluster->commandOn(node, argv, std::move(onReply));
}

void RedisMonitor::readInstances(quint64 round, const QSet<QByteArray> &keys)
{
    if (keys.isEmpty()) {
        m_discovering = false;
        Q_EMIT instancesDiscovered({});
        return;
    }
    struct Collect
    {
        qsizetype remaining = 0;
        QList<DiscoveredInstance> found;
    };
    auto collect = std::make_shared<Collect>();
    collect->remaining = keys.size();
    const quint64 generation = m_generation;
    for (const QByteArray &k : keys) {
        command({QByteArrayLiteral("HGETALL"), k}, [this, generation, round, collect](const RedisReply &reply) {
            if (generation != m_generation || round != m_discoveryRound)
                return;
            // A key that expired between SCAN and HGETALL reads as empty: not live.
            if (std::optional<DiscoveredInstance> d = DiscoveredInstance::fromHash(hashOf(reply)))
                collect->found.append(*d);
            if (--collect->remaining > 0)
                return;
            m_discovering = false;
            std::sort(collect->found.begin(), collect->found.end(),
                      [](const DiscoveredInstance &a, const DiscoveredInstance &b) { return a.id < b.id; });
            Q_EMIT instancesDiscovered(collect->found);
        });
    }
}

void RedisMonitor::readClientHistories(const QStringList &clientIds)
{
    if (m_state != State::Connected || clientIds.isEmpty())
        return;
    struct Collect
    {
        qsizetype remaining = 0;
        QHash<QString, QList<ClientVisit>> histories;
    };
    auto collect = std::make_shared<Collect>();
    collect->remaining = clientIds.size();
    const quint64 generation = m_generation;
    const QByteArray last = QByteArray::number(std::max(1, m_options.historyLength) - 1);
    for (const QString &id : clientIds) {
        command({QByteArrayLiteral("LRANGE"), key(QStringLiteral("client:%1:instances").arg(id)),
                             QByteArrayLiteral("0"), last},
                            [this, generation, collect, id](const RedisReply &reply) {
                                if (generation != m_generation)
                                    return;
                                if (reply.isArray()) {
                                    QList<ClientVisit> visits;
                                    visits.reserve(static_cast<qsizetype>(reply.size()));
                                    for (const RedisReply &entry : reply.elements()) {
                                        if (std::optional<ClientVisit> v = ClientVisit::parse(entry.bytes()))
                                            visits.append(*v);
                                    }
                                    collect->histories.insert(id, visits);
                                }
                                if (--collect->remaining == 0 && !collect->histories.isEmpty())
                                    Q_EMIT clientHistoriesRead(collect->histories);
                            });
    }
}

void RedisMonitor::readSession(const QString &sessionId)
{
    if (m_state != State::Connected)
        return;
    const quint64 generation = m_generation;
    command({QByteArrayLiteral("HGETALL"), key(QStringLiteral("session:") + sessionId)},
                        [this, generation, sessionId](const RedisReply &reply) {
                            if (generation != m_generation)
                                return;
                            const std::optional<ConnectionInfo> conn = connectionFromSessionHash(hashOf(reply));
                            Q_EMIT sessionRead(sessionId, conn.has_value(), conn.value_or(ConnectionInfo{}));
                        });
}

} // namespace sb::console

namespace sb::console {

void RedisMonitor::readTopology()
{
    if (!m_configured || m_readingTopology)
        return;
    if (m_sentinelUrl) {
        readSentinelTopology();
        return;
    }
    if (m_state != State::Connected)
        return;
    m_readingTopology = true;
    const quint64 generation = m_generation;
    if (m_cluster) {
        // Each round asks the next master: a dead one cannot hide the cluster for long.
        const QStringList masters = m_cluster->masters();
        if (masters.isEmpty()) {
            m_readingTopology = false;
            return;
        }
        const QString source = masters.at(static_cast<qsizetype>(m_topologyRound++ % quint64(masters.size())));
        m_cluster->commandOn(source, {QByteArrayLiteral("CLUSTER"), QByteArrayLiteral("NODES")},
                             [this, generation, source](const RedisReply &reply) {
                                 if (generation != m_generation)
                                     return;
                                 m_readingTopology = false;
                                 if (!reply.isString()) {
                                     topologyFailed(tr("CLUSTER NODES on %1 failed: %2").arg(source, reply.toString()));
                                     return;
                                 }
                                 RedisTopology topology = RedisTopology::fromClusterNodes(reply.bytes());
                                 topology.source = source;
                                 publishTopology(std::move(topology));
                             });
        return;
    }
    const QString self = m_address.hostPort();
    m_commands->command({QByteArrayLiteral("INFO"), QByteArrayLiteral("replication")},
                        [this, generation, self](const RedisReply &reply) {
                            if (generation != m_generation)
                                return;
                            m_readingTopology = false;
                            if (!reply.isString()) {
                                topologyFailed(tr("INFO replication on %1 failed: %2").arg(self, reply.toString()));
                                return;
                            }
                            publishTopology(RedisTopology::fromInfoReplication(reply.bytes(), self));
                        });
}

void RedisMonitor::readSentinelTopology()
{
    m_readingTopology = true;
    if (!m_sentinelQuery) {
        m_sentinelQuery = std::make_unique<RedisConnection>();
        m_sentinelQuery->setConnectTimeout(m_options.commandTimeoutMs);
        m_sentinelQuery->setCommandTimeout(m_options.commandTimeoutMs);
        connect(m_sentinelQuery.get(), &RedisConnection::connected, this, [this] {
            if (m_readingTopology)
                askSentinel();
        });
        connect(m_sentinelQuery.get(), &RedisConnection::disconnected, this, [this](const QString &error) {
            const QString asked = m_sentinelQuery->address().hostPort();
            ++m_sentinelAsked; // the next round asks the next Sentinel
            if (m_readingTopology) {
                m_readingTopology = false;
                topologyFailed(tr("the Sentinel at %1 did not answer (%2)")
                                   .arg(asked, error.isEmpty() ? tr("connection closed") : error));
            }
        });
    }
    switch (m_sentinelQuery->state()) {
    case RedisConnection::State::Connected: askSentinel(); break;
    case RedisConnection::State::Connecting: break; // connected() asks
    case RedisConnection::State::Disconnected: {
        RedisAddress sentinel = RedisAddress::fromNode(
            *m_sentinelUrl, static_cast<qsizetype>(quint64(m_sentinelAsked) % quint64(m_sentinelUrl->nodes.size())));
        sentinel.db = 0;
        m_sentinelQuery->connectTo(sentinel);
        break;
    }
    }
}

void RedisMonitor::askSentinel()
{
    struct Answers
    {
        int remaining = 3;
        RedisReply master, replicas, sentinels;
    };
    auto answers = std::make_shared<Answers>();
    const QByteArray name = m_sentinelUrl->masterName.toUtf8();
    const QString asked = m_sentinelQuery->address().hostPort();
    const auto flat = [](const RedisReply &r) {
        QList<QByteArray> out;
        for (const RedisReply &e : r.elements())
            out.append(e.bytes());
        return out;
    };
    const auto finish = [this, answers, asked, flat] {
        if (--answers->remaining > 0 || !m_readingTopology)
            return;
        m_readingTopology = false;
        if (!answers->master.isArray()) {
            topologyFailed(tr("the Sentinel at %1 answered SENTINEL master: %2").arg(asked, answers->master.toString()));
            return;
        }
        RedisTopology topology;
        topology.kind = QStringLiteral("sentinel");
        topology.source = asked;
        const RedisNodeInfo master = sentinelNode(sentinelFields(flat(answers->master)), RedisNodeInfo::Role::Master);
        topology.nodes.append(master);
        for (const RedisReply &r : answers->replicas.elements())
            topology.nodes.append(sentinelNode(sentinelFields(flat(r)), RedisNodeInfo::Role::Replica, master.address));
        // SENTINEL sentinels lists the others: the one asked is up, it answered.
        QList<RedisNodeInfo> sentinels;
        RedisNodeInfo self;
        self.role = RedisNodeInfo::Role::Sentinel;
        self.address = asked;
        self.state = tr("ok (asked)");
        sentinels.append(self);
        for (const RedisReply &r : answers->sentinels.elements())
            sentinels.append(sentinelNode(sentinelFields(flat(r)), RedisNodeInfo::Role::Sentinel));
        std::sort(sentinels.begin(), sentinels.end(),
                  [](const RedisNodeInfo &a, const RedisNodeInfo &b) { return a.address < b.address; });
        topology.nodes.append(sentinels);
        publishTopology(std::move(topology));
    };
    m_sentinelQuery->command({QByteArrayLiteral("SENTINEL"), QByteArrayLiteral("master"), name},
                             [answers, finish](const RedisReply &r) { answers->master = r; finish(); });
    m_sentinelQuery->command({QByteArrayLiteral("SENTINEL"), QByteArrayLiteral("replicas"), name},
                             [answers, finish](const RedisReply &r) { answers->replicas = r; finish(); });
    m_sentinelQuery->command({QByteArrayLiteral("SENTINEL"), QByteArrayLiteral("sentinels"), name},
                             [answers, finish](const RedisReply &r) { answers->sentinels = r; finish(); });
}

void RedisMonitor::publishTopology(RedisTopology topology)
{
    m_topology = std::move(topology);
    Q_EMIT topologyRead(m_topology);
}

void RedisMonitor::topologyFailed(const QString &error)
{
    qCWarning(lcMonitor).noquote() << "topology:" << error;
    m_topology.error = error;
    Q_EMIT topologyRead(m_topology);
}

} // namespace sb::console
