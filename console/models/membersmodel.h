#pragma once

// Who is in the room being shown, one row per user with the instances their
// sessions are on: seeded by the join answer, kept current by presence events.
// Owned by ParticipantSession.

#include "services/participanttypes.h"

#include <QAbstractListModel>
#include <QHash>
#include <QList>

namespace sb::console {

class MembersModel final : public QAbstractListModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MembersModel)
public:
    enum Roles { UserRole = Qt::UserRole + 1, SessionsRole };

    explicit MembersModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;

    void setRoom(const QString &room);
    void setMembers(const QString &room, const QList<RoomMember> &members);
    void memberJoined(const QString &room, const RoomMember &member);
    void memberLeft(const QString &room, const QString &sessionId);
    void removeRoom(const QString &room);
    void setOwnSession(const QString &sessionId) { m_ownSession = sessionId; }

    QStringList users(const QString &room) const;

private:
    struct UserRow
    {
        QString user;
        QList<RoomMember> sessions;
    };
    QList<UserRow> rowsFor(const QString &room) const;
    void refresh();

    QHash<QString, QHash<QString, RoomMember>> m_members; // room -> session id -> member
    QList<UserRow> m_rows;                                  // the shown room, grouped by user
    QString m_room;
    QString m_ownSession;
};

} // namespace sb::console
