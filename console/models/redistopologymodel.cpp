#include "redistopologymodel.h"

#include <QColor>
#include <QSet>

#include <algorithm>

namespace sb::console {

RedisTopologyModel::RedisTopologyModel(QObject *parent)
    : QAbstractItemModel(parent)
{
}

// Top-level rows carry internal id 0; a replica row carries its master's row + 1.
QModelIndex RedisTopologyModel::index(int row, int column, const QModelIndex &parent) const
{
    if (column < 0 || column >= ColumnCount || row < 0)
        return {};
    if (!parent.isValid())
        return row < m_groups.size() ? createIndex(row, column, quintptr(0)) : QModelIndex();
    if (parent.internalId() != 0 || parent.row() >= m_groups.size())
        return {};
    if (row >= m_groups.at(parent.row()).children.size())
        return {};
    return createIndex(row, column, quintptr(parent.row() + 1));
}

QModelIndex RedisTopologyModel::parent(const QModelIndex &child) const
{
    if (!child.isValid() || child.internalId() == 0)
        return {};
    return createIndex(static_cast<int>(child.internalId() - 1), 0, quintptr(0));
}

int RedisTopologyModel::rowCount(const QModelIndex &parent) const
{
    if (!parent.isValid())
        return static_cast<int>(m_groups.size());
    if (parent.internalId() != 0 || parent.column() != 0 || parent.row() >= m_groups.size())
        return 0;
    return static_cast<int>(m_groups.at(parent.row()).children.size());
}

int RedisTopologyModel::columnCount(const QModelIndex &) const
{
    return ColumnCount;
}

const RedisNodeInfo *RedisTopologyModel::nodeAt(const QModelIndex &index) const
{
    if (!index.isValid())
        return nullptr;
    if (index.internalId() == 0)
        return index.row() < m_groups.size() ? &m_groups.at(index.row()).node : nullptr;
    const qsizetype group = static_cast<qsizetype>(index.internalId() - 1);
    if (group >= m_groups.size() || index.row() >= m_groups.at(group).children.size())
        return nullptr;
    return &m_groups.at(group).children.at(index.row());
}

QVariant RedisTopologyModel::data(const QModelIndex &index, int role) const
{
    const RedisNodeInfo *node = nodeAt(index);
    if (!node)
        return {};
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case Address: return node->address;
        case Role:
            if (node->role == RedisNodeInfo::Role::Replica && index.internalId() == 0 && !node->masterAddress.isEmpty())
                return tr("replica of %1").arg(node->masterAddress);
            return RedisNodeInfo::roleName(node->role);
        case Slots: {
            if (node->slotRanges.isEmpty())
                return node->migratingSlots > 0 ? tr("%1 migrating").arg(node->migratingSlots) : QString();
            QString text = tr("%1 (%2)").arg(node->slotsText()).arg(node->slotCount());
            if (node->migratingSlots > 0)
                text += tr(", %1 migrating").arg(node->migratingSlots);
            return text;
        }
        case State: return node->state;
        case UsedBy: return usedBy(node->address).join(QStringLiteral(", "));
        }
        return {};
    case Qt::ToolTipRole: return node->toString();
    case Qt::ForegroundRole:
        if (index.column() == State)
            return node->healthy ? QColor(0x1b, 0x7f, 0x3b) : QColor(0xc0, 0x1c, 0x28);
        return {};
    case HealthyRole: return node->healthy;
    case RoleRole: return RedisNodeInfo::roleName(node->role);
    default: return {};
    }
}

QVariant RedisTopologyModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Address: return tr("Node");
    case Role: return tr("Role");
    case Slots: return tr("Hash slots");
    case State: return tr("Link");
    case UsedBy: return tr("Used by");
    }
    return {};
}

QList<RedisTopologyModel::Group> RedisTopologyModel::build(const RedisTopology &topology) const
{
    QList<Group> groups;
    QSet<QString> placed;
    for (const RedisNodeInfo &m : topology.nodes) {
        if (m.role != RedisNodeInfo::Role::Master)
            continue;
        QList<RedisNodeInfo> replicas = topology.replicasOf(m.address);
        std::sort(replicas.begin(), replicas.end(),
                  [](const RedisNodeInfo &a, const RedisNodeInfo &b) { return a.address < b.address; });
        groups.append({m, replicas});
        placed.insert(m.address);
    }
    // A replica whose master is not listed (it is gone, or not known yet) stands alone.
    for (const RedisNodeInfo &r : topology.nodes) {
        if (r.role == RedisNodeInfo::Role::Replica && !placed.contains(r.masterAddress))
            groups.append({r, {}});
    }
    for (const RedisNodeInfo &s : topology.nodes) {
        if (s.role == RedisNodeInfo::Role::Sentinel)
            groups.append({s, {}});
    }
    return groups;
}

bool RedisTopologyModel::sameShape(const QList<Group> &a, const QList<Group> &b)
{
    if (a.size() != b.size())
        return false;
    for (qsizetype i = 0; i < a.size(); ++i) {
        if (a.at(i).node.address != b.at(i).node.address || a.at(i).node.role != b.at(i).node.role
            || a.at(i).children.size() != b.at(i).children.size())
            return false;
        for (qsizetype j = 0; j < a.at(i).children.size(); ++j) {
            if (a.at(i).children.at(j).address != b.at(i).children.at(j).address)
                return false;
        }
    }
    return true;
}

