#pragma once

// The instance's session table: opens a Session on an accepted upgrade (the
// welcome, the session's records in the backplane and the store, its client
// channel), finds sessions by id, client or room, keeps each one's backplane
// record current, and retires it when it closes. Services learn of sessions
// opening and closing from its signals.

#include "ws/session.h"

#include <QElapsedTimer>
#include <QHash>
#include <QMultiHash>
#include <QObject>

namespace sb {

class Backplane;
class ClusterBus;
class Metrics;
class Store;
struct Config;
struct TokenRecord;

class SessionRegistry final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SessionRegistry)
public:
    SessionRegistry(const Config &config, Metrics &metrics, Store &store, Backplane &backplane, ClusterBus &bus,
                    QObject *parent = nullptr);
    ~SessionRegistry() override;

    // A session for an accepted upgrade; it is sent its welcome.
    Session *open(QWebSocket *socket, QTcpSocket *tcp, const TokenRecord &record, const QString &remote);

    const QHash<QString, Session *> &all() const { return m_sessions; }
    int count() const { return static_cast<int>(m_sessions.size()); }
    Session *find(const QString &sessionId) const { return m_sessions.value(sessionId); }
    QList<Session *> ofClient(const QString &clientId) const { return m_byClient.values(clientId); }
    qint64 largestQueue() const;

    // Keeps the session's backplane record (its rooms) current.
    void updateRecord(Session *session);

    // After a wave of closes, hands the freed memory back to the system.
    void releaseFreedMemory();

Q_SIGNALS:
    void opened(Session *session);
    // Out of the table, still in its rooms: the services let go of it.
    void leaving(Session *session);
    void closed(Session *session, int code);

private:
    void onClosed(Session *session);

    const Config &m_config;
    Metrics &m_metrics;
    Store &m_store;
    Backplane &m_backplane;
    ClusterBus &m_bus;
    QHash<QString, Session *> m_sessions;
    QMultiHash<QString, Session *> m_byClient; // one node a session, no set per client
    // Closes since memory was last handed back (releaseFreedMemory()).
    static constexpr int TrimAfterCloses = 1000;
    int m_closedSinceTrim = 0;
    QElapsedTimer m_sinceLastClose;
};

} // namespace sb
