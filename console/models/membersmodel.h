#pragma once

// Who is in the room being shown, one row per user with the instances their
// sessions are on: seeded by the join answer, kept current by presence events
// (one by one, or batched in big rooms), and grown a page at a time on demand.
// A big room lists the members up to the last page loaded, by session id;
// memberCount() is the whole room. Owned by ParticipantSession.

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
    // The join answer: the first members by session id and the room's size.
    void setMembers(const QString &room, const QList<RoomMember> &members, qint64 count);
    // A page of the `members` request; `next` empty: no more.
    void addPage(const QString &room, const QList<RoomMember> &members, const QString &next);
    void memberJoined(const QString &room, const RoomMember &member);
    void memberLeft(const QString &room, const QString &sessionId);
    void applyBatch(const QString &room, const QList<RoomMember> &joined, const QList<RoomMember> &left, qint64 count);
    void removeRoom(const QString &room);

    qint64 memberCount(const QString &room) const { return m_rooms.value(room).count; }
    // Members not listed yet, to be loaded from cursor() on.
    bool hasMore(const QString &room) const;
    QString cursor(const QString &room) const { return m_rooms.value(room).cursor; }
    void setOwnSession(const QString &sessionId) { m_ownSession = sessionId; }

    QStringList users(const QString &room) const;

Q_SIGNALS:
    void countChanged(const QString &room, qint64 count);

private:
    struct UserRow
    {
        QString user;
        QList<RoomMember> sessions;
    };
    QList<UserRow> rowsFor(const QString &room) const;
    void refresh();

    struct RoomMembers
    {
        QHash<QString, RoomMember> sessions; // session id -> member
        qint64 count = 0;                    // the whole room
        QString cursor;                      // last session id of the pages loaded
        bool complete = true;                // every page loaded

        // The listed members are those up to the cursor, in session id order:
        // a joiner past it is left to the page that will reach it.
        bool covers(const QString &sessionId) const { return complete || sessionId <= cursor; }
    };
    void changed(const QString &room);

    QHash<QString, RoomMembers> m_rooms;
    QList<UserRow> m_rows;                                  // the shown room, grouped by user
    QString m_room;
    QString m_ownSession;
};

} // namespace sb::console
