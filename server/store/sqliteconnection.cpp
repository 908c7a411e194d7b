#include "sqliteconnection.h"

#include <QDir>

#include <sqlite3.h>

namespace sb {

namespace {

// How long a writer waits for another connection's lock (another SqlStore on
// the same file) before the statement fails.
constexpr int kBusyTimeoutMs = 5000;

QString errorText(sqlite3 *db)
{
    return db ? QString::fromUtf8(sqlite3_errmsg(db)) : QStringLiteral("out of memory");
}

} // namespace

void SqliteConnection::DatabaseCloser::operator()(sqlite3 *db) const
{
    sqlite3_close_v2(db);
}

void SqliteConnection::StatementFinalizer::operator()(sqlite3_stmt *statement) const
{
    sqlite3_finalize(statement);
}

SqliteConnection::SqliteConnection(QString dataDir, SqlAccess access)
    : m_dataDir(std::move(dataDir))
    , m_access(access)
{
}

SqliteConnection::~SqliteConnection()
{
    close();
}

QString SqliteConnection::fileName(const QString &dataDir)
{
    return QDir(dataDir).filePath(QStringLiteral("switchboard.db"));
}

QString SqliteConnection::describe() const
{
    return QStringLiteral("sqlite:") + fileName(m_dataDir)
           + (m_access == SqlAccess::ReadOnly ? QStringLiteral(" (read-only)") : QString());
}

bool SqliteConnection::open(QString *error)
{
    close();
    if (!QDir().mkpath(m_dataDir)) {
        *error = QStringLiteral("cannot create data directory %1").arg(m_dataDir);
        return false;
    }
    const bool readOnly = m_access == SqlAccess::ReadOnly;
    sqlite3 *raw = nullptr;
    const int rc = sqlite3_open_v2(fileName(m_dataDir).toUtf8().constData(), &raw,
                                   (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
                                       | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    m_db.reset(raw); // sqlite hands out a handle even on failure; it must be closed
    if (rc != SQLITE_OK) {
        *error = QStringLiteral("cannot open %1: %2").arg(fileName(m_dataDir), errorText(raw));
        m_db.reset();
        return false;
    }
    sqlite3_extended_result_codes(raw, 1);
    try {
        sqlite3_busy_timeout(raw, kBusyTimeoutMs);
        // The reader cannot switch modes; the writer (opened first) already did.
        const SqlRows mode = exec(readOnly ? QStringLiteral("PRAGMA journal_mode") : QStringLiteral("PRAGMA journal_mode=WAL"));
        if (mode.isEmpty() || mode.first().value(0).toString().compare(QLatin1StringView("wal"), Qt::CaseInsensitive) != 0)
            throw SqlError(QStringLiteral("cannot switch to WAL journal mode"));
        if (readOnly) {
            exec(QStringLiteral("PRAGMA query_only=1"));
        } else {
            exec(QStringLiteral("PRAGMA synchronous=FULL"));
        }
        qCDebug(lcSqlite).noquote() << "opened" << describe() << "(WAL, synchronous=FULL)";
    } catch (const SqlError &e) {
        *error = QStringLiteral("cannot configure %1: %2").arg(fileName(m_dataDir), e.message());
        close();
        return false;
    }
    return true;
}

void SqliteConnection::close()
{
    m_statements.clear();
    m_db.reset();
}

void SqliteConnection::fail(const QString &context) const
{
    throw SqlError(QStringLiteral("%1: %2").arg(context, errorText(m_db.get())));
}

QString SqliteConnection::rewritePlaceholders(const QString &sql)
{
    QString out;
    out.reserve(sql.size());
    QChar quote; // inside '...' or "..." when not null
    for (qsizetype i = 0; i < sql.size(); ++i) {
        const QChar c = sql.at(i);
        if (!quote.isNull()) {
            if (c == quote)
                quote = QChar(); // a doubled quote just reopens on the next char
        } else if (c == u'\'' || c == u'"') {
            quote = c;
        } else if (c == u'$' && i + 1 < sql.size() && sql.at(i + 1).isDigit()) {
            out += u'?';
            continue;
        }
        out += c;
    }
    return out;
}

sqlite3_stmt *SqliteConnection::prepared(const QString &sql)
{
    if (const auto it = m_statements.find(sql); it != m_statements.end())
        return it->second.get();
    const QByteArray text = rewritePlaceholders(sql).toUtf8();
    sqlite3_stmt *raw = nullptr;
    const char *tail = nullptr;
    if (sqlite3_prepare_v3(m_db.get(), text.constData(), int(text.size()), SQLITE_PREPARE_PERSISTENT, &raw, &tail)
        != SQLITE_OK)
        fail(QStringLiteral("prepare failed"));
    StatementPtr statement(raw);
    if (!statement)
        throw SqlError(QStringLiteral("empty statement"));
    if (tail && *tail && !QByteArray(tail).trimmed().isEmpty())
        throw SqlError(QStringLiteral("one statement at a time: %1").arg(sql));
    return m_statements.emplace(sql, std::move(statement)).first->second.get();
}

SqlResult SqliteConnection::run(const QString &sql, const QVariantList &params)
{
    if (!m_db)
        throw SqlError(QStringLiteral("database is not open"), true);
    sqlite3_stmt *statement = prepared(sql);
    // Leave the cached statement clean for its next use, whatever happens here.
    struct Reset
    {
        sqlite3_stmt *statement;
        ~Reset()
        {
            sqlite3_reset(statement);
            sqlite3_clear_bindings(statement);
        }
    } reset{statement};

    if (params.size() != sqlite3_bind_parameter_count(statement))
        throw SqlError(QStringLiteral("%1 parameters given, %2 expected")
                           .arg(params.size())
                           .arg(sqlite3_bind_parameter_count(statement)));
    for (int i = 0; i < params.size(); ++i) {
        const QVariant &value = params.at(i);
        const int index = i + 1;
        int rc = SQLITE_OK;
        switch (value.isNull() ? QMetaType::UnknownType : value.metaType().id()) {
        case QMetaType::UnknownType:
            rc = sqlite3_bind_null(statement, index);
            break;
        case QMetaType::Bool:
            rc = sqlite3_bind_int(statement, index, value.toBool() ? 1 : 0);
            break;
        case QMetaType::Int:
        case QMetaType::UInt:
        case QMetaType::Long:
        case QMetaType::LongLong:
        case QMetaType::Short:
            rc = sqlite3_bind_int64(statement, index, value.toLongLong());
            break;
        case QMetaType::Double:
        case QMetaType::Float:
            rc = sqlite3_bind_double(statement, index, value.toDouble());
            break;
        case QMetaType::QByteArray: {
            const QByteArray bytes = value.toByteArray();
            rc = sqlite3_bind_blob64(statement, index, bytes.constData(), sqlite3_uint64(bytes.size()), SQLITE_TRANSIENT);
            break;
        }
        default: {
            const QByteArray text = value.toString().toUtf8();
            rc = sqlite3_bind_text64(statement, index, text.constData(), sqlite3_uint64(text.size()), SQLITE_TRANSIENT,
                                     SQLITE_UTF8);
            break;
        }
        }
        if (rc != SQLITE_OK)
            fail(QStringLiteral("bind $%1 failed").arg(index));
    }

    SqlResult result;
    const int columns = sqlite3_column_count(statement);
    for (;;) {
        const int rc = sqlite3_step(statement);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            fail(QStringLiteral("statement failed"));
        SqlRow row;
        row.reserve(columns);
        for (int c = 0; c < columns; ++c) {
            switch (sqlite3_column_type(statement, c)) {
            case SQLITE_INTEGER:
                row.append(qlonglong(sqlite3_column_int64(statement, c)));
                break;
            case SQLITE_FLOAT:
                row.append(sqlite3_column_double(statement, c));
                break;
            case SQLITE_NULL:
                row.append(QVariant());
                break;
            case SQLITE_BLOB: {
                const void *data = sqlite3_column_blob(statement, c);
                row.append(QByteArray(static_cast<const char *>(data), sqlite3_column_bytes(statement, c)));
                break;
            }
            default: {
                const auto *text = reinterpret_cast<const char *>(sqlite3_column_text(statement, c));
                row.append(QString::fromUtf8(text, sqlite3_column_bytes(statement, c)));
                break;
            }
            }
        }
        result.rows.append(std::move(row));
    }
    if (!sqlite3_stmt_readonly(statement))
        result.affectedRows = sqlite3_changes64(m_db.get());
    return result;
}

} // namespace sb
