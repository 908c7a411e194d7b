#include "sqlstore.h"

#include "chatbatch.h"
#include "sqlworker.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QTimer>

#include <algorithm>
#include <numeric>
#include <utility>

namespace sb {

namespace {

// Rows one cleanup statement deletes at most: a few milliseconds of the writer.
constexpr int kCleanupBatch = 500;

const QString kTodoColumns = QStringLiteral("id, title, done, created_at, updated_at");
// First key of the per-client advisory lock todoAdd() takes on PostgreSQL
// (two-key advisory locks never collide with the one-key migration lock).
constexpr int kTodoLockSpace = 0x746f646f; // "todo"

// Why `text` cannot be stored byte for byte (empty: it can). PostgreSQL text
// ends at U+0000, and a lone surrogate has no UTF-8 form: either would be
// stored as something other than what was acknowledged.
QString unstorableText(const QString &text)
{
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text.at(i);
        if (c.isNull())
            return QStringLiteral("contains U+0000");
        if (c.isHighSurrogate() && i + 1 < text.size() && text.at(i + 1).isLowSurrogate()) {
            ++i;
            continue;
        }
        if (c.isSurrogate())
            return QStringLiteral("contains an unpaired surrogate");
    }
    return {};
}


QList<ChatMessage> messagesFromRows(const SqlRows &rows)
{
    QList<ChatMessage> messages;
    messages.reserve(rows.size());
    for (const SqlRow &row : rows)
        messages.append(messageFromRow(row));
    return messages;
}

TodoItem todoFromRow(const SqlRow &row)
{
    return {row.value(0).toLongLong(), row.value(1).toString(), row.value(2).toBool(), row.value(3).toLongLong(),
            row.value(4).toLongLong()};
}

} // namespace

SqlStore::SqlStore(std::unique_ptr<SqlConnection> writer, std::unique_ptr<SqlConnection> reader, QObject *parent)
    : Store(parent)
    , m_dialect(writer->dialect())
{
    Q_ASSERT(writer);
    m_thread.setObjectName(QStringLiteral("sb-store-") + kind());
    m_worker = new SqlWorker(std::move(writer), true, [this](bool up, const QString &reason) {
        QMetaObject::invokeMethod(
            this, [this, up, reason] { setAvailability(up, reason); }, Qt::QueuedConnection);
    });
    m_worker->moveToThread(&m_thread);
    m_thread.start();
    m_gatherRecords.setSingleShot(true);
    m_gatherRecords.setInterval(RecordsGatherMs);
    connect(&m_gatherRecords, &QTimer::timeout, this, [this] {
        QMetaObject::invokeMethod(m_worker, [this] { commitPendingRecords(); }, Qt::QueuedConnection);
    });
    if (!reader)
        return;
    m_readerThread.setObjectName(QStringLiteral("sb-store-") + kind() + QStringLiteral("-reader"));
    m_reader = new SqlWorker(std::move(reader), false, [this](bool up, const QString &) {
        QMetaObject::invokeMethod(this, [this, up] { setReaderAvailability(up); }, Qt::QueuedConnection);
    });
    m_reader->moveToThread(&m_readerThread);
    m_readerThread.start();
}

SqlStore::~SqlStore()
{
    // Records still gathering are written first. Posted after every queued
    // job, so those finish first; each worker and its connection are torn
    // down on their own thread.
    if (m_gatherRecords.isActive()) {
        m_gatherRecords.stop();
        QMetaObject::invokeMethod(m_worker, [this] { commitPendingRecords(); }, Qt::QueuedConnection);
    }
    for (SqlWorker *worker : {m_reader, m_worker}) {
        if (!worker)
            continue;
        QMetaObject::invokeMethod(
            worker,
            [worker] {
                worker->shutdown();
                delete worker;
                QThread::currentThread()->quit();
            },
            Qt::QueuedConnection);
    }
    m_readerThread.wait();
    m_thread.wait();
}

