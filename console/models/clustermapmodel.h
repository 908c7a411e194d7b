#pragma once

// What the cluster map draws, aggregated so that it stays cheap at 10 000
// connections: per instance its state and load, its clients counted per room
// (largest rooms first) with operators and sticky misses apart, and the
// message flow between instances as bursts (origin -> the instances that
// receive it, with a count) instead of single messages. Reads InstancesModel
// when it changes, and counts ConnectionsModel's rows again only after
// connections came or went (within half a second, at most every two seconds)
// or, for room changes, every three: one pass over 10 000 rows costs about
// ten milliseconds. Takes envelopes from the Redis monitor or, without Redis,
// the instances' own publish samples. Owned by OperatorSession;
// ClusterMapView paints it.

#include "services/backplanetypes.h"

#include <QColor>
#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QTimer>
#include <QUrl>

namespace sb::console {

class ConnectionsModel;
class InstancesModel;

class ClusterMapModel final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ClusterMapModel)
public:
    struct RoomGroup
    {
        QString room; // empty: connections in no room
        int members = 0;
    };

    struct Instance
    {
        QString id;
        QUrl url;
        QColor color;
        QString health; // "ready", "draining", "dead", …
        bool live = false;
        int connections = 0;
        double framesInPerS = 0;
        double framesOutPerS = 0;
        double rttMs = 0;
        bool sharedBackplane = false;
        int participants = 0;
        int operators = 0;
        int stickyMisses = 0;
        int roomCount = 0;
        QList<RoomGroup> rooms; // largest first, at most maxRoomsPerInstance
        double publishPerS = 0;  // envelopes it published, per second
    };

    struct Backplane
    {
        bool redisConfigured = false;
        QString redisState; // "connected", "unreachable", …
        QString redisAddress;
        double messagesPerS = 0;
    };

    // Messages from `origin` that reached `targets` during the last tick.
    struct FlowBurst
    {
        QString origin;
        QStringList targets;
        int count = 0;
        QString kind; // chat, presence, todo, broadcast, command
    };

    explicit ClusterMapModel(const InstancesModel &instances, const ConnectionsModel &connections,
                             QObject *parent = nullptr);

    const QList<Instance> &instances() const { return m_instances; }
    const Backplane &backplane() const { return m_backplane; }
    int totalConnections() const { return m_totalConnections; }
    int totalParticipants() const { return m_totalParticipants; }
    double stickyRatio() const { return m_stickyRatio; }
    // "every envelope (Redis)" or "sampled by the instances (1 in 100)".
    QString flowSource() const { return m_flowFromRedis ? tr("every envelope, from Redis") : tr("sampled by the instances"); }
    int maxRoomsPerInstance() const { return m_maxRooms; }
    void setMaxRoomsPerInstance(int rooms) { m_maxRooms = rooms; }

    void setRedisState(bool configured, const QString &state, const QString &address);
    void addEnvelopes(const QList<BackplaneEnvelope> &envelopes);
    // Without Redis: an instance's "publish" sample stands for one message.
    void addPublishSample(const FlowSample &sample);
    // Counts the connections again and re-reads the instances now (the
    // timers do this when they changed).
    void refresh();

Q_SIGNALS:
    // The aggregate changed (at most twice a second).
    void changed();
    // Flow seen during the last 100 ms.
    void flowBursts(const QList<sb::console::ClusterMapModel::FlowBurst> &bursts);

private:
    struct Counts
    {
        int participants = 0;
        int operators = 0;
        int misses = 0;
        int noRoom = 0;
        QHash<QString, int> rooms;
    };
    void onConnectionsBatch(int added, int removed, int updated);
    void countConnections();
    void readInstances();
    quint64 instanceBit(const QString &instance);
    QStringList instancesOf(quint64 bits) const;
    void emitFlow();
    QStringList targetsOf(const QString &channel, const QString &origin);
    void countPublish(const QString &origin, const QStringList &targets, const QString &kind, int count);

    const InstancesModel &m_instancesModel;
    const ConnectionsModel &m_connections;
    QList<Instance> m_instances;
    Backplane m_backplane;
    int m_totalConnections = 0;
    int m_totalParticipants = 0;
    double m_stickyRatio = 1.0;
    int m_maxRooms = 12;
    bool m_flowFromRedis = false;
    bool m_clientIndexStale = true;
    QElapsedTimer m_sinceCount;
    QTimer m_instancesTimer;
    QTimer m_countTimer;
    QTimer m_flowTimer;
    QTimer m_rateTimer;
    QHash<QString, Counts> m_counts;                // instance -> its connections counted
    QStringList m_bitOrder;                          // instance for each bit below
    QHash<QString, quint64> m_roomInstances;         // room -> instances with members there
    QHash<QString, quint64> m_clientInstances;       // client id -> instances it is on (built when needed)
    QHash<QString, FlowBurst> m_pendingBursts;       // key: origin + targets + kind
    QHash<QString, int> m_publishedThisSecond;       // origin -> count
    int m_messagesThisSecond = 0;
};

} // namespace sb::console
