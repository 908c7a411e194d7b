#pragma once

// SqlStore: the Store on top of any SqlConnection (SQLite or PostgreSQL). It
// owns two worker threads, each alone touching its own connection: the writer
// (appendChat, todo writes, session and audit records, cleanup's deletes) and
// the reader (history, messagesSince, lastSeq, todoList, cleanup's plan), so a
// big read never holds an acknowledged chat back. Every call becomes a job on
// one of them; its callback is posted back to the thread that owns the
// SqlStore. Reads see every write acknowledged before they were issued (the
// writer commits before the ack; the reader's next statement sees the
// commit); todoList() also sees the client's own todo writes still in flight,
// because it runs on the writer, after them, while there are any.
// It keeps both connections up: a lost connection is reopened with backoff.
// The store is up while the writer is: a lost writer marks the store down
// (upChanged(false)) and while down every call fails at once with "store
// unavailable: ..."; while only the reader is down, reads run on the writer.
// Chats are group-committed: every appendChat() queued while the writer is
// busy is stored in its next transaction, so one commit (one fsync) covers
// them all; each callback still runs only after that commit. cleanup()
// deletes in batches of 500 rows, each its own job, so appends queued
// meanwhile are stored between two batches.
// Owned by whoever made it (see makeStore()); destroying it lets queued jobs
// finish, closes the connections on their threads and drops the callbacks
// not yet delivered.

#include "sqlconnection.h"
#include "store.h"

#include <QHash>
#include <QJsonObject>
#include <QThread>
#include <QTimer>

#include <deque>
#include <memory>
#include <mutex>

namespace sb {

class SqlWorker;

class SqlStore final : public Store
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SqlStore)
public:
    // Without a reader, reads run on the writer.
    explicit SqlStore(std::unique_ptr<SqlConnection> writer, std::unique_ptr<SqlConnection> reader = {},
                      QObject *parent = nullptr);
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
    void todoAdd(const QString &clientId, const QString &title, int limit, qint64 now,
                 std::function<void(StoreResult<TodoAddResult>)> done) override;
    void todoUpdate(const QString &clientId, qint64 id, std::optional<QString> title, std::optional<bool> done,
                    qint64 now, std::function<void(StoreResult<std::optional<TodoItem>>)> callback) override;
    void todoDelete(const QString &clientId, qint64 id, std::function<void(StoreResult<bool>)> done) override;

    void sessionOpened(const SessionRecord &record) override;
    void sessionClosed(const QString &sessionId, int closeCode, qint64 at) override;
    bool audit(const QString &actor, const QString &action, const QJsonObject &details, qint64 at) override;

    void cleanup(qint64 now, qint64 sessionAgeMs, int historyPerRoom,
                 std::function<void(StoreResult<CleanupStats>)> done) override;

private:
    enum class Availability { Starting, Up, Down };
    enum class Route { Writer, Reader };
    struct CleanupRun;

    struct PendingChat
    {
        ChatDraft draft;
        std::function<void(StoreResult<AppendResult>)> done;
    };

    // Runs `work(SqlConnection &) -> T` on the writer, or on the reader while
    // it is up; `done` (may be empty) gets the result on this object's thread.
    template<typename T, typename Work>
    void submit(const char *operation, Route route, Work work, std::function<void(StoreResult<T>)> done);
    // Answers `done` (may be empty) with `error` from the event loop, not from
    // inside the call.
    template<typename T>
    void answerNow(const char *operation, const QString &error, std::function<void(StoreResult<T>)> &done);
    // While the store is known to be down: answers `done` at once with the
    // reason and returns true.
    template<typename T>
    bool refuseWhileDown(const char *operation, std::function<void(StoreResult<T>)> &done);
    // Text the store cannot keep byte for byte (U+0000, unpaired surrogates):
    // answers `done` with why and returns true.
    template<typename T>
    bool refuseUnstorable(const char *operation, std::initializer_list<const QString *> texts,
                          std::function<void(StoreResult<T>)> &done);
    // Counts the client's todo writes until their answers are delivered, so
    // that todoList() can follow them on the writer.
    template<typename T>
    std::function<void(StoreResult<T>)> trackTodoWrite(const QString &clientId, std::function<void(StoreResult<T>)> done);
    // On the writer thread: stores every pending chat in one transaction.
    void commitPendingChats();
    // On the writer thread: writes every pending session and audit record in
    // one transaction.
    void commitPendingRecords();
    void cleanupStep(const std::shared_ptr<CleanupRun> &run);
    // A session or audit record: what it is and its row. The records of one
    // kind that wait together are written in one statement.
    enum class RecordKind { SessionOpened, SessionClosed, Audit };
    struct DeferredRecord
    {
        RecordKind kind;
        QJsonObject row;
    };
    static const char *recordName(RecordKind kind); // for logs
    // How long a record waits for others to share its transaction.
    static constexpr int RecordsGatherMs = 50;
    // Writes a session or audit record (within RecordsGatherMs, with the
    // others that came meanwhile), or keeps it while the store is down; false
    // when it was neither (the bound is reached).
    bool writeRecord(DeferredRecord record);
    void flushDeferredRecords();
    void setAvailability(bool up, const QString &reason); // the writer's
    void applyAvailability(bool up);
    void setReaderAvailability(bool up);

    const SqlDialect m_dialect;
    QThread m_thread;
    SqlWorker *m_worker = nullptr; // the writer; lives on m_thread, which deletes it
    QThread m_readerThread;
    SqlWorker *m_reader = nullptr; // null: reads run on the writer; lives on m_readerThread
    Availability m_availability = Availability::Starting;
    QString m_downReason;
    bool m_started = false;
    bool m_writerUp = false;
    bool m_readerStarted = false;
    bool m_readerReported = false;
    bool m_readerUp = false;
    QHash<QString, int> m_todoWritesInFlight; // client_id -> todo writes not yet answered
    // A refused record fails the whole batch (one statement a kind), or is
    // undone alone behind a savepoint of its own (three statements a record).
    enum class RecordFailure { FailsAll, UndoneAlone };
    static void writeRecords(SqlConnection &db, const std::deque<DeferredRecord> &records, RecordFailure failure);
    // Writes `rows`, all of `kind`, in one statement.
    static void writeRows(SqlConnection &db, RecordKind kind, const QJsonArray &rows);
    std::deque<DeferredRecord> m_deferredRecords; // session and audit records waiting for the store
    qint64 m_droppedRecords = 0;
    std::mutex m_pendingChatsMutex; // appendChat() adds, the worker takes
    QList<PendingChat> m_pendingChats;
    std::mutex m_pendingRecordsMutex; // writeRecord() adds, the worker takes
    std::deque<DeferredRecord> m_pendingRecords;
    QTimer m_gatherRecords; // from a batch's first record to its transaction
};

} // namespace sb