void RedisTopologyModel::setTopology(const RedisTopology &topology)
{
    QList<Group> groups = build(topology);
    if (!sameShape(groups, m_groups)) {
        beginResetModel();
        m_topology = topology;
        m_groups = std::move(groups);
        endResetModel();
    } else {
        m_topology = topology;
        m_groups = std::move(groups);
        usesChanged(); // every row's data, in one range per level
    }
    Q_EMIT summaryChanged();
}

void RedisTopologyModel::usesChanged()
{
    if (m_groups.isEmpty())
        return;
    Q_EMIT dataChanged(index(0, 0), index(static_cast<int>(m_groups.size()) - 1, ColumnCount - 1));
    for (int g = 0; g < m_groups.size(); ++g) {
        const int n = static_cast<int>(m_groups.at(g).children.size());
        if (n > 0) {
            const QModelIndex parent = index(g, 0);
            Q_EMIT dataChanged(index(0, 0, parent), index(n - 1, ColumnCount - 1, parent));
        }
    }
}

void RedisTopologyModel::setInstanceUse(const QString &instanceId, const QString &backplaneKind,
                                        const QString &redisMaster)
{
    Use use;
    use.kind = backplaneKind;
    for (const QString &m : redisMaster.split(QLatin1Char(','), Qt::SkipEmptyParts))
        use.masters.append(normalizedHostPort(m.trimmed()));
    use.masters.sort();
    const auto old = m_uses.constFind(instanceId);
    if (old != m_uses.constEnd() && old->kind == use.kind && old->masters == use.masters)
        return;
    m_uses.insert(instanceId, use);
    usesChanged();
}

void RedisTopologyModel::removeInstance(const QString &instanceId)
{
    if (m_uses.remove(instanceId))
        usesChanged();
}

void RedisTopologyModel::clear()
{
    beginResetModel();
    m_topology = {};
    m_groups.clear();
    endResetModel();
    Q_EMIT summaryChanged();
}

QStringList RedisTopologyModel::masterAddresses() const
{
    QStringList out;
    for (const Group &g : m_groups) {
        if (g.node.role == RedisNodeInfo::Role::Master)
            out.append(g.node.address);
    }
    return out;
}

QStringList RedisTopologyModel::replicaAddresses(const QString &masterAddress) const
{
    QStringList out;
    for (const Group &g : m_groups) {
        if (g.node.role == RedisNodeInfo::Role::Master && g.node.address == masterAddress) {
            for (const RedisNodeInfo &r : g.children)
                out.append(r.address);
        }
    }
    return out;
}

QStringList RedisTopologyModel::usedBy(const QString &address) const
{
    const QString wanted = normalizedHostPort(address);
    QStringList ids;
    for (auto it = m_uses.constBegin(); it != m_uses.constEnd(); ++it) {
        if (it->masters.contains(wanted))
            ids.append(it.key());
    }
    ids.sort();
    return ids;
}

QString RedisTopologyModel::summary() const
{
    if (m_topology.kind.isEmpty())
        return m_topology.error.isEmpty() ? tr("Topology not read yet.") : m_topology.error;
    int masters = 0;
    int replicas = 0;
    int sentinels = 0;
    int unhealthy = 0;
    int served = 0;
    for (const RedisNodeInfo &n : m_topology.nodes) {
        masters += n.role == RedisNodeInfo::Role::Master && n.healthy ? 1 : 0;
        replicas += n.role == RedisNodeInfo::Role::Replica ? 1 : 0;
        sentinels += n.role == RedisNodeInfo::Role::Sentinel ? 1 : 0;
        unhealthy += n.healthy ? 0 : 1;
        if (n.role == RedisNodeInfo::Role::Master && n.healthy)
            served += n.slotCount();
    }
    QString text = m_topology.kind == QLatin1StringView("cluster") ? tr("Redis Cluster")
                   : m_topology.kind == QLatin1StringView("sentinel") ? tr("Redis Sentinel")
                                                                      : tr("One Redis");
    const auto count = [](int n, const QString &one, const QString &many) {
        return n == 1 ? one : many.arg(n);
    };
    text += QStringLiteral(": ") + count(masters, tr("1 master"), tr("%1 masters")) + QStringLiteral(", ")
            + count(replicas, tr("1 replica"), tr("%1 replicas"));
    if (sentinels > 0)
        text += QStringLiteral(", ") + count(sentinels, tr("1 Sentinel"), tr("%1 Sentinels"));
    if (m_topology.kind == QLatin1StringView("cluster"))
        text += tr("; %1 of 16384 slots served").arg(served);
    if (unhealthy > 0)
        text += QStringLiteral("; ")
                + count(unhealthy, tr("1 node failing or unreachable"), tr("%1 nodes failing or unreachable"));
    if (!m_topology.source.isEmpty())
        text += tr(" (read from %1)").arg(m_topology.source);
    if (!m_topology.error.isEmpty())
        text += QStringLiteral(" — ") + m_topology.error;
    return text;
}

} // namespace sb::console
