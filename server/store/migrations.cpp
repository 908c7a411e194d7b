#include "migrations.h"

#include <algorithm>

namespace sb {

namespace {

// The only per-dialect differences in the schema. Statements name them as
// {auto_id}; everything else is written once.
struct DialectTypes
{
    const char *placeholder;
    const char *sqlite;
    const char *postgres;
};

constexpr DialectTypes kDialectTypes[] = {
    {"{auto_id}", "INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"},
};

struct Migration
{
    int version;
    QList<const char *> statements;
};

// Append only: a released migration never changes, a fix is a new version.
const Migration kMigrations[] = {
    {1,
     {
         "CREATE TABLE rooms ("
         " name TEXT PRIMARY KEY,"
         " last_seq BIGINT NOT NULL DEFAULT 0)",

         "CREATE TABLE messages ("
         " room TEXT NOT NULL,"
         " seq BIGINT NOT NULL,"
         " from_user TEXT NOT NULL,"
         " client_id TEXT NOT NULL,"
         " text TEXT NOT NULL,"
         " ts BIGINT NOT NULL,"
         " origin TEXT NOT NULL,"
         " PRIMARY KEY (room, seq))",

         "CREATE TABLE chat_nonces ("
         " client_id TEXT NOT NULL,"
         " nonce TEXT NOT NULL,"
         " room TEXT NOT NULL,"
         " seq BIGINT NOT NULL,"
         " created_at BIGINT NOT NULL,"
         " PRIMARY KEY (client_id, nonce))",
         "CREATE INDEX chat_nonces_created_at ON chat_nonces (created_at)",

         "CREATE TABLE todos ("
         " id {auto_id},"
         " client_id TEXT NOT NULL,"
         " title TEXT NOT NULL,"
         " done BOOLEAN NOT NULL DEFAULT FALSE,"
         " created_at BIGINT NOT NULL,"
         " updated_at BIGINT NOT NULL)",
         "CREATE INDEX todos_client_id ON todos (client_id)",

         "CREATE TABLE sessions ("
         " session_id TEXT PRIMARY KEY,"
         " client_id TEXT NOT NULL,"
         " user_name TEXT NOT NULL,"
         " role TEXT NOT NULL,"
         " remote TEXT NOT NULL,"
         " instance TEXT NOT NULL,"
         " connected_at BIGINT NOT NULL,"
         " disconnected_at BIGINT NULL,"
         " close_code INTEGER NULL)",
         "CREATE INDEX sessions_disconnected_at ON sessions (disconnected_at)",

         "CREATE TABLE audit_log ("
         " id {auto_id},"
         " at BIGINT NOT NULL,"
         " actor TEXT NOT NULL,"
         " action TEXT NOT NULL,"
         " details TEXT NOT NULL)",
         "CREATE INDEX audit_log_at ON audit_log (at)",
     }},
};

QString forDialect(const char *statement, SqlDialect dialect)
{
    QString sql = QString::fromUtf8(statement);
    for (const DialectTypes &types : kDialectTypes)
        sql.replace(QLatin1StringView(types.placeholder),
                    QLatin1StringView(dialect == SqlDialect::Sqlite ? types.sqlite : types.postgres));
    return sql;
}

// Any constant unique to this application; see pg_advisory_xact_lock.
constexpr qint64 kMigrationLockKey = 0x5357424d49475254; // "SWBMIGRT"

} // namespace

int latestSchemaVersion()
{
    int latest = 0;
    for (const Migration &migration : kMigrations)
        latest = std::max(latest, migration.version);
    return latest;
}

int applyMigrations(SqlConnection &connection, qint64 now)
{
    SqlTransaction transaction(connection);
    if (connection.dialect() == SqlDialect::Postgres)
        connection.exec(QStringLiteral("SELECT pg_advisory_xact_lock($1)"), {kMigrationLockKey});
    connection.exec(QStringLiteral("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   " version INTEGER PRIMARY KEY,"
                                   " applied_at BIGINT NOT NULL)"));
    const SqlRows current = connection.exec(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    const qint64 currentVersion = current.value(0).value(0).toLongLong();

    int applied = 0;
    for (const Migration &migration : kMigrations) {
        if (migration.version <= currentVersion)
            continue;
        for (const char *statement : migration.statements)
            connection.exec(forDialect(statement, connection.dialect()));
        connection.exec(QStringLiteral("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)"),
                        {migration.version, now});
        qCInfo(lcStore).noquote() << "applied schema migration" << migration.version << "on" << connection.describe();
        ++applied;
    }
    transaction.commit();
    return applied;
}

} // namespace sb
