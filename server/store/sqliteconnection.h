#pragma once

// SqliteConnection: the embedded store's database, one file
// `<dataDir>/switchboard.db` opened through the sqlite3 C library. WAL mode
// with synchronous=FULL, because an ack promises the message is on disk.
// WAL also lets a ReadOnly connection (the store's reader, on its own thread)
// read while the writer commits. Owned and used by one SqlStore worker thread.

#include "sqlconnection.h"

#include <memory>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace sb {

class SqliteConnection final : public SqlConnection
{
public:
    explicit SqliteConnection(QString dataDir, SqlAccess access = SqlAccess::ReadWrite);
    ~SqliteConnection() override;

    static QString fileName(const QString &dataDir);

    SqlDialect dialect() const override { return SqlDialect::Sqlite; }
    QString describe() const override;
    bool open(QString *error) override;
    void close() override;
    bool isOpen() const override { return m_db != nullptr; }
    SqlResult run(const QString &sql, const QVariantList &params = {}) override;
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads
    // and then writes can fail with SQLITE_BUSY without waiting.
    void begin() override { run(QStringLiteral("BEGIN IMMEDIATE")); }
    void beginRead() override { run(QStringLiteral("BEGIN DEFERRED")); }

    // "$1" -> "?1" outside quoted literals and identifiers.
    static QString rewritePlaceholders(const QString &sql);

private:
    struct DatabaseCloser
    {
        void operator()(sqlite3 *db) const;
    };
    struct StatementFinalizer
    {
        void operator()(sqlite3_stmt *statement) const;
    };
    using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

    sqlite3_stmt *prepared(const QString &sql);
    [[noreturn]] void fail(const QString &context) const;

    QString m_dataDir;
    SqlAccess m_access;
    // Declared before the statement cache: members are destroyed in reverse
    // order, so every statement is finalized before the database closes.
    std::unique_ptr<sqlite3, DatabaseCloser> m_db;
    std::unordered_map<QString, StatementPtr> m_statements; // keyed by the caller's SQL
};

} // namespace sb
