#include "sqlstore.h"

#include "sqlworker.h"

#include <QJsonDocument>

#include <utility>

// SqlStore's session and audit records: written off the request path, several
// in one transaction, and kept (bounded) while the store is down.

namespace sb {

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
    auto work = [&records](SqlConnection &db) {
        try {
            writeRecords(db, records, RecordFailure::FailsAll);
        } catch (const SqlError &error) {
            if (error.connectionLost() || !db.isOpen())
                throw;
            // The database refused one of them: again, each behind a savepoint
            // of its own, so that only the refused one is undone.
            writeRecords(db, records, RecordFailure::UndoneAlone);
        }
        return true;
    };
    const StoreResult<bool> stored = m_worker->perform<bool>("records", work);
    if (stored.ok || !stored.error.startsWith(storeUnavailable(QString())))
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

void SqlStore::writeRecords(SqlConnection &db, const std::deque<DeferredRecord> &records, RecordFailure failure)
{
    SqlTransaction transaction(db);
    if (failure == RecordFailure::FailsAll) {
        for (const DeferredRecord &record : records)
            record.write(db);
        transaction.commit();
        return;
    }
    const QString savepoint = QStringLiteral("record");
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

} // namespace sb
