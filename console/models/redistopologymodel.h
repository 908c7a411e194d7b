#pragma once

// The Redis topology as a tree: each master (with its hash slots on a Redis
// Cluster) and, under it, its replicas; then the Sentinels, if any. Columns
// say where each node is, its role, its slots, how its link stands, and which
// instances use it (from their /api/instance `redis_master`: the master they
// named; a cluster instance uses every master). Fed by RedisMonitor's
// topologyRead (every few seconds and right after a failover) and by the
// instances' snapshots; a refresh that keeps the tree's shape changes data in
// place, so expanded rows and the selection stay. Owned by OperatorSession.

#include "services/redistopology.h"

#include <QAbstractItemModel>
#include <QHash>
#include <QStringList>

namespace sb::console {

class RedisTopologyModel final : public QAbstractItemModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RedisTopologyModel)
public:
    enum Column { Address, Role, Slots, State, UsedBy, ColumnCount };
    enum Roles { HealthyRole = Qt::UserRole + 1, RoleRole };

    explicit RedisTopologyModel(QObject *parent = nullptr);

    QModelIndex index(int row, int column, const QModelIndex &parent = {}) const override;
    QModelIndex parent(const QModelIndex &child) const override;
    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void setTopology(const RedisTopology &topology);
    // What instance `instanceId` says it uses (`backplane_kind`, `redis_master`).
    void setInstanceUse(const QString &instanceId, const QString &backplaneKind, const QString &redisMaster);
    void removeInstance(const QString &instanceId);
    void clear();

    const RedisTopology &topology() const { return m_topology; }
    // The master rows' addresses, top to bottom.
    QStringList masterAddresses() const;
    // The replicas shown under master `address`.
    QStringList replicaAddresses(const QString &masterAddress) const;
    // The instances that use the node at `address`, sorted.
    QStringList usedBy(const QString &address) const;
    // "3 masters, 3 replicas; 16384 of 16384 slots served" and the like.
    QString summary() const;

Q_SIGNALS:
    void summaryChanged();

private:
    struct Group
    {
        RedisNodeInfo node;
        QList<RedisNodeInfo> children;
    };
    const RedisNodeInfo *nodeAt(const QModelIndex &index) const;
    QList<Group> build(const RedisTopology &topology) const;
    static bool sameShape(const QList<Group> &a, const QList<Group> &b);
    void usesChanged();

    RedisTopology m_topology;
    QList<Group> m_groups;
    struct Use
    {
        QString kind;
        QStringList masters; // normalized "host:port"
    };
    QHash<QString, Use> m_uses; // by instance id
};

} // namespace sb::console
