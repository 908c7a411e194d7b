#pragma once

// The operator's view of the cluster: one InstanceClient per instance URL the
// operator gave, the operator key they share, and the routing of operator
// actions to the instance that should carry them (drain and disconnect go to
// the instance concerned; cluster-wide injections go once per cluster, and an
// instance with the local backplane is a cluster of its own). Owned by
// OperatorSession.

#include "instanceclient.h"

#include <QList>
#include <QObject>
#include <QUrl>

namespace sb::console {

class OperatorHub final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OperatorHub)
public:
    explicit OperatorHub(QObject *parent = nullptr);
    ~OperatorHub() override;

    void setClientOptions(const InstanceClient::Options &options) { m_options = options; }
    void setOperatorKey(const QString &key);
    QString operatorKey() const { return m_operatorKey; }

    // Adds a client per new URL (started at once when the hub runs).
    InstanceClient *addInstance(const QUrl &url);
    void removeInstance(const QUrl &url);
    QList<QUrl> instanceUrls() const;
    const QList<InstanceClient *> &clients() const { return m_clients; }
    InstanceClient *clientForUrl(const QUrl &url) const;
    InstanceClient *clientForInstance(const QString &instanceId) const;
    InstanceClient *anyLive() const;

    void start();
    void stop();
    void restartAll();

    // Actions routed to the right instance(s).
    void inject(const InjectTarget &target, const QString &text, QObject *context, ReplyHandler handler);
    void disconnectSession(const QString &sessionId, const QString &instanceId, QObject *context, ReplyHandler handler);
    void drain(const QString &instanceId, QObject *context, ReplyHandler handler);
    void undrain(const QString &instanceId, QObject *context, ReplyHandler handler);
    void setTicker(bool enabled, QObject *context, ReplyHandler handler);

    static QUrl normalizeUrl(const QString &text);

Q_SIGNALS:
    void clientAdded(sb::console::InstanceClient *client);
    void clientRemoved(sb::console::InstanceClient *client);

private:
    // One live client per cluster: every local-backplane instance, plus one
    // of those sharing Redis.
    QList<InstanceClient *> clusterRepresentatives() const;
    // Sends to each representative and sums the recipients.
    void fanOut(const QList<InstanceClient *> &targets, const std::function<void(InstanceClient *, ReplyHandler)> &send,
                QObject *context, ReplyHandler handler);

    QList<InstanceClient *> m_clients;
    InstanceClient::Options m_options;
    QString m_operatorKey;
    bool m_running = false;
};

} // namespace sb::console
