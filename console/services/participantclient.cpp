#include "participantclient.h"

#include "codec.h"
#include "plainerror.h"
#include "protocol.h"

#include <QDateTime>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QUuid>

#include <algorithm>
#include <utility>

Q_LOGGING_CATEGORY(lcParticipant, "sb.console.participant", QtInfoMsg)

namespace sb::console {

namespace {

bool isPassingChatError(const QString &code)
{
    return code == QLatin1StringView("rate_limited") || code == QLatin1StringView("backplane_unavailable")
           || code == QLatin1StringView("store_unavailable") || code == QLatin1StringView("internal")
           || code == QLatin1StringView("timeout") || code == QLatin1StringView("not_member");
}

QList<RoomMember> memberList(const QJsonValue &value)
{
    QList<RoomMember> out;
    const QJsonArray list = value.toArray();
    for (const QJsonValue &m : list)
        out.append(RoomMember::fromJson(m.toObject()));
    return out;
}

QList<ChatMessage> chatList(const QJsonValue &value)
{
    QList<ChatMessage> out;
    const QJsonArray array = value.toArray();
    out.reserve(array.size());
    for (const QJsonValue &v : array)
        out.append(ChatMessage::fromFrame(v.toObject()));
    return out;
}

} // namespace

ParticipantClient::ParticipantClient(QObject *parent)
    : ParticipantClient(Options{}, parent)
{
}

ParticipantClient::ParticipantClient(const Options &options, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_ws(WsClient::Options{64 * 1024 * 1024, true, options.httpTimeoutMs, options.requestTimeoutMs,
                             options.backoffFirstMs, options.backoffCapMs})
{
    connect(&m_ws, &WsClient::retryDue, this, &ParticipantClient::requestToken);
    connect(&m_ws, &WsClient::opened, this, [this] { m_sinceTraffic.start(); });
    connect(&m_ws, &WsClient::textReceived, this, &ParticipantClient::onText);
    connect(&m_ws, &WsClient::pong, this, [this] { m_sinceTraffic.restart(); });
    connect(&m_ws, &WsClient::gone, this, &ParticipantClient::socketGone);
    m_pingTimer.setInterval(m_options.pingIntervalMs);
    connect(&m_pingTimer, &QTimer::timeout, this, [this] {
        if (!m_ws.isOpen())
            return;
        if (m_sinceTraffic.elapsed() > 3 * m_options.pingIntervalMs) {
            scheduleReconnect(tr("The server stopped answering."));
            return;
        }
        m_ws.ping();
    });
    m_resendTimer.setSingleShot(true);
    connect(&m_resendTimer, &QTimer::timeout, this, &ParticipantClient::flushOutbox);
}

ParticipantClient::~ParticipantClient()
{
    m_running = false;
}

QString ParticipantClient::stateName(State state)
{
    switch (state) {
    case State::SignedOut: return tr("signed out");
    case State::Connecting: return tr("connecting");
    case State::Connected: return tr("connected");
    case State::Reconnecting: return tr("reconnecting");
    case State::Failed: return tr("not connected");
    }
    return {};
}

void ParticipantClient::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

void ParticipantClient::report(const QString &text)
{
    qCInfo(lcParticipant).noquote() << text;
    Q_EMIT errorText(text);
}

void ParticipantClient::signIn(const QUrl &server, const QString &user)
{
    signOut();
    if (!isValidUser(user)) {
        report(tr("A user name is 1-32 characters of A-Z, a-z, 0-9, '_', '.' and '-'."));
        setState(State::Failed);
        return;
    }
    m_server = server;
    if (m_server.scheme() == QLatin1StringView("ws"))
        m_server.setScheme(QStringLiteral("http"));
    else if (m_server.scheme() == QLatin1StringView("wss"))
        m_server.setScheme(QStringLiteral("https"));
    m_ws.setBaseUrl(m_server);
    m_user = user;
    if (m_clientId.isEmpty())
        m_clientId = QUuid::createUuid().toString(QUuid::WithoutBraces);
    m_running = true;
    m_ws.resetBackoff();
    requestToken();
}

void ParticipantClient::signOut()
{
    m_running = false;
    m_ws.cancelRetry();
    m_pingTimer.stop();
    m_ws.abortToken();
    m_ws.close();
    dropSocket();
    m_ws.failAll(tr("Signed out."));
    for (RoomState &room : m_rooms) {
        room.joined = false;
        room.joining = false;
    }
    for (Outgoing &o : m_outbox)
        o.inFlight = false;
    setState(State::SignedOut);
}

void ParticipantClient::reconnectNow()
{
    if (!m_running)
        return;
    if (m_ws.hasSocket())
        scheduleReconnect(tr("Reconnecting."), 0);
    else if (m_ws.retryPending())
        m_ws.retryIn(0);
}

void ParticipantClient::dropSocket()
{
    m_pingTimer.stop();
    m_ws.drop();
}

void ParticipantClient::scheduleReconnect(const QString &why, int delayMs)
{
    dropSocket();
    for (RoomState &room : m_rooms) {
        room.joined = false;
        room.joining = false;
        room.buffered.clear();
    }
    for (Outgoing &o : m_outbox)
        o.inFlight = false;
    m_ws.failAll(tr("The connection was lost."));
    if (!m_running)
        return;
    const int delay = delayMs >= 0 ? delayMs : m_ws.nextBackoffMs();
    qCInfo(lcParticipant).noquote() << why << "reconnecting in" << delay << "ms";
    if (!why.isEmpty())
        Q_EMIT errorText(tr("%1 Reconnecting in %2 s.").arg(why).arg((delay + 999) / 1000));
    setState(State::Reconnecting);
    Q_EMIT reconnectScheduled(delay, why);
    m_ws.retryIn(delay);
}

void ParticipantClient::requestToken()
{
    if (!m_running)
        return;
    setState(State::Connecting);
    const QJsonObject body{{QLatin1StringView("user"), m_user}, {QLatin1StringView("client_id"), m_clientId}};
    m_ws.requestToken(body, std::nullopt, [this](const WsClient::TokenAnswer &answer) {
        if (!m_running)
            return;
        if (answer.status == 200) {
            const QString token = answer.body.value(QLatin1StringView("token")).toString();
            const QString clientId = answer.body.value(QLatin1StringView("client_id")).toString();
            if (!clientId.isEmpty())
                m_clientId = clientId;
            if (token.isEmpty())
                return scheduleReconnect(tr("The server gave no sign-in token."));
            dropSocket();
            m_reconnectAfterMs = -1;
            m_ws.open(token);
            return;
        }
        if (answer.status == 400 || answer.status == 403) {
            m_running = false;
            report(plainHttpText(answer.status, answer.message));
            setState(State::Failed);
            return;
        }
        if (answer.status == 429)
            return scheduleReconnect(plainHttpText(answer.status, {}), answer.retryAfterMs);
        scheduleReconnect(plainHttpText(answer.status, answer.message));
    });
}

void ParticipantClient::socketGone(const WsClient::Gone &how)
{
    QString why;
    if (!how.wasOpen) {
        const QString &error = how.errorString;
        if (error.contains(QLatin1StringView("503")))
            why = tr("The server is not accepting new connections right now (it may be draining).");
        else if (error.contains(QLatin1StringView("429")))
            why = plainHttpText(429, {});
        else
            why = tr("Could not connect to %1 (%2).").arg(m_server.toString(), error);
    } else if (!how.closeHandshake) {
        const QString where = m_welcome.instance.isEmpty() ? m_server.toString() : m_welcome.instance;
        why = tr("The connection to %1 was lost.").arg(where);
    } else {
        why = plainCloseText(how.closeCode, how.closeReason);
        if (why.isEmpty())
            why = tr("The server closed the connection.");
    }
    int delay = -1;
    if (m_reconnectAfterMs >= 0) {
        // Asked to go (drain). Qt 6.4's QWebSocket takes close code 1012 for a
        // protocol error and reports 1002, so the "reconnect" frame decides.
        why = tr("The server asked this client to reconnect (%1).").arg(m_reconnectReason);
        delay = m_reconnectAfterMs + QRandomGenerator::global()->bounded(250);
    }
    m_reconnectAfterMs = -1;
    scheduleReconnect(why, delay);
}

void ParticipantClient::request(QJsonObject frame, ReplyHandler handler)
{
    m_ws.request(std::move(frame), this, std::move(handler), tr("Not connected."));
}

void ParticipantClient::onText(const QString &text)
{
    m_sinceTraffic.restart();
    const std::optional<QJsonObject> frame = decodeObject(text.toUtf8());
    if (!frame) {
        qCWarning(lcParticipant) << "the server sent a frame that is not a JSON object";
        return;
    }
    const std::optional<MessageType> known = WsClient::typeOf(*frame);
    if (!known)
        return;
    switch (*known) {
    case MessageType::Welcome:
        onWelcome(*frame);
        break;
    case MessageType::Ack:
        m_ws.resolve(*frame);
        break;
    case MessageType::Error:
        // Every refusal reaches the user in plain words; the handler decides what follows.
        report(plainErrorText(frame->value(QLatin1StringView("code")).toString(),
                              frame->value(QLatin1StringView("message")).toString()));
        m_ws.resolve(*frame);
        break;
    case MessageType::Chat:
        onChat(ChatMessage::fromFrame(*frame));
        break;
    case MessageType::Presence: {
        const QString room = frame->value(QLatin1StringView("room")).toString();
        if (!m_rooms.contains(room))
            break;
        const QString event = frame->value(QLatin1StringView("event")).toString();
        if (event == QLatin1StringView("batch"))
            Q_EMIT presenceBatch(room, memberList(frame->value(QLatin1StringView("joined"))),
                                 memberList(frame->value(QLatin1StringView("left"))),
                                 frame->value(QLatin1StringView("count")).toInteger());
        else
            Q_EMIT presenceChanged(room, RoomMember::fromJson(*frame), event == QLatin1StringView("join"));
        break;
    }
    case MessageType::TodoChanged: {
        const QString op = frame->value(QLatin1StringView("op")).toString();
        const TodoChange change = op == QLatin1StringView("added")     ? TodoChange::Added
                                  : op == QLatin1StringView("deleted") ? TodoChange::Deleted
                                                                       : TodoChange::Updated;
        Q_EMIT todoChanged(change, TodoItem::fromJson(frame->value(QLatin1StringView("item")).toObject()));
        break;
    }
    case MessageType::Broadcast:
        Q_EMIT broadcastReceived(BroadcastMessage::fromJson(*frame));
        break;
    case MessageType::Reconnect:
        m_reconnectAfterMs = static_cast<int>(std::clamp<qint64>(frame->value(QLatin1StringView("after_ms")).toInteger(0), 0, 60000));
        m_reconnectReason = frame->value(QLatin1StringView("reason")).toString();
        break;
    default:
        break;
    }
}

void ParticipantClient::onWelcome(const QJsonObject &frame)
{
    m_welcome = WelcomeInfo::fromJson(frame);
    m_ws.resetBackoff();
    m_pingTimer.start();
    setState(State::Connected);
    Q_EMIT welcomed(m_welcome);
    for (auto it = m_rooms.begin(); it != m_rooms.end(); ++it)
        sendJoin(it.key());
    refreshTodos();
}

bool ParticipantClient::isJoined(const QString &room) const
{
    const auto it = m_rooms.constFind(room);
    return it != m_rooms.cend() && it->joined;
}

qint64 ParticipantClient::lastSeq(const QString &room) const
{
    return m_rooms.value(room).lastSeq;
}

void ParticipantClient::joinRoom(const QString &room)
{
    if (!isValidRoom(room)) {
        report(plainErrorText(QStringLiteral("invalid_room"), {}));
        return;
    }
    if (m_rooms.contains(room))
        return;
    m_rooms.insert(room, RoomState{});
    if (isConnected())
        sendJoin(room);
}

void ParticipantClient::leaveRoom(const QString &room)
{
    if (!m_rooms.remove(room))
        return;
    if (isConnected())
        request(makeFrame(MessageType::Leave, {{QLatin1StringView("room"), room}}), {});
    for (qsizetype i = m_outbox.size() - 1; i >= 0; --i) {
        if (m_outbox[i].message.room == room) {
            const PendingMessage dropped = m_outbox.takeAt(i).message;
            Q_EMIT pendingFailed(dropped.nonce, room, tr("You left the room before it was sent."));
        }
    }
    Q_EMIT roomLeft(room);
}

void ParticipantClient::sendJoin(const QString &room)
{
    RoomState &state = m_rooms[room];
    state.joining = true;
    state.joined = false;
    state.buffered.clear();
    const qint64 since = state.lastSeq;
    QJsonObject frame = makeFrame(MessageType::Join, {{QLatin1StringView("room"), room}});
    if (since >= 0)
        frame.insert(QLatin1StringView("since"), since);
    request(frame, [this, room, since](const Reply &reply) {
        auto it = m_rooms.find(room);
        if (it == m_rooms.end())
            return; // left meanwhile
        if (!reply.ok) {
            it->joining = false;
            if (reply.code == QLatin1StringView("invalid_room")) {
                m_rooms.erase(it);
                Q_EMIT roomLeft(room);
            } else if (reply.code == QLatin1StringView("timeout") && isConnected()) {
                sendJoin(room);
            } else if (isPassingChatError(reply.code)) {
                // The store or the backplane is briefly away: try again rather
                // than leave the room (and its queued messages) stranded.
                QTimer::singleShot(m_options.resendDelayMs, this, [this, room] {
                    const auto again = m_rooms.constFind(room);
                    if (isConnected() && again != m_rooms.cend() && !again->joined && !again->joining)
                        sendJoin(room);
                });
            }
            return;
        }
        it->joined = true;
        const QList<RoomMember> members = memberList(reply.frame.value(QLatin1StringView("members")));
        // A server before contract v1.1 lists every member and no count.
        const qint64 count = reply.frame.value(QLatin1StringView("member_count")).toInteger(members.size());
        Q_EMIT roomJoined(room, members, count);
        it = m_rooms.find(room); // a slot may have left the room
        if (it == m_rooms.end())
            return;

        const qint64 serverLast = reply.frame.value(QLatin1StringView("last_seq")).toInteger();
        const bool recovered = reply.frame.value(QLatin1StringView("recovered")).toBool(true);
        if (since >= 0 && recovered) {
            QList<ChatMessage> missed = chatList(reply.frame.value(QLatin1StringView("missed")));
            missed += it->buffered;
            it->buffered.clear();
            it->joining = false;
            deliver(room, missed);
        } else {
            if (since >= 0)
                Q_EMIT notice(room, tr("Some messages sent while you were away could not be recovered; "
                                       "showing the most recent history instead."));
            it->lastSeq = serverLast;
            loadLatest(room, true);
        }
        flushOutbox();
    });
}

void ParticipantClient::loadLatest(const QString &room, bool replace)
{
    const qint64 before = m_rooms.value(room).lastSeq + 1;
    request(makeFrame(MessageType::History, {{QLatin1StringView("room"), room},
                                             {QLatin1StringView("before"), before},
                                             {QLatin1StringView("limit"), m_options.historyPage}}),
            [this, room, replace, before](const Reply &reply) {
                auto it = m_rooms.find(room);
                if (it == m_rooms.end())
                    return;
                if (!reply.ok) {
                    it->joining = false;
                    return;
                }
                QList<ChatMessage> page = chatList(reply.frame.value(QLatin1StringView("messages")));
                std::sort(page.begin(), page.end(), [](const ChatMessage &a, const ChatMessage &b) { return a.seq < b.seq; });
                it->oldestSeq = page.isEmpty() ? before : page.first().seq;
                if (!page.isEmpty())
                    it->lastSeq = qMax(it->lastSeq, page.last().seq);
                const QList<ChatMessage> buffered = std::exchange(it->buffered, {});
                it->joining = false;
                const bool more = it->oldestSeq > 1;
                Q_EMIT historyLoaded(room, page, replace, more);
                deliver(room, buffered);
            });
}

void ParticipantClient::loadMembers(const QString &room, const QString &after)
{
    QJsonObject frame = makeFrame(MessageType::Members, {{QLatin1StringView("room"), room}});
    if (!after.isEmpty())
        frame.insert(QLatin1StringView("after"), after);
    request(std::move(frame), [this, room](const Reply &reply) {
        if (!reply.ok || !m_rooms.contains(room))
            return;
        Q_EMIT membersLoaded(room, memberList(reply.frame.value(QLatin1StringView("members"))),
                             reply.frame.value(QLatin1StringView("next")).toString());
    });
}

void ParticipantClient::loadOlder(const QString &room)
{
    const auto it = m_rooms.constFind(room);
    if (it == m_rooms.cend())
        return;
    const qint64 before = it->oldestSeq;
    if (before <= 1) {
        Q_EMIT historyLoaded(room, {}, false, false);
        return;
    }
    request(makeFrame(MessageType::History, {{QLatin1StringView("room"), room},
                                             {QLatin1StringView("before"), before},
                                             {QLatin1StringView("limit"), m_options.historyPage}}),
            [this, room](const Reply &reply) {
                auto it = m_rooms.find(room);
                if (it == m_rooms.end() || !reply.ok)
                    return;
                QList<ChatMessage> page = chatList(reply.frame.value(QLatin1StringView("messages")));
                std::sort(page.begin(), page.end(), [](const ChatMessage &a, const ChatMessage &b) { return a.seq < b.seq; });
                if (!page.isEmpty())
                    it->oldestSeq = qMin(it->oldestSeq, page.first().seq);
                Q_EMIT historyLoaded(room, page, false, !page.isEmpty() && it->oldestSeq > 1);
            });
}

void ParticipantClient::onChat(const ChatMessage &message)
{
    auto it = m_rooms.find(message.room);
    if (it == m_rooms.end())
        return;
    if (it->joining) {
        it->buffered.append(message);
        return;
    }
    if (it->lastSeq >= 0 && message.seq > it->lastSeq + 1) {
        // A gap should never happen; fill it from history rather than show holes.
        qCWarning(lcParticipant) << "gap in" << message.room << "after" << it->lastSeq << "got" << message.seq;
        it->joining = true;
        it->buffered.append(message);
        const qint64 missing = message.seq - it->lastSeq - 1;
        request(makeFrame(MessageType::History, {{QLatin1StringView("room"), message.room},
                                                 {QLatin1StringView("before"), message.seq},
                                                 {QLatin1StringView("limit"), qMin<qint64>(missing, Limits::HistoryMax)}}),
                [this, room = message.room](const Reply &reply) {
                    auto it = m_rooms.find(room);
                    if (it == m_rooms.end())
                        return;
                    QList<ChatMessage> all = reply.ok ? chatList(reply.frame.value(QLatin1StringView("messages")))
                                                      : QList<ChatMessage>{};
                    all += std::exchange(it->buffered, {});
                    it->joining = false;
                    deliver(room, all);
                });
        return;
    }
    deliver(message.room, {message});
}

void ParticipantClient::deliver(const QString &room, QList<ChatMessage> messages)
{
    auto it = m_rooms.find(room);
    if (it == m_rooms.end() || messages.isEmpty())
        return;
    std::stable_sort(messages.begin(), messages.end(),
                     [](const ChatMessage &a, const ChatMessage &b) { return a.seq < b.seq; });
    QList<ChatMessage> fresh;
    for (const ChatMessage &m : std::as_const(messages)) {
        if (it->lastSeq >= 0 && m.seq <= it->lastSeq)
            continue;
        fresh.append(m);
        it->lastSeq = m.seq;
    }
    if (fresh.isEmpty())
        return;
    if (it->oldestSeq < 0)
        it->oldestSeq = fresh.first().seq;
    Q_EMIT messagesArrived(room, fresh);
}

QString ParticipantClient::sendChat(const QString &room, const QString &text)
{
    if (!m_rooms.contains(room)) {
        report(tr("Join #%1 before writing to it.").arg(room));
        return {};
    }
    if (text.trimmed().isEmpty())
        return {};
    if (codePointLength(text) > Limits::MaxChatText) {
        report(tr("A message is at most %1 characters.").arg(Limits::MaxChatText));
        return {};
    }
    PendingMessage message{QUuid::createUuid().toString(QUuid::Id128), room, text,
                           QDateTime::currentMSecsSinceEpoch()};
    m_outbox.append({message, false});
    Q_EMIT pendingQueued(message);
    flushOutbox();
    return message.nonce;
}

QList<PendingMessage> ParticipantClient::pendingMessages() const
{
    QList<PendingMessage> out;
    for (const Outgoing &o : m_outbox)
        out.append(o.message);
    return out;
}

void ParticipantClient::flushOutbox()
{
    if (!isConnected())
        return;
    for (Outgoing &o : m_outbox) {
        if (o.inFlight || !isJoined(o.message.room))
            continue;
        o.inFlight = true;
        const QString nonce = o.message.nonce;
        const QString room = o.message.room;
        request(makeFrame(MessageType::Chat, {{QLatin1StringView("room"), room},
                                              {QLatin1StringView("text"), o.message.text},
                                              {QLatin1StringView("nonce"), nonce}}),
                [this, nonce, room](const Reply &reply) {
                    const auto found = std::find_if(m_outbox.begin(), m_outbox.end(),
                                                    [&nonce](const Outgoing &o) { return o.message.nonce == nonce; });
                    if (found == m_outbox.end())
                        return;
                    if (reply.ok) {
                        m_outbox.erase(found);
                        Q_EMIT pendingSent(nonce, room, reply.frame.value(QLatin1StringView("seq")).toInteger());
                        return;
                    }
                    found->inFlight = false;
                    if (reply.code == QLatin1StringView("disconnected"))
                        return; // sent again, same nonce, after the reconnect
                    if (isPassingChatError(reply.code)) {
                        if (!m_resendTimer.isActive())
                            m_resendTimer.start(m_options.resendDelayMs);
                        return;
                    }
                    m_outbox.erase(found);
                    Q_EMIT pendingFailed(nonce, room, reply.text);
                });
    }
}

void ParticipantClient::refreshTodos()
{
    request(makeFrame(MessageType::TodoList), [this](const Reply &reply) {
        if (!reply.ok)
            return;
        QList<TodoItem> items;
        const QJsonArray list = reply.frame.value(QLatin1StringView("items")).toArray();
        for (const QJsonValue &v : list)
            items.append(TodoItem::fromJson(v.toObject()));
        Q_EMIT todosLoaded(items);
    });
}

void ParticipantClient::addTodo(const QString &title)
{
    if (!isConnected()) {
        report(tr("Not connected; the todo was not added. Try again when the connection is back."));
        return;
    }
    request(makeFrame(MessageType::TodoAdd, {{QLatin1StringView("title"), title}}), {});
}

void ParticipantClient::updateTodo(qint64 id, const std::optional<QString> &title, const std::optional<bool> &done)
{
    if (!isConnected()) {
        report(tr("Not connected; the todo was not changed. Try again when the connection is back."));
        return;
    }
    QJsonObject frame = makeFrame(MessageType::TodoUpdate, {{QLatin1StringView("id"), id}});
    if (title)
        frame.insert(QLatin1StringView("title"), *title);
    if (done)
        frame.insert(QLatin1StringView("done"), *done);
    request(frame, {});
}

void ParticipantClient::deleteTodo(qint64 id)
{
    if (!isConnected()) {
        report(tr("Not connected; the todo was not deleted. Try again when the connection is back."));
        return;
    }
    request(makeFrame(MessageType::TodoDelete, {{QLatin1StringView("id"), id}}), {});
}

} // namespace sb::console
