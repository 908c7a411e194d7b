#pragma once

// One switchboard-server instance: the wiring. It builds the parts — the HTTP
// front end with its routes and its WebSocket door, the session table, the
// dispatcher, the cluster bus and the services behind them, on a backplane and
// a store — connects them, and owns their lifetimes; it keeps the instance's
// own state (readiness, its record in the backplane, heartbeats, drain).
// Tests create it in-process; main() creates one and runs the event loop.
// Everything runs on the thread that owns it.

#include "config.h"
#include "flow/flowsampler.h"
#include "health/readiness.h"
#include "metrics/metrics.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QTimer>

#include <memory>

namespace sb {

class AdminService;
class Backplane;
class ChatService;
class ClusterBus;
class Dispatcher;
class HttpRoutes;
class HttpServer;
class SessionRegistry;
class Store;
class Ticker;
class TodoService;
class UpgradeGate;
struct ServiceContext;

class Server final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Server)
public:
    explicit Server(Config config, QObject *parent = nullptr);
    ~Server() override;

    // Listens and starts the backplane and store; false (with the error
    // logged and in `error`) when the port cannot be bound.
    bool start(QString *error);
    quint16 port() const;

    using Readiness = sb::Readiness;
    Readiness readiness() const;
    bool isDraining() const { return m_draining; }

    // Drain (PROTOCOL.md "Closing"). `exitWhenDone` is the SIGTERM path.
    void startDrain(bool exitWhenDone);
    void stopDrain();

    const Config &config() const { return m_config; }
    const QString &instanceId() const { return m_config.instanceId; }
    Metrics &metrics() { return m_metrics; }
    Store &store() { return *m_store; }
    QJsonObject instanceJson() const;
    int connectionCount() const;

Q_SIGNALS:
    void drainFinished();

private:
    // Builds and connects everything that needs the final instance id.
    void wire();
    void routeServices();
    void heartbeatTick();
    void secondTick();
    // Asks the next participant to go when `closeOne` (a drain timer tick),
    // and finishes the drain once none is left.
    void drainNext(bool closeOne);
    void exitWhenHandshakesDone();

    Config m_config;
    Metrics m_metrics;
    FlowSampler m_flow;
    std::unique_ptr<Store> m_store;
    std::unique_ptr<HttpServer> m_http;
    // Made in start(), in this order, and destroyed in the reverse one: the
    // session table goes first, with no close handler run against a service.
    std::unique_ptr<Backplane> m_backplane;
    std::unique_ptr<ClusterBus> m_bus;
    std::unique_ptr<Dispatcher> m_dispatcher;
    std::unique_ptr<HttpRoutes> m_routes;
    std::unique_ptr<UpgradeGate> m_gate;
    std::unique_ptr<ServiceContext> m_context;
    std::unique_ptr<ChatService> m_chat;
    std::unique_ptr<TodoService> m_todo;
    std::unique_ptr<Ticker> m_ticker;
    std::unique_ptr<AdminService> m_admin;
    std::unique_ptr<SessionRegistry> m_sessions;

    QTimer m_heartbeatTimer;
    QElapsedTimer m_sinceHeartbeatTick;
    QTimer m_secondTimer;
    QTimer m_cleanupTimer;
    QTimer m_drainTimer;
    QElapsedTimer m_uptime;
    qint64 m_startedAt = 0;
    bool m_started = false;
    bool m_storeHeard = false;     // the store has reported up or down at least once
    bool m_backplaneHeard = false; // likewise the backplane
    bool m_draining = false;
    bool m_exitAfterDrain = false;
};

} // namespace sb
