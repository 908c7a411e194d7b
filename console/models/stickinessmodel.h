#pragma once

// Stickiness: one row per participant client (client_id) with the instances
// it connected to over time, newest first (from Redis'
// sb:client:<id>:instances, or, without Redis, from the connections the
// console saw open), where it is now, whether its live connection is a sticky
// miss, and how often and why it moved (failover when the instance it left
// died, drain when it was draining, else the load balancer moved it). Also
// the cluster's stickiness ratio and its history for the chart. Live state
// follows ConnectionsModel's rows as they come and go (a session's client,
// instance and stickiness never change), and the clients concerned are
// updated at most once a second, in one insertion and one dataChanged range,
// so a drain of thousands costs only the clients that moved. Owned by
// OperatorSession.

#include "ringbuffer.h"
#include "services/backplanetypes.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>
#include <QPointF>
#include <QSet>
#include <QTimer>

namespace sb::console {

class ConnectionsModel;

class StickinessModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StickinessModel)
public:
    enum Column { Client, User, NowOn, Sticky, Visits, Moves, LastMove, History, ColumnCount };
    enum Roles { SortRole = Qt::UserRole + 1, ClientIdRole, StatusRole };
    enum class MoveReason { None, Failover, Drain, Moved };
    enum class Status { Stable, Moved, StickyMiss, Offline };

    struct Move
    {
        QString from;
        QString to;
        qint64 at = 0;
        MoveReason reason = MoveReason::None;
    };

    struct Summary
    {
        int liveSessions = 0;  // participant sessions
        int stickySessions = 0;
        int liveClients = 0;
        int movedClients = 0;  // clients whose newest connection is on another instance than the one before
        int recentMoves = 0;   // moves within the last minute
        double ratio() const { return liveSessions > 0 ? double(stickySessions) / liveSessions : 1.0; }
    };

    explicit StickinessModel(const ConnectionsModel &connections, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Histories read from Redis (newest first); they replace what was observed.
    void applyHistories(const QHash<QString, QList<ClientVisit>> &histories);
    // A connection seen opening (kept as history when Redis is not there).
    void recordOpen(const ConnectionInfo &connection);
    // An instance was seen in `state` ("dead", "draining", "ready") at `at`.
    void noteInstanceState(const QString &instance, const QString &state, qint64 at);
    // Applies the connections that came or went since the last call (the
    // timer does so at most once a second).
    void refreshLive();
    // Appends one point per chart series at `now` (the session calls this every second).
    void sampleChart(qint64 now);

    Summary summary() const { return m_summary; }
    int rowOf(const QString &clientId) const { return m_index.value(clientId, -1); }
    QString clientIdAt(int row) const;
    QList<ClientVisit> visits(const QString &clientId) const;
    QList<Move> moves(const QString &clientId) const;
    static QString reasonName(MoveReason reason);
    // Clients whose history should be read (new or changed since the last read), oldest request first.
    QStringList takeClientsToRead(int max);
    // Every known client, for a slow round-robin refresh.
    QStringList knownClients() const;
    // Chart series: x ms since the epoch; ratio in percent, moves per minute.
    QList<QPointF> ratioPoints() const { return m_ratioSeries.toList(); }
    QList<QPointF> movePoints() const { return m_moveSeries.toList(); }

Q_SIGNALS:
    void summaryChanged();

private:
    struct Row
    {
        QString clientId;
        QString user;
        QString liveInstances; // "app-1" or "app-1, app-2"
        int liveSessions = 0;
        int liveMisses = 0;
        QList<ClientVisit> visits; // newest first
        QList<Move> moves;         // newest first
        qint64 lastSeen = 0;
    };
    struct LiveSession
    {
        QString sessionId;
        QString user;
        QString instance;
        bool sticky = true;
        qint64 connectedAt = 0;
    };
    struct InstanceEvent
    {
        qint64 at;
        QString state;
    };
    void trackRows(int first, int last, bool added);
    void recomputeMoves(Row &row) const;
    void mergeVisit(Row &row, const ClientVisit &visit);
    void queueRead(const QString &clientId);
    MoveReason classify(const QString &from, qint64 fromAt, qint64 toAt) const;
    Status status(const Row &row) const;
    void applyChanges(const QSet<QString> &changed, QList<Row> &added);
    void computeSummary();
    void evictOffline();

    const ConnectionsModel &m_connections;
    QList<Row> m_rows;
    QHash<QString, int> m_index;
    QHash<QString, QList<InstanceEvent>> m_instanceEvents;
    QList<ConnectionInfo> m_pendingOpens;
    QList<QString> m_readQueue;
    QSet<QString> m_queued;
    QHash<QString, QList<LiveSession>> m_live; // client id -> its live participant sessions
    QSet<QString> m_liveChanged;               // clients whose sessions came or went
    QTimer m_liveTimer;
    Summary m_summary;
    RingBuffer<QPointF> m_ratioSeries{300};
    RingBuffer<QPointF> m_moveSeries{300};
    QList<qint64> m_recentMoveTimes; // for moves per minute
    int m_capacity = 50000;
};

} // namespace sb::console
