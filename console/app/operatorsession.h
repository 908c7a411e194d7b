#pragma once

// The operator console without its windows: the hub of instance connections
// and the models it feeds (instances, connections, flow, chart history),
// wired together here so that models never include a network class and views
// only see models plus this object's action methods. Owned by main() (or a
// test); MainWindow borrows it.

#include "models/connectionsmodel.h"
#include "models/flowmodel.h"
#include "models/instancesmodel.h"
#include "models/statshistory.h"
#include "services/operatorhub.h"

#include <QObject>

namespace sb::console {

class OperatorSession final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OperatorSession)
public:
    explicit OperatorSession(QObject *parent = nullptr);
    OperatorSession(const InstanceClient::Options &options, QObject *parent = nullptr);
    ~OperatorSession() override;

    OperatorHub &hub() { return m_hub; }
    ConnectionsModel &connections() { return m_connections; }
    InstancesModel &instances() { return m_instances; }
    FlowModel &flow() { return m_flow; }
    StatsHistory &history() { return m_history; }

    void setOperatorKey(const QString &key) { m_hub.setOperatorKey(key); }
    void addInstance(const QUrl &url) { m_hub.addInstance(url); }
    void removeInstance(const QUrl &url) { m_hub.removeInstance(url); }
    void start() { m_hub.start(); }
    // After a new key: reconnect everything.
    void reconnectAll() { m_hub.restartAll(); }

    // Operator actions (handlers run once with the answer).
    void drain(const QUrl &instanceUrl, QObject *context, ReplyHandler handler);
    void undrain(const QUrl &instanceUrl, QObject *context, ReplyHandler handler);
    void setTicker(bool enabled, QObject *context, ReplyHandler handler);
    void disconnectSession(const QString &sessionId, QObject *context, ReplyHandler handler);
    void inject(const InjectTarget &target, const QString &text, QObject *context, ReplyHandler handler);

    // "2 of 3 instances connected" and friends.
    int liveCount() const;

Q_SIGNALS:
    void statusMessage(const QString &text);
    void keyRefused(const QUrl &instanceUrl);
    void linksChanged();

private:
    void wire(InstanceClient *client);
    void refreshAllReadiness();

    OperatorHub m_hub;
    ConnectionsModel m_connections;
    InstancesModel m_instances;
    FlowModel m_flow;
    StatsHistory m_history;
};

} // namespace sb::console
