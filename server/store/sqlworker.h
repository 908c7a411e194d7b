#pragma once

// SqlWorker: the part of SqlStore that lives on one worker thread (the writer's
// or the reader's). It owns that connection, opens it (the writer also
// migrates the schema), runs jobs on it, watches it while idle, and reopens it
// after it is lost. It reports availability changes through a callback called
// on its own thread.

#include "sqlconnection.h"
#include "store.h"

#include <QObject>
#include <QSocketNotifier>
#include <QTimer>

#include <functional>
#include <memory>

namespace sb {

// The error text of an operation refused or failed because the store is down.
QString storeUnavailable(const QString &reason);

class SqlWorker final : public QObject
{
public:
    static constexpr int FirstRetryMs = 1000;
    static constexpr int MaxRetryMs = 5000;

    using AvailabilityHandler = std::function<void(bool up, const QString &reason)>;

    SqlWorker(std::unique_ptr<SqlConnection> connection, bool migrates, AvailabilityHandler onAvailability);
    void start();
    // Drops a connection that is up and opens it again at once: the writer
    // moved (a failover, or its server was demoted and it got SQLSTATE
    // 25006), and a reader left behind would go on reading the old server,
    // which no longer sees what is written.
    void reopen();
    void shutdown();

    template<typename T, typename Work>
    StoreResult<T> perform(const char *operation, Work &work)
    {
        StoreResult<T> result;
        if (!m_up) {
            result.error = storeUnavailable(m_downReason);
            qCDebug(lcStore).noquote() << operation << "refused:" << result.error;
            return result;
        }
        try {
            result.value = work(*m_connection);
            result.ok = true;
        } catch (const SqlError &error) {
            qCWarning(lcStore).noquote() << operation << "failed:" << error.message();
            if (error.connectionLost() || !m_connection->isOpen()) {
                markDown(error.message());
                result.error = storeUnavailable(error.message());
            } else {
                result.error = error.message();
            }
        } catch (const std::exception &error) {
            result.error = QString::fromUtf8(error.what());
            qCWarning(lcStore).noquote() << operation << "failed:" << result.error;
        }
        return result;
    }

private:
    void tryOpen();
    void markDown(const QString &reason);

    void scheduleRetry();
    void report(bool up);

    // A server that goes away (restart, failover) usually says so on the
    // socket; noticing it while idle marks the store down before the next job.
    void watchIdleSocket();
    void stopWatching();

    std::unique_ptr<SqlConnection> m_connection;
    AvailabilityHandler m_onAvailability;
    const bool m_migrates;
    QTimer m_retryTimer{this};
    std::unique_ptr<QSocketNotifier> m_socketNotifier;
    int m_retryDelayMs = FirstRetryMs;
    bool m_up = false;
    QString m_downReason = QStringLiteral("not started");
    bool m_reported = false;
    bool m_reportedUp = false;
};

} // namespace sb
