#include "storefactory.h"

#include "postgresconnection.h"
#include "sqliteconnection.h"
#include "sqlstore.h"

#include <QStandardPaths>

namespace sb {

std::unique_ptr<SqlConnection> makeSqlConnection(const Config &config, SqlAccess access)
{
    if (!config.databaseUrl.isEmpty())
        return std::make_unique<PostgresConnection>(config.databaseUrl, access);
    QString dataDir = config.dataDir;
    if (dataDir.isEmpty())
        dataDir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    return std::make_unique<SqliteConnection>(dataDir, access);
}

std::unique_ptr<Store> makeStore(const Config &config)
{
    return std::make_unique<SqlStore>(makeSqlConnection(config), makeSqlConnection(config, SqlAccess::ReadOnly));
}

} // namespace sb
