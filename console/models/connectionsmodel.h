#pragma once

// The table of live connections across the watched instances. Fed by the
// operator services (snapshots, opens, closes) and applies what arrived once
// per tick (250 ms): one removal per contiguous block, one insertion block and
// a single dataChanged range, so a view of 100 000 rows stays smooth. A tick
// applies at most one instance's snapshot (thousands of rows); the next one
// waits for the next tick, so resyncs of every instance at once never stall
// the window. Sorted
// and filtered through a QSortFilterProxyModel (SortRole holds raw values).
// Owned by OperatorSession.

#include "services/operatortypes.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>
#include <QTimer>

#include <optional>
#include <vector>

namespace sb::console {

class ConnectionsModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConnectionsModel)
public:
    enum Column { User, Role, ClientId, Instance, Rooms, Remote, ConnectedSince, FramesIn, FramesOut, Queue, Sticky, ColumnCount };
    enum Roles { SortRole = Qt::UserRole + 1, SessionIdRole, ClientIdRole, InstanceRole, RoomsRole };

    explicit ConnectionsModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Queued; applied at the next tick.
    void applySnapshot(const QString &instanceId, const QList<ConnectionInfo> &connections);
    void addConnection(const ConnectionInfo &connection);
    void removeConnection(const QString &sessionId);
    void clearInstance(const QString &instanceId);

    // Applies everything queued now.
    void flush();
    void setTickInterval(int ms) { m_tick.setInterval(ms); }
    qsizetype pendingChanges() const { return m_queue.size(); }

    const ConnectionInfo &connectionAt(int row) const { return m_rows.at(row); }
    std::optional<ConnectionInfo> connection(const QString &sessionId) const;
    int rowOf(const QString &sessionId) const;
    QStringList knownRooms() const;
    QStringList knownClients() const;

Q_SIGNALS:
    // After each applied batch: how many rows were added, removed, updated.
    void batchApplied(int added, int removed, int updated);

private:
    struct Change
    {
        enum class Kind { Snapshot, Open, Close, ClearInstance } kind;
        QString key; // instance id or session id
        QList<ConnectionInfo> connections;
    };
    void enqueue(Change change);
    // The tick: what is queued up to and including the first snapshot.
    void applyNextBatch();
    void apply(const QList<Change> &queue);

    QList<ConnectionInfo> m_rows;
    // session id -> slot -> row: a removal renumbers plain integers
    // (m_rowOfSlot) instead of rehashing every session after it.
    QHash<QString, int> m_slotOfSession;
    std::vector<int> m_rowOfSlot;   // -1: free
    QList<int> m_slotOfRow;         // parallel to m_rows
    std::vector<int> m_freeSlots;
    QList<Change> m_queue;
    QTimer m_tick;
};

} // namespace sb::console
