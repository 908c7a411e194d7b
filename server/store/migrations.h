#pragma once

// The store's schema history: an ordered list of versioned migrations, the
// same for SQLite and PostgreSQL apart from a few column types. Each is
// applied once and recorded in schema_migrations(version, applied_at).

#include "sqlconnection.h"

namespace sb {

// The version the newest migration brings the schema to.
int latestSchemaVersion();

// Applies every migration newer than the database's version, all in one
// transaction (under an advisory lock on PostgreSQL, so instances starting
// together migrate once). Returns how many were applied; throws SqlError.
int applyMigrations(SqlConnection &connection, qint64 now);

} // namespace sb
