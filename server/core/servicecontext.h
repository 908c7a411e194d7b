#pragma once

// What a service (chat, todos, broadcasts, operator requests) is given to work
// with: the instance's settings and identity, its metrics, the store and the
// backplane, and the narrow collaborators for sessions, the cluster and flow
// samples. The Server builds one and outlives every service that holds it.

#include <QObject>
#include <QString>

namespace sb {

class Backplane;
class ClusterBus;
class FlowSampler;
class Metrics;
class SessionRegistry;
class Store;
struct Config;

struct ServiceContext
{
    const Config &config;
    const QString &instanceId;
    Metrics &metrics;
    Store &store;
    Backplane &backplane;
    SessionRegistry &sessions;
    ClusterBus &bus;
    FlowSampler &flow;
    // The context object of the services' timers and connections: it lives
    // exactly as long as they do.
    QObject *owner;
};

} // namespace sb
