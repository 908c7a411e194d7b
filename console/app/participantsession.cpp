#include "participantsession.h"

#include "protocol.h"
#include "services/consolesettings.h"

namespace sb::console {

ParticipantSession::ParticipantSession(QObject *parent)
    : ParticipantSession(ParticipantClient::Options{}, parent)
{
}

ParticipantSession::ParticipantSession(const ParticipantClient::Options &options, QObject *parent)
    : QObject(parent)
    , m_client(options)
{
    wire();
}

void ParticipantSession::loadMoreMembers()
{
    const QString room = currentRoom();
    if (!room.isEmpty() && m_members.hasMore(room))
        m_client.loadMembers(room, m_members.cursor(room));
}

void ParticipantSession::wire()
{
    connect(&m_client, &ParticipantClient::welcomed, this, [this](const WelcomeInfo &welcome) {
        m_messages.setOwnClientId(welcome.clientId);
        m_members.setOwnSession(welcome.sessionId);
    });
    connect(&m_client, &ParticipantClient::stateChanged, this, [this](ParticipantClient::State state) {
        if (state != ParticipantClient::State::Connected)
            m_rooms.setAllJoined(false);
    });
    connect(&m_client, &ParticipantClient::roomJoined, this,
            [this](const QString &room, const QList<RoomMember> &members, qint64 count) {
                m_rooms.addRoom(room);
                m_rooms.setJoined(room, true);
                m_members.setMembers(room, members, count);
            });
    connect(&m_client, &ParticipantClient::membersLoaded, &m_members, &MembersModel::addPage);
    connect(&m_client, &ParticipantClient::presenceBatch, &m_members, &MembersModel::applyBatch);
    connect(&m_client, &ParticipantClient::roomLeft, this, [this](const QString &room) {
        m_rooms.removeRoom(room);
        m_messages.removeRoom(room);
        m_members.removeRoom(room);
        if (m_rooms.currentRoom().isEmpty() || m_rooms.currentRoom() == room)
            setCurrentRoom(m_rooms.roomAt(0));
    });
    connect(&m_client, &ParticipantClient::messagesArrived, this,
            [this](const QString &room, const QList<ChatMessage> &messages) {
                m_messages.appendMessages(room, messages);
                int fromOthers = 0;
                for (const ChatMessage &m : messages)
                    fromOthers += m.clientId == m_client.clientId() ? 0 : 1;
                m_rooms.addUnread(room, fromOthers);
            });
    connect(&m_client, &ParticipantClient::historyLoaded, this,
            [this](const QString &room, const QList<ChatMessage> &messages, bool replace, bool more) {
                m_messages.addHistory(room, messages, replace);
                Q_EMIT historyExhausted(room, !more);
            });
    connect(&m_client, &ParticipantClient::notice, &m_messages, &MessagesModel::addNotice);
    connect(&m_client, &ParticipantClient::pendingQueued, &m_messages, &MessagesModel::addPending);
    connect(&m_client, &ParticipantClient::pendingSent, this,
            [this](const QString &nonce, const QString &, qint64) { m_messages.confirmPending(nonce); });
    connect(&m_client, &ParticipantClient::pendingFailed, this,
            [this](const QString &nonce, const QString &, const QString &why) { m_messages.failPending(nonce, why); });
    connect(&m_client, &ParticipantClient::presenceChanged, this,
            [this](const QString &room, const RoomMember &member, bool joined) {
                if (joined)
                    m_members.memberJoined(room, member);
                else
                    m_members.memberLeft(room, member.sessionId);
            });
    connect(&m_client, &ParticipantClient::todosLoaded, &m_todos, &TodoModel::setItems);
    connect(&m_client, &ParticipantClient::todoChanged, &m_todos, &TodoModel::apply);
    connect(&m_todos, &TodoModel::updateRequested, this,
            [this](qint64 id, const std::optional<QString> &title, const std::optional<bool> &done) {
                m_client.updateTodo(id, title, done);
            });
}

void ParticipantSession::signIn(const QUrl &server, const QString &user, const QStringList &rooms)
{
    ConsoleSettings settings;
    if (m_client.clientId().isEmpty())
        m_client.setClientId(settings.clientId());
    settings.setServerUrl(server);
    settings.setUserName(user);
    QStringList wanted = rooms.isEmpty() ? settings.rooms() : rooms;
    if (wanted.isEmpty())
        wanted.append(QStringLiteral("lobby"));
    for (const QString &room : std::as_const(wanted))
        joinRoom(room);
    if (m_rooms.rowOf(wanted.first()) >= 0) // the first room is shown, as the user listed it
        setCurrentRoom(wanted.first());
    m_client.signIn(server, user);
}

void ParticipantSession::joinRoom(const QString &room)
{
    if (!isValidRoom(room)) {
        m_client.joinRoom(room); // reports the rule in plain words
        return;
    }
    m_rooms.addRoom(room);
    m_client.joinRoom(room);
    if (m_rooms.currentRoom().isEmpty())
        setCurrentRoom(room);
}

void ParticipantSession::leaveRoom(const QString &room)
{
    m_client.leaveRoom(room);
}

void ParticipantSession::setCurrentRoom(const QString &room)
{
    m_rooms.setCurrentRoom(room);
    m_messages.setRoom(room);
    m_members.setRoom(room);
    Q_EMIT currentRoomChanged(room);
}

QString ParticipantSession::sendToCurrentRoom(const QString &text)
{
    if (m_rooms.currentRoom().isEmpty())
        return {};
    return m_client.sendChat(m_rooms.currentRoom(), text);
}

} // namespace sb::console
