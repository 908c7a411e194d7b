#include "chatservice.h"

#include "backplane/backplane.h"
#include "channel.h"
#include "cluster/clusterbus.h"
#include "config.h"
#include "flow/flowsampler.h"
#include "metrics/metrics.h"
#include "sessions/sessionregistry.h"
#include "store/store.h"
#include "ws/session.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QPointer>

Q_LOGGING_CATEGORY(lcChat, "sb.chat")

namespace sb {

ChatService::ChatService(const ServiceContext &context)
    : m_ctx(context)
{
}

ChatService::~ChatService() = default;

ChatService::RoomPtr ChatService::openRoom(const QString &name)
{
    RoomPtr room = m_rooms.value(name);
    if (!room) {
        room = std::make_shared<Room>();
        room->name = name;
        m_rooms.insert(name, room);
        // Subscribe before reading the last seq, so nothing published after the read is missed.
        m_ctx.bus.retain(Channel::room(name));
    }
    if (room->delivered < 0 && !room->opening)
        readLastSeq(room);
    return room;
}

void ChatService::readLastSeq(const RoomPtr &room)
{
    room->opening = true;
    std::weak_ptr<Room> weak = room;
    m_ctx.store.lastSeq(room->name, [this, weak](const StoreResult<qint64> &result) {
        RoomPtr room = weak.lock();
        if (!room)
            return;
        room->opening = false;
        const auto waiting = std::exchange(room->waiting, {});
        if (!result.ok) {
            qCWarning(lcChat).noquote() << "cannot open room" << room->name << ":" << result.error;
            for (const auto &w : waiting)
                w(false);
            releaseRoom(room);
            return;
        }
        room->delivered = result.value;
        advance(*room);
        for (const auto &w : waiting)
            w(true);
        // The subscription may have become active only after the read: look once more.
        scheduleFill(room, 1000);
    });
}

void ChatService::whenOpen(const RoomPtr &room, std::function<void(bool ok)> then)
{
    if (room->delivered >= 0)
        return then(true);
    room->waiting.append(std::move(then));
}

void ChatService::join(Session *session, const Request &request)
{
    QString name;
    std::optional<qint64> since;
    if (auto e = fields::room(request.body, &name))
        return session->fail(request.ref, *e);
    if (auto e = fields::optionalInt(request.body, QLatin1StringView("since"), &since))
        return session->fail(request.ref, *e);
    if (since && *since < 0)
        return session->fail(request.ref, ErrorCode::BadRequest, QStringLiteral("\"since\" must be >= 0"));
    const int maxRooms = m_ctx.config.maxRooms;
    if (maxRooms > 0 && !session->rooms().contains(name)
        && session->rooms().size() + session->joinsInFlight >= maxRooms) {
        m_ctx.metrics.limitExceeded->inc({QStringLiteral("rooms")});
        return session->fail(request.ref, ErrorCode::LimitExceeded,
                              QStringLiteral("a session is a member of at most %1 rooms; leave one first").arg(maxRooms));
    }

    // The join holds the room from now on, whatever happens to the session:
    // a room with a join in flight is never released under it.
    RoomPtr room = openRoom(name);
    ++room->joining;
    ++session->joinsInFlight;
    const QPointer<Session> holder(session);
    const SessionRef joiner(session);
    const QString ref = request.ref;
    const auto end = [this, holder, room] {
        --room->joining;
        if (holder)
            --holder->joinsInFlight;
        releaseRoom(room);
    };
    whenOpen(room, [this, joiner, ref, since, room, end](bool ok) {
        if (!joiner)
            return end();
        if (!ok) {
            joiner->fail(ref, ErrorCode::StoreUnavailable, QStringLiteral("the store is unavailable"));
            return end();
        }
        m_ctx.backplane.members(room->name, {}, Limits::MembersListed,
                                      [this, joiner, ref, since, room, end](bool ok, MemberPage members) {
            if (!joiner)
                return end();
            if (!ok) {
                joiner->fail(ref, ErrorCode::BackplaneUnavailable,
                               QStringLiteral("the backplane is unavailable"));
                return end();
            }
            const qint64 limit = qMax(m_ctx.config.history, 1000);
            const qint64 from = since ? qMax(*since, room->delivered - limit) : room->delivered;
            const bool truncated = since && *since < from;
            collectMissed(room, from, {}, !truncated,
                          [this, joiner, ref, since, room, members, end](bool ok, QList<ChatMessage> missed,
                                                                          bool recovered) {
                              // Checked last, right before the session is added: a
                              // session that closed meanwhile is never made a member.
                              if (Session *session = joiner) {
                                  if (ok)
                                      finishJoin(session, ref, room, since.value_or(-1), std::move(missed), recovered,
                                                 members);
                                  else
                                      session->fail(ref, ErrorCode::StoreUnavailable,
                                                     QStringLiteral("the store is unavailable"));
                              }
                              end();
                          });
        });
    });
}

void ChatService::collectMissed(RoomPtr room, qint64 from, QList<ChatMessage> collected, bool recovered,
                                std::function<void(bool, QList<ChatMessage>, bool)> done)
{
    // Messages (from, delivered]: from the recent ring when it reaches back far
    // enough, else from the store, then the ring for what arrived meanwhile.
    if (from >= room->delivered)
        return done(true, std::move(collected), recovered);
    if (!room->recent.empty() && room->recent.front().seq <= from + 1) {
        for (const ChatMessage &m : room->recent) {
            if (m.seq > from)
                collected.append(m);
        }
        return done(true, std::move(collected), recovered);
    }
    const int batch = 500;
    std::weak_ptr<Room> weak = room;
    m_ctx.store.messagesSince(
        room->name, from, batch,
        [this, weak, from, collected = std::move(collected), recovered, done = std::move(done)](
            const StoreResult<RangeResult> &result) mutable {
            RoomPtr room = weak.lock();
            if (!room || !result.ok)
                return done(false, {}, false);
            qint64 last = from;
            for (const ChatMessage &m : result.value.messages) {
                if (m.seq > room->delivered)
                    break;
                collected.append(m);
                last = m.seq;
            }
            const bool complete = recovered && result.value.complete;
            if (result.value.messages.isEmpty() || last == from) {
                // Nothing more is retained below what was delivered.
                return done(true, std::move(collected), complete && last >= room->delivered);
            }
            collectMissed(room, last, std::move(collected), complete, std::move(done));
        });
}

void ChatService::finishJoin(Session *session, const QString &ref, RoomPtr room, qint64 since,
                             QList<ChatMessage> missed, bool recovered, const MemberPage &members)
{
    const bool alreadyMember = session->rooms().contains(room->name);
    const qint64 lastSeq = room->delivered;
    QJsonArray missedFrames;
    if (since >= 0) {
        for (const ChatMessage &m : std::as_const(missed))
            missedFrames.append(m.toFrame());
    }
    // The first members by session id, this session among them where it sorts
    // (it is not in the registry yet on a first join), and how many there are.
    const Member self{session->id(), session->info().user, session->info().clientId, session->info().instance};
    QList<Member> listed = members.members;
    const auto at = std::lower_bound(listed.begin(), listed.end(), self.sessionId,
                                     [](const Member &m, const QString &id) { return m.sessionId < id; });
    const bool selfListed = at != listed.end() && at->sessionId == self.sessionId;
    if (!selfListed && (at != listed.end() || !members.more))
        listed.insert(at, self);
    if (listed.size() > Limits::MembersListed)
        listed.resize(Limits::MembersListed);
    const QByteArray &memberList = encodedMembers(*room, listed);
    const qint64 memberCount = members.count + (alreadyMember ? 0 : 1);
    room->count = members.count; // our own presence, when it comes back, adds this session

    // Everything up to lastSeq is in the ack; live delivery continues after it.
    qint64 &cursor = room->members[session];
    cursor = alreadyMember ? qMax(cursor, lastSeq) : lastSeq;
    session->rooms().insert(room->name);
    session->reply(ref,
                   {{QLatin1StringView("room"), room->name},
                    {QLatin1StringView("member_count"), memberCount},
                    {QLatin1StringView("last_seq"), lastSeq},
                    {QLatin1StringView("recovered"), since < 0 ? true : recovered},
                    {QLatin1StringView("missed"), missedFrames}},
                   QLatin1StringView("members"), memberList);
    if (!alreadyMember) {
        m_ctx.backplane.addMember(room->name, self);
        m_ctx.sessions.updateRecord(session);
        sendPresence(room->name, QStringLiteral("join"), session);
    }
}

const QByteArray &ChatService::encodedMembers(Room &room, const QList<Member> &listed)
{
    const bool same = room.listedIds.size() == listed.size() && !room.listedJson.isEmpty()
                      && std::equal(listed.cbegin(), listed.cend(), room.listedIds.cbegin(),
                                    [](const Member &m, const QString &id) { return m.sessionId == id; });
    if (same)
        return room.listedJson;
    QJsonArray list;
    room.listedIds.clear();
    room.listedIds.reserve(listed.size());
    for (const Member &m : listed) {
        list.append(m.toJson());
        room.listedIds.append(m.sessionId);
    }
    room.listedJson = QJsonDocument(list).toJson(QJsonDocument::Compact);
    return room.listedJson;
}

void ChatService::leave(Session *session, const Request &request)
{
    QString name;
    if (auto e = fields::room(request.body, &name))
        return session->fail(request.ref, *e);
    removeMember(session, name, true);
    session->reply(request.ref, {{QLatin1StringView("room"), name}});
}

void ChatService::leaveAll(Session *session)
{
    const QStringList rooms = session->rooms().values();
    for (const QString &room : rooms)
        removeMember(session, room, true);
}

void ChatService::removeMember(Session *session, const QString &name, bool announce)
{
    if (!session->rooms().remove(name))
        return;
    m_ctx.backplane.removeMember(name, session->id());
    if (RoomPtr room = m_rooms.value(name)) {
        room->members.remove(session);
        releaseRoom(room);
    }
    if (announce)
        sendPresence(name, QStringLiteral("leave"), session);
    if (session->isOpen())
        m_ctx.sessions.updateRecord(session);
}

void ChatService::releaseRoom(const RoomPtr &room)
{
    if (!room || !room->members.isEmpty() || room->joining > 0 || !room->waiting.isEmpty())
        return;
    if (m_rooms.value(room->name) != room)
        return;
    m_rooms.remove(room->name);
    m_ctx.bus.release(Channel::room(room->name));
}

void ChatService::chat(Session *session, const Request &request)
{
    QString name;
    QString text;
    std::optional<QString> nonce;
    if (auto e = fields::room(request.body, &name))
        return session->fail(request.ref, *e);
    if (auto e = fields::text(request.body, QLatin1StringView("text"), Limits::MaxChatText, &text))
        return session->fail(request.ref, *e);
    if (auto e = fields::optionalString(request.body, QLatin1StringView("nonce"), &nonce))
        return session->fail(request.ref, *e);
    if (nonce && (nonce->isEmpty() || codePointLength(*nonce) > Limits::MaxNonce))
        return session->fail(request.ref, ErrorCode::BadRequest,
                              QStringLiteral("\"nonce\" must be 1-64 characters"));
    if (!session->rooms().contains(name))
        return session->fail(request.ref, ErrorCode::NotMember, QStringLiteral("join the room first"));
    if (!m_ctx.backplane.isUp())
        return session->fail(request.ref, ErrorCode::BackplaneUnavailable,
                              QStringLiteral("the backplane is down; nothing was stored, try again"));
    if (!m_ctx.store.isUp())
        return session->fail(request.ref, ErrorCode::StoreUnavailable,
                              QStringLiteral("the store is down; nothing was stored, try again"));

    ChatDraft draft{name, session->info().user, session->info().clientId, text, nonce.value_or(QString()),
                    QDateTime::currentMSecsSinceEpoch(), m_ctx.instanceId};
    const SessionRef sender(session);
    const QString ref = request.ref;
    m_ctx.store.appendChat(draft, [this, sender, ref, name](const StoreResult<AppendResult> &result) {
        if (!result.ok) {
            qCWarning(lcChat).noquote() << "chat to" << name << (result.inDoubt ? "may not be stored:" : "not stored:")
                                        << result.error;
            if (sender)
                sender->fail(ref, ErrorCode::StoreUnavailable,
                               result.inDoubt ? QStringLiteral("the store was lost while committing: the message may be"
                                                               " stored; resend it with the same nonce")
                                              : QStringLiteral("the message could not be stored; try again"));
            return;
        }
        const ChatMessage &message = result.value.message;
        // A resent nonce answers with the original, in whatever room it went to.
        if (sender)
            sender->reply(ref, {{QLatin1StringView("room"), message.room},
                                          {QLatin1StringView("seq"), message.seq}});
        // A resend is published again: its first attempt may have been
        // stored while its answer was lost (a COMMIT in doubt), and then
        // nobody published it. Every instance drops a seq it has delivered.
        if (!result.value.duplicate)
            m_ctx.metrics.chatMessages->inc();
        publishChat(message, 0);
    });
}

void ChatService::publishChat(const ChatMessage &message, int attempt)
{
    const QJsonObject frame = message.toFrame();
    m_ctx.bus.publish(Channel::room(message.room), QJsonObject{{QLatin1StringView("room"), message.room}}, frame,
                      [this, message, attempt](bool ok) {
                          if (ok)
                              return;
                          // Acknowledged, so it is delivered: here at once, elsewhere by
                          // the retries (and the store's gap fill should they all fail).
                          if (RoomPtr room = m_rooms.value(message.room))
                              accept(*room, message);
                          if (attempt + 1 >= PublishAttempts) {
                              qCWarning(lcChat).noquote() << "publish of" << message.room << message.seq << "failed"
                                                          << PublishAttempts << "times; instances fetch it from the store";
                              return;
                          }
                          qCWarning(lcChat).noquote() << "publish of" << message.room << message.seq
                                                      << "failed; retrying";
                          QTimer::singleShot(100 << attempt, m_ctx.owner, [this, message, attempt] {
                              publishChat(message, attempt + 1);
                          });
                      });
}

void ChatService::accept(Room &room, const ChatMessage &message)
{
    if (message.seq <= room.delivered)
        return; // already delivered (our own publish echoed, a retry, a gap fill)
    room.pending.insert(message.seq, message);
    if (room.delivered >= 0)
        advance(room);
}

void ChatService::history(Session *session, const Request &request)
{
    QString name;
    std::optional<qint64> before;
    std::optional<qint64> limit;
    if (auto e = fields::room(request.body, &name))
        return session->fail(request.ref, *e);
    if (auto e = fields::optionalInt(request.body, QLatin1StringView("before"), &before))
        return session->fail(request.ref, *e);
    if (auto e = fields::optionalInt(request.body, QLatin1StringView("limit"), &limit))
        return session->fail(request.ref, *e);
    const int count = static_cast<int>(qBound<qint64>(qint64(1), limit.value_or(Limits::HistoryDefault), qint64(Limits::HistoryMax)));
    const SessionRef guard(session);
    const QString ref = request.ref;
    m_ctx.store.history(name, before.value_or(0), count,
                              [this, guard, ref, name](const StoreResult<QList<ChatMessage>> &result) {
                                  if (!guard)
                                      return;
                                  if (!result.ok)
                                      return guard->fail(ref, ErrorCode::StoreUnavailable,
                                                            QStringLiteral("the store is unavailable"));
                                  QJsonArray messages;
                                  for (const ChatMessage &m : result.value)
                                      messages.append(m.toFrame());
                                  guard->reply(ref, {{QLatin1StringView("room"), name},
                                                               {QLatin1StringView("messages"), messages}});
                              });
}

void ChatService::members(Session *session, const Request &request)
{
    QString name;
    std::optional<QString> after;
    std::optional<qint64> limit;
    if (auto e = fields::room(request.body, &name))
        return session->fail(request.ref, *e);
    if (auto e = fields::optionalString(request.body, QLatin1StringView("after"), &after))
        return session->fail(request.ref, *e);
    if (auto e = fields::optionalInt(request.body, QLatin1StringView("limit"), &limit))
        return session->fail(request.ref, *e);
    if (after && after->size() > Limits::MaxRef)
        return session->fail(request.ref, ErrorCode::BadRequest,
                              QStringLiteral("\"after\" is a session_id from the last page"));
    if (!session->rooms().contains(name))
        return session->fail(request.ref, ErrorCode::NotMember, QStringLiteral("join the room first"));
    const int count = static_cast<int>(
        qBound<qint64>(qint64(1), limit.value_or(Limits::MembersListed), qint64(Limits::MembersPageMax)));
    const SessionRef guard(session);
    const QString ref = request.ref;
    m_ctx.backplane.members(name, after.value_or(QString()), count,
                                  [this, guard, ref, name](bool ok, const MemberPage &page) {
                                      if (!guard)
                                          return;
                                      if (!ok)
                                          return guard->fail(ref, ErrorCode::BackplaneUnavailable,
                                                                QStringLiteral("the backplane is unavailable"));
                                      QJsonArray list;
                                      for (const Member &m : page.members)
                                          list.append(m.toJson());
                                      const QJsonValue next = page.more && !page.members.isEmpty()
                                          ? QJsonValue(page.members.last().sessionId)
                                          : QJsonValue(QJsonValue::Null);
                                      guard->reply(ref, {{QLatin1StringView("room"), name},
                                                                   {QLatin1StringView("members"), list},
                                                                   {QLatin1StringView("next"), next}});
                                  });
}

void ChatService::onRoomEnvelope(const QString &name, const Envelope &envelope)
{
    const QString type = envelope.frame.value(QLatin1StringView("type")).toString();
    if (type == QLatin1StringView("presence")) {
        deliverPresence(name, envelope.frame);
        return;
    }
    if (type != QLatin1StringView("chat"))
        return;
    RoomPtr room = m_rooms.value(name);
    if (!room)
        return;
    const ChatMessage message = ChatMessage::fromFrame(envelope.frame);
    if (message.seq <= 0)
        return;
    m_ctx.flow.sample("deliver", type, name, {}, envelope.origin, envelope.wireBytes);
    accept(*room, message);
}

void ChatService::advance(Room &room)
{
    while (!room.pending.isEmpty()) {
        auto it = room.pending.begin();
        if (it.key() <= room.delivered) {
            room.pending.erase(it);
            continue;
        }
        if (it.key() != room.delivered + 1)
            break;
        const ChatMessage message = it.value();
        room.pending.erase(it);
        fanOut(room, message);
    }
    if (!room.pending.isEmpty()) {
        // A gap: usually just reordering between instances; fetch if it persists.
        if (RoomPtr self = m_rooms.value(room.name))
            scheduleFill(self, 100);
    }
}

void ChatService::fanOut(Room &room, const ChatMessage &message)
{
    room.delivered = message.seq;
    room.recent.push_back(message);
    if (room.recent.size() > RecentMax)
        room.recent.pop_front();
    // One serialisation per fan-out, shared by every socket.
    const TextFrame text(encode(message.toFrame()));
    for (auto it = room.members.begin(); it != room.members.end(); ++it) {
        if (it.value() >= message.seq)
            continue;
        it.value() = message.seq;
        it.key()->send(text);
    }
}

void ChatService::scheduleFill(const RoomPtr &room, int delayMs)
{
    if (!room->gapTimer) {
        room->gapTimer = std::make_unique<QTimer>();
        room->gapTimer->setSingleShot(true);
        std::weak_ptr<Room> weak = room;
        QObject::connect(room->gapTimer.get(), &QTimer::timeout, m_ctx.owner, [this, weak] {
            if (RoomPtr r = weak.lock())
                fill(r);
        });
    }
    if (!room->gapTimer->isActive() || room->gapTimer->remainingTime() > delayMs)
        room->gapTimer->start(delayMs);
}

void ChatService::fill(const RoomPtr &room)
{
    if (room->filling || room->delivered < 0)
        return;
    room->filling = true;
    std::weak_ptr<Room> weak = room;
    const qint64 from = room->delivered;
    m_ctx.store.messagesSince(room->name, from, 500, [this, weak, from](const StoreResult<RangeResult> &result) {
        RoomPtr room = weak.lock();
        if (!room)
            return;
        room->filling = false;
        if (!result.ok) {
            qCWarning(lcChat).noquote() << "gap fill for" << room->name << "failed:" << result.error;
            scheduleFill(room, 1000);
            return;
        }
        int fetched = 0;
        for (const ChatMessage &m : result.value.messages) {
            if (m.seq > room->delivered && !room->pending.contains(m.seq)) {
                room->pending.insert(m.seq, m);
                ++fetched;
            }
        }
        if (fetched > 0) {
            m_ctx.metrics.gapFills->inc({}, fetched);
            qCInfo(lcChat).noquote() << "fetched" << fetched << "messages of" << room->name << "after seq" << from
                                     << "from the store";
        }
        if (!room->pending.isEmpty() && room->pending.firstKey() > room->delivered + 1
            && (result.value.messages.isEmpty() || result.value.messages.first().seq > room->delivered + 1)) {
            // Not retained any more: skip what cannot be recovered rather than stall the room.
            qCWarning(lcChat).noquote() << "messages" << room->delivered + 1 << "to" << room->pending.firstKey() - 1
                                        << "of" << room->name << "are no longer retained; skipping";
            room->delivered = room->pending.firstKey() - 1;
        }
        advance(*room);
        if (result.value.messages.size() >= 500)
            scheduleFill(room, 0);
    });
}

void ChatService::catchUpAll()
{
    for (const RoomPtr &room : std::as_const(m_rooms))
        scheduleFill(room, 0);
}

void ChatService::sendPresence(const QString &room, const QString &event, const Session *session)
{
    const SessionInfo &info = session->info();
    const QJsonObject frame = makeFrame(MessageType::Presence, {{QLatin1StringView("room"), room},
                                                                {QLatin1StringView("event"), event},
                                                                {QLatin1StringView("session_id"), info.sessionId},
                                                                {QLatin1StringView("user"), info.user},
                                                                {QLatin1StringView("client_id"), info.clientId},
                                                                {QLatin1StringView("instance"), info.instance}});
    m_ctx.bus.publish(Channel::room(room), QJsonObject{{QLatin1StringView("room"), room}}, frame);
}

void ChatService::deliverPresence(const QString &name, const QJsonObject &frame)
{
    RoomPtr room = m_rooms.value(name);
    if (!room)
        return;
    const QString event = frame.value(QLatin1StringView("event")).toString();
    room->count = qMax<qint64>(0, room->count + (event == QLatin1StringView("join") ? 1 : -1));
    const bool batching = !room->batchJoined.isEmpty() || !room->batchLeft.isEmpty();
    if (batching || room->count > m_ctx.config.presenceLimit)
        return addToBatch(room, event, frame);
    const QString subject = frame.value(QLatin1StringView("session_id")).toString();
    const TextFrame text(encode(frame));
    for (auto it = room->members.keyBegin(); it != room->members.keyEnd(); ++it) {
        if ((*it)->id() != subject)
            (*it)->send(text);
    }
}

qint64 ChatService::batchInterval(qint64 members)
{
    // Every batch goes to every member: one a second costs a 10 000-member
    // room 10 000 frames of up to 15 KB a second. Above 1 000 members the
    // interval grows with the room (a millisecond a member), up to 10 s.
    return qBound(qint64(1000), members, qint64(10000));
}

void ChatService::addToBatch(const RoomPtr &room, const QString &event, const QJsonObject &frame)
{
    // Net changes only: a member who joins and leaves between two batches is in neither list.
    const QString id = frame.value(QLatin1StringView("session_id")).toString();
    const QJsonObject member = Member::fromJson(frame).toJson();
    if (event == QLatin1StringView("join")) {
        if (!room->batchLeft.remove(id))
            room->batchJoined.insert(id, member);
    } else if (!room->batchJoined.remove(id)) {
        room->batchLeft.insert(id, member);
    }
    if (!room->batchTimer) {
        room->batchTimer = std::make_unique<QTimer>();
        room->batchTimer->setSingleShot(true);
        std::weak_ptr<Room> weak = room;
        QObject::connect(room->batchTimer.get(), &QTimer::timeout, m_ctx.owner, [this, weak] {
            if (RoomPtr r = weak.lock())
                sendBatch(r);
        });
    }
    if (!room->batchTimer->isActive()) {
        // At most one frame a second; changes close together share one.
        const qint64 interval = batchInterval(room->count);
        const qint64 sinceLast = QDateTime::currentMSecsSinceEpoch() - room->lastBatchAt;
        room->batchTimer->start(static_cast<int>(qBound(qint64(PresenceGatherMs), interval - sinceLast, interval)));
    }
}

void ChatService::sendBatch(const RoomPtr &room)
{
    const auto joined = std::exchange(room->batchJoined, {});
    const auto left = std::exchange(room->batchLeft, {});
    room->lastBatchAt = QDateTime::currentMSecsSinceEpoch();
    if (joined.isEmpty() && left.isEmpty())
        return;
    const auto list = [](const QMap<QString, QJsonObject> &members) {
        QJsonArray out;
        for (auto it = members.cbegin(); it != members.cend() && out.size() < Limits::PresenceBatchMax; ++it)
            out.append(it.value());
        return out;
    };
    QJsonObject frame = makeFrame(MessageType::Presence, {{QLatin1StringView("room"), room->name},
                                                          {QLatin1StringView("event"), QStringLiteral("batch")},
                                                          {QLatin1StringView("joined"), list(joined)},
                                                          {QLatin1StringView("left"), list(left)},
                                                          {QLatin1StringView("truncated"),
                                                           joined.size() > Limits::PresenceBatchMax
                                                               || left.size() > Limits::PresenceBatchMax}});
    m_ctx.metrics.presenceBatches->inc();
    // The count as the registry has it now (what was counted here may have drifted).
    std::weak_ptr<Room> weak = room;
    m_ctx.backplane.memberCount(room->name, [this, weak, frame](bool ok, qint64 count) mutable {
        RoomPtr room = weak.lock();
        if (!room)
            return;
        if (ok)
            room->count = count;
        frame.insert(QLatin1StringView("count"), room->count);
        const TextFrame text(encode(frame));
        for (auto it = room->members.keyBegin(); it != room->members.keyEnd(); ++it)
            (*it)->send(text);
    });
}

void ChatService::onInstanceGone(const QList<QPair<QString, Member>> &members)
{
    for (const auto &[room, member] : members) {
        deliverPresence(room, makeFrame(MessageType::Presence, {{QLatin1StringView("room"), room},
                                                                {QLatin1StringView("event"), QStringLiteral("leave")},
                                                                {QLatin1StringView("session_id"), member.sessionId},
                                                                {QLatin1StringView("user"), member.user},
                                                                {QLatin1StringView("client_id"), member.clientId},
                                                                {QLatin1StringView("instance"), member.instance}}));
    }
}

} // namespace sb
