#pragma once

// The participant's rooms with unread counts: a room's count grows with each
// message that arrives while another room is shown and resets when it is
// shown. Owned by ParticipantSession.

#include <QAbstractListModel>
#include <QList>

namespace sb::console {

class RoomModel final : public QAbstractListModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RoomModel)
public:
    enum Roles { NameRole = Qt::UserRole + 1, UnreadRole, JoinedRole };

    explicit RoomModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;

    void addRoom(const QString &room);
    void removeRoom(const QString &room);
    void setJoined(const QString &room, bool joined);
    void setAllJoined(bool joined);
    void addUnread(const QString &room, int count);
    void setCurrentRoom(const QString &room);
    QString currentRoom() const { return m_current; }
    int unread(const QString &room) const;
    int rowOf(const QString &room) const;
    QString roomAt(int row) const;
    QStringList rooms() const;

private:
    struct Row
    {
        QString name;
        int unread = 0;
        bool joined = false;
    };
    void changed(int row);

    QList<Row> m_rows;
    QString m_current;
};

} // namespace sb::console
