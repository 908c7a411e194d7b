#pragma once

// PostgresConnection: one libpq connection to the cluster's shared database,
// opened from any libpq connection string (postgresql://user:pass@host:port/db,
// several hosts with target_session_attrs=read-write, or key=value pairs).
// Calls block, which is why only the SqlStore worker thread uses it. A
// statement that finds the connection broken, or a writer that finds the
// server read-only (a failover demoted it), throws SqlError with
// connectionLost set; the store then reopens it, and libpq picks whichever
// host is the primary now.

#include "sqlconnection.h"

#include <memory>

struct pg_conn;

namespace sb {

class PostgresConnection final : public SqlConnection
{
public:
    explicit PostgresConnection(QString url, SqlAccess access = SqlAccess::ReadWrite);
    ~PostgresConnection() override;

    SqlDialect dialect() const override { return SqlDialect::Postgres; }
    QString describe() const override;
    bool open(QString *error) override;
    void close() override;
    bool isOpen() const override;
    SqlResult run(const QString &sql, const QVariantList &params = {}) override;
    // REPEATABLE READ: every statement of the transaction sees one snapshot.
    void beginRead() override { run(QStringLiteral("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")); }
    qintptr idleSocket() const override;
    bool checkAlive(QString *error) override;

private:
    struct ConnectionCloser
    {
        void operator()(pg_conn *connection) const;
    };

    static void onNotice(void *self, const char *message);

    QString m_url;
    SqlAccess m_access;
    QString m_lastNotice;
    std::unique_ptr<pg_conn, ConnectionCloser> m_connection;
};

} // namespace sb
