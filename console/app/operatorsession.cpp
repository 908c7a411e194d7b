#include "operatorsession.h"

#include <QDateTime>
#include <QPointer>

namespace sb::console {

namespace {

InstancesModel::Link linkOf(const InstanceClient *client)
{
    switch (client->state()) {
    case InstanceClient::State::Idle: return InstancesModel::Link::Idle;
    case InstanceClient::State::Connecting: return InstancesModel::Link::Connecting;
    case InstanceClient::State::Connected: return InstancesModel::Link::Connected;
    case InstanceClient::State::Hung: return InstancesModel::Link::Hung;
    case InstanceClient::State::Retrying: return InstancesModel::Link::Retrying;
    case InstanceClient::State::Failed:
        return client->keyRefused() ? InstancesModel::Link::KeyRefused : InstancesModel::Link::Retrying;
    }
    return InstancesModel::Link::Idle;
}

qint64 now()
{
    return QDateTime::currentMSecsSinceEpoch();
}

} // namespace

OperatorSession::OperatorSession(QObject *parent)
    : OperatorSession(Options{}, parent)
{
}

OperatorSession::OperatorSession(const InstanceClient::Options &options, QObject *parent)
    : OperatorSession(Options{options, {}, 15000, 200}, parent)
{
}

OperatorSession::OperatorSession(const Options &options, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_redis(options.redis)
{
    m_hub.setClientOptions(options.instance);
    m_hub.setVanishGraceMs(options.vanishGraceMs);
    connect(&m_hub, &OperatorHub::clientAdded, this, &OperatorSession::wire);
    connect(&m_hub, &OperatorHub::clientRemoved, this, [this](InstanceClient *client) {
        if (!client->instanceId().isEmpty()) {
            m_connections.clearInstance(client->instanceId());
            m_history.removeInstance(client->instanceId());
            m_topology.removeInstance(client->instanceId());
        }
        m_instances.removeInstance(client->baseUrl());
        Q_EMIT linksChanged();
    });
    connect(&m_hub, &OperatorHub::heartbeatSeen, this,
            [this](InstanceClient *client, bool present, const DiscoveredInstance &heartbeat) {
                m_instances.setHeartbeat(client->baseUrl(), present, heartbeat);
                if (!present)
                    noteInstanceState(client, QStringLiteral("dead"));
                else if (heartbeat.draining)
                    m_stickiness.noteInstanceState(heartbeat.id, QStringLiteral("draining"), now());
            });

    // Redis: discovery, backplane traffic, stickiness histories, session records.
    connect(&m_redis, &RedisMonitor::instancesDiscovered, this, [this](const QList<DiscoveredInstance> &instances) {
        m_hub.applyDiscovered(instances, m_redis.address().host);
    });
    connect(&m_redis, &RedisMonitor::envelopesReceived, this, [this](const QList<BackplaneEnvelope> &envelopes) {
        m_backplaneFlow.addEnvelopes(envelopes);
        m_map.addEnvelopes(envelopes);
        for (const BackplaneEnvelope &e : envelopes)
            m_history.addDeliveryLatency(e.origin, e.latencyMs);
    });
    connect(&m_redis, &RedisMonitor::clientHistoriesRead, &m_stickiness, &StickinessModel::applyHistories);
    connect(&m_redis, &RedisMonitor::sessionRead, this, &OperatorSession::sessionRecordRead);
    connect(&m_redis, &RedisMonitor::errorText, this, &OperatorSession::statusMessage);
    connect(&m_redis, &RedisMonitor::topologyRead, &m_topology, &RedisTopologyModel::setTopology);
    connect(&m_redis, &RedisMonitor::stateChanged, this, [this] {
        m_map.setRedisState(m_redis.isConfigured(), RedisMonitor::stateName(m_redis.state()),
                            m_redis.isConfigured() ? m_redis.address().toString() : QString());
        Q_EMIT redisStateChanged();
    });

    m_secondTimer.setObjectName(QStringLiteral("OperatorSession.everySecond"));
    m_secondTimer.setInterval(1000);
    connect(&m_secondTimer, &QTimer::timeout, this, &OperatorSession::everySecond);
}

OperatorSession::~OperatorSession()
{
    m_hub.stop();
    m_redis.stop();
}

void OperatorSession::setRedis(const RedisAddress &address)
{
    m_redisAddress = address;
    m_redisCluster.reset();
    if (m_started)
        m_redis.start(address);
}

void OperatorSession::setRedisUrl(const RedisUrl &url)
{
    if (url.kind == RedisUrl::Kind::Single) {
        setRedis(RedisAddress::fromNode(url, 0));
        return;
    }
    m_redisCluster = url;
    m_redisAddress.reset();
    if (m_started)
        m_redis.start(url);
}

void OperatorSession::start()
{
    m_started = true;
    m_hub.start();
    if (m_redisAddress)
        m_redis.start(*m_redisAddress);
    else if (m_redisCluster)
        m_redis.start(*m_redisCluster);
    m_secondTimer.start();
}

void OperatorSession::everySecond()
{
    const qint64 t = now();
    m_history.closeDeliverySecond(t);
    m_stickiness.sampleChart(t);
    if (!m_redis.isConnected())
        return;
    // New and changed clients first, then a slow round over everyone so that
    // moves the console did not see (it was not running) show up too.
    const int budget = m_options.historyReadsPerSecond;
    QStringList ids = m_stickiness.takeClientsToRead(budget * 3 / 4);
    const int rows = m_stickiness.rowCount();
    for (int i = 0; rows > 0 && ids.size() < budget && i < rows; ++i) {
        m_historyCursor = (m_historyCursor + 1) % rows;
        ids.append(m_stickiness.clientIdAt(m_historyCursor));
    }
    m_redis.readClientHistories(ids);
}

void OperatorSession::noteInstanceState(const InstanceClient *client, const QString &state)
{
    const QString id = client->instanceId().isEmpty() ? m_instances.instanceIdAt(m_instances.rowOf(client->baseUrl()))
                                                      : client->instanceId();
    m_stickiness.noteInstanceState(id, state, now());
}

void OperatorSession::wire(InstanceClient *client)
{
    const QUrl url = client->baseUrl();
    m_instances.addInstance(url);
    connect(client, &InstanceClient::stateChanged, this, [this, client, url] {
        m_instances.setLink(url, linkOf(client), client->isLive() ? QString() : client->lastError());
        if (!client->isLive() && !client->instanceId().isEmpty())
            m_connections.clearInstance(client->instanceId());
        if (client->state() == InstanceClient::State::Retrying)
            noteInstanceState(client, QStringLiteral("dead"));
        if (client->state() == InstanceClient::State::Failed && client->keyRefused())
            Q_EMIT keyRefused(url);
        Q_EMIT linksChanged();
    });
    connect(client, &InstanceClient::snapshot, this,
            [this, url](const InstanceInfo &info, const QList<ConnectionInfo> &connections) {
                m_instances.setInfo(url, info);
                m_topology.setInstanceUse(info.id, info.backplaneKind, info.redisMaster);
                m_history.setColor(info.id, InstancesModel::colorFor(info.color));
                m_connections.applySnapshot(info.id, connections);
            });
    connect(client, &InstanceClient::connOpened, this, [this](const ConnectionInfo &conn) {
        m_connections.addConnection(conn);
        m_stickiness.recordOpen(conn);
    });
    connect(client, &InstanceClient::connClosed, this,
            [this](const QString &sessionId, int) { m_connections.removeConnection(sessionId); });
    connect(client, &InstanceClient::stats, this, [this, client, url](const InstanceStats &stats) {
        m_instances.setStats(url, stats);
        m_history.add(stats, client->instanceInfo().backplane == QLatin1StringView("redis"));
    });
    connect(client, &InstanceClient::flow, this, [this](const FlowSample &sample) {
        m_flow.addSample(sample);
        m_map.addPublishSample(sample);
    });
    connect(client, &InstanceClient::readiness, this, [this, client, url](const QString &status, const QString &reason) {
        m_instances.setReadiness(url, status, reason);
        if (status == QLatin1StringView("draining") || status == QLatin1StringView("ready"))
            noteInstanceState(client, status);
        else if (status == QLatin1StringView("unreachable"))
            noteInstanceState(client, QStringLiteral("dead"));
    });
    connect(client, &InstanceClient::errorText, this, [this, client, url](const QString &text) {
        m_instances.setLink(url, linkOf(client), client->isLive() && client->state() != InstanceClient::State::Hung ? QString() : text);
        Q_EMIT statusMessage(text);
    });
}

int OperatorSession::liveCount() const
{
    int live = 0;
    for (const InstanceClient *c : m_hub.clients())
        live += c->isLive() ? 1 : 0;
    return live;
}

void OperatorSession::refreshAllReadiness()
{
    for (InstanceClient *c : m_hub.clients())
        c->refreshReadiness();
}

void OperatorSession::drain(const QUrl &instanceUrl, QObject *context, ReplyHandler handler)
{
    const InstanceClient *target = m_hub.clientForUrl(instanceUrl);
    const QString id = target ? target->instanceId() : QString();
    if (id.isEmpty()) {
        handler(Reply{false, {}, QStringLiteral("not_found"), tr("That instance has not been reached yet.")});
        return;
    }
    m_hub.drain(id, context, [this, id, handler = std::move(handler)](const Reply &reply) {
        if (reply.ok)
            m_stickiness.noteInstanceState(id, QStringLiteral("draining"), now());
        refreshAllReadiness();
        handler(reply);
    });
}

void OperatorSession::undrain(const QUrl &instanceUrl, QObject *context, ReplyHandler handler)
{
    const InstanceClient *target = m_hub.clientForUrl(instanceUrl);
    const QString id = target ? target->instanceId() : QString();
    if (id.isEmpty()) {
        handler(Reply{false, {}, QStringLiteral("not_found"), tr("That instance has not been reached yet.")});
        return;
    }
    m_hub.undrain(id, context, [this, handler = std::move(handler)](const Reply &reply) {
        refreshAllReadiness();
        handler(reply);
    });
}

void OperatorSession::setTicker(bool enabled, QObject *context, ReplyHandler handler)
{
    m_hub.setTicker(enabled, context, std::move(handler));
}

void OperatorSession::disconnectSession(const QString &sessionId, QObject *context, ReplyHandler handler)
{
    const std::optional<ConnectionInfo> conn = m_connections.connection(sessionId);
    m_hub.disconnectSession(sessionId, conn ? conn->instance : QString(), context, std::move(handler));
}

void OperatorSession::inject(const InjectTarget &target, const QString &text, QObject *context, ReplyHandler handler)
{
    m_hub.inject(target, text, context, std::move(handler));
}

void OperatorSession::readClientDetails(const QString &clientId)
{
    if (!m_redis.isConnected() || clientId.isEmpty())
        return;
    m_redis.readClientHistories({clientId});
    for (int row = 0; row < m_connections.rowCount(); ++row) {
        const ConnectionInfo &c = m_connections.connectionAt(row);
        if (c.clientId == clientId)
            m_redis.readSession(c.sessionId);
    }
}

} // namespace sb::console
