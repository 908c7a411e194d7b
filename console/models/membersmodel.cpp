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
    const QHash<QString, RoomMember> sessions = m_members.value(room);
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

void MembersModel::setMembers(const QString &room, const QList<RoomMember> &members)
{
    QHash<QString, RoomMember> &sessions = m_members[room];
    sessions.clear();
    for (const RoomMember &m : members)
        sessions.insert(m.sessionId, m);
    if (room == m_room)
        refresh();
}

void MembersModel::memberJoined(const QString &room, const RoomMember &member)
{
    m_members[room].insert(member.sessionId, member);
    if (room == m_room)
        refresh();
}

void MembersModel::memberLeft(const QString &room, const QString &sessionId)
{
    const auto it = m_members.find(room);
    if (it == m_members.end() || !it->remove(sessionId))
        return;
    if (room == m_room)
        refresh();
}

void MembersModel::removeRoom(const QString &room)
{
    m_members.remove(room);
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
