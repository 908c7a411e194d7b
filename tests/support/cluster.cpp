#include "cluster.h"

#include "codec.h"
#include "testsupport.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QJsonObject>
#include <QNetworkCookie>
#include <QNetworkCookieJar>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QProcessEnvironment>
#include <QTcpSocket>
#include <QTest>

#include <csignal>
#include <sys/types.h>
#include <unistd.h>

#ifndef SB_SERVER_BINARY
#error "SB_SERVER_BINARY must name the switchboard-server executable"
#endif

namespace sbtest {

bool waitForPort(quint16 port, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port);
        if (socket.waitForConnected(200))
            return true;
        QTest::qWait(50);
    }
    return false;
}

Cluster::Cluster(Options options)
    : m_options(std::move(options))
{
    m_instances.resize(static_cast<std::size_t>(m_options.instances));
    for (Instance &instance : m_instances)
        instance.port = freePort();
    m_redisPort = freePort();
    m_pgPort = freePort();
    m_lbPort = freePort();
    QFile::setPermissions(m_dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                                            | QFileDevice::ReadGroup | QFileDevice::ExeGroup
                                            | QFileDevice::ReadOther | QFileDevice::ExeOther);
}

Cluster::~Cluster()
{
    for (std::size_t i = 0; i < m_instances.size(); ++i)
        killInstance(static_cast<int>(i));
    if (m_haproxy) {
        m_haproxy->kill();
        m_haproxy->waitForFinished(2000);
    }
    stopRedis();
    if (m_pgRunning)
        runAsPostgres(pgBin(QStringLiteral("pg_ctl")),
                      {QStringLiteral("-D"), m_dir.filePath(QStringLiteral("pg/data")), QStringLiteral("-m"),
                       QStringLiteral("immediate"), QStringLiteral("stop")},
                      10000);
}

bool Cluster::start()
{
    if (m_externalRedisUrl.isEmpty() && !startRedis())
        return false;
    if (m_externalDatabaseUrl.isEmpty() && !startPostgres())
        return false;
    for (int i = 0; i < m_options.instances; ++i) {
        if (!startInstance(i))
            return false;
    }
    for (int i = 0; i < m_options.instances; ++i) {
        if (!waitReady(i)) {
            m_error = QStringLiteral("%1 did not become ready:\n%2").arg(instanceId(i), QString::fromUtf8(instanceLog(i)));
            return false;
        }
    }
    return !m_options.haproxy || startHaproxy();
}

bool Cluster::startRedis()
{
    m_redis = std::make_unique<QProcess>();
    m_redis->setProcessChannelMode(QProcess::MergedChannels);
    m_redis->start(QStringLiteral("redis-server"),
                   {QStringLiteral("--port"), QString::number(m_redisPort), QStringLiteral("--bind"),
                    QStringLiteral("127.0.0.1"), QStringLiteral("--save"), QString(), QStringLiteral("--appendonly"),
                    QStringLiteral("no")});
    if (!m_redis->waitForStarted(5000) || !waitForPort(m_redisPort, 5000)) {
        m_error = QStringLiteral("redis-server did not start: ") + m_redis->errorString();
        return false;
    }
    return true;
}

void Cluster::stopRedis()
{
    if (!m_redis)
        return;
    m_redis->kill();
    m_redis->waitForFinished(3000);
    m_redis.reset();
}

qint64 Cluster::redisPid() const
{
    return m_redis ? m_redis->processId() : 0;
}

bool Cluster::restartHaproxy()
{
    if (m_haproxy) {
        m_haproxy->kill();
        m_haproxy->waitForFinished(3000);
    }
    return startHaproxy();
}

QString Cluster::pgBin(const QString &tool)
{
    QDir lib(QStringLiteral("/usr/lib/postgresql"));
    QStringList versions = lib.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    std::sort(versions.begin(), versions.end(), [](const QString &a, const QString &b) { return a.toInt() < b.toInt(); });
    return versions.isEmpty() ? tool : lib.filePath(versions.last() + QStringLiteral("/bin/") + tool);
}

bool Cluster::runAsPostgres(const QString &program, const QStringList &args, int timeoutMs, QByteArray *output)
{
    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    if (::geteuid() == 0)
        process.start(QStringLiteral("runuser"), QStringList{QStringLiteral("-u"), QStringLiteral("postgres"), QStringLiteral("--"), program} + args);
    else
        process.start(program, args);
    const bool finished = process.waitForFinished(timeoutMs);
    if (output)
        *output = process.readAll();
    return finished && process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0;
}

