#include "roommodel.h"

#include <QFont>
#include <QPalette>

namespace sb::console {

RoomModel::RoomModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

int RoomModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

QVariant RoomModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const Row &r = m_rows.at(index.row());
    switch (role) {
    case NameRole: return r.name;
    case UnreadRole: return r.unread;
    case JoinedRole: return r.joined;
    case Qt::DisplayRole:
        return r.unread > 0 ? QStringLiteral("#%1  (%2)").arg(r.name).arg(r.unread) : QStringLiteral("#%1").arg(r.name);
    case Qt::FontRole:
        if (r.unread > 0) {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        return {};
    case Qt::ForegroundRole:
        return r.joined ? QVariant() : QVariant(QPalette().color(QPalette::Disabled, QPalette::Text));
    case Qt::ToolTipRole:
        return r.joined ? tr("%1 unread").arg(r.unread) : tr("joining…");
    default:
        return {};
    }
}

void RoomModel::changed(int row)
{
    const QModelIndex i = index(row);
    Q_EMIT dataChanged(i, i);
}

void RoomModel::addRoom(const QString &room)
{
    if (rowOf(room) >= 0)
        return;
    // Keep rooms sorted by name.
    int row = 0;
    while (row < m_rows.size() && m_rows.at(row).name < room)
        ++row;
    beginInsertRows({}, row, row);
    m_rows.insert(row, Row{room, 0, false});
    endInsertRows();
}

void RoomModel::removeRoom(const QString &room)
{
    const int row = rowOf(room);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    endRemoveRows();
    if (m_current == room)
        m_current.clear();
}

void RoomModel::setJoined(const QString &room, bool joined)
{
    const int row = rowOf(room);
    if (row < 0 || m_rows[row].joined == joined)
        return;
    m_rows[row].joined = joined;
    changed(row);
}

void RoomModel::setAllJoined(bool joined)
{
    for (int row = 0; row < m_rows.size(); ++row)
        setJoined(m_rows.at(row).name, joined);
}

void RoomModel::addUnread(const QString &room, int count)
{
    const int row = rowOf(room);
    if (row < 0 || room == m_current || count <= 0)
        return;
    m_rows[row].unread += count;
    changed(row);
}

void RoomModel::setCurrentRoom(const QString &room)
{
    m_current = room;
    const int row = rowOf(room);
    if (row >= 0 && m_rows.at(row).unread != 0) {
        m_rows[row].unread = 0;
        changed(row);
    }
}

int RoomModel::unread(const QString &room) const
{
    const int row = rowOf(room);
    return row >= 0 ? m_rows.at(row).unread : 0;
}

int RoomModel::rowOf(const QString &room) const
{
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).name == room)
            return i;
    }
    return -1;
}

QString RoomModel::roomAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).name : QString();
}

QStringList RoomModel::rooms() const
{
    QStringList out;
    for (const Row &r : m_rows)
        out.append(r.name);
    return out;
}

} // namespace sb::console
