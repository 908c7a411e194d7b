#include "connectionsmodel.h"

#include <QDateTime>
#include <QLocale>
#include <QSet>

#include <algorithm>
#include <climits>

namespace sb::console {

ConnectionsModel::ConnectionsModel(QObject *parent)
    : QAbstractTableModel(parent)
{
    m_tick.setObjectName(QStringLiteral("ConnectionsModel.tick"));
    m_tick.setInterval(250);
    m_tick.setSingleShot(true);
    connect(&m_tick, &QTimer::timeout, this, &ConnectionsModel::applyNextBatch);
}

int ConnectionsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int ConnectionsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ConnectionsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case User: return tr("User");
    case Role: return tr("Role");
    case ClientId: return tr("Client ID");
    case Instance: return tr("Instance");
    case Rooms: return tr("Rooms");
    case Remote: return tr("Remote");
    case ConnectedSince: return tr("Since");
    case FramesIn: return tr("In");
    case FramesOut: return tr("Out");
    case Queue: return tr("Queue");
    case Sticky: return tr("Sticky");
    default: return {};
    }
}

QVariant ConnectionsModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const ConnectionInfo &c = m_rows.at(index.row());
    switch (role) {
    case SessionIdRole: return c.sessionId;
    case ClientIdRole: return c.clientId;
    case InstanceRole: return c.instance;
    case RoomsRole: return c.rooms;
    case Qt::ToolTipRole:
        return tr("session %1\nclient %2").arg(c.sessionId, c.clientId);
    case Qt::TextAlignmentRole:
        if (index.column() == FramesIn || index.column() == FramesOut || index.column() == Queue)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case SortRole:
        switch (index.column()) {
        case ConnectedSince: return c.connectedAt;
        case FramesIn: return c.framesIn;
        case FramesOut: return c.framesOut;
        case Queue: return c.queueBytes;
        case Sticky: return c.sticky;
        default: return data(index, Qt::DisplayRole);
        }
    case Qt::DisplayRole:
        switch (index.column()) {
        case User: return c.user;
        case Role: return c.role;
        case ClientId: return c.clientId;
        case Instance: return c.instance;
        case Rooms: return c.rooms.join(QStringLiteral(", "));
        case Remote: return c.remote;
        case ConnectedSince:
            return QDateTime::fromMSecsSinceEpoch(c.connectedAt).toString(QStringLiteral("HH:mm:ss"));
        case FramesIn: return c.framesIn;
        case FramesOut: return c.framesOut;
        case Queue: return QLocale().formattedDataSize(c.queueBytes, 0);
        case Sticky: return c.sticky ? tr("yes") : tr("no (miss)");
        default: return {};
        }
    default:
        return {};
    }
}

void ConnectionsModel::enqueue(Change change)
{
    m_queue.append(std::move(change));
    if (!m_tick.isActive())
        m_tick.start();
}

void ConnectionsModel::applySnapshot(const QString &instanceId, const QList<ConnectionInfo> &connections)
{
    enqueue({Change::Kind::Snapshot, instanceId, connections});
}

void ConnectionsModel::addConnection(const ConnectionInfo &connection)
{
    enqueue({Change::Kind::Open, connection.sessionId, {connection}});
}

void ConnectionsModel::removeConnection(const QString &sessionId)
{
    enqueue({Change::Kind::Close, sessionId, {}});
}

void ConnectionsModel::clearInstance(const QString &instanceId)
{
    enqueue({Change::Kind::ClearInstance, instanceId, {}});
}

void ConnectionsModel::flush()
{
    m_tick.stop();
    if (!m_queue.isEmpty())
        apply(std::exchange(m_queue, {}));
}

void ConnectionsModel::applyNextBatch()
{
    qsizetype take = 0;
    while (take < m_queue.size() && m_queue.at(take).kind != Change::Kind::Snapshot)
        ++take;
    take = std::min(take + 1, m_queue.size());
    const QList<Change> batch = m_queue.first(take);
    m_queue.remove(0, take);
    if (!m_queue.isEmpty())
        m_tick.start();
    if (!batch.isEmpty())
        apply(batch);
}

