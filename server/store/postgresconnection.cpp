#include "postgresconnection.h"

#include <libpq-fe.h>

#include <vector>

namespace sb {

namespace {

// Type OIDs from pg_type.h (server headers are not a client dependency).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;

struct ResultClearer
{
    void operator()(PGresult *result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

// libpq messages span lines ("...\n\tThis probably means..."); one line reads
// better in logs and in error frames.
QString oneLine(const char *message)
{
    return QString::fromUtf8(message).simplified();
}

// Errors after which this connection is finished even if libpq has not noticed
// yet: connection exceptions (08xxx) and the server shutting down (57P0x).
bool isConnectionFatal(const char *sqlState)
{
    if (!sqlState)
        return false;
    const QByteArray state(sqlState);
    return state.startsWith("08") || state.startsWith("57P0");
}

} // namespace

void PostgresConnection::ConnectionCloser::operator()(pg_conn *connection) const
{
    PQfinish(connection);
}

PostgresConnection::PostgresConnection(QString url, SqlAccess access)
    : m_url(std::move(url))
    , m_access(access)
{
}

PostgresConnection::~PostgresConnection() = default;

QString PostgresConnection::describe() const
{
    return maskDatabaseUrl(m_url) + (m_access == SqlAccess::ReadOnly ? QStringLiteral(" (read-only)") : QString());
}

bool PostgresConnection::open(QString *error)
{
    close();
    const QByteArray url = m_url.toUtf8();
    // Defaults first: with expand_dbname the URL's own settings, listed after
    // them, win. The timeouts keep a dead server from stalling the worker (and
    // the store's queue) for minutes.
    const char *const keywords[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                                    "tcp_user_timeout", "application_name", "dbname", "client_encoding", nullptr};
    const char *const values[] = {"5",
                                  "10",
                                  "5",
                                  "3",
                                  "10000",
                                  m_access == SqlAccess::ReadOnly ? "switchboard-reader" : "switchboard",
                                  url.constData(),
                                  "UTF8",
                                  nullptr};
    m_connection.reset(PQconnectdbParams(keywords, values, 1));
    if (!m_connection) {
        *error = QStringLiteral("out of memory");
        return false;
    }
    if (PQstatus(m_connection.get()) != CONNECTION_OK) {
        *error = oneLine(PQerrorMessage(m_connection.get()));
        m_connection.reset();
        return false;
    }
    m_lastNotice.clear();
    PQsetNoticeProcessor(m_connection.get(), &PostgresConnection::onNotice, this);
    // A server that accepts but never answers must not hold the store's queue forever.
    // The reader refuses writes, so a misrouted one fails loudly.
    const char *settings = m_access == SqlAccess::ReadOnly
                               ? "SET statement_timeout = '10s'; SET default_transaction_read_only = on"
                               : "SET statement_timeout = '10s'";
    std::unique_ptr<PGresult, decltype(&PQclear)> set(PQexec(m_connection.get(), settings), &PQclear);
    if (PQresultStatus(set.get()) != PGRES_COMMAND_OK) {
        *error = oneLine(PQerrorMessage(m_connection.get()));
        m_connection.reset();
        return false;
    }
    return true;
}

void PostgresConnection::onNotice(void *self, const char *message)
{
    // libpq would print notices ("relation already exists, skipping") to
    // stderr. Also, a server shutting down says why in a notice that arrives
    // while idle, just before it closes the socket.
    auto *connection = static_cast<PostgresConnection *>(self);
    connection->m_lastNotice = oneLine(message);
    qCDebug(lcPg).noquote() << connection->m_lastNotice;
}

void PostgresConnection::close()
{
    m_connection.reset();
}

bool PostgresConnection::isOpen() const
{
    return m_connection && PQstatus(m_connection.get()) == CONNECTION_OK;
}

qintptr PostgresConnection::idleSocket() const
{
    return m_connection ? PQsocket(m_connection.get()) : -1;
}

bool PostgresConnection::checkAlive(QString *error)
{
    if (!m_connection) {
        *error = QStringLiteral("not connected");
        return false;
    }
    if (!PQconsumeInput(m_connection.get()) || PQstatus(m_connection.get()) != CONNECTION_OK) {
        *error = oneLine(PQerrorMessage(m_connection.get()));
        if (m_lastNotice.startsWith(QLatin1StringView("FATAL")))
            *error = m_lastNotice + QStringLiteral(" (") + *error + u')';
        return false;
    }
    while (PGnotify *notification = PQnotifies(m_connection.get()))
        PQfreemem(notification);
    return true;
}

SqlResult PostgresConnection::run(const QString &sql, const QVariantList &params)
{
    if (!isOpen())
        throw SqlError(QStringLiteral("not connected"), true);

    // Text-format parameters; integers and booleans carry their type so that
    // expressions like `$2 - 1` resolve as bigint, strings let the server infer.
    std::vector<QByteArray> storage(size_t(params.size()));
    std::vector<const char *> values(size_t(params.size()), nullptr);
    std::vector<Oid> types(size_t(params.size()), 0);
    for (qsizetype i = 0; i < params.size(); ++i) {
        const QVariant &value = params.at(i);
        const auto slot = size_t(i);
        if (value.isNull())
            continue;
        switch (value.metaType().id()) {
        case QMetaType::Bool:
            storage[slot] = value.toBool() ? QByteArrayLiteral("true") : QByteArrayLiteral("false");
            types[slot] = kBoolOid;
            break;
        case QMetaType::Int:
        case QMetaType::UInt:
        case QMetaType::Long:
        case QMetaType::LongLong:
        case QMetaType::Short:
            storage[slot] = QByteArray::number(value.toLongLong());
            types[slot] = kInt8Oid;
            break;
        case QMetaType::Double:
        case QMetaType::Float:
            storage[slot] = QByteArray::number(value.toDouble(), 'g', 17);
            types[slot] = kFloat8Oid;
            break;
        case QMetaType::QByteArray:
            storage[slot] = value.toByteArray();
            break;
        default:
            storage[slot] = value.toString().toUtf8();
            break;
        }
        // libpq passes text parameters as C strings: everything after a NUL
        // would be dropped without a word. Refuse instead of truncating.
        if (storage[slot].contains('\0'))
            throw SqlError(QStringLiteral("parameter $%1 contains U+0000, which PostgreSQL text cannot hold").arg(i + 1));
        values[slot] = storage[slot].constData();
    }

    PGconn *connection = m_connection.get();
    const ResultPtr result(PQexecParams(connection, sql.toUtf8().constData(), int(params.size()), types.data(),
                                        values.data(), nullptr, nullptr, 0));
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        const QString message = result ? oneLine(PQresultErrorMessage(result.get()))
                                       : oneLine(PQerrorMessage(connection));
        const char *sqlState = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
        // A writer told it is read-only sits on a standby or a demoted
        // primary: drop it, so reopening finds the primary again (with
        // target_session_attrs=read-write, libpq tries each host in turn).
        const bool demoted = m_access == SqlAccess::ReadWrite && sqlState && qstrcmp(sqlState, "25006") == 0;
        const bool lost = PQstatus(connection) != CONNECTION_OK || isConnectionFatal(sqlState) || demoted;
        throw SqlError(message.isEmpty() ? QStringLiteral("query failed") : message, lost);
    }

    SqlResult out;
    const int rows = PQntuples(result.get());
    const int columns = PQnfields(result.get());
    out.rows.reserve(rows);
    for (int r = 0; r < rows; ++r) {
        SqlRow row;
        row.reserve(columns);
        for (int c = 0; c < columns; ++c) {
            if (PQgetisnull(result.get(), r, c)) {
                row.append(QVariant());
                continue;
            }
            const char *text = PQgetvalue(result.get(), r, c);
            const int length = PQgetlength(result.get(), r, c);
            switch (PQftype(result.get(), c)) {
            case kBoolOid:
                row.append(text[0] == 't');
                break;
            case kInt2Oid:
            case kInt4Oid:
            case kInt8Oid:
            case kOidOid:
                row.append(QByteArray(text, length).toLongLong());
                break;
            case kFloat4Oid:
            case kFloat8Oid:
                row.append(QByteArray(text, length).toDouble());
                break;
            default:
                row.append(QString::fromUtf8(text, length));
                break;
            }
        }
        out.rows.append(std::move(row));
    }
    const char *affected = PQcmdTuples(result.get());
    out.affectedRows = (affected && *affected) ? QByteArray(affected).toLongLong() : 0;
    return out;
}

} // namespace sb
