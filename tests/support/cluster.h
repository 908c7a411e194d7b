#pragma once

// A real cluster for a test: its own Redis and PostgreSQL (initdb'd into a
// temporary directory, run as the unprivileged "postgres" user when the test
// runs as root), N switchboard-server processes and optionally HAProxy, all on
// free loopback ports. Each piece can be killed, stopped and restarted, so
// tests can break the cluster the way production breaks. Everything started
// is stopped in the destructor.

#include "testsupport.h"

#include <QHash>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>

#include <memory>
#include <vector>

namespace sbtest {

// Waits until something accepts connections on the loopback `port`.
bool waitForPort(quint16 port, int timeoutMs);

class Cluster
{
public:
    struct Options
    {
        int instances = 2;
        bool haproxy = false;
        QStringList serverFlags; // extra flags for every instance
    };

    explicit Cluster(Options options);
    ~Cluster();

    // HAProxy servers (name, port) declared "disabled" (in maintenance) next
    // to the instances: the idle colour of a blue/green test, started by
    // packaging/promote.sh rather than by the cluster. Before start().
    void setStandbyServers(QList<QPair<QString, quint16>> servers) { m_standbyServers = std::move(servers); }

    // False (with the reason in error()) when a piece did not come up.
    bool start();
    // Before start(): the instances use this URL and the cluster starts no
    // Redis (or PostgreSQL) of its own; the test runs its own (Sentinels, a
    // standby).
    void useRedis(const QString &url) { m_externalRedisUrl = url; }
    void useDatabase(const QString &url) { m_externalDatabaseUrl = url; }
    // Before startInstance(): this instance reaches the database at `url`
    // instead (a proxy in front of the cluster's PostgreSQL, say).
    void setInstanceDatabaseUrl(int instance, const QString &url) { m_instanceDatabaseUrls[instance] = url; }
    quint16 pgPort() const { return m_pgPort; }
    QString error() const { return m_error; }

    quint16 port(int instance) const { return m_instances[static_cast<std::size_t>(instance)].port; }
    QString instanceId(int instance) const { return QStringLiteral("app-%1").arg(instance + 1); }
    quint16 lbPort() const { return m_lbPort; }
    quint16 redisPort() const { return m_redisPort; }
    QString redisUrl() const
    {
        return m_externalRedisUrl.isEmpty() ? QStringLiteral("redis://127.0.0.1:%1").arg(m_redisPort) : m_externalRedisUrl;
    }
    QString databaseUrl() const
    {
        return m_externalDatabaseUrl.isEmpty()
                   ? QStringLiteral("postgresql://postgres@127.0.0.1:%1/postgres").arg(m_pgPort)
                   : m_externalDatabaseUrl;
    }
    static QString operatorKey() { return QStringLiteral("cluster-operator-key"); }

    bool startInstance(int instance);
    void killInstance(int instance);       // SIGKILL
    void terminateInstance(int instance);  // SIGTERM
    bool waitInstanceExit(int instance, int timeoutMs, int *exitCode = nullptr);
    bool waitReady(int instance, int timeoutMs = 15000);
    QByteArray instanceLog(int instance) const;
    qint64 instancePid(int instance) const;
    // The directory of every piece's files, and HAProxy's admin socket in it.
    QString dir() const { return m_dir.path(); }
    QString haproxySocket() const { return m_dir.filePath(QStringLiteral("haproxy.sock")); }

    bool startRedis();
    void stopRedis();
    qint64 redisPid() const;
    bool startPostgres();
    void stopPostgres();
    // Stops HAProxy (SIGKILL) and starts it again with the same configuration.
    bool restartHaproxy();

    // Runs a PostgreSQL tool as the "postgres" user when root (PostgreSQL
    // refuses root), else as ourselves; true when it exited 0.
    static bool runAsPostgres(const QString &program, const QStringList &args, int timeoutMs,
                              QByteArray *output = nullptr);
    // The newest installed PostgreSQL's `tool` (initdb, pg_ctl, pg_basebackup …).
    static QString pgBin(const QString &tool);

private:
    struct Instance
    {
        quint16 port = 0;
        std::unique_ptr<QProcess> process;
    };
    bool startHaproxy();

    Options m_options;
    QList<QPair<QString, quint16>> m_standbyServers;
    QString m_externalRedisUrl;
    QString m_externalDatabaseUrl;
    QHash<int, QString> m_instanceDatabaseUrls;
    QTemporaryDir m_dir;
    QString m_error;
    std::vector<Instance> m_instances;
    std::unique_ptr<QProcess> m_redis;
    std::unique_ptr<QProcess> m_haproxy;
    quint16 m_redisPort = 0;
    quint16 m_pgPort = 0;
    quint16 m_lbPort = 0;
    bool m_pgRunning = false;
};

// A browser-like participant: one cookie jar for the token request and the
// WebSocket upgrade (so a load balancer's stickiness cookie travels with
// both), as the console's client mode does.
class Browser
{
public:
    Token token(quint16 port, const QString &user, const QString &clientId = {});
    QByteArray cookieHeader(quint16 port) const;
    bool connect(TestClient &client, quint16 port, const QString &user, const QString &clientId = {},
                 Token *issued = nullptr);

private:
    QNetworkAccessManager m_nam;
};

} // namespace sbtest
