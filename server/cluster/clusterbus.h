#pragma once

// What goes between instances over the backplane, in envelopes: publishing a
// frame on a channel, routing what arrives by channel to the service that owns
// it, the subscriptions the sessions and rooms hold (counted, so a channel is
// subscribed while anyone here needs it), and cluster commands — an operator
// action every live instance runs, with each instance's reply collected.

#include "backplane/envelope.h"
#include "channel.h"

#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QTimer>

#include <functional>

namespace sb {

class Backplane;
class FlowSampler;
class Metrics;

class ClusterBus final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ClusterBus)
public:
    ClusterBus(const QString &instanceId, Backplane &backplane, Metrics &metrics, FlowSampler &flow,
               QObject *parent = nullptr);

    // Subscribes this instance's own channels (all, cluster, reply:<id>).
    void start();

    // Publishes `frame` in an envelope on `channel`.
    void publish(const QString &channel, const QJsonValue &target, const QJsonObject &frame,
                 std::function<void(bool)> done = {});

    // Runs `command` on every live instance (this one too) and collects their
    // replies; false when the backplane is down. Gives up waiting after 2 s.
    using CommandDone = std::function<void(bool ok, QList<QJsonObject> replies)>;
    void command(const QJsonObject &command, CommandDone done);

    // A channel is subscribed while its count is above zero.
    void retain(const QString &channel) { count(channel, +1); }
    void release(const QString &channel) { count(channel, -1); }

    // Where arriving envelopes go, by the kind of their channel.
    using Route = std::function<void(const QString &name, const Envelope &envelope)>;
    void route(Channel::Kind kind, Route route);
    // Runs a cluster command here and says what it did (the "cluster.reply").
    void setCommandRunner(std::function<QJsonObject(const QJsonObject &command)> runner)
    {
        m_runCommand = std::move(runner);
    }

private:
    struct PendingCommand
    {
        CommandDone done;
        QList<QJsonObject> replies;
        int expected = -1;
        QTimer *timer = nullptr;
    };

    void count(const QString &channel, int delta);
    void onMessage(const QString &channel, const QByteArray &payload);
    void runCommand(const Envelope &envelope);
    void collectReply(const Envelope &envelope);
    void finishCommand(const QString &id);

    QString m_instanceId;
    Backplane &m_backplane;
    Metrics &m_metrics;
    FlowSampler &m_flow;
    QHash<QString, int> m_channelRefs;
    QHash<Channel::Kind, Route> m_routes;
    std::function<QJsonObject(const QJsonObject &)> m_runCommand;
    QHash<QString, PendingCommand> m_pendingCommands;
};

} // namespace sb
