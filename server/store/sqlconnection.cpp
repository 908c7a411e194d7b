#include "sqlconnection.h"

#include "config.h"

#include <QJsonDocument>

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

QString jsonArrayRows(SqlDialect dialect, int param)
{
    return dialect == SqlDialect::Postgres
        ? QStringLiteral("json_array_elements(CAST($%1 AS json)) WITH ORDINALITY AS j(value, key)").arg(param)
        : QStringLiteral("json_each($%1) AS j").arg(param);
}

QString jsonArrayParameter(const QJsonArray &rows)
{
    return QString::fromUtf8(QJsonDocument(rows).toJson(QJsonDocument::Compact));
}

} // namespace sb
