#pragma once

// The operator's view of the cluster: one InstanceClient per instance, the
// operator key they share, and the routing of operator actions to the
// instance that should carry them (drain and disconnect go to the instance
// concerned; cluster-wide injections go once per cluster, and an instance
// with the local backplane is a cluster of its own). Instances come from the
// operator (pinned: kept until removed by hand) or from Redis heartbeats
// (discovered: a client is opened when one appears and closed once its
// heartbeat has been gone for a grace period and it no longer answers).
// Owned by OperatorSession.

#include "backplanetypes.h"
#include "instanceclient.h"

#include <QElapsedTimer>
#include <QHash>

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

    // Adds a pinned client per new URL (started at once when the hub runs).
    InstanceClient *addInstance(const QUrl &url);
    void removeInstance(const QUrl &url);
    QList<QUrl> instanceUrls() const;
    // The URLs the operator gave (not those found in Redis): what is remembered.
    QList<QUrl> pinnedUrls() const;
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

    // One discovery round's complete list of live instances. URLs use
    // `fallbackHost` when an instance listens on every address.
    void applyDiscovered(const QList<DiscoveredInstance> &instances, const QString &fallbackHost);
    // How long a vanished, unreachable instance stays on screen (default 15 s).
    void setVanishGraceMs(int ms) { m_vanishGraceMs = ms; }
    bool isPinned(const InstanceClient *client) const;

    static QUrl normalizeUrl(const QString &text);

Q_SIGNALS:
    void clientAdded(sb::console::InstanceClient *client);
    void clientRemoved(sb::console::InstanceClient *client);
    // A discovery round saw the instance (`present`) or did not.
    void heartbeatSeen(sb::console::InstanceClient *client, bool present, const sb::console::DiscoveredInstance &heartbeat);

private:
    // One live client per cluster: every local-backplane instance, plus one
    // of those sharing Redis.
    QList<InstanceClient *> clusterRepresentatives() const;
    // Sends to each representative and sums the recipients.
    void fanOut(const QList<InstanceClient *> &targets, const std::function<void(InstanceClient *, ReplyHandler)> &send,
                QObject *context, ReplyHandler handler);

    struct Discovery
    {
        bool pinned = true;
        bool present = false;
        QElapsedTimer missingFor; // valid while the heartbeat is missing
    };
    InstanceClient *createClient(const QUrl &url, bool pinned);

    QList<InstanceClient *> m_clients;
    QHash<const InstanceClient *, Discovery> m_discovery;
    int m_vanishGraceMs = 15000;
    InstanceClient::Options m_options;
    QString m_operatorKey;
    bool m_running = false;
};

} // namespace sb::console