QString SqlStore::kind() const
{
    return m_dialect == SqlDialect::Sqlite ? QStringLiteral("embedded") : QStringLiteral("postgres");
}

bool SqlStore::isUp() const
{
    return m_availability == Availability::Up;
}

void SqlStore::start()
{
    if (m_started)
        return;
    m_started = true;
    SqlWorker *worker = m_worker;
    QMetaObject::invokeMethod(worker, [worker] { worker->start(); }, Qt::QueuedConnection);
}

void SqlStore::setAvailability(bool up, const QString &reason)
{
    m_downReason = reason;
    // The writer is back after it was lost: it may be on another server now
    // (libpq picked the read-write host), so the reader reconnects too.
    if (up && !m_writerUp && m_readerStarted) {
        SqlWorker *reader = m_reader;
        QMetaObject::invokeMethod(reader, [reader] { reader->reopen(); }, Qt::QueuedConnection);
    }
    m_writerUp = up;
    // The reader opens once the writer has created and migrated the schema,
    // and the store first comes up once the reader has answered too (up, or
    // down: then reads run on the writer), so that reads never start out
    // queued behind writes.
    if (up && m_reader && !m_readerStarted) {
        m_readerStarted = true;
        SqlWorker *reader = m_reader;
        QMetaObject::invokeMethod(reader, [reader] { reader->start(); }, Qt::QueuedConnection);
    }
    if (up && m_reader && !m_readerReported)
        return;
    applyAvailability(up);
}

void SqlStore::applyAvailability(bool up)
{
    const Availability next = up ? Availability::Up : Availability::Down;
    if (next == m_availability)
        return;
    m_availability = next;
    if (up)
        flushDeferredRecords();
    Q_EMIT upChanged(up);
}

void SqlStore::setReaderAvailability(bool up)
{
    if (up != m_readerUp || !m_readerReported)
        qCInfo(lcStore).noquote() << "reader" << (up ? "up" : "down; reads run on the writer meanwhile");
    m_readerUp = up;
    if (!std::exchange(m_readerReported, true) && m_writerUp)
        applyAvailability(true);
}

template<typename T>
void SqlStore::answerNow(const char *operation, const QString &error, std::function<void(StoreResult<T>)> &done)
{
    StoreResult<T> result;
    result.error = error;
    if (!done) {
        qCWarning(lcStore).noquote() << operation << "dropped:" << result.error;
        return;
    }
    qCDebug(lcStore).noquote() << operation << "refused:" << result.error;
    QMetaObject::invokeMethod(
        this, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); },
        Qt::QueuedConnection);
}

template<typename T>
bool SqlStore::refuseWhileDown(const char *operation, std::function<void(StoreResult<T>)> &done)
{
    if (m_availability != Availability::Down)
        return false;
    // Known to be down: answer now rather than queue behind a reconnect.
    answerNow(operation, storeUnavailable(m_downReason), done);
    return true;
}

template<typename T>
bool SqlStore::refuseUnstorable(const char *operation, std::initializer_list<const QString *> texts,
                                std::function<void(StoreResult<T>)> &done)
{
    for (const QString *text : texts) {
        const QString why = unstorableText(*text);
        if (why.isEmpty())
            continue;
        qCWarning(lcStore).noquote() << operation << "refused: a text" << why;
        answerNow(operation, QStringLiteral("refused: the text ") + why + QStringLiteral("; nothing was stored"), done);
        return true;
    }
    return false;
}

template<typename T>
std::function<void(StoreResult<T>)> SqlStore::trackTodoWrite(const QString &clientId,
                                                             std::function<void(StoreResult<T>)> done)
{
    ++m_todoWritesInFlight[clientId];
    return [this, clientId, done = std::move(done)](StoreResult<T> result) {
        if (--m_todoWritesInFlight[clientId] <= 0)
            m_todoWritesInFlight.remove(clientId);
        if (done)
            done(std::move(result));
    };
}

