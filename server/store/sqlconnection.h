#pragma once

// SqlConnection: the few things the store needs from a database driver — open,
// run one statement with positional parameters, transactions — so that one
// SqlStore serves both SQLite and PostgreSQL. SQL text uses PostgreSQL-style
// `$1, $2` placeholders for every dialect. A connection is used by one thread
// only (the store's worker) and is not thread-safe.

#include <QJsonArray>
#include <QList>
#include <QLoggingCategory>
#include <QString>
#include <QVariant>

#include <exception>

namespace sb {

Q_DECLARE_LOGGING_CATEGORY(lcStore)
Q_DECLARE_LOGGING_CATEGORY(lcPg)
Q_DECLARE_LOGGING_CATEGORY(lcSqlite)

enum class SqlDialect { Sqlite, Postgres };

// A store has one ReadWrite connection (the writer) and one ReadOnly
// connection for reads, each on its own thread.
enum class SqlAccess { ReadWrite, ReadOnly };

using SqlRow = QVariantList;
using SqlRows = QList<SqlRow>;

// Column values come back as qlonglong (integers), bool (PostgreSQL booleans),
// double, QString (text) or a null QVariant (SQL NULL).
struct SqlResult
{
    SqlRows rows;
    qint64 affectedRows = 0; // for INSERT / UPDATE / DELETE
};

// Thrown by SqlConnection when a statement fails. `connectionLost` says the
// connection itself is gone (not just this statement), so the caller should
// reconnect before trying again.
class SqlError final : public std::exception
{
public:
    explicit SqlError(QString message, bool connectionLost = false);

    const QString &message() const { return m_message; }
    bool connectionLost() const { return m_connectionLost; }
    const char *what() const noexcept override { return m_utf8.constData(); }

private:
    QString m_message;
    QByteArray m_utf8;
    bool m_connectionLost = false;
};

class SqlConnection
{
public:
    SqlConnection() = default;
    virtual ~SqlConnection() = default;
    SqlConnection(const SqlConnection &) = delete;
    SqlConnection &operator=(const SqlConnection &) = delete;

    virtual SqlDialect dialect() const = 0;
    // Where this connection points, safe to log (no password).
    virtual QString describe() const = 0;

    // Opens (or reopens) the connection; on failure returns false and sets *error.
    virtual bool open(QString *error) = 0;
    virtual void close() = 0;
    virtual bool isOpen() const = 0;

    // Runs one statement. Parameters bind by position to $1, $2, ...; a null
    // QVariant binds SQL NULL. Throws SqlError.
    virtual SqlResult run(const QString &sql, const QVariantList &params = {}) = 0;

    SqlRows exec(const QString &sql, const QVariantList &params = {}) { return run(sql, params).rows; }
    qint64 execCount(const QString &sql, const QVariantList &params = {}) { return run(sql, params).affectedRows; }

    // Transaction control; prefer SqlTransaction over calling these directly.
    virtual void begin() { run(QStringLiteral("BEGIN")); }
    // A transaction that only reads, whose statements all see one snapshot.
    virtual void beginRead() { run(QStringLiteral("BEGIN")); }
    virtual void commit() { run(QStringLiteral("COMMIT")); }
    virtual void rollback() { run(QStringLiteral("ROLLBACK")); }

    // For drivers that keep a socket open between statements: the descriptor to
    // watch while idle (-1: none), and what to do when it turns readable.
    // checkAlive() returns false, with the reason in *error, when the server has
    // closed the connection.
    virtual qintptr idleSocket() const { return -1; }
    virtual bool checkAlive(QString *error)
    {
        Q_UNUSED(error);
        return true;
    }
};

// Scoped transaction: begins on construction, rolls back on destruction unless
// commit() ran, so an exception between the two leaves nothing behind.
class SqlTransaction final
{
public:
    enum class Kind { Write, Read };
    explicit SqlTransaction(SqlConnection &connection, Kind kind = Kind::Write);
    ~SqlTransaction();
    SqlTransaction(const SqlTransaction &) = delete;
    SqlTransaction &operator=(const SqlTransaction &) = delete;

    void commit();
    void rollback();

private:
    SqlConnection &m_connection;
    bool m_finished = false;
};

// Many rows as one parameter: a statement reads the elements of the JSON
// array parameter $`param` as the FROM item `j`, in either dialect. j.value is
// an element (read its fields with ->>, and CAST numbers), j.key its position,
// for ORDER BY. The statement's text stays the same whatever the number of
// rows, so it is parsed once (SQLite caches statements by their text).
QString jsonArrayRows(SqlDialect dialect, int param);
// The rows as that parameter's value.
QString jsonArrayParameter(const QJsonArray &rows);

// `url` with any password replaced by "***" (URL userinfo, ?password= query
// item, or password= in a key=value connection string), for logging.
QString maskDatabaseUrl(const QString &url);

} // namespace sb
