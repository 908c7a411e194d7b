#pragma once

// Chat rooms on this instance: join (with `since` recovery), leave, chat,
// history and presence. Keeps, per room with local members, the last seq it
// delivered and delivers every room's messages to its members in seq order
// with no gaps: out-of-order arrivals wait, and missing ones are fetched from
// the store. Owned by the Server, given a ServiceContext.

#include "backplane/backplane.h"
#include "backplane/envelope.h"
#include "codec.h"
#include "core/servicecontext.h"
#include "store/store.h"

#include <QHash>
#include <QMap>
#include <QSet>
#include <QTimer>

#include <deque>
#include <memory>

namespace sb {

class Session;

class ChatService final
{
    Q_DISABLE_COPY_MOVE(ChatService)
public:
    explicit ChatService(const ServiceContext &context);
    ~ChatService();

    void join(Session *session, const Request &request);
    void leave(Session *session, const Request &request);
    void chat(Session *session, const Request &request);
    void history(Session *session, const Request &request);
    // A page of a room's members, ordered by session_id (contract section 8).
    void members(Session *session, const Request &request);

    // The session closed: leave every room, telling the other members.
    void leaveAll(Session *session);
    void onRoomEnvelope(const QString &room, const Envelope &envelope);
    // Another instance died: tell local members its sessions left.
    void onInstanceGone(const QList<QPair<QString, Member>> &members);
    // The backplane came back: fetch from the store what was published meanwhile.
    void catchUpAll();

    static constexpr int RecentMax = 512;
    // Publishing an acknowledged chat: 100 ms, 200 ms, … between attempts.
    static constexpr int PublishAttempts = 6;
    // A presence batch waits this long for more changes to share it.
    static constexpr int PresenceGatherMs = 200;

private:
    struct Room
    {
        QString name;
        QHash<Session *, qint64> members; // with the last seq each was sent
        int joining = 0;      // joins in flight; the room stays while any is
        bool opening = false; // its last seq is being read
        qint64 delivered = -1; // -1 until the room's last seq is known
        QMap<qint64, ChatMessage> pending;
        std::deque<ChatMessage> recent;
        QList<std::function<void(bool)>> waiting;
        bool filling = false;
        std::unique_ptr<QTimer> gapTimer;
        // The room's members cluster-wide, as last known: from each join's
        // member count and every presence event since (the batch decision).
        qint64 count = 0;
        // The join ack's member list as last encoded, and the session ids it
        // lists: a big room's first page rarely changes, so most joins reuse it.
        QStringList listedIds;
        QByteArray listedJson;
        // Batched presence (rooms over SB_PRESENCE_LIMIT): the net changes since
        // the last batch, by session id, and when that batch went out.
        QMap<QString, QJsonObject> batchJoined;
        QMap<QString, QJsonObject> batchLeft;
        qint64 lastBatchAt = 0;
        std::unique_ptr<QTimer> batchTimer;
    };
    using RoomPtr = std::shared_ptr<Room>;

    // The room, created and subscribed when new; its last seq is read once.
    RoomPtr openRoom(const QString &name);
    // The JSON array of `listed`, encoded again only when its ids changed.
    static const QByteArray &encodedMembers(Room &room, const QList<Member> &listed);
    void readLastSeq(const RoomPtr &room);
    // Runs `then` once the room's last seq is known (false: the store failed).
    void whenOpen(const RoomPtr &room, std::function<void(bool ok)> then);
    void publishChat(const ChatMessage &message, int attempt);
    void collectMissed(RoomPtr room, qint64 from, QList<ChatMessage> collected, bool recovered,
                       std::function<void(bool ok, QList<ChatMessage>, bool recovered)> done);
    void finishJoin(Session *session, const QString &ref, RoomPtr room, qint64 since,
                    QList<ChatMessage> missed, bool recovered, const MemberPage &members);
    void removeMember(Session *session, const QString &room, bool announce);
    void releaseRoom(const RoomPtr &room);
    // A chat of the room, from the backplane or from this instance: delivered
    // in seq order (waits in `pending` for what is missing).
    void accept(Room &room, const ChatMessage &message);
    void advance(Room &room);
    void fanOut(Room &room, const ChatMessage &message);
    void scheduleFill(const RoomPtr &room, int delayMs);
    void fill(const RoomPtr &room);
    void sendPresence(const QString &room, const QString &event, const Session *session);
    // A member joined or left: told at once in rooms up to SB_PRESENCE_LIMIT
    // members, else gathered into the room's next batch.
    void deliverPresence(const QString &room, const QJsonObject &frame);
    void addToBatch(const RoomPtr &room, const QString &event, const QJsonObject &frame);
    void sendBatch(const RoomPtr &room);
    // Milliseconds between two batches of a room of `members`.
    static qint64 batchInterval(qint64 members);

    ServiceContext m_ctx;
    QHash<QString, RoomPtr> m_rooms;
};

} // namespace sb