void ConnectionsModel::apply(const QList<Change> &queue)
{

    // Replay the batch into the final state of each touched session: the
    // connection to upsert (pointing into `queue`, which outlives this
    // function's work), or nullptr to remove. No copies, one pass over the
    // table per snapshot.
    QHash<QString, const ConnectionInfo *> outcome;
    qsizetype expected = 0;
    for (const Change &change : queue)
        expected += std::max<qsizetype>(1, change.connections.size());
    outcome.reserve(expected);
    // Every session of `instance` not in `keep` goes, whether it is a row or
    // came earlier in this batch (`earlier` entries of the outcome).
    const auto dropInstance = [&](const QString &instance, const QList<ConnectionInfo> &keep, qsizetype earlier) {
        const auto kept = [&keep](const ConnectionInfo *c) {
            return c >= keep.constData() && c < keep.constData() + keep.size();
        };
        for (const ConnectionInfo &row : std::as_const(m_rows)) {
            if (row.instance != instance)
                continue;
            const auto o = outcome.constFind(row.sessionId);
            if (o == outcome.cend())
                outcome.insert(row.sessionId, nullptr);
        }
        if (earlier == 0)
            return;
        for (auto it = outcome.begin(); it != outcome.end(); ++it) {
            if (*it && (*it)->instance == instance && !kept(*it))
                *it = nullptr;
        }
    };
    for (const Change &change : queue) {
        switch (change.kind) {
        case Change::Kind::Open:
            outcome.insert(change.key, &change.connections.first());
            break;
        case Change::Kind::Close:
            outcome.insert(change.key, nullptr);
            break;
        case Change::Kind::ClearInstance:
        case Change::Kind::Snapshot: {
            const qsizetype earlier = outcome.size();
            for (const ConnectionInfo &c : change.connections)
                outcome.insert(c.sessionId, &c);
            dropInstance(change.key, change.connections, earlier);
            break;
        }
        }
    }

    // Removals, highest rows first, one call per contiguous block.
    QStringList removedIds;
    QList<int> removeRows;
    QList<ConnectionInfo> inserts;
    int firstChanged = INT_MAX;
    int lastChanged = -1;
    for (auto it = outcome.cbegin(); it != outcome.cend(); ++it) {
        const int row = rowOf(it.key());
        const ConnectionInfo *c = it.value();
        if (!c) {
            if (row >= 0) {
                removeRows.append(row);
                removedIds.append(it.key());
            }
        } else if (row >= 0) {
            if (!(m_rows[row] == *c)) {
                m_rows[row] = *c;
                firstChanged = std::min(firstChanged, row);
                lastChanged = std::max(lastChanged, row);
            }
        } else {
            inserts.append(*c);
        }
    }
    int updated = lastChanged >= 0 ? lastChanged - firstChanged + 1 : 0;
    if (lastChanged >= 0)
        Q_EMIT dataChanged(index(firstChanged, 0), index(lastChanged, ColumnCount - 1));

    std::sort(removeRows.begin(), removeRows.end(), std::greater<int>());
    for (qsizetype i = 0; i < removeRows.size();) {
        const int last = removeRows[i];
        int first = last;
        qsizetype j = i + 1;
        while (j < removeRows.size() && removeRows[j] == first - 1)
            first = removeRows[j++];
        beginRemoveRows({}, first, last);
        for (int row = first; row <= last; ++row)
            m_freeSlots.push_back(m_slotOfRow.at(row));
        m_rows.remove(first, last - first + 1);
        m_slotOfRow.remove(first, last - first + 1);
        endRemoveRows();
        i = j;
    }
    if (!removeRows.isEmpty()) {
        for (const QString &id : std::as_const(removedIds))
            m_slotOfSession.remove(id);
        for (const int slot : std::as_const(m_freeSlots))
            m_rowOfSlot[static_cast<std::size_t>(slot)] = -1;
        // Only the rows after the first removed one moved: plain integers, no hashing.
        for (int row = removeRows.constLast(); row < m_rows.size(); ++row)
            m_rowOfSlot[static_cast<std::size_t>(m_slotOfRow.at(row))] = row;
    }

    if (!inserts.isEmpty()) {
        std::sort(inserts.begin(), inserts.end(),
                  [](const ConnectionInfo &a, const ConnectionInfo &b) { return a.connectedAt < b.connectedAt; });
        const int first = static_cast<int>(m_rows.size());
        beginInsertRows({}, first, first + static_cast<int>(inserts.size()) - 1);
        for (const ConnectionInfo &c : std::as_const(inserts)) {
            int slot;
            if (m_freeSlots.empty()) {
                slot = static_cast<int>(m_rowOfSlot.size());
                m_rowOfSlot.push_back(-1);
            } else {
                slot = m_freeSlots.back();
                m_freeSlots.pop_back();
            }
            m_slotOfSession.insert(c.sessionId, slot);
            m_rowOfSlot[static_cast<std::size_t>(slot)] = static_cast<int>(m_rows.size());
            m_slotOfRow.append(slot);
            m_rows.append(c);
        }
        endInsertRows();
    }
    Q_EMIT batchApplied(static_cast<int>(inserts.size()), static_cast<int>(removeRows.size()), updated);
}

int ConnectionsModel::rowOf(const QString &sessionId) const
{
    const int slot = m_slotOfSession.value(sessionId, -1);
    return slot < 0 ? -1 : m_rowOfSlot[static_cast<std::size_t>(slot)];
}

std::optional<ConnectionInfo> ConnectionsModel::connection(const QString &sessionId) const
{
    const int row = rowOf(sessionId);
    if (row < 0)
        return std::nullopt;
    return m_rows.at(row);
}

QStringList ConnectionsModel::knownRooms() const
{
    QSet<QString> rooms;
    for (const ConnectionInfo &c : m_rows) {
        for (const QString &r : c.rooms)
            rooms.insert(r);
    }
    QStringList out(rooms.cbegin(), rooms.cend());
    out.sort();
    return out;
}

QStringList ConnectionsModel::knownClients() const
{
    QSet<QString> clients;
    for (const ConnectionInfo &c : m_rows) {
        if (c.role != QLatin1StringView("operator"))
            clients.insert(c.clientId);
    }
    QStringList out(clients.cbegin(), clients.cend());
    out.sort();
    return out;
}

} // namespace sb::console
