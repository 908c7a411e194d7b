#pragma once

// Picks the store the configuration asks for: PostgreSQL when SB_DATABASE_URL
// is set, else the embedded SQLite file in SB_DATA. The store gets two
// connections to it: the writer and a read-only one for reads.

#include "config.h"
#include "sqlconnection.h"
#include "store.h"

#include <memory>

namespace sb {

// Not started yet: connect to upChanged(), then call start().
std::unique_ptr<Store> makeStore(const Config &config);

// The connection makeStore() would use (also for tools and tests that inspect
// the database directly). Not opened yet.
std::unique_ptr<SqlConnection> makeSqlConnection(const Config &config, SqlAccess access = SqlAccess::ReadWrite);

} // namespace sb
