#include "clusterbus.h"

#include "backplane/backplane.h"
#include "flow/flowsampler.h"
#include "hashes.h"
#include "metrics/metrics.h"
#include "protocol.h"

#include <QDateTime>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcBus, "sb.cluster")

namespace sb {

ClusterBus::ClusterBus(const QString &instanceId, Backplane &backplane, Metrics &metrics, FlowSampler &flow,
                       QObject *parent)
    : QObject(parent)
    , m_instanceId(instanceId)
    , m_backplane(backplane)
    , m_metrics(metrics)
    , m_flow(flow)
{
    connect(&m_backplane, &Backplane::message, this, &ClusterBus::onMessage);
    route(Channel::Kind::Cluster, [this](const QString &, const Envelope &e) { runCommand(e); });
    route(Channel::Kind::Reply, [this](const QString &, const Envelope &e) { collectReply(e); });
}

void ClusterBus::start()
{
    for (const QString &channel : {Channel::all(), Channel::cluster(), Channel::reply(m_instanceId)})
        retain(channel);
}

void ClusterBus::route(Channel::Kind kind, Route route)
{
    m_routes.insert(kind, std::move(route));
}

void ClusterBus::publish(const QString &channel, const QJsonValue &target, const QJsonObject &frame,
                         std::function<void(bool)> done)
{
    const Envelope envelope = Envelope::make(m_instanceId, target, frame);
    const QByteArray payload = envelope.encode();
    m_flow.sample("publish", frame.value(QLatin1StringView("type")).toString(),
                  frame.value(QLatin1StringView("room")).toString(), {}, m_instanceId, payload.size());
    m_backplane.publish(channel, payload, std::move(done));
}

void ClusterBus::count(const QString &channel, int delta)
{
    int &refs = m_channelRefs[channel];
    const int before = refs;
    refs += delta;
    if (before == 0 && refs > 0) {
        m_backplane.subscribe(channel);
    } else if (refs <= 0) {
        m_channelRefs.remove(channel);
        squeezeIfSparse(m_channelRefs);
        if (before > 0)
            m_backplane.unsubscribe(channel);
    }
}

void ClusterBus::onMessage(const QString &channelName, const QByteArray &payload)
{
    const auto envelope = Envelope::decode(payload);
    if (!envelope) {
        qCWarning(lcBus).noquote() << "ignored a malformed envelope on" << channelName;
        return;
    }
    const Channel channel = Channel::parse(channelName);
    const bool toClients = channel.carriesClientFrames()
                           || envelope->frame.value(QLatin1StringView("type")).toString() == name(MessageType::Broadcast);
    if (toClients) {
        // Envelope timestamp to the socket writes that follow right below.
        const qint64 ageMs = QDateTime::currentMSecsSinceEpoch() - envelope->ts;
        m_metrics.deliveryLatency->observe(static_cast<double>(qMax<qint64>(0, ageMs)) / 1000.0);
    }
    const auto route = m_routes.constFind(channel.kind);
    if (route != m_routes.cend())
        (*route)(channel.name, *envelope);
}

void ClusterBus::command(const QJsonObject &command, CommandDone done)
{
    if (!m_backplane.isUp()) {
        done(false, {});
        return;
    }
    const Envelope envelope = Envelope::make(m_instanceId, QJsonObject{{QLatin1StringView("all"), true}}, command);
    const QString id = envelope.id;
    PendingCommand pending;
    pending.done = std::move(done);
    pending.timer = new QTimer(this);
    pending.timer->setSingleShot(true);
    connect(pending.timer, &QTimer::timeout, this, [this, id] { finishCommand(id); });
    pending.timer->start(2000);
    m_pendingCommands.insert(id, std::move(pending));
    m_backplane.liveInstances([this, id](bool ok, const QStringList &ids) {
        auto it = m_pendingCommands.find(id);
        if (it == m_pendingCommands.end())
            return;
        it->expected = ok ? static_cast<int>(ids.size()) : -1;
        if (it->expected >= 0 && it->replies.size() >= it->expected)
            finishCommand(id);
    });
    m_backplane.publish(Channel::cluster(), envelope.encode(), [this, id](bool ok) {
        if (!ok && m_pendingCommands.contains(id)) {
            auto pending = m_pendingCommands.take(id);
            pending.timer->deleteLater();
            pending.done(false, {});
        }
    });
}

void ClusterBus::collectReply(const Envelope &envelope)
{
    const QString id = envelope.frame.value(QLatin1StringView("request")).toString();
    auto it = m_pendingCommands.find(id);
    if (it == m_pendingCommands.end())
        return;
    it->replies.append(envelope.frame);
    if (it->expected >= 0 && it->replies.size() >= it->expected)
        finishCommand(id);
}

void ClusterBus::finishCommand(const QString &id)
{
    auto it = m_pendingCommands.find(id);
    if (it == m_pendingCommands.end())
        return;
    PendingCommand pending = std::move(*it);
    m_pendingCommands.erase(it);
    pending.timer->deleteLater();
    pending.done(true, pending.replies);
}

void ClusterBus::runCommand(const Envelope &envelope)
{
    QJsonObject result = m_runCommand ? m_runCommand(envelope.frame)
                                      : QJsonObject{{QLatin1StringView("error"), QStringLiteral("unknown command")}};
    result.insert(QLatin1StringView("type"), name(InternalType::ClusterReply));
    result.insert(QLatin1StringView("request"), envelope.id);
    result.insert(QLatin1StringView("instance"), m_instanceId);
    const Envelope reply = Envelope::make(m_instanceId, QJsonObject{{QLatin1StringView("instance"), envelope.origin}},
                                          result);
    m_backplane.publish(Channel::reply(envelope.origin), reply.encode());
}

} // namespace sb
