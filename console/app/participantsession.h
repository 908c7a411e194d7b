#pragma once

// The participant client without its window: the ParticipantClient service
// and the models it feeds (rooms with unread counts, the shown room's
// messages and members, todos), wired together here. The window borrows it
// and calls its methods; it never sees the socket. Owned by main() or a test.

#include "models/membersmodel.h"
#include "models/messagesmodel.h"
#include "models/roommodel.h"
#include "models/todomodel.h"
#include "services/participantclient.h"

#include <QObject>

namespace sb::console {

class ParticipantSession final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ParticipantSession)
public:
    explicit ParticipantSession(QObject *parent = nullptr);
    explicit ParticipantSession(const ParticipantClient::Options &options, QObject *parent = nullptr);

    ParticipantClient &client() { return m_client; }
    RoomModel &rooms() { return m_rooms; }
    MessagesModel &messages() { return m_messages; }
    MembersModel &members() { return m_members; }
    TodoModel &todos() { return m_todos; }

    // Signs in as `user` through `server` (an instance or the load balancer)
    // with the client_id kept in QSettings (made on first use) unless one was
    // set on the client, remembers server and user for next time, and joins
    // `rooms` (none given: the rooms of last time, else lobby).
    void signIn(const QUrl &server, const QString &user, const QStringList &rooms = {});
    void joinRoom(const QString &room);
    void leaveRoom(const QString &room);
    void setCurrentRoom(const QString &room);
    QString currentRoom() const { return m_rooms.currentRoom(); }
    // The next page of the current room's members (big rooms list 200 at first).
    void loadMoreMembers();
    QString sendToCurrentRoom(const QString &text);

Q_SIGNALS:
    void currentRoomChanged(const QString &room);
    // No more history before what is shown.
    void historyExhausted(const QString &room, bool exhausted);

private:
    void wire();

    ParticipantClient m_client;
    RoomModel m_rooms;
    MessagesModel m_messages;
    MembersModel m_members;
    TodoModel m_todos;
};

} // namespace sb::console
