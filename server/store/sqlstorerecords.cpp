#include "sqlstore.h"

#include "sqlworker.h"

#include <QJsonDocument>

#include <utility>

// SqlStore's session and audit records: written off the request path, several
// in one transaction, and kept (bounded) while the store is down.

namespace sb {

const char *SqlStore::recordName(RecordKind kind)
{
    switch (kind) {
    case RecordKind::SessionOpened:
        return "sessionOpened";
    case RecordKind::SessionClosed:
        return "sessionClosed";
    case RecordKind::Audit:
        break;
    }
    return "audit";
}

void SqlStore::sessionOpened(const SessionRecord &record)
{
    writeRecord({RecordKind::SessionOpened,
                 {{QLatin1StringView("session_id"), record.sessionId},
                  {QLatin1StringView("client_id"), record.clientId},
                  {QLatin1StringView("user"), record.user},
                  {QLatin1StringView("role"), record.role},
                  {QLatin1StringView("remote"), record.remote},
                  {QLatin1StringView("instance"), record.instance},
                  {QLatin1StringView("at"), record.connectedAt}}});
}

void SqlStore::sessionClosed(const QString &sessionId, int closeCode, qint64 at)
{
    writeRecord({RecordKind::SessionClosed,
                 {{QLatin1StringView("session_id"), sessionId},
                  {QLatin1StringView("code"), closeCode},
                  {QLatin1StringView("at"), at}}});
}

bool SqlStore::audit(const QString &actor, const QString &action, const QJsonObject &details, qint64 at)
{
    const QString detailsText = QString::fromUtf8(QJsonDocument(details).toJson(QJsonDocument::Compact));
    return writeRecord({RecordKind::Audit,
                        {{QLatin1StringView("actor"), actor},
                         {QLatin1StringView("action"), action},
                         {QLatin1StringView("details"), detailsText},
                         {QLatin1StringView("at"), at}}});
}

void SqlStore::writeRows(SqlConnection &db, RecordKind kind, const QJsonArray &rows)
{
    const QString from = jsonArrayRows(db.dialect(), 1);
    QString sql;
    switch (kind) {
    case RecordKind::SessionOpened:
        // "WHERE true": SQLite would read ON CONFLICT as part of the join.
        sql = QStringLiteral("INSERT INTO sessions (session_id, client_id, user_name, role, remote, instance,"
                             " connected_at) SELECT j.value->>'session_id', j.value->>'client_id', j.value->>'user',"
                             " j.value->>'role', j.value->>'remote', j.value->>'instance',"
                             " CAST(j.value->>'at' AS BIGINT) FROM ")
            + from + QStringLiteral(" WHERE true ON CONFLICT (session_id) DO NOTHING");
        break;
    case RecordKind::SessionClosed:
        sql = QStringLiteral("UPDATE sessions SET disconnected_at = CAST(j.value->>'at' AS BIGINT),"
                             " close_code = CAST(j.value->>'code' AS INTEGER) FROM ")
            + from + QStringLiteral(" WHERE sessions.session_id = j.value->>'session_id'");
        break;
    case RecordKind::Audit:
        // In the order they came: the log's ids follow it.
        sql = QStringLiteral("INSERT INTO audit_log (at, actor, action, details) SELECT CAST(j.value->>'at' AS BIGINT),"
                             " j.value->>'actor', j.value->>'action', j.value->>'details' FROM ")
            + from + QStringLiteral(" ORDER BY j.key");
        break;
    }
    db.exec(sql, {jsonArrayParameter(rows)});
}

bool SqlStore::writeRecord(DeferredRecord record)
{
    // Behind records already waiting, so they reach the table in order.
    if (m_availability != Availability::Up || !m_deferredRecords.empty()) {
        if (m_deferredRecords.size() >= std::size_t(MaxDeferredRecords)) {
            if (m_droppedRecords++ == 0)
                qCWarning(lcStore).noquote() << recordName(record.kind) << "record dropped:" << MaxDeferredRecords
                                             << "records already wait for the store (" << m_downReason << ")";
            return false;
        }
        m_deferredRecords.push_back(std::move(record));
        if (m_availability == Availability::Up)
            flushDeferredRecords();
        return true;
    }
    {
        const std::lock_guard lock(m_pendingRecordsMutex);
        m_pendingRecords.push_back(std::move(record));
        if (m_pendingRecords.size() > 1)
            return true; // the commit job already due takes this one too
    }
    // The first record waits a moment for others: a wave of connections then
    // costs a transaction per batch, not one per record or two.
    m_gatherRecords.start();
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
                    qCWarning(lcStore).noquote() << recordName(record.kind) << "record dropped: too many wait for the store";
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
        // One statement a kind, sessions opened before sessions closed: a
        // session that came and went within the batch is opened first.
        constexpr RecordKind kinds[] = {RecordKind::SessionOpened, RecordKind::SessionClosed, RecordKind::Audit};
        for (const RecordKind kind : kinds) {
            QJsonArray rows;
            for (const DeferredRecord &record : records) {
                if (record.kind == kind)
                    rows.append(record.row);
            }
            if (!rows.isEmpty())
                writeRows(db, kind, rows);
        }
        transaction.commit();
        return;
    }
    const QString savepoint = QStringLiteral("record");
    for (const DeferredRecord &record : records) {
        db.exec(QStringLiteral("SAVEPOINT ") + savepoint);
        try {
            writeRows(db, record.kind, QJsonArray{record.row});
        } catch (const SqlError &error) {
            if (error.connectionLost() || !db.isOpen())
                throw;
            qCWarning(lcStore).noquote() << recordName(record.kind) << "record not written:" << error.message();
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
        writeRecord(std::move(record));
}

} // namespace sb
