#include "sqlconnection.h"

#include "config.h"

namespace sb {

Q_LOGGING_CATEGORY(lcStore, "sb.store")
Q_LOGGING_CATEGORY(lcPg, "sb.pg")
Q_LOGGING_CATEGORY(lcSqlite, "sb.sqlite")

SqlError::SqlError(QString message, bool connectionLost)
    : m_message(std::move(message))
    , m_utf8(m_message.toUtf8())
    , m_connectionLost(connectionLost)
{
}

SqlTransaction::SqlTransaction(SqlConnection &connection, Kind kind)
    : m_connection(connection)
{
    if (kind == Kind::Read)
        m_connection.beginRead();
    else
        m_connection.begin();
}

SqlTransaction::~SqlTransaction()
{
    if (m_finished)
        return;
    try {
        m_connection.rollback();
    } catch (const SqlError &error) {
        // Already failing (that is why we are unwinding); the server discards
        // the transaction anyway when the connection is gone.
        qCDebug(lcStore) << "rollback failed:" << error.message();
    }
}

void SqlTransaction::commit()
{
    // Marked finished only once COMMIT succeeded: a failed COMMIT leaves a
    // SQLite transaction open, so the destructor must still roll it back.
    m_connection.commit();
    m_finished = true;
}

void SqlTransaction::rollback()
{
    m_finished = true;
    m_connection.rollback();
}

QString maskDatabaseUrl(const QString &url)
{
    return maskUrlPassword(url);
}

} // namespace sb
