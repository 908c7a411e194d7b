#pragma once

// The operator console without its windows: the hub of instance connections,
// the Redis monitor, and the models they feed (instances, connections,
// instance flow samples, backplane envelopes, stickiness, the cluster map's
// aggregate, the chart history and the Redis topology), wired together here so that models never
// include a network class and views only see models plus this object's
// action methods. Owned by main() (or a test or benchmark); MainWindow
// borrows it.

#include "models/clustermapmodel.h"
#include "models/connectionsmodel.h"
#include "models/flowmodel.h"
#include "models/instancesmodel.h"
#include "models/redistopologymodel.h"
#include "models/statshistory.h"
#include "models/stickinessmodel.h"
#include "services/operatorhub.h"
#include "services/redismonitor.h"

#include <QObject>
#include <QTimer>

namespace sb::console {

class OperatorSession final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OperatorSession)
public:
    struct Options
    {
        InstanceClient::Options instance;
        RedisMonitor::Options redis;
        int vanishGraceMs = 15000;        // a vanished, unreachable instance stays this long
        int historyReadsPerSecond = 200;  // stickiness histories read from Redis per second
    };

    explicit OperatorSession(QObject *parent = nullptr);
    explicit OperatorSession(const InstanceClient::Options &options, QObject *parent = nullptr);
    explicit OperatorSession(const Options &options, QObject *parent = nullptr);
    ~OperatorSession() override;

    OperatorHub &hub() { return m_hub; }
    RedisMonitor &redis() { return m_redis; }
    ConnectionsModel &connections() { return m_connections; }
    InstancesModel &instances() { return m_instances; }
    FlowModel &flow() { return m_flow; }
    FlowModel &backplaneFlow() { return m_backplaneFlow; }
    StickinessModel &stickiness() { return m_stickiness; }
    ClusterMapModel &map() { return m_map; }
    StatsHistory &history() { return m_history; }
    RedisTopologyModel &topology() { return m_topology; }

    void setOperatorKey(const QString &key) { m_hub.setOperatorKey(key); }
    void addInstance(const QUrl &url) { m_hub.addInstance(url); }
    void removeInstance(const QUrl &url) { m_hub.removeInstance(url); }
    // Watches the cluster's Redis too: instances are discovered from it.
    void setRedis(const RedisAddress &address);
    // The same on Redis Sentinel or a Redis Cluster (redis-sentinel:// or
    // redis-cluster://; a redis:// URL is setRedis()).
    void setRedisUrl(const RedisUrl &url);
    void setRedisCluster(const RedisUrl &url) { setRedisUrl(url); }
    bool hasRedis() const { return m_redisAddress.has_value() || m_redisCluster.has_value(); }
    void start();
    // After a new key: reconnect everything.
    void reconnectAll() { m_hub.restartAll(); }

    // Operator actions (handlers run once with the answer).
    void drain(const QUrl &instanceUrl, QObject *context, ReplyHandler handler);
    void undrain(const QUrl &instanceUrl, QObject *context, ReplyHandler handler);
    void setTicker(bool enabled, QObject *context, ReplyHandler handler);
    void disconnectSession(const QString &sessionId, QObject *context, ReplyHandler handler);
    void inject(const InjectTarget &target, const QString &text, QObject *context, ReplyHandler handler);
    // Reads a client's instance history and its live sessions' Redis records now.
    void readClientDetails(const QString &clientId);

    // "2 of 3 instances connected" and friends.
    int liveCount() const;

Q_SIGNALS:
    void statusMessage(const QString &text);
    void keyRefused(const QUrl &instanceUrl);
    void linksChanged();
    void redisStateChanged();
    // A live session's record from Redis (readClientDetails).
    void sessionRecordRead(const QString &sessionId, bool found, const sb::ConnectionInfo &record);

private:
    void wire(InstanceClient *client);
    void refreshAllReadiness();
    void everySecond();
    void noteInstanceState(const InstanceClient *client, const QString &state);

    Options m_options;
    OperatorHub m_hub;
    RedisMonitor m_redis;
    std::optional<RedisAddress> m_redisAddress;
    std::optional<RedisUrl> m_redisCluster;
    ConnectionsModel m_connections;
    InstancesModel m_instances;
    FlowModel m_flow{FlowModel::Source::InstanceSamples, 5000};
    FlowModel m_backplaneFlow{FlowModel::Source::RedisEnvelopes, 10000, 200};
    StickinessModel m_stickiness{m_connections};
    ClusterMapModel m_map{m_instances, m_connections};
    StatsHistory m_history;
    RedisTopologyModel m_topology;
    QTimer m_secondTimer;
    int m_historyCursor = 0; // round-robin position for refreshing histories
    bool m_started = false;
};

} // namespace sb::console
