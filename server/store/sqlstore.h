#pragma once

// SqlStore: the Store on top of any SqlConnection (SQLite or PostgreSQL). It
// owns a worker thread; every call becomes a job on that thread, which alone
// touches the connection, and the job's callback is posted back to the thread
// that owns the SqlStore. It also keeps the connection up: a lost connection
// marks the store down (upChanged(false)) and is reopened with backoff, and
// while down every call fails at once with "store unavailable: ...".
// Chats are group-committed: every appendChat() queued while the worker is
// busy is stored in the worker's next transaction, so one commit (one fsync)
// covers them all; each callback still runs only after that commit.
// Owned by whoever made it (see makeStore()); destroying it lets queued jobs
// finish, closes the connection on the worker thread and drops the callbacks
// not yet delivered.

#include "sqlconnection.h"
#include "store.h"

#include <QThread>

#include <memory>
#include <mutex>

namespace sb {

class SqlWorker;

class SqlStore final : public Store
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SqlStore)
public:
    explicit SqlStore(std::unique_ptr<SqlConnection> connection, QObject *parent = nullptr);
    ~SqlStore() override;

    QString kind() const override;
    bool isUp() const override;
    void start() override;

    void appendChat(const ChatDraft &draft, std::function<void(StoreResult<AppendResult>)> done) override;
    void messagesSince(const QString &room, qint64 since, int limit,
                       std::function<void(StoreResult<RangeResult>)> done) override;
    void history(const QString &room, qint64 before, int limit,
                 std::function<void(StoreResult<QList<ChatMessage>>)> done) override;
    void lastSeq(const QString &room, std::function<void(StoreResult<qint64>)> done) override;

    void todoList(const QString &clientId, std::function<void(StoreResult<QList<TodoItem>>)> done) override;
    void todoAdd(const QString &clientId, const QString &title, qint64 now,
                 std::function<void(StoreResult<TodoItem>)> done) override;
    void todoUpdate(const QString &clientId, qint64 id, std::optional<QString> title, std::optional<bool> done,
                    qint64 now, std::function<void(StoreResult<std::optional<TodoItem>>)> callback) override;
    void todoDelete(const QString &clientId, qint64 id, std::function<void(StoreResult<bool>)> done) override;

    void sessionOpened(const SessionRecord &record) override;
    void sessionClosed(const QString &sessionId, int closeCode, qint64 at) override;
    void audit(const QString &actor, const QString &action, const QJsonObject &details, qint64 at) override;

    void cleanup(qint64 now, qint64 sessionAgeMs, int historyPerRoom,
                 std::function<void(StoreResult<CleanupStats>)> done) override;

private:
    enum class Availability { Starting, Up, Down };

    struct PendingChat
    {
        ChatDraft draft;
        std::function<void(StoreResult<AppendResult>)> done;
    };

    // Runs `work(SqlConnection &) -> T` on the worker; `done` (may be empty)
    // gets the result on this object's thread.
    template<typename T, typename Work>
    void submit(const char *operation, Work work, std::function<void(StoreResult<T>)> done);
    // While the store is known to be down: answers `done` at once with the
    // reason and returns true.
    template<typename T>
    bool refuseWhileDown(const char *operation, std::function<void(StoreResult<T>)> &done);
    // On the worker thread: stores every pending chat in one transaction.
    void commitPendingChats();
    void setAvailability(bool up, const QString &reason);

    const SqlDialect m_dialect;
    QThread m_thread;
    SqlWorker *m_worker = nullptr; // lives on m_thread, which deletes it
    Availability m_availability = Availability::Starting;
    QString m_downReason;
    bool m_started = false;
    std::mutex m_pendingChatsMutex; // appendChat() adds, the worker takes
    QList<PendingChat> m_pendingChats;
};

} // namespace sb