bool Cluster::startPostgres()
{
    const QString pgDir = m_dir.filePath(QStringLiteral("pg"));
    const QString dataDir = pgDir + QStringLiteral("/data");
    QByteArray output;
    if (!QFile::exists(dataDir + QStringLiteral("/PG_VERSION"))) {
        QDir().mkpath(pgDir);
        if (::geteuid() == 0) {
            QProcess::execute(QStringLiteral("chown"), {QStringLiteral("postgres"), pgDir});
        }
        if (!runAsPostgres(pgBin(QStringLiteral("initdb")),
                           {QStringLiteral("-D"), dataDir, QStringLiteral("-A"), QStringLiteral("trust"),
                            QStringLiteral("-U"), QStringLiteral("postgres"), QStringLiteral("--no-sync")},
                           60000, &output)) {
            m_error = QStringLiteral("initdb failed: ") + QString::fromUtf8(output);
            return false;
        }
    }
    const QString options = QStringLiteral("-p %1 -k %2 -c listen_addresses=127.0.0.1 -c fsync=off").arg(m_pgPort).arg(pgDir);
    if (!runAsPostgres(pgBin(QStringLiteral("pg_ctl")),
                       {QStringLiteral("-D"), dataDir, QStringLiteral("-l"), pgDir + QStringLiteral("/log"),
                        QStringLiteral("-w"), QStringLiteral("-o"), options, QStringLiteral("start")},
                       60000, &output)) {
        m_error = QStringLiteral("PostgreSQL did not start: ") + QString::fromUtf8(output);
        return false;
    }
    m_pgRunning = true;
    return true;
}

void Cluster::stopPostgres()
{
    runAsPostgres(pgBin(QStringLiteral("pg_ctl")),
                  {QStringLiteral("-D"), m_dir.filePath(QStringLiteral("pg/data")), QStringLiteral("-m"),
                   QStringLiteral("fast"), QStringLiteral("-w"), QStringLiteral("stop")},
                  30000);
    m_pgRunning = false;
}

bool Cluster::startInstance(int index)
{
    Instance &instance = m_instances[static_cast<std::size_t>(index)];
    if (instance.process) {
        instance.process->kill();
        instance.process->waitForFinished(3000);
    }
    static const QStringList colors{QStringLiteral("blue"), QStringLiteral("green"), QStringLiteral("orange"),
                                    QStringLiteral("purple")};
    instance.process = std::make_unique<QProcess>();
    instance.process->setProcessChannelMode(QProcess::MergedChannels);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_LOGGING_RULES"), QStringLiteral("sb.*.info=true"));
    instance.process->setProcessEnvironment(env);
    instance.process->setStandardOutputFile(m_dir.filePath(instanceId(index) + QStringLiteral(".log")),
                                            QIODevice::Append);
    QStringList args{QStringLiteral("--instance-id"), instanceId(index),
                     QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(instance.port),
                     QStringLiteral("--color"), colors[index % colors.size()],
                     QStringLiteral("--redis-url"), redisUrl(),
                     QStringLiteral("--database-url"), m_instanceDatabaseUrls.value(index, databaseUrl()),
                     QStringLiteral("--data"), m_dir.filePath(instanceId(index)),
                     QStringLiteral("--operator-key"), operatorKey(),
                     QStringLiteral("--connect-rate"), QStringLiteral("100000/60"),
                     QStringLiteral("--msg-rate"), QStringLiteral("0"),
                     QStringLiteral("--ticker"), QStringLiteral("off")};
    args += m_options.serverFlags;
    instance.process->start(QStringLiteral(SB_SERVER_BINARY), args);
    if (!instance.process->waitForStarted(5000)) {
        m_error = QStringLiteral("cannot start %1: %2").arg(instanceId(index), instance.process->errorString());
        return false;
    }
    return true;
}

bool Cluster::waitReady(int index, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (httpGet(port(index), QStringLiteral("/readyz")).status == 200)
            return true;
        QTest::qWait(100);
    }
    return false;
}

void Cluster::killInstance(int index)
{
    Instance &instance = m_instances[static_cast<std::size_t>(index)];
    if (!instance.process || instance.process->state() == QProcess::NotRunning)
        return;
    ::kill(static_cast<pid_t>(instance.process->processId()), SIGKILL);
    instance.process->waitForFinished(5000);
}

void Cluster::terminateInstance(int index)
{
    Instance &instance = m_instances[static_cast<std::size_t>(index)];
    if (instance.process && instance.process->state() != QProcess::NotRunning)
        ::kill(static_cast<pid_t>(instance.process->processId()), SIGTERM);
}

