#include "membersmodel.h"

#include <QFont>
#include <QMap>
#include <QSet>

namespace sb::console {

MembersModel::MembersModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

int MembersModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

QVariant MembersModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const UserRow &r = m_rows.at(index.row());
    bool mine = false;
    QStringList instances;
    for (const RoomMember &m : r.sessions) {
        mine = mine || m.sessionId == m_ownSession;
        if (!instances.contains(m.instance))
            instances.append(m.instance);
    }
    switch (role) {
    case UserRole: return r.user;
    case SessionsRole: return static_cast<int>(r.sessions.size());
    case Qt::DisplayRole:
        if (r.sessions.size() > 1)
            return tr("%1  · %2 (%3 sessions)")
                .arg(r.user, instances.join(QStringLiteral(", ")))
                .arg(r.sessions.size());
        return QStringLiteral("%1  · %2").arg(r.user, instances.join(QStringLiteral(", ")));
    case Qt::FontRole:
        if (mine) {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        return {};
    default:
        return {};
    }
}

QList<MembersModel::UserRow> MembersModel::rowsFor(const QString &room) const
{
    QMap<QString, UserRow> byUser; // sorted by name
    const QHash<QString, RoomMember> sessions = m_rooms.value(room).sessions;
    for (const RoomMember &m : sessions) {
        UserRow &row = byUser[m.user.toLower() + QLatin1Char('\n') + m.user];
        row.user = m.user;
        row.sessions.append(m);
    }
    return byUser.values();
}

void MembersModel::refresh()
{
    beginResetModel();
    m_rows = rowsFor(m_room);
    endResetModel();
}

void MembersModel::setRoom(const QString &room)
{
    m_room = room;
    refresh();
}

void MembersModel::setMembers(const QString &room, const QList<RoomMember> &members, qint64 count)
{
    RoomMembers &r = m_rooms[room];
    r.sessions.clear();
    for (const RoomMember &m : members)
        r.sessions.insert(m.sessionId, m);
    r.count = qMax<qint64>(count, r.sessions.size());
    r.complete = r.count <= r.sessions.size();
    r.cursor = members.isEmpty() ? QString() : members.last().sessionId;
    changed(room);
}

void MembersModel::addPage(const QString &room, const QList<RoomMember> &members, const QString &next)
{
    const auto it = m_rooms.find(room);
    if (it == m_rooms.end())
        return;
    for (const RoomMember &m : members)
        it->sessions.insert(m.sessionId, m);
    if (!members.isEmpty())
        it->cursor = members.last().sessionId;
    it->complete = next.isEmpty();
    it->count = qMax<qint64>(it->count, it->sessions.size());
    changed(room);
}

void MembersModel::memberJoined(const QString &room, const RoomMember &member)
{
    RoomMembers &r = m_rooms[room];
    if (r.sessions.contains(member.sessionId))
        return;
    if (r.covers(member.sessionId))
        r.sessions.insert(member.sessionId, member);
    ++r.count;
    changed(room);
}

void MembersModel::memberLeft(const QString &room, const QString &sessionId)
{
    const auto it = m_rooms.find(room);
    if (it == m_rooms.end())
        return;
    it->sessions.remove(sessionId);
    it->count = qMax<qint64>(it->count - 1, it->sessions.size());
    changed(room);
}

void MembersModel::applyBatch(const QString &room, const QList<RoomMember> &joined, const QList<RoomMember> &left,
                              qint64 count)
{
    RoomMembers &r = m_rooms[room];
    for (const RoomMember &m : left)
        r.sessions.remove(m.sessionId);
    for (const RoomMember &m : joined) {
        if (r.covers(m.sessionId))
            r.sessions.insert(m.sessionId, m);
    }
    r.count = qMax<qint64>(count, r.sessions.size());
    // Members a truncated batch left out are found by paging on.
    r.complete = r.complete && r.count <= r.sessions.size();
    changed(room);
}

void MembersModel::removeRoom(const QString &room)
{
    m_rooms.remove(room);
    changed(room);
}

bool MembersModel::hasMore(const QString &room) const
{
    const auto it = m_rooms.constFind(room);
    return it != m_rooms.cend() && !it->complete;
}

void MembersModel::changed(const QString &room)
{
    Q_EMIT countChanged(room, memberCount(room));
    if (room == m_room)
        refresh();
}

QStringList MembersModel::users(const QString &room) const
{
    QStringList out;
    for (const UserRow &r : rowsFor(room))
        out.append(r.user);
    return out;
}

} // namespace sb::console
