#include "sqlstore.h"

#include "chatbatch.h"
#include "migrations.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QSocketNotifier>
#include <QTimer>

#include <algorithm>
#include <numeric>
#include <utility>

namespace sb {

namespace {

constexpr int kFirstRetryMs = 1000;
// Rows one cleanup statement deletes at most: a few milliseconds of the writer.
constexpr int kCleanupBatch = 500;
constexpr int kMaxRetryMs = 5000;

const QString kMessageColumns = QStringLiteral("room, seq, from_user, client_id, text, ts, origin");
const QString kTodoColumns = QStringLiteral("id, title, done, created_at, updated_at");
const QString kSavepoint = QStringLiteral("append_chat");
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

QString unavailable(const QString &reason)
{
    return QStringLiteral("store unavailable: ") + reason;
}

ChatMessage messageFromRow(const SqlRow &row)
{
    return {row.value(0).toString(), row.value(1).toLongLong(), row.value(2).toString(), row.value(3).toString(),
            row.value(4).toString(),  row.value(5).toLongLong(), row.value(6).toString()};
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

// The message a fresh (client_id, nonce) was first used for, if any. When
// retention already dropped that message, its seq is still the answer.
std::optional<ChatMessage> findByNonce(SqlConnection &db, const ChatDraft &draft)
{
    const SqlRows rows = db.exec(
        QStringLiteral("SELECT n.room, n.seq, m.from_user, m.client_id, m.text, m.ts, m.origin"
                       " FROM chat_nonces n LEFT JOIN messages m ON m.room = n.room AND m.seq = n.seq"
                       " WHERE n.client_id = $1 AND n.nonce = $2 AND n.created_at >= $3"),
        {draft.clientId, draft.nonce, draft.ts - ChatNonceWindowMs});
    if (rows.isEmpty())
        return std::nullopt;
    const SqlRow &row = rows.first();
    if (row.value(2).isNull())
        return ChatMessage{row.value(0).toString(), row.value(1).toLongLong(), draft.from, draft.clientId,
                           draft.text, draft.ts, draft.origin};
    return messageFromRow(row);
}

// Stores one chat inside the batch's transaction, within the savepoint
// kSavepoint that appendChatsIn() opened for it.
AppendResult appendChatIn(SqlConnection &db, const ChatDraft &draft)
{
    const bool hasNonce = !draft.nonce.isEmpty();
    if (hasNonce) {
        if (std::optional<ChatMessage> original = findByNonce(db, draft))
            return {*original, true};
    }

    // On PostgreSQL the upsert locks the room's row until commit, which
    // serialises writers to one room across instances: seq stays gap-free.
    const SqlRows seqRows = db.exec(QStringLiteral("INSERT INTO rooms (name, last_seq) VALUES ($1, 1)"
                                                   " ON CONFLICT (name) DO UPDATE SET last_seq = rooms.last_seq + 1"
                                                   " RETURNING last_seq"),
                                    {draft.room});
    if (seqRows.isEmpty())
        throw SqlError(QStringLiteral("no seq returned for room %1").arg(draft.room));
    const ChatMessage message{draft.room, seqRows.first().value(0).toLongLong(), draft.from, draft.clientId,
                              draft.text,  draft.ts,                             draft.origin};

    if (hasNonce) {
        // Claims the nonce unless a fresh claim exists: another instance may
        // have stored the same resend since the check above. Then that one
        // wins and this chat (with its seq) is rolled back to the savepoint.
        const SqlRows claimed =
            db.exec(QStringLiteral("INSERT INTO chat_nonces (client_id, nonce, room, seq, created_at)"
                                   " VALUES ($1, $2, $3, $4, $5)"
                                   " ON CONFLICT (client_id, nonce) DO UPDATE SET room = excluded.room,"
                                   " seq = excluded.seq, created_at = excluded.created_at"
                                   " WHERE chat_nonces.created_at < $6"
                                   " RETURNING seq"),
                    {draft.clientId, draft.nonce, draft.room, message.seq, draft.ts, draft.ts - ChatNonceWindowMs});
        if (claimed.isEmpty()) {
            db.exec(QStringLiteral("ROLLBACK TO SAVEPOINT ") + kSavepoint);
            qCDebug(lcStore).noquote() << "nonce" << draft.nonce << "of" << draft.clientId
                                       << "was stored concurrently; answering with that message";
            if (std::optional<ChatMessage> original = findByNonce(db, draft))
                return {*original, true};
            throw SqlError(QStringLiteral("nonce %1 is taken but its message is not found").arg(draft.nonce));
        }
    }

    db.exec(QStringLiteral("INSERT INTO messages (") + kMessageColumns
                + QStringLiteral(") VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            {message.room, message.seq, message.from, message.clientId, message.text, message.ts, message.origin});
    return {message, false};
}

// Stores a batch of chats in one transaction, so that one commit (one fsync)
// covers them all: in a few statements (appendChatBatch) when it can, else one
// by one. Then each chat gets a savepoint: one that fails is undone alone
// and answered with its error. Rooms are taken in name order (each room's
// chats in the order they came), so two instances' batches lock PostgreSQL's
// room rows in the same order and cannot deadlock.
QList<StoreResult<AppendResult>> appendChatsIn(SqlConnection &db, const QList<ChatDraft> &drafts, bool *committing)
{
    SqlTransaction transaction(db);
    // A connection lost during the commit leaves the outcome unknown: the
    // server may have committed before the answer was lost.
    const auto commit = [&transaction, committing] {
        *committing = true;
        transaction.commit();
        *committing = false;
    };
    if (std::optional<QList<StoreResult<AppendResult>>> stored = appendChatBatch(db, drafts)) {
        commit();
        return *std::move(stored);
    }
    QList<qsizetype> order(drafts.size());
    std::iota(order.begin(), order.end(), qsizetype(0));
    std::stable_sort(order.begin(), order.end(),
                     [&drafts](qsizetype a, qsizetype b) { return drafts.at(a).room < drafts.at(b).room; });
    QList<StoreResult<AppendResult>> results(drafts.size());
    for (const qsizetype i : std::as_const(order)) {
        db.exec(QStringLiteral("SAVEPOINT ") + kSavepoint);
        try {
            results[i].value = appendChatIn(db, drafts.at(i));
            results[i].ok = true;
        } catch (const SqlError &error) {
            if (error.connectionLost() || !db.isOpen())
                throw; // the whole batch fails
            qCWarning(lcStore).noquote() << "appendChat to" << drafts.at(i).room << "failed:" << error.message();
            results[i].error = error.message();
            db.exec(QStringLiteral("ROLLBACK TO SAVEPOINT ") + kSavepoint);
        }
        db.exec(QStringLiteral("RELEASE SAVEPOINT ") + kSavepoint);
    }
    commit();
    return results;
}

} // namespace

// SqlWorker: the part of SqlStore that lives on one worker thread (the writer's
// or the reader's). It owns that connection, opens it (the writer also
// migrates the schema), runs jobs on it, watches it while idle, and reopens it
// after it is lost. It reports availability changes through a callback called
// on its own thread.
class SqlWorker final : public QObject
{
public:
    using AvailabilityHandler = std::function<void(bool up, const QString &reason)>;

    SqlWorker(std::unique_ptr<SqlConnection> connection, bool migrates, AvailabilityHandler onAvailability)
        : m_connection(std::move(connection))
        , m_onAvailability(std::move(onAvailability))
        , m_migrates(migrates)
    {
        m_retryTimer.setSingleShot(true);
        connect(&m_retryTimer, &QTimer::timeout, this, &SqlWorker::tryOpen);
    }

    void start()
    {
        qCInfo(lcStore).noquote() << "opening" << m_connection->describe();
        tryOpen();
    }

    // Drops a connection that is up and opens it again at once: the writer
    // moved (a failover, or its server was demoted and it got SQLSTATE
    // 25006), and a reader left behind would go on reading the old server,
    // which no longer sees what is written.
    void reopen()
    {
        if (!m_up)
            return; // it is reopening by itself already
        qCInfo(lcStore).noquote() << "reopening" << m_connection->describe() << "to follow the writer";
        m_up = false;
        stopWatching();
        m_connection->close();
        m_retryTimer.stop();
        m_retryDelayMs = kFirstRetryMs;
        tryOpen();
    }

    void shutdown()
    {
        m_retryTimer.stop();
        stopWatching();
        m_connection->close();
    }

    template<typename T, typename Work>
    StoreResult<T> perform(const char *operation, Work &work)
    {
        StoreResult<T> result;
        if (!m_up) {
            result.error = unavailable(m_downReason);
            qCDebug(lcStore).noquote() << operation << "refused:" << result.error;
            return result;
        }
        try {
            result.value = work(*m_connection);
            result.ok = true;
        } catch (const SqlError &error) {
            qCWarning(lcStore).noquote() << operation << "failed:" << error.message();
            if (error.connectionLost() || !m_connection->isOpen()) {
                markDown(error.message());
                result.error = unavailable(error.message());
            } else {
                result.error = error.message();
            }
        } catch (const std::exception &error) {
            result.error = QString::fromUtf8(error.what());
            qCWarning(lcStore).noquote() << operation << "failed:" << result.error;
        }
        return result;
    }

private:
    void tryOpen()
    {
        QString error;
        if (m_connection->open(&error) && m_migrates) {
            try {
                applyMigrations(*m_connection, QDateTime::currentMSecsSinceEpoch());
            } catch (const SqlError &e) {
                error = QStringLiteral("schema migration failed: ") + e.message();
                m_connection->close();
            }
        }
        if (!error.isEmpty()) {
            // Retries repeat the same error every few seconds; say it once.
            if (error != m_downReason || !m_reported)
                qCWarning(lcStore).noquote() << "cannot open" << m_connection->describe() << "-" << error;
            else
                qCDebug(lcStore).noquote() << "still cannot open" << m_connection->describe() << "-" << error;
            m_downReason = error;
            report(false);
            scheduleRetry();
            return;
        }
        qCInfo(lcStore).noquote() << "store up:" << m_connection->describe();
        m_up = true;
        m_retryDelayMs = kFirstRetryMs;
        watchIdleSocket();
        report(true);
    }

    void markDown(const QString &reason)
    {
        if (!m_up)
            return;
        qCWarning(lcStore).noquote() << "store down:" << m_connection->describe() << "-" << reason;
        m_up = false;
        m_downReason = reason;
        stopWatching();
        m_connection->close();
        report(false);
        scheduleRetry();
    }

    void scheduleRetry()
    {
        m_retryTimer.start(m_retryDelayMs);
        m_retryDelayMs = std::min(m_retryDelayMs * 2, kMaxRetryMs);
    }

    void report(bool up)
    {
        if (m_reported && m_reportedUp == up)
            return;
        m_reported = true;
        m_reportedUp = up;
        m_onAvailability(up, up ? QString() : m_downReason);
    }

    // A server that goes away (restart, failover) usually says so on the
    // socket; noticing it while idle marks the store down before the next job.
    void watchIdleSocket()
    {
        const qintptr socket = m_connection->idleSocket();
        if (socket < 0)
            return;
        m_socketNotifier = std::make_unique<QSocketNotifier>(socket, QSocketNotifier::Read);
        connect(m_socketNotifier.get(), &QSocketNotifier::activated, this, [this] {
            QString error;
            if (!m_connection->checkAlive(&error))
                markDown(error);
        });
    }

    void stopWatching()
    {
        if (!m_socketNotifier)
            return;
        // May run inside the notifier's own signal: delete it later.
        m_socketNotifier->setEnabled(false);
        m_socketNotifier.release()->deleteLater();
    }

    std::unique_ptr<SqlConnection> m_connection;
    AvailabilityHandler m_onAvailability;
    const bool m_migrates;
    QTimer m_retryTimer{this};
    std::unique_ptr<QSocketNotifier> m_socketNotifier;
    int m_retryDelayMs = kFirstRetryMs;
    bool m_up = false;
    QString m_downReason = QStringLiteral("not started");
    bool m_reported = false;
    bool m_reportedUp = false;
};

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
    // Posted after every queued job, so those finish first; each worker and
    // its connection are torn down on their own thread.
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
    answerNow(operation, unavailable(m_downReason), done);
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
            range.messages = messagesFromRows(db.exec(QStringLiteral("SELECT ") + kMessageColumns
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
                before > 0 ? db.exec(QStringLiteral("SELECT ") + kMessageColumns
                                         + QStringLiteral(" FROM messages WHERE room = $1 AND seq < $2"
                                                          " ORDER BY seq DESC LIMIT $3"),
                                     {room, before, rowLimit})
                           : db.exec(QStringLiteral("SELECT ") + kMessageColumns
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

void SqlStore::sessionOpened(const SessionRecord &record)
{
    writeRecord("sessionOpened", [record](SqlConnection &db) {
        db.exec(QStringLiteral("INSERT INTO sessions (session_id, client_id, user_name, role, remote, instance,"
                               " connected_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                               " ON CONFLICT (session_id) DO NOTHING"),
                {record.sessionId, record.clientId, record.user, record.role, record.remote, record.instance,
                 record.connectedAt});
    });
}

void SqlStore::sessionClosed(const QString &sessionId, int closeCode, qint64 at)
{
    writeRecord("sessionClosed", [sessionId, closeCode, at](SqlConnection &db) {
        db.exec(QStringLiteral("UPDATE sessions SET disconnected_at = $2, close_code = $3 WHERE session_id = $1"),
                {sessionId, at, closeCode});
    });
}

bool SqlStore::audit(const QString &actor, const QString &action, const QJsonObject &details, qint64 at)
{
    const QString detailsText = QString::fromUtf8(QJsonDocument(details).toJson(QJsonDocument::Compact));
    return writeRecord("audit", [actor, action, detailsText, at](SqlConnection &db) {
        db.exec(QStringLiteral("INSERT INTO audit_log (at, actor, action, details) VALUES ($1, $2, $3, $4)"),
                {at, actor, action, detailsText});
    });
}

bool SqlStore::writeRecord(const char *operation, std::function<void(SqlConnection &)> write)
{
    // Behind records already waiting, so they reach the table in order.
    if (m_availability != Availability::Up || !m_deferredRecords.empty()) {
        if (m_deferredRecords.size() >= std::size_t(MaxDeferredRecords)) {
            if (m_droppedRecords++ == 0)
                qCWarning(lcStore).noquote() << operation << "record dropped:" << MaxDeferredRecords
                                             << "records already wait for the store (" << m_downReason << ")";
            return false;
        }
        m_deferredRecords.push_back({operation, std::move(write)});
        if (m_availability == Availability::Up)
            flushDeferredRecords();
        return true;
    }
    {
        const std::lock_guard lock(m_pendingRecordsMutex);
        m_pendingRecords.push_back({operation, std::move(write)});
        if (m_pendingRecords.size() > 1)
            return true; // the commit job already queued takes this one too
    }
    QMetaObject::invokeMethod(m_worker, [this] { commitPendingRecords(); }, Qt::QueuedConnection);
    return true;
}

void SqlStore::commitPendingRecords()
{
    std::deque<DeferredRecord> records;
    {
        const std::lock_guard lock(m_pendingRecordsMutex);
        records.swap(m_pendingRecords);
    }
    // One transaction, one commit (one fsync) for every record that came
    // meanwhile: a wave of connections would otherwise cost a commit each.
    // A record the database refuses is undone alone (its savepoint).
    auto work = [&records](SqlConnection &db) {
        const QString savepoint = QStringLiteral("record");
        SqlTransaction transaction(db);
        for (const DeferredRecord &record : records) {
            db.exec(QStringLiteral("SAVEPOINT ") + savepoint);
            try {
                record.write(db);
            } catch (const SqlError &error) {
                if (error.connectionLost() || !db.isOpen())
                    throw;
                qCWarning(lcStore).noquote() << record.operation << "record not written:" << error.message();
                db.exec(QStringLiteral("ROLLBACK TO SAVEPOINT ") + savepoint);
            }
            db.exec(QStringLiteral("RELEASE SAVEPOINT ") + savepoint);
        }
        transaction.commit();
        return true;
    };
    const StoreResult<bool> stored = m_worker->perform<bool>("records", work);
    if (stored.ok || !stored.error.startsWith(unavailable(QString())))
        return;
    // Lost with the connection: they wait for the store like the others, in order.
    QMetaObject::invokeMethod(
        this,
        [this, records = std::move(records)]() mutable {
            for (DeferredRecord &record : records) {
                if (m_deferredRecords.size() < std::size_t(MaxDeferredRecords))
                    m_deferredRecords.push_back(std::move(record));
                else if (m_droppedRecords++ == 0)
                    qCWarning(lcStore).noquote() << record.operation << "record dropped: too many wait for the store";
            }
            if (m_availability == Availability::Up)
                flushDeferredRecords();
        },
        Qt::QueuedConnection);
}

void SqlStore::flushDeferredRecords()
{
    if (m_droppedRecords > 0) {
        qCWarning(lcStore).noquote() << m_droppedRecords << "session or audit record(s) were dropped while the store was down";
        m_droppedRecords = 0;
    }
    if (!m_deferredRecords.empty())
        qCInfo(lcStore).noquote() << "writing" << m_deferredRecords.size() << "record(s) kept while the store was down";
    std::deque<DeferredRecord> records = std::exchange(m_deferredRecords, {});
    for (DeferredRecord &record : records)
        writeRecord(record.operation, std::move(record.write));
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
