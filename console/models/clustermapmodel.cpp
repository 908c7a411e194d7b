#include "clustermapmodel.h"

#include "channel.h"
#include "connectionsmodel.h"
#include "instancesmodel.h"
#include "protocol.h"

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
    if (frameType == name(MessageType::Broadcast) || frameType == name(InternalType::TickerSet))
        return QStringLiteral("broadcast");
    return QStringLiteral("command");
}

} // namespace

ClusterMapModel::ClusterMapModel(const InstancesModel &instances, const ConnectionsModel &connections, QObject *parent)
    : QObject(parent)
    , m_instancesModel(instances)
    , m_connections(connections)
{
    m_instancesTimer.setObjectName(QStringLiteral("ClusterMapModel.instances"));
    m_countTimer.setObjectName(QStringLiteral("ClusterMapModel.count"));
    m_flowTimer.setObjectName(QStringLiteral("ClusterMapModel.flow"));
    m_rateTimer.setObjectName(QStringLiteral("ClusterMapModel.rate"));
    m_instancesTimer.setSingleShot(true);
    m_instancesTimer.setInterval(250);
    connect(&m_instancesTimer, &QTimer::timeout, this, &ClusterMapModel::readInstances);
    m_countTimer.setSingleShot(true);
    connect(&m_countTimer, &QTimer::timeout, this, &ClusterMapModel::countConnections);
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

    connect(&connections, &ConnectionsModel::batchApplied, this, &ClusterMapModel::onConnectionsBatch);
    const auto instancesChanged = [this] {
        if (!m_instancesTimer.isActive())
            m_instancesTimer.start();
    };
    connect(&instances, &QAbstractItemModel::rowsInserted, this, instancesChanged);
    connect(&instances, &QAbstractItemModel::rowsRemoved, this, instancesChanged);
    connect(&instances, &QAbstractItemModel::dataChanged, this, instancesChanged);
}

void ClusterMapModel::onConnectionsBatch(int added, int removed, int updated)
{
    // Arrivals and departures show within half a second, but a pass over every
    // row runs at most every two seconds (a drain is thousands of them);
    // counters and rooms (re-sent every few seconds) wait three.
    if (added == 0 && removed == 0 && updated == 0)
        return;
    qint64 delay = added > 0 || removed > 0 ? 500 : 3000;
    if (m_sinceCount.isValid())
        delay = std::max(delay, 2000 - m_sinceCount.elapsed());
    if (!m_countTimer.isActive() || m_countTimer.remainingTime() > delay)
        m_countTimer.start(static_cast<int>(delay));
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
    countConnections();
}

quint64 ClusterMapModel::instanceBit(const QString &instance)
{
    qsizetype index = m_bitOrder.indexOf(instance);
    if (index < 0) {
        if (m_bitOrder.size() >= 64)
            return 0;
        m_bitOrder.append(instance);
        index = m_bitOrder.size() - 1;
    }
    return quint64(1) << index;
}

QStringList ClusterMapModel::instancesOf(quint64 bits) const
{
    QStringList out;
    for (qsizetype i = 0; i < m_bitOrder.size() && bits != 0; ++i, bits >>= 1) {
        if (bits & 1)
            out.append(m_bitOrder.at(i));
    }
    return out;
}

void ClusterMapModel::countConnections()
{
    m_countTimer.stop();
    m_sinceCount.start();
    m_counts.clear();
    m_roomInstances.clear();
    m_clientIndexStale = true;
    int participants = 0;
    int sticky = 0;
    // Consecutive rows mostly belong to few instances: remember the last one.
    QString lastInstance;
    Counts *k = nullptr;
    quint64 bit = 0;
    for (int row = 0; row < m_connections.rowCount(); ++row) {
        const ConnectionInfo &c = m_connections.connectionAt(row);
        if (!k || c.instance != lastInstance) {
            lastInstance = c.instance;
            k = &m_counts[c.instance];
            bit = instanceBit(c.instance);
        }
        if (c.role == QLatin1StringView("operator")) {
            ++k->operators;
            continue;
        }
        ++k->participants;
        ++participants;
        if (c.sticky)
            ++sticky;
        else
            ++k->misses;
        if (c.rooms.isEmpty())
            ++k->noRoom;
        for (const QString &room : c.rooms) {
            ++k->rooms[room];
            m_roomInstances[room] |= bit;
        }
    }
    m_totalParticipants = participants;
    m_stickyRatio = participants > 0 ? double(sticky) / participants : 1.0;
    readInstances();
}

void ClusterMapModel::readInstances()
{
    m_instancesTimer.stop();
    QHash<QString, double> publishRates;
    for (const Instance &i : std::as_const(m_instances))
        publishRates.insert(i.id, i.publishPerS);

    QList<Instance> out;
    out.reserve(m_instancesModel.rowCount());
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
        const auto counted = m_counts.constFind(i.id);
        if (counted != m_counts.cend()) {
            i.participants = counted->participants;
            i.operators = counted->operators;
            i.stickyMisses = counted->misses;
            i.roomCount = static_cast<int>(counted->rooms.size());
            QList<RoomGroup> rooms;
            rooms.reserve(counted->rooms.size() + 1);
            for (auto it = counted->rooms.cbegin(); it != counted->rooms.cend(); ++it)
                rooms.append({it.key(), it.value()});
            const auto byMembers = [](const RoomGroup &a, const RoomGroup &b) {
                return a.members != b.members ? a.members > b.members : a.room < b.room;
            };
            // Only the largest few are drawn: no need to sort them all.
            const qsizetype keep = std::min<qsizetype>(rooms.size(), m_maxRooms);
            std::partial_sort(rooms.begin(), rooms.begin() + keep, rooms.end(), byMembers);
            rooms.resize(keep);
            if (counted->noRoom > 0)
                rooms.append({QString(), counted->noRoom});
            i.rooms = rooms;
        }
        m_totalConnections += i.live ? i.connections : 0;
        out.append(i);
    }
    m_instances = out;
    Q_EMIT changed();
}

QStringList ClusterMapModel::targetsOf(const QString &channel, const QString &origin)
{
    // Channel names after the prefix (docs/protocol.md, backplane channels).
    const qsizetype colon = channel.indexOf(QLatin1Char(':'));
    const QString name = colon >= 0 ? channel.mid(colon + 1) : channel;
    if (name.startsWith(QLatin1StringView("backplane:probe:")))
        return {}; // an instance talking to itself once a second
    const Channel parsed = Channel::parse(name);
    QStringList targets;
    switch (parsed.kind) {
    case Channel::Kind::Room:
        targets = instancesOf(m_roomInstances.value(parsed.name));
        break;
    case Channel::Kind::Client:
        if (m_clientIndexStale) {
            // Rare (todo changes): built on first need after each count.
            m_clientInstances.clear();
            for (int row = 0; row < m_connections.rowCount(); ++row) {
                const ConnectionInfo &c = m_connections.connectionAt(row);
                m_clientInstances[c.clientId] |= instanceBit(c.instance);
            }
            m_clientIndexStale = false;
        }
        targets = instancesOf(m_clientInstances.value(parsed.name));
        break;
    case Channel::Kind::Reply:
        targets.append(parsed.name);
        break;
    default: // all, cluster: every instance on this backplane
        for (const Instance &i : m_instances) {
            if (i.live && i.sharedBackplane)
                targets.append(i.id);
        }
        break;
    }
    targets.removeAll(origin);
    targets.sort();
    return targets;
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
