#include "sqlworker.h"

#include "migrations.h"

#include <QDateTime>

#include <algorithm>

namespace sb {

QString storeUnavailable(const QString &reason)
{
    return QStringLiteral("store unavailable: ") + reason;
}

SqlWorker::SqlWorker(std::unique_ptr<SqlConnection> connection, bool migrates, AvailabilityHandler onAvailability)
    : m_connection(std::move(connection))
    , m_onAvailability(std::move(onAvailability))
    , m_migrates(migrates)
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &SqlWorker::tryOpen);
}

void SqlWorker::start()
{
    qCInfo(lcStore).noquote() << "opening" << m_connection->describe();
    tryOpen();
}

void SqlWorker::reopen()
{
    if (!m_up)
        return; // it is reopening by itself already
    qCInfo(lcStore).noquote() << "reopening" << m_connection->describe() << "to follow the writer";
    m_up = false;
    stopWatching();
    m_connection->close();
    m_retryTimer.stop();
    m_retryDelayMs = FirstRetryMs;
    tryOpen();
}

void SqlWorker::shutdown()
{
    m_retryTimer.stop();
    stopWatching();
    m_connection->close();
}

void SqlWorker::tryOpen()
{
    QString error;
    if (m_connection->open(&error) && m_migrates) {
        try {
            applyMigrations(*m_connection, QDateTime::currentMSecsSinceEpoch());
        } catch (const SqlError &e) {
            error = QStringLiteral("schema migration failed: ") + e.message();
            m_connection->close();
        }
    }
    if (!error.isEmpty()) {
        // Retries repeat the same error every few seconds; say it once.
        if (error != m_downReason || !m_reported)
            qCWarning(lcStore).noquote() << "cannot open" << m_connection->describe() << "-" << error;
        else
            qCDebug(lcStore).noquote() << "still cannot open" << m_connection->describe() << "-" << error;
        m_downReason = error;
        report(false);
        scheduleRetry();
        return;
    }
    qCInfo(lcStore).noquote() << "store up:" << m_connection->describe();
    m_up = true;
    m_retryDelayMs = FirstRetryMs;
    watchIdleSocket();
    report(true);
}

void SqlWorker::markDown(const QString &reason)
{
    if (!m_up)
        return;
    qCWarning(lcStore).noquote() << "store down:" << m_connection->describe() << "-" << reason;
    m_up = false;
    m_downReason = reason;
    stopWatching();
    m_connection->close();
    report(false);
    scheduleRetry();
}

void SqlWorker::scheduleRetry()
{
    m_retryTimer.start(m_retryDelayMs);
    m_retryDelayMs = std::min(m_retryDelayMs * 2, MaxRetryMs);
}

void SqlWorker::report(bool up)
{
    if (m_reported && m_reportedUp == up)
        return;
    m_reported = true;
    m_reportedUp = up;
    m_onAvailability(up, up ? QString() : m_downReason);
}

// A server that goes away (restart, failover) usually says so on the
// socket; noticing it while idle marks the store down before the next job.
void SqlWorker::watchIdleSocket()
{
    const qintptr socket = m_connection->idleSocket();
    if (socket < 0)
        return;
    m_socketNotifier = std::make_unique<QSocketNotifier>(socket, QSocketNotifier::Read);
    connect(m_socketNotifier.get(), &QSocketNotifier::activated, this, [this] {
        QString error;
        if (!m_connection->checkAlive(&error))
            markDown(error);
    });
}

void SqlWorker::stopWatching()
{
    if (!m_socketNotifier)
        return;
    // May run inside the notifier's own signal: delete it later.
    m_socketNotifier->setEnabled(false);
    m_socketNotifier.release()->deleteLater();
}

} // namespace sb