template<typename T, typename Work>
void SqlStore::submit(const char *operation, Route route, Work work, std::function<void(StoreResult<T>)> done)
{
    if (refuseWhileDown(operation, done))
        return;
    SqlWorker *worker = route == Route::Reader && m_reader && m_readerUp ? m_reader : m_worker;
    QMetaObject::invokeMethod(
        worker,
        [this, worker, operation, work = std::move(work), done = std::move(done)]() mutable {
            StoreResult<T> result = worker->perform<T>(operation, work);
            if (!done)
                return;
            // `done` moves back with the result so that whatever it captured
            // is also released on the owner's thread.
            QMetaObject::invokeMethod(
                this, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
}

void SqlStore::appendChat(const ChatDraft &draft, std::function<void(StoreResult<AppendResult>)> done)
{
    if (refuseWhileDown("appendChat", done)
        || refuseUnstorable("appendChat", {&draft.text, &draft.nonce, &draft.room, &draft.from, &draft.clientId}, done))
        return;
    {
        const std::lock_guard lock(m_pendingChatsMutex);
        m_pendingChats.append({draft, std::move(done)});
        if (m_pendingChats.size() > 1)
            return; // the commit job already queued takes this one too
    }
    QMetaObject::invokeMethod(m_worker, [this] { commitPendingChats(); }, Qt::QueuedConnection);
}

void SqlStore::commitPendingChats()
{
    QList<PendingChat> batch;
    {
        const std::lock_guard lock(m_pendingChatsMutex);
        batch.swap(m_pendingChats);
    }
    QList<ChatDraft> drafts;
    drafts.reserve(batch.size());
    for (const PendingChat &chat : std::as_const(batch))
        drafts.append(chat.draft);
    bool committing = false;
    auto work = [&drafts, &committing](SqlConnection &db) { return appendChatsIn(db, drafts, &committing); };
    StoreResult<QList<StoreResult<AppendResult>>> stored =
        m_worker->perform<QList<StoreResult<AppendResult>>>("appendChat", work);
    if (!stored.ok && committing) {
        stored.inDoubt = true;
        qCWarning(lcStore).noquote() << "the connection was lost during COMMIT of" << drafts.size()
                                     << "chat(s): they may be stored; a resend with the same nonce finds them";
    }
    // One event answers the whole batch, in the order the chats came.
    QMetaObject::invokeMethod(
        this,
        [batch = std::move(batch), stored = std::move(stored)]() mutable {
            for (qsizetype i = 0; i < batch.size(); ++i) {
                StoreResult<AppendResult> result;
                if (stored.ok) {
                    result = std::move(stored.value[i]);
                } else {
                    result.error = stored.error;
                    result.inDoubt = stored.inDoubt;
                }
                batch[i].done(std::move(result));
            }
        },
        Qt::QueuedConnection);
}

void SqlStore::messagesSince(const QString &room, qint64 since, int limit,
                             std::function<void(StoreResult<RangeResult>)> done)
{
    submit<RangeResult>(
        "messagesSince", Route::Reader,
        [room, since, limit](SqlConnection &db) {
            // One snapshot for both reads: a cleanup committing between them
            // could otherwise make a range look complete that is not.
            SqlTransaction snapshot(db, SqlTransaction::Kind::Read);
            const SqlRows bounds = db.exec(QStringLiteral("SELECT r.last_seq, (SELECT MIN(m.seq) FROM messages m"
                                                          " WHERE m.room = $1) FROM rooms r WHERE r.name = $1"),
                                           {room});
            RangeResult range;
            range.lastSeq = bounds.value(0).value(0).toLongLong();
            const QVariant minRetained = bounds.value(0).value(1);
            range.messages = messagesFromRows(db.exec(QStringLiteral("SELECT ") + messageColumns()
                                                          + QStringLiteral(" FROM messages WHERE room = $1 AND seq > $2"
                                                                           " ORDER BY seq LIMIT $3"),
                                                      {room, since, std::max(limit, 0)}));
            // Appends may commit between the two reads; never report a last_seq
            // older than a message we return.
            if (!range.messages.isEmpty())
                range.lastSeq = std::max(range.lastSeq, range.messages.last().seq);
            range.complete = range.lastSeq <= since || (!minRetained.isNull() && minRetained.toLongLong() <= since + 1);
            snapshot.commit();
            return range;
        },
        std::move(done));
}

void SqlStore::history(const QString &room, qint64 before, int limit,
                       std::function<void(StoreResult<QList<ChatMessage>>)> done)
{
    submit<QList<ChatMessage>>(
        "history", Route::Reader,
        [room, before, limit](SqlConnection &db) {
            const qint64 rowLimit = std::max(limit, 0);
            const SqlRows rows =
                before > 0 ? db.exec(QStringLiteral("SELECT ") + messageColumns()
                                         + QStringLiteral(" FROM messages WHERE room = $1 AND seq < $2"
                                                          " ORDER BY seq DESC LIMIT $3"),
                                     {room, before, rowLimit})
                           : db.exec(QStringLiteral("SELECT ") + messageColumns()
                                         + QStringLiteral(" FROM messages WHERE room = $1 ORDER BY seq DESC LIMIT $2"),
                                     {room, rowLimit});
            QList<ChatMessage> messages = messagesFromRows(rows);
            std::reverse(messages.begin(), messages.end());
            return messages;
        },
        std::move(done));
}

void SqlStore::lastSeq(const QString &room, std::function<void(StoreResult<qint64>)> done)
{
    submit<qint64>(
        "lastSeq", Route::Reader,
        [room](SqlConnection &db) {
            return db.exec(QStringLiteral("SELECT last_seq FROM rooms WHERE name = $1"), {room})
                .value(0)
                .value(0)
                .toLongLong();
        },
        std::move(done));
}

void SqlStore::todoList(const QString &clientId, std::function<void(StoreResult<QList<TodoItem>>)> done)
{
    // Behind the client's own todo writes still in flight, on the writer;
    // else on the reader (see the class comment).
    const Route route = m_todoWritesInFlight.contains(clientId) ? Route::Writer : Route::Reader;
    submit<QList<TodoItem>>(
        "todoList", route,
        [clientId](SqlConnection &db) {
            QList<TodoItem> items;
            const SqlRows rows = db.exec(QStringLiteral("SELECT ") + kTodoColumns
                                             + QStringLiteral(" FROM todos WHERE client_id = $1 ORDER BY id"),
                                         {clientId});
            for (const SqlRow &row : rows)
                items.append(todoFromRow(row));
            return items;
        },
        std::move(done));
}

void SqlStore::todoAdd(const QString &clientId, const QString &title, int limit, qint64 now,
                       std::function<void(StoreResult<TodoAddResult>)> done)
{
    if (refuseUnstorable("todoAdd", {&title, &clientId}, done))
        return;
    submit<TodoAddResult>(
        "todoAdd", Route::Writer,
        [clientId, title, limit, now, dialect = m_dialect](SqlConnection &db) {
            TodoAddResult added;
            // SQLite: BEGIN IMMEDIATE already holds the database's one write
            // lock. PostgreSQL: a per-client advisory lock, because under READ
            // COMMITTED two transactions could both count limit - 1 and insert.
            SqlTransaction transaction(db);
            if (dialect == SqlDialect::Postgres)
                db.exec(QStringLiteral("SELECT pg_advisory_xact_lock(%1, hashtext($1))").arg(kTodoLockSpace), {clientId});
            const qint64 held =
                db.exec(QStringLiteral("SELECT COUNT(*) FROM todos WHERE client_id = $1"), {clientId}).value(0).value(0).toLongLong();
            if (held >= limit) {
                added.limitReached = true;
                return added;
            }
            const SqlRows rows = db.exec(QStringLiteral("INSERT INTO todos (client_id, title, done, created_at, updated_at)"
                                                        " VALUES ($1, $2, $3, $4, $4) RETURNING ")
                                             + kTodoColumns,
                                         {clientId, title, false, now});
            if (rows.isEmpty())
                throw SqlError(QStringLiteral("insert returned no todo"));
            transaction.commit();
            added.item = todoFromRow(rows.first());
            return added;
        },
        trackTodoWrite(clientId, std::move(done)));
}

void SqlStore::todoUpdate(const QString &clientId, qint64 id, std::optional<QString> title,
                          std::optional<bool> done, qint64 now,
                          std::function<void(StoreResult<std::optional<TodoItem>>)> callback)
{
    if (title && refuseUnstorable("todoUpdate", {&*title}, callback))
        return;
    // A null parameter keeps the column as it is.
    const QVariant newTitle = title ? QVariant(*title) : QVariant();
    const QVariant newDone = done ? QVariant(*done) : QVariant();
    submit<std::optional<TodoItem>>(
        "todoUpdate", Route::Writer,
        [clientId, id, newTitle, newDone, now](SqlConnection &db) -> std::optional<TodoItem> {
            const SqlRows rows = db.exec(QStringLiteral("UPDATE todos SET title = COALESCE($3, title),"
                                                        " done = COALESCE($4, done), updated_at = $5"
                                                        " WHERE id = $1 AND client_id = $2 RETURNING ")
                                             + kTodoColumns,
                                         {id, clientId, newTitle, newDone, now});
            if (rows.isEmpty())
                return std::nullopt;
            return todoFromRow(rows.first());
        },
        trackTodoWrite(clientId, std::move(callback)));
}

void SqlStore::todoDelete(const QString &clientId, qint64 id, std::function<void(StoreResult<bool>)> done)
{
    submit<bool>(
        "todoDelete", Route::Writer,
        [clientId, id](SqlConnection &db) {
            return db.execCount(QStringLiteral("DELETE FROM todos WHERE id = $1 AND client_id = $2"), {id, clientId}) > 0;
        },
        trackTodoWrite(clientId, std::move(done)));
}

// One cleanup() in progress: what is left to delete and what was deleted.
struct SqlStore::CleanupRun
{
    struct RoomTrim
    {
        QString room;
        qint64 from = 0; // oldest seq still stored
        qint64 to = 0;   // newest seq to delete
    };
    enum class Stage { Plan, Sessions, Messages, Nonces };

    qint64 now = 0;
    qint64 sessionAgeMs = 0;
    int historyPerRoom = 0;
    std::function<void(StoreResult<CleanupStats>)> done;
    Stage stage = Stage::Plan;
    QList<RoomTrim> rooms; // messages still to delete, room by room
    CleanupStats stats;
};

void SqlStore::cleanup(qint64 now, qint64 sessionAgeMs, int historyPerRoom,
                       std::function<void(StoreResult<CleanupStats>)> done)
{
    auto run = std::make_shared<CleanupRun>();
    run->now = now;
    run->sessionAgeMs = sessionAgeMs;
    run->historyPerRoom = std::max(historyPerRoom, 0);
    run->done = std::move(done);
    cleanupStep(run);
}

// Each step is one job of at most kCleanupBatch rows in its own transaction;
// the next is submitted only once this one is answered, so chats and other
// writes queued meanwhile run between two batches.
void SqlStore::cleanupStep(const std::shared_ptr<CleanupRun> &run)
{
    using Stage = CleanupRun::Stage;
    auto next = [this, run](StoreResult<int> r) {
        if (!r.ok) {
            StoreResult<CleanupStats> failed;
            failed.error = r.error;
            failed.value = run->stats;
            if (run->done)
                run->done(std::move(failed));
            return;
        }
        switch (run->stage) {
        case Stage::Plan:
            run->stage = Stage::Sessions;
            break;
        case Stage::Sessions:
            run->stats.sessions += r.value;
            if (r.value < kCleanupBatch)
                run->stage = Stage::Messages;
            break;
        case Stage::Messages:
            run->stats.messages += r.value;
            break;
        case Stage::Nonces:
            run->stats.nonces += r.value;
            if (r.value < kCleanupBatch) {
                if (run->done)
                    run->done({true, {}, run->stats});
                return;
            }
            break;
        }
        if (run->stage == Stage::Messages && run->rooms.isEmpty())
            run->stage = Stage::Nonces;
        cleanupStep(run);
    };

    switch (run->stage) {
    case Stage::Plan:
        // Which rooms hold more than they keep, read on the reader.
        submit<QList<CleanupRun::RoomTrim>>(
            "cleanup", Route::Reader,
            [keep = run->historyPerRoom](SqlConnection &db) {
                QList<CleanupRun::RoomTrim> trims;
                const SqlRows rows = db.exec(QStringLiteral("SELECT r.name, r.last_seq - $1, (SELECT MIN(m.seq)"
                                                            " FROM messages m WHERE m.room = r.name) FROM rooms r"),
                                             {qint64(keep)});
                for (const SqlRow &row : rows) {
                    if (!row.value(2).isNull() && row.value(2).toLongLong() <= row.value(1).toLongLong())
                        trims.append({row.value(0).toString(), row.value(2).toLongLong(), row.value(1).toLongLong()});
                }
                return trims;
            },
            std::function<void(StoreResult<QList<CleanupRun::RoomTrim>>)>(
                [run, next](StoreResult<QList<CleanupRun::RoomTrim>> r) {
                    run->rooms = r.value;
                    next({r.ok, r.error, 0});
                }));
        return;
    case Stage::Sessions:
        submit<int>(
            "cleanup", Route::Writer,
            [cutoff = run->now - run->sessionAgeMs](SqlConnection &db) {
                return int(db.execCount(QStringLiteral("DELETE FROM sessions WHERE session_id IN (SELECT session_id"
                                                       " FROM sessions WHERE disconnected_at IS NOT NULL"
                                                       " AND disconnected_at < $1 LIMIT %1)")
                                            .arg(kCleanupBatch),
                                        {cutoff}));
            },
            std::function<void(StoreResult<int>)>(next));
        return;
    case Stage::Messages: {
        // Seqs are gap-free, so a range of kCleanupBatch seqs is at most that many rows.
        CleanupRun::RoomTrim &trim = run->rooms.first();
        const QString room = trim.room;
        const qint64 from = trim.from;
        const qint64 to = std::min(trim.to, trim.from + kCleanupBatch - 1);
        trim.from = to + 1;
        if (trim.from > trim.to)
            run->rooms.removeFirst();
        submit<int>(
            "cleanup", Route::Writer,
            [room, from, to](SqlConnection &db) {
                return int(db.execCount(QStringLiteral("DELETE FROM messages WHERE room = $1 AND seq >= $2 AND seq <= $3"),
                                        {room, from, to}));
            },
            std::function<void(StoreResult<int>)>(next));
        return;
    }
    case Stage::Nonces:
        submit<int>(
            "cleanup", Route::Writer,
            [cutoff = run->now - ChatNonceWindowMs](SqlConnection &db) {
                return int(db.execCount(QStringLiteral("DELETE FROM chat_nonces WHERE (client_id, nonce) IN"
                                                       " (SELECT client_id, nonce FROM chat_nonces"
                                                       " WHERE created_at < $1 LIMIT %1)")
                                            .arg(kCleanupBatch),
                                        {cutoff}));
            },
            std::function<void(StoreResult<int>)>(next));
        return;
    }
}

} // namespace sb
