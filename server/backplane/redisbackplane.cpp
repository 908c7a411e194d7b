#include "redisbackplane.h"

#include "channel.h"
#include "envelope.h"
#include "hashes.h"
#include "redisbackplanehelpers.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <algorithm>
#include <utility>

namespace sb {

using namespace redisdetail;

namespace {

const QString kProbeType = QString(name(InternalType::BackplaneProbe));

} // namespace

RedisBackplane::RedisBackplane(const Config &config, QObject *parent)
    : Backplane(parent)
    , m_instanceId(config.instanceId)
    , m_prefix(config.redisPrefix)
    , m_commands(std::make_unique<RedisConnection>(RedisConnection::Mode::Commands))
    , m_subscriber(std::make_unique<RedisConnection>(RedisConnection::Mode::Subscriber))
{
    QString error;
    m_url = RedisUrl::parse(config.redisUrl, &error);
    if (!m_url) {
        qCCritical(lcRedis).noquote() << "SB_REDIS_URL is not usable:" << error << "- the backplane stays down";
    } else if (m_url->kind == RedisUrl::Kind::Single) {
        m_address = RedisAddress::fromNode(*m_url, 0);
    } else if (m_url->kind == RedisUrl::Kind::Cluster) {
        setUpCluster();
    } else {
        // The master is whatever the Sentinels say, and must prove it (ROLE).
        m_sentinel = std::make_unique<RedisSentinel>(*m_url);
        connect(m_sentinel.get(), &RedisSentinel::masterFound, this, &RedisBackplane::onMasterFound);
        m_commands->setRequireMaster(true);
        m_subscriber->setRequireMaster(true);
    }

    m_clock.start();
    setTimings(m_timings);

    connect(m_commands.get(), &RedisConnection::connected, this, &RedisBackplane::onCommandsConnected);
    connect(m_commands.get(), &RedisConnection::disconnected, this, &RedisBackplane::onCommandsDisconnected);
    connect(m_subscriber.get(), &RedisConnection::connected, this, &RedisBackplane::onSubscriberConnected);
    connect(m_subscriber.get(), &RedisConnection::disconnected, this, &RedisBackplane::onSubscriberDisconnected);

    m_commandsReconnect.setSingleShot(true);
    connect(&m_commandsReconnect, &QTimer::timeout, this, &RedisBackplane::connectCommands);
    m_subscriberReconnect.setSingleShot(true);
    connect(&m_subscriberReconnect, &QTimer::timeout, this, &RedisBackplane::connectSubscriber);
    connect(&m_cleanupTimer, &QTimer::timeout, this, &RedisBackplane::cleanupTick);
    connect(&m_probeTimer, &QTimer::timeout, this, &RedisBackplane::probeTick);
}

RedisBackplane::~RedisBackplane()
{
    m_cleanupTimer.stop();
    m_probeTimer.stop();
    // Sentinel client, subscriber, then commands: each frees its hiredis
    // contexts and drops the callbacks still pending, which capture `this`.
    m_sentinel.reset();
    m_shards.reset();
    m_subscriber.reset();
    m_cluster.reset();
    m_commands.reset();
}

void RedisBackplane::setTimings(const Timings &timings)
{
    m_timings = timings;
    m_commandsBackoffMs = m_timings.reconnectMinMs;
    m_subscriberBackoffMs = m_timings.reconnectMinMs;
    for (RedisConnection *c : {m_commands.get(), m_subscriber.get()}) {
        c->setCommandTimeout(m_timings.commandTimeoutMs);
        c->setConnectTimeout(m_timings.connectTimeoutMs);
    }
    if (m_cluster) {
        m_cluster->setTimeouts(m_timings.connectTimeoutMs, m_timings.commandTimeoutMs);
        m_shards->setTimeouts(m_timings.connectTimeoutMs, m_timings.commandTimeoutMs);
    }
    m_cleanupTimer.setInterval(m_timings.cleanupIntervalMs);
    m_probeTimer.setInterval(m_timings.probeIntervalMs);
}

void RedisBackplane::start()
{
    if (m_started)
        return;
    m_started = true;
    if (!m_url)
        return; // logged in the constructor; every call answers ok=false
    qCInfo(lcRedis).noquote() << "backplane" << m_instanceId << "connecting to" << m_url->toString()
                              << "with prefix" << m_prefix;
    if (m_sentinel)
        m_sentinel->start(); // onMasterFound() connects
    if (m_cluster)
        m_cluster->start(); // onClusterReady() goes on
    connectCommands();
    connectSubscriber();
    m_cleanupTimer.start();
    m_probeTimer.start();
}

// --- plumbing ---------------------------------------------------------------

QByteArray RedisBackplane::key(const QString &rest) const
{
    return bytes(m_prefix + rest);
}

QByteArray RedisBackplane::roomKey(const QString &room, const char *what) const
{
    const QString name = m_cluster ? QStringLiteral("{room:%1}:%2") : QStringLiteral("room:%1:%2");
    return key(name.arg(room, QLatin1StringView(what)));
}

bool RedisBackplane::isSharded(const QString &channel) const
{
    return m_cluster && channel.startsWith(QLatin1StringView("room:"));
}

bool RedisBackplane::commandsConnected() const
{
    return m_cluster ? m_cluster->isReady() : m_commands->isConnected();
}

QString RedisBackplane::probeChannel() const
{
    return QStringLiteral("backplane:probe:") + m_instanceId;
}

void RedisBackplane::later(std::function<void()> fn)
{
    // Answers never arrive inside the call that asked, like a real round trip.
    QMetaObject::invokeMethod(this, std::move(fn), Qt::QueuedConnection);
}

void RedisBackplane::send(const QList<QByteArray> &argv, ReplyCallback callback)
{
    if (m_cluster)
        return m_cluster->command(argv, std::move(callback));
    m_commands->command(argv, std::move(callback));
}

void RedisBackplane::eval(const char *script, const QList<QByteArray> &keys, const QList<QByteArray> &args,
                          ReplyCallback callback)
{
    // The scripts are static: no need to copy their text for every call.
    QList<QByteArray> argv{QByteArrayLiteral("EVAL"), QByteArray::fromRawData(script, qstrlen(script)),
                           number(keys.size())};
    argv.append(keys);
    argv.append(args);
    send(argv, std::move(callback));
}

RedisConnection::ReplyCallback RedisBackplane::logFailure(const char *what)
{
    return [this, what](const RedisReply &reply) {
        if (!reply.isError())
            return;
        // A broken connection is logged once by RedisConnection; a Redis error is news.
        if (commandsConnected())
            qCWarning(lcRedis).noquote() << what << "failed:" << reply.text();
        else
            qCDebug(lcRedis).noquote() << what << "failed:" << reply.text();
    };
}

// --- connections ------------------------------------------------------------

QString RedisBackplane::topology() const
{
    return m_url ? m_url->kindName() : kind();
}

QString RedisBackplane::masterAddress() const
{
    if (m_cluster)
        return m_cluster->masters().join(QLatin1Char(','));
    return m_address ? m_address->hostPort() : QString();
}

void RedisBackplane::onMasterFound(const RedisAddress &master)
{
    if (m_address && m_address->host == master.host && m_address->port == master.port) {
        // Still the same master: the reconnect timers keep trying it, with
        // their backoff (connecting right away here could spin while a dead
        // master waits for the Sentinels to agree it is down).
        return;
    }
    const bool failover = m_address.has_value();
    const QString from = masterAddress();
    m_address = master;
    if (failover) {
        ++m_failovers;
        qCWarning(lcRedis).noquote() << "Redis failover: master" << m_sentinel->masterName() << "moved from" << from
                                     << "to" << master.hostPort() << "- reconnecting backplane" << m_instanceId;
        Q_EMIT failedOver(from, master.hostPort());
    } else {
        qCInfo(lcRedis).noquote() << "Sentinels name" << master.hostPort() << "as master" << m_sentinel->masterName();
    }
    // Leave the old master at once; each connection starts over on the new
    // one: a live one after its disconnected() (reconnectMinMs), one waiting
    // out its backoff (the old master is dead) right now.
    m_commandsBackoffMs = m_timings.reconnectMinMs;
    m_subscriberBackoffMs = m_timings.reconnectMinMs;
    if (m_commands->state() != RedisConnection::State::Disconnected) {
        m_commands->disconnectFromServer();
    } else {
        m_commandsReconnect.stop();
        connectCommands();
    }
    if (m_subscriber->state() != RedisConnection::State::Disconnected) {
        m_subscriber->disconnectFromServer();
    } else {
        m_subscriberReconnect.stop();
        connectSubscriber();
    }
}

void RedisBackplane::askSentinels()
{
    // The master may have moved without our hearing of it (a +switch-master
    // missed while no Sentinel was watched), or the one we know is down.
    if (m_sentinel)
        m_sentinel->askForMaster();
}

void RedisBackplane::connectCommands()
{
    if (m_cluster)
        return; // the RedisCluster keeps its own connections
    if (m_address && m_commands->state() == RedisConnection::State::Disconnected)
        m_commands->connectTo(*m_address);
}

void RedisBackplane::connectSubscriber()
{
    if (m_cluster) {
        // Cluster-wide channels work on any node: the masters in turn.
        const QStringList masters = m_cluster->masters();
        if (masters.isEmpty() || m_subscriber->state() != RedisConnection::State::Disconnected)
            return;
        m_address = m_cluster->masterAddress(masters.at(m_subscriberNode++ % masters.size()));
    }
    if (m_address && m_subscriber->state() == RedisConnection::State::Disconnected)
        m_subscriber->connectTo(*m_address);
}

void RedisBackplane::onCommandsConnected()
{
    ++m_commandsGeneration;
    m_commandsBackoffMs = m_timings.reconnectMinMs;
    resync();
}

void RedisBackplane::onCommandsDisconnected(const QString &error)
{
    Q_UNUSED(error) // logged by RedisConnection
    ++m_commandsGeneration;
    m_synced = false;
    askSentinels();
    m_cleanupRunning = false;
    updateUp();
    if (!m_commandsReconnect.isActive()) {
        m_commandsReconnect.start(m_commandsBackoffMs);
        m_commandsBackoffMs = qMin(m_commandsBackoffMs * 2, m_timings.reconnectMaxMs);
    }
}

void RedisBackplane::onSubscriberConnected()
{
    const quint64 generation = ++m_subscriberGeneration;
    m_subscriberBackoffMs = m_timings.reconnectMinMs;
    m_subscribed = false;
    m_subscribesPending = 0;
    QSet<QString> all;
    for (const QString &channel : std::as_const(m_channels)) {
        if (!isSharded(channel))
            all.insert(channel);
    }
    all.insert(kGoneChannel);
    all.insert(probeChannel());
    for (const QString &channel : std::as_const(all))
        subscribeOnServer(channel, generation);
}

void RedisBackplane::onSubscriberDisconnected(const QString &error)
{
    Q_UNUSED(error) // logged by RedisConnection
    ++m_subscriberGeneration;
    m_subscribed = false;
    askSentinels();
    m_subscribesPending = 0;
    updateUp();
    if (!m_subscriberReconnect.isActive()) {
        m_subscriberReconnect.start(m_subscriberBackoffMs);
        m_subscriberBackoffMs = qMin(m_subscriberBackoffMs * 2, m_timings.reconnectMaxMs);
    }
}

void RedisBackplane::subscribeOnServer(const QString &channel, quint64 generation)
{
    if (!m_subscribed)
        ++m_subscribesPending; // up waits for this one too
    m_subscriber->subscribe(
        key(channel), [this](const QByteArray &c, const QByteArray &payload) { onPubSubMessage(c, payload); },
        [this, channel, generation](const RedisReply &reply) {
            if (generation != m_subscriberGeneration)
                return; // an earlier connection's answer
            if (reply.isError())
                qCWarning(lcRedis).noquote() << "subscribing to" << channel << "failed:" << reply.text();
            // Counted either way: one refused channel must not keep the cluster down.
            if (!m_subscribed && --m_subscribesPending <= 0) {
                m_subscribed = true;
                updateUp();
            }
        });
}

void RedisBackplane::updateUp()
{
    const bool up = m_synced && m_subscribed && commandsConnected() && m_subscriber->isConnected()
                    && (!m_shards || m_shards->isHealthy());
    if (up == m_up)
        return;
    m_up = up;
    if (up) {
        m_probesInFlight.clear();
        m_lastProbeBackMs = m_clock.elapsed();
        qCInfo(lcRedis).noquote() << "backplane up:"
                                  << (m_cluster ? masterAddress() : m_address ? m_address->toString() : QString())
                                  << QStringLiteral("(%1)").arg(topology())
                                  << "instance" << m_instanceId;
    } else {
        qCWarning(lcRedis).noquote() << "backplane down:" << (m_address ? m_address->toString() : m_url->toString())
                                     << "- reconnecting";
    }
    Q_EMIT upChanged(up);
}

// --- pub/sub ---------------------------------------------------------------

void RedisBackplane::subscribe(const QString &channel)
{
    if (m_channels.contains(channel))
        return;
    m_channels.insert(channel);
    if (m_shards && isSharded(channel))
        return m_shards->subscribe(key(channel));
    // While connecting, onSubscriberConnected() subscribes the whole set.
    if (m_subscriber->isConnected())
        subscribeOnServer(channel, m_subscriberGeneration);
}

void RedisBackplane::unsubscribe(const QString &channel)
{
    if (!m_channels.remove(channel))
        return;
    squeezeIfSparse(m_channels);
    if (channel == kGoneChannel || channel == probeChannel())
        return; // still needed internally
    if (m_shards && isSharded(channel))
        return m_shards->unsubscribe(key(channel));
    if (m_subscriber->isConnected())
        m_subscriber->unsubscribe(key(channel));
}

void RedisBackplane::publish(const QString &channel, const QByteArray &payload, std::function<void(bool ok)> done)
{
    if (!m_up) {
        if (done)
            later([done = std::move(done)] { done(false); });
        return;
    }
    const QByteArray command = m_cluster && isSharded(channel) ? QByteArrayLiteral("SPUBLISH") : QByteArrayLiteral("PUBLISH");
    send({command, key(channel), payload}, [done = std::move(done)](const RedisReply &reply) {
        if (done)
            done(reply.isInteger());
    });
}

// --- RTT probe and messages --------------------------------------------------

void RedisBackplane::probeTick()
{
    if (!m_up)
        return;
    const qint64 now = m_clock.elapsed();
    // A tick far behind its time means this process did not run (CPU
    // starvation): the probes may be waiting unread in the subscriber's
    // socket, so no verdict on this tick.
    const qint64 sinceTick = now - std::exchange(m_lastProbeTickMs, now);
    const bool onTime = sinceTick <= 2 * m_timings.probeIntervalMs;
    if (onTime && !m_probesInFlight.isEmpty() && now - m_lastProbeBackMs > m_timings.probeTimeoutMs) {
        // Commands work but our own messages stop arriving: the subscription
        // is broken in a way Redis did not tell us. Start it over.
        qCWarning(lcRedis).noquote() << "no probe came back for" << (now - m_lastProbeBackMs)
                                     << "ms; reconnecting the subscriber";
        m_probesInFlight.clear();
        m_subscriber->disconnectFromServer();
        return;
    }
    const qint64 seq = ++m_probeSeq;
    const qint64 nowNs = m_clock.nsecsElapsed();
    m_probesInFlight.insert(seq, nowNs);
    const qint64 expiredNs = nowNs - qint64(m_timings.probeTimeoutMs) * 1000000;
    for (auto it = m_probesInFlight.begin(); it != m_probesInFlight.end();)
        it = it.value() < expiredNs ? m_probesInFlight.erase(it) : std::next(it);
    const Envelope envelope = Envelope::make(m_instanceId, QJsonObject{{QLatin1StringView("instance"), m_instanceId}},
                                             {{QLatin1StringView("type"), kProbeType}, {QLatin1StringView("seq"), seq}});
    send({QByteArrayLiteral("PUBLISH"), key(probeChannel()), envelope.encode()}, [this, seq](const RedisReply &reply) {
        // A probe Redis refused (an ACL, a paused server) never travels: it
        // says nothing about the subscription.
        if (reply.isError())
            m_probesInFlight.remove(seq);
        // On Redis Cluster PUBLISH counts the subscribers of the node it ran on only.
        if (m_up && !m_cluster && reply.isInteger() && reply.integer() == 0) {
            qCWarning(lcRedis) << "nobody is subscribed to our probe channel; reconnecting the subscriber";
            m_probesInFlight.clear();
            m_subscriber->disconnectFromServer();
        }
    });
}

void RedisBackplane::onProbe(const QByteArray &payload)
{
    const auto envelope = Envelope::decode(payload);
    if (!envelope || envelope->origin != m_instanceId)
        return;
    const qint64 seq = envelope->frame.value(QLatin1StringView("seq")).toInteger();
    const auto it = m_probesInFlight.constFind(seq);
    if (it == m_probesInFlight.cend())
        return;
    const qint64 nowNs = m_clock.nsecsElapsed();
    m_rttMs = static_cast<double>(nowNs - it.value()) / 1e6;
    m_lastProbeBackMs = nowNs / 1000000;
    m_probesInFlight.erase(it);
}

void RedisBackplane::onPubSubMessage(const QByteArray &rawChannel, const QByteArray &payload)
{
    const QString full = QString::fromUtf8(rawChannel);
    if (!full.startsWith(m_prefix))
        return;
    const QString channel = full.mid(m_prefix.size());
    if (channel == probeChannel())
        onProbe(payload);
    else if (channel == kGoneChannel)
        onGone(payload);
    if (m_channels.contains(channel))
        Q_EMIT message(channel, payload);
}

} // namespace sb
