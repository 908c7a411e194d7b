#pragma once

// Finds the master of a Redis Sentinel deployment and follows it through
// failovers, without blocking the event loop. It asks the Sentinels of a
// redis-sentinel:// URL in turn (starting with the last one that answered)
// for `SENTINEL get-master-addr-by-name <master>`, and keeps a subscriber
// connection to one Sentinel on "+switch-master", moving to the next Sentinel
// when that one goes away. Owned by whoever follows the master (the
// RedisBackplane); it owns its two RedisConnections.
//
// masterFound() reports every answer, changed or not; the owner decides
// whether the master moved. A Sentinel's word is not proof: connections to
// the master should also check ROLE (RedisConnection::setRequireMaster), as
// a Sentinel that was cut off may still name an old master.

#include "redisaddress.h"
#include "redisconnection.h"

#include "redisurl.h"

#include <QObject>
#include <QTimer>

#include <memory>

namespace sb {

class RedisSentinel final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RedisSentinel)
public:
    // `url` must be a Sentinel URL; its password is used for the Sentinels
    // and for the master alike.
    explicit RedisSentinel(const RedisUrl &url, QObject *parent = nullptr);
    ~RedisSentinel() override;

    // Connect and reply timeouts per Sentinel (default 1000 ms each).
    void setTimeouts(int connectMs, int commandMs);

    // Starts watching for failovers and asks for the master.
    void start();
    // Asks the Sentinels for the master again (after the master connection
    // was lost, say: a +switch-master may have been missed). Several calls
    // while one question is out make one more round, not one each.
    void askForMaster();

    const QString &masterName() const { return m_url.masterName; }
    // "redis-sentinel://host:port,…/master" without the password.
    QString describe() const { return m_url.toString(); }

Q_SIGNALS:
    // A Sentinel named `master` (host and port; login and db from the URL).
    void masterFound(const sb::RedisAddress &master);
    // No Sentinel could be asked, or none knows the master.
    void masterUnknown(const QString &error);

private:
    RedisAddress sentinel(qsizetype index) const;
    RedisAddress master(const QString &host, const QByteArray &port) const;
    void askNext();
    void onQueryConnected();
    void onQueryDisconnected(const QString &error);
    void finishAsking();
    void connectWatcher();
    void onWatcherConnected();
    void onWatcherDisconnected(const QString &error);
    void onSwitchMaster(const QByteArray &payload);

    const RedisUrl m_url;

    // Destroyed in the destructor body, watcher first.
    std::unique_ptr<RedisConnection> m_query;   // a Commands connection, one Sentinel at a time
    std::unique_ptr<RedisConnection> m_watcher; // subscribed to +switch-master

    bool m_started = false;
    bool m_asking = false;
    bool m_askAgain = false;
    qsizetype m_askFirst = 0; // the Sentinel that answered last
    qsizetype m_askTried = 0;
    qsizetype m_asked = 0;    // the Sentinel being asked now
    QString m_lastError;

    qsizetype m_watched = 0;
    QTimer m_watcherReconnect;
    int m_watcherBackoffMs = 250;
};

} // namespace sb