bool Cluster::waitInstanceExit(int index, int timeoutMs, int *exitCode)
{
    Instance &instance = m_instances[static_cast<std::size_t>(index)];
    QDeadlineTimer deadline(timeoutMs);
    while (instance.process->state() != QProcess::NotRunning && !deadline.hasExpired())
        QTest::qWait(20);
    if (exitCode)
        *exitCode = instance.process->exitStatus() == QProcess::NormalExit ? instance.process->exitCode() : -1;
    return instance.process->state() == QProcess::NotRunning;
}

qint64 Cluster::instancePid(int index) const
{
    const Instance &instance = m_instances[static_cast<std::size_t>(index)];
    return instance.process ? instance.process->processId() : 0;
}

QByteArray Cluster::instanceLog(int index) const
{
    QFile log(m_dir.filePath(instanceId(index) + QStringLiteral(".log")));
    return log.open(QIODevice::ReadOnly) ? log.readAll() : QByteArray();
}

bool Cluster::startHaproxy()
{
    QString servers;
    for (int i = 0; i < m_options.instances; ++i)
        servers += QStringLiteral("    server %1 127.0.0.1:%2 cookie %1 check\n").arg(instanceId(i)).arg(port(i));
    for (const auto &[name, standbyPort] : m_standbyServers)
        servers += QStringLiteral("    server %1 127.0.0.1:%2 cookie %1 check disabled\n").arg(name).arg(standbyPort);
    QFile templateFile(QStringLiteral(SB_HAPROXY_TEMPLATE));
    if (!templateFile.open(QIODevice::ReadOnly)) {
        m_error = QStringLiteral("cannot read the HAProxy template");
        return false;
    }
    QString config = QString::fromUtf8(templateFile.readAll());
    config.replace(QStringLiteral("@BIND@"), QStringLiteral("127.0.0.1:%1").arg(m_lbPort));
    config.replace(QStringLiteral("@SERVERS@\n"), servers);
    config.replace(QStringLiteral("@RUN@"), m_dir.path());
    const QString path = m_dir.filePath(QStringLiteral("haproxy.cfg"));
    QFile out(path);
    if (!out.open(QIODevice::WriteOnly)) {
        m_error = QStringLiteral("cannot write the HAProxy configuration");
        return false;
    }
    out.write(config.toUtf8());
    out.close();
    m_haproxy = std::make_unique<QProcess>();
    m_haproxy->setProcessChannelMode(QProcess::MergedChannels);
    m_haproxy->setStandardOutputFile(m_dir.filePath(QStringLiteral("haproxy.log")), QIODevice::Append);
    m_haproxy->start(QStringLiteral("haproxy"), {QStringLiteral("-f"), path, QStringLiteral("-db")});
    if (!m_haproxy->waitForStarted(5000) || !waitForPort(m_lbPort, 5000)) {
        m_error = QStringLiteral("haproxy did not start");
        return false;
    }
    // Let the health checks see every instance up.
    QTest::qWait(2500);
    return true;
}

} // namespace sbtest

namespace sbtest {

Token Browser::token(quint16 port, const QString &user, const QString &clientId)
{
    QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1/api/token").arg(port)));
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    QJsonObject body{{QStringLiteral("user"), user}};
    if (!clientId.isEmpty())
        body.insert(QStringLiteral("client_id"), clientId);
    QNetworkReply *reply = m_nam.post(request, sb::encode(body));
    QDeadlineTimer deadline(10000);
    while (!reply->isFinished() && !deadline.hasExpired())
        QTest::qWait(5);
    const QJsonObject o = sb::decodeObject(reply->readAll()).value_or(QJsonObject());
    reply->deleteLater();
    return {o.value(QStringLiteral("token")).toString(), o.value(QStringLiteral("client_id")).toString(),
            o.value(QStringLiteral("instance")).toString()};
}

QByteArray Browser::cookieHeader(quint16 port) const
{
    QByteArray header;
    const QUrl url(QStringLiteral("http://127.0.0.1:%1/").arg(port));
    for (const QNetworkCookie &c : m_nam.cookieJar()->cookiesForUrl(url)) {
        if (!header.isEmpty())
            header += "; ";
        header += c.toRawForm(QNetworkCookie::NameAndValueOnly);
    }
    return header;
}

bool Browser::connect(TestClient &client, quint16 port, const QString &user, const QString &clientId, Token *issued)
{
    const Token t = token(port, user, clientId);
    if (issued)
        *issued = t;
    return !t.token.isEmpty() && client.open(port, t.token, {{QByteArrayLiteral("Cookie"), cookieHeader(port)}});
}

} // namespace sbtest
