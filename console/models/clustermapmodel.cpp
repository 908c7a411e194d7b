#include "clustermapmodel.h"

#include "connectionsmodel.h"
#include "instancesmodel.h"

#include <algorithm>

namespace sb::console {

namespace {

QString kindOf(const QString &frameType)
{
    if (frameType == QLatin1StringView("chat"))
        return QStringLiteral("chat");
    if (frameType == QLatin1StringView("presence"))
        return QStringLiteral("presence");
    if (frameType.startsWith(QLatin1StringView("todo")))
        return QStringLiteral("todo");
    if (frameType == QLatin1StringView("broadcast") || frameType == QLatin1StringView("ticker.set"))
        return QStringLiteral("broadcast");
    return QStringLiteral("command");
}

} // namespace

ClusterMapModel::ClusterMapModel(const InstancesModel &instances, const ConnectionsModel &connections, QObject *parent)
    : QObject(parent)
    , m_instancesModel(instances)
    , m_connections(connections)
{
    m_refreshTimer.setSingleShot(true);
    m_refreshTimer.setInterval(500);
    connect(&m_refreshTimer, &QTimer::timeout, this, &ClusterMapModel::refresh);
    m_flowTimer.setSingleShot(true);
    m_flowTimer.setInterval(100);
    connect(&m_flowTimer, &QTimer::timeout, this, &ClusterMapModel::emitFlow);
    // Rates: counted over a second, then shown until the next second.
    m_rateTimer.setInterval(1000);
    connect(&m_rateTimer, &QTimer::timeout, this, [this] {
        for (Instance &i : m_instances)
            i.publishPerS = m_publishedThisSecond.value(i.id, 0);
        m_backplane.messagesPerS = m_messagesThisSecond;
        const bool hadFlow = !m_publishedThisSecond.isEmpty();
        m_publishedThisSecond.clear();
        m_messagesThisSecond = 0;
        if (hadFlow || m_backplane.messagesPerS > 0)
            Q_EMIT changed();
    });
    m_rateTimer.start();

    connect(&connections, &ConnectionsModel::batchApplied, this, &ClusterMapModel::markDirty);
    for (const auto signal : {&QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved})
        connect(&instances, signal, this, &ClusterMapModel::markDirty);
    connect(&instances, &QAbstractItemModel::dataChanged, this, &ClusterMapModel::markDirty);
}

void ClusterMapModel::markDirty()
{
    m_dirty = true;
    if (!m_refreshTimer.isActive())
        m_refreshTimer.start();
}

void ClusterMapModel::setRedisState(bool configured, const QString &state, const QString &address)
{
    m_backplane.redisConfigured = configured;
    m_backplane.redisState = state;
    m_backplane.redisAddress = address;
    Q_EMIT changed();
}

void ClusterMapModel::refresh()
{
    m_refreshTimer.stop();
    m_dirty = false;

    struct Counts
    {
        int participants = 0;
        int operators = 0;
        int misses = 0;
        int noRoom = 0;
        QHash<QString, int> rooms;
    };
    QHash<QString, Counts> counts;
    m_roomInstances.clear();
    m_clientInstances.clear();
    int participants = 0;
    int sticky = 0;
    for (int row = 0; row < m_connections.rowCount(); ++row) {
        const ConnectionInfo &c = m_connections.connectionAt(row);
        Counts &k = counts[c.instance];
        if (c.role == QLatin1StringView("operator")) {
            ++k.operators;
            continue;
        }
        ++k.participants;
        ++participants;
        if (c.sticky)
            ++sticky;
        else
            ++k.misses;
        if (c.rooms.isEmpty())
            ++k.noRoom;
        for (const QString &room : c.rooms) {
            ++k.rooms[room];
            m_roomInstances[room].insert(c.instance);
        }
        m_clientInstances[c.clientId].insert(c.instance);
    }

    QHash<QString, double> publishRates;
    for (const Instance &i : std::as_const(m_instances))
        publishRates.insert(i.id, i.publishPerS);

    QList<Instance> out;
    m_totalConnections = 0;
    for (int row = 0; row < m_instancesModel.rowCount(); ++row) {
        Instance i;
        i.url = m_instancesModel.urlAt(row);
        i.id = m_instancesModel.instanceIdAt(row);
        const QModelIndex first = m_instancesModel.index(row, 0);
        i.color = first.data(InstancesModel::ColorRole).value<QColor>();
        i.health = m_instancesModel.healthAt(row);
        i.live = first.data(InstancesModel::LiveRole).toBool();
        i.connections = m_instancesModel.index(row, InstancesModel::Connections).data().toInt();
        i.framesInPerS = first.data(InstancesModel::FramesInRole).toDouble();
        i.framesOutPerS = first.data(InstancesModel::FramesOutRole).toDouble();
        i.rttMs = first.data(InstancesModel::RttRole).toDouble();
        i.sharedBackplane = m_instancesModel.index(row, InstancesModel::Backplane).data().toString()
                            != QLatin1StringView("local");
        i.publishPerS = publishRates.value(i.id, 0);
        const Counts k = counts.value(i.id);
        i.participants = k.participants;
        i.operators = k.operators;
        i.stickyMisses = k.misses;
        i.roomCount = static_cast<int>(k.rooms.size());
        QList<RoomGroup> rooms;
        rooms.reserve(k.rooms.size() + 1);
        for (auto it = k.rooms.cbegin(); it != k.rooms.cend(); ++it)
            rooms.append({it.key(), it.value()});
        std::sort(rooms.begin(), rooms.end(), [](const RoomGroup &a, const RoomGroup &b) {
            return a.members != b.members ? a.members > b.members : a.room < b.room;
        });
        if (rooms.size() > m_maxRooms)
            rooms.resize(m_maxRooms);
        if (k.noRoom > 0)
            rooms.append({QString(), k.noRoom});
        i.rooms = rooms;
        m_totalConnections += i.live ? i.connections : 0;
        out.append(i);
    }
    m_instances = out;
    m_totalParticipants = participants;
    m_stickyRatio = participants > 0 ? double(sticky) / participants : 1.0;
    Q_EMIT changed();
}

QStringList ClusterMapModel::targetsOf(const QString &channel, const QString &origin) const
{
    // Channel names after the prefix (docs/protocol.md, backplane channels).
    const qsizetype colon = channel.indexOf(QLatin1Char(':'));
    const QString name = colon >= 0 ? channel.mid(colon + 1) : channel;
    QSet<QString> targets;
    if (name.startsWith(QLatin1StringView("room:"))) {
        targets = m_roomInstances.value(name.mid(5));
    } else if (name.startsWith(QLatin1StringView("client:"))) {
        targets = m_clientInstances.value(name.mid(7));
    } else if (name.startsWith(QLatin1StringView("reply:"))) {
        targets.insert(name.mid(6));
    } else if (name.startsWith(QLatin1StringView("backplane:probe:"))) {
        return {}; // an instance talking to itself once a second
    } else {
        for (const Instance &i : m_instances) {
            if (i.live && i.sharedBackplane)
                targets.insert(i.id);
        }
    }
    targets.remove(origin);
    QStringList out(targets.cbegin(), targets.cend());
    out.sort();
    return out;
}

void ClusterMapModel::countPublish(const QString &origin, const QStringList &targets, const QString &kind, int count)
{
    const QString key = origin + QLatin1Char('>') + targets.join(QLatin1Char(',')) + QLatin1Char('/') + kind;
    FlowBurst &b = m_pendingBursts[key];
    if (b.count == 0) {
        b.origin = origin;
        b.targets = targets;
        b.kind = kind;
    }
    b.count += count;
    m_publishedThisSecond[origin] += count;
    m_messagesThisSecond += count;
    if (!m_flowTimer.isActive())
        m_flowTimer.start();
}

void ClusterMapModel::addEnvelopes(const QList<BackplaneEnvelope> &envelopes)
{
    m_flowFromRedis = true;
    for (const BackplaneEnvelope &e : envelopes) {
        if (e.frameType == QLatin1StringView("probe"))
            continue;
        countPublish(e.origin, targetsOf(e.channel, e.origin), kindOf(e.frameType), 1);
    }
}

void ClusterMapModel::addPublishSample(const FlowSample &sample)
{
    if (m_flowFromRedis || sample.dir != QLatin1StringView("publish"))
        return;
    const QString channel = sample.room.isEmpty() ? QStringLiteral("sb:all") : QStringLiteral("sb:room:") + sample.room;
    countPublish(sample.origin, targetsOf(channel, sample.origin), kindOf(sample.frameType), 1);
}

void ClusterMapModel::emitFlow()
{
    if (m_pendingBursts.isEmpty())
        return;
    const QList<FlowBurst> bursts = m_pendingBursts.values();
    m_pendingBursts.clear();
    Q_EMIT flowBursts(bursts);
}

} // namespace sb::console
