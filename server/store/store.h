#pragma once

// Durable storage: chat history with the per-room sequence, todos, session
// records and the audit log. Two implementations share one schema and one set
// of migrations: the embedded store (SQLite file under SB_DATA) and PostgreSQL.
// Every call is asynchronous: it runs on the store's own worker thread and its
// callback runs on the caller's thread, so the socket thread never waits on
// disk or network.

#include "messages.h"
#include "wire.h"

#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <optional>

namespace sb {

template<typename T>
struct StoreResult
{
    bool ok = false;
    QString error; // set when !ok
    T value{};
    // !ok, but the connection was lost during COMMIT: the write may have been
    // stored. A chat resent with the same nonce finds out (docs/protocol.md).
    bool inDoubt = false;
};

struct ChatDraft
{
    QString room;
    QString from;
    QString clientId;
    QString text;
    QString nonce; // empty: none
    qint64 ts = 0;
    QString origin;
};

struct AppendResult
{
    ChatMessage message;
    bool duplicate = false; // nonce seen within 10 minutes: message is the original
};

struct RangeResult
{
    QList<ChatMessage> messages; // oldest first
    bool complete = true;        // every message after `since` was still retained
    qint64 lastSeq = 0;
};

struct TodoAddResult
{
    TodoItem item;
    // The client already held `limit` todos: nothing was stored.
    bool limitReached = false;
};

// What is kept of a session: the identity part of its `conn` record.
using SessionRecord = SessionIdentity;

struct CleanupStats
{
    int sessions = 0;
    int messages = 0;
    int nonces = 0;
};

class Store : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;

    virtual QString kind() const = 0; // "embedded" | "postgres"
    virtual bool isUp() const = 0;

    // Opens (creating and migrating as needed); upChanged() follows.
    virtual void start() = 0;

    // Assigns the room's next seq and stores the message in one transaction;
    // the callback runs only after the commit.
    virtual void appendChat(const ChatDraft &draft, std::function<void(StoreResult<AppendResult>)> done) = 0;
    // Messages with seq > since (at most `limit`), and whether none are missing.
    virtual void messagesSince(const QString &room, qint64 since, int limit,
                               std::function<void(StoreResult<RangeResult>)> done) = 0;
    // Up to `limit` messages with seq < before (before <= 0: the newest), oldest first.
    virtual void history(const QString &room, qint64 before, int limit,
                         std::function<void(StoreResult<QList<ChatMessage>>)> done) = 0;
    virtual void lastSeq(const QString &room, std::function<void(StoreResult<qint64>)> done) = 0;

    virtual void todoList(const QString &clientId, std::function<void(StoreResult<QList<TodoItem>>)> done) = 0;
    // Counts the client's todos and stores the new one in one transaction
    // (serialised per client_id, also across instances), so concurrent adds
    // never leave more than `limit`.
    virtual void todoAdd(const QString &clientId, const QString &title, int limit, qint64 now,
                         std::function<void(StoreResult<TodoAddResult>)> done) = 0;
    // value nullopt: no such item for this client.
    virtual void todoUpdate(const QString &clientId, qint64 id, std::optional<QString> title,
                            std::optional<bool> done, qint64 now,
                            std::function<void(StoreResult<std::optional<TodoItem>>)> callback) = 0;
    virtual void todoDelete(const QString &clientId, qint64 id, std::function<void(StoreResult<bool>)> done) = 0;

    // Fire-and-forget records; failures are logged.
    virtual void sessionOpened(const SessionRecord &record) = 0;
    virtual void sessionClosed(const QString &sessionId, int closeCode, qint64 at) = 0;
    // Session and audit records are written behind the action: while the
    // store is down they wait (at most MaxDeferredRecords, in order) and are
    // written once it is back. audit() returns false when its record can be
    // neither written nor kept: the operator action must then be refused.
    // Session records beyond the bound are dropped and logged.
    static constexpr int MaxDeferredRecords = 10000;
    virtual bool audit(const QString &actor, const QString &action, const QJsonObject &details, qint64 at) = 0;

    // Deletes disconnected sessions older than `sessionAgeMs`, chat beyond the
    // newest `historyPerRoom` per room, and nonces older than 10 minutes.
    virtual void cleanup(qint64 now, qint64 sessionAgeMs, int historyPerRoom,
                         std::function<void(StoreResult<CleanupStats>)> done) = 0;

Q_SIGNALS:
    void upChanged(bool up);
};

} // namespace sb
