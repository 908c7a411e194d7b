#include "operatorsession.h"

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

} // namespace

OperatorSession::OperatorSession(QObject *parent)
    : OperatorSession(InstanceClient::Options{}, parent)
{
}

OperatorSession::OperatorSession(const InstanceClient::Options &options, QObject *parent)
    : QObject(parent)
{
    m_hub.setClientOptions(options);
    connect(&m_hub, &OperatorHub::clientAdded, this, &OperatorSession::wire);
    connect(&m_hub, &OperatorHub::clientRemoved, this, [this](InstanceClient *client) {
        if (!client->instanceId().isEmpty()) {
            m_connections.clearInstance(client->instanceId());
            m_history.removeInstance(client->instanceId());
        }
        m_instances.removeInstance(client->baseUrl());
        Q_EMIT linksChanged();
    });
}

OperatorSession::~OperatorSession()
{
    m_hub.stop();
}

void OperatorSession::wire(InstanceClient *client)
{
    const QUrl url = client->baseUrl();
    m_instances.addInstance(url);
    connect(client, &InstanceClient::stateChanged, this, [this, client, url] {
        m_instances.setLink(url, linkOf(client), client->isLive() ? QString() : client->lastError());
        if (!client->isLive() && !client->instanceId().isEmpty())
            m_connections.clearInstance(client->instanceId());
        if (client->state() == InstanceClient::State::Failed && client->keyRefused())
            Q_EMIT keyRefused(url);
        Q_EMIT linksChanged();
    });
    connect(client, &InstanceClient::snapshot, this,
            [this, url](const InstanceInfo &info, const QList<ConnectionInfo> &connections) {
                m_instances.setInfo(url, info);
                m_history.setColor(info.id, InstancesModel::colorFor(info.color));
                m_connections.applySnapshot(info.id, connections);
            });
    connect(client, &InstanceClient::connOpened, &m_connections, &ConnectionsModel::addConnection);
    connect(client, &InstanceClient::connClosed, this,
            [this](const QString &sessionId, int) { m_connections.removeConnection(sessionId); });
    connect(client, &InstanceClient::stats, this, [this, url](const InstanceStats &stats) {
        m_instances.setStats(url, stats);
        m_history.add(stats);
    });
    connect(client, &InstanceClient::flow, &m_flow, &FlowModel::addSample);
    connect(client, &InstanceClient::readiness, this,
            [this, url](const QString &status, const QString &reason) { m_instances.setReadiness(url, status, reason); });
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
    m_hub.drain(id, context, [this, handler = std::move(handler)](const Reply &reply) {
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

} // namespace sb::console
