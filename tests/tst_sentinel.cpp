// Redis Sentinel for real: a master, two replicas and three redis-sentinel
// processes on loopback, two switchboard-server processes on the
// redis-sentinel:// URL. Chat, tokens and presence work across the
// instances; the master is killed with SIGKILL and the instances follow the
// failover by themselves: chat resumes within 10 s (a client resends with
// the same nonce while it is refused), nothing acknowledged is lost, and the
// failover is counted and shown. The operator console, given the
// redis-sentinel:// URL, shows the master, its replicas and the Sentinels,
// which instance uses which master, and follows the failover too.

#include "cluster.h"
#include "redisconnection.h"
#include "testsupport.h"
#ifdef SB_WITH_CONSOLE
#include "app/operatorsession.h"
#endif

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QProcess>
#include <QSet>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>
#include <memory>
#include <vector>

using namespace sbtest;

namespace {

const QString kMaster = QStringLiteral("sbmaster");
const QString kRoom = QStringLiteral("ops");

// One redis-cli call; its output without the trailing newline.
QString redisCli(quint16 port, const QStringList &args)
{
    QProcess cli;
    cli.start(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-p"), QString::number(port)} + args);
    if (!cli.waitForFinished(3000))
        return {};
    return QString::fromUtf8(cli.readAllStandardOutput()).trimmed();
}

// How many entries a raw redis-cli listing of SENTINEL replicas/sentinels
// holds: each is a flat field list that starts with "name".
int entries(const QString &listing)
{
    return static_cast<int>(listing.split(QLatin1Char('\n')).count(QStringLiteral("name")));
}

QString readyStatus(quint16 port)
{
    return httpGet(port, QStringLiteral("/readyz")).json().value(QStringLiteral("status")).toString();
}

QJsonObject instanceInfo(quint16 port)
{
    return httpGet(port, QStringLiteral("/api/instance")).json();
}

// A master, two replicas and three Sentinels watching it, each its own process.
class SentinelTopology
{
public:
    SentinelTopology()
    {
        for (quint16 &port : m_redisPorts)
            port = freePort();
        for (quint16 &port : m_sentinelPorts)
            port = freePort();
    }
    ~SentinelTopology()
    {
        for (auto &p : m_processes) {
            if (p->state() != QProcess::NotRunning) {
                p->kill();
                p->waitForFinished(3000);
            }
        }
    }

    bool start(QString *error)
    {
        for (int i = 0; i < 3; ++i) {
            QStringList args{QStringLiteral("--port"), QString::number(m_redisPorts[i]), QStringLiteral("--bind"),
                             QStringLiteral("127.0.0.1"), QStringLiteral("--save"), QString(),
                             QStringLiteral("--appendonly"), QStringLiteral("no"), QStringLiteral("--dir"), m_dir.path()};
            if (i > 0)
                args << QStringLiteral("--replicaof") << QStringLiteral("127.0.0.1") << QString::number(m_redisPorts[0]);
            if (!startProcess(QStringLiteral("redis-server"), args, m_redisPorts[i], error))
                return false;
        }
        // Replicas attached before the Sentinels look, so they find them at once.
        QDeadlineTimer synced(15000);
        while (!redisCli(m_redisPorts[0], {QStringLiteral("INFO"), QStringLiteral("replication")})
                    .contains(QLatin1StringView("connected_slaves:2"))) {
            if (synced.hasExpired())
                return fail(error, QStringLiteral("the replicas did not attach to the master"));
            QTest::qWait(100);
        }
        for (int i = 0; i < 3; ++i) {
            const QString path = m_dir.filePath(QStringLiteral("sentinel-%1.conf").arg(i));
            QFile conf(path);
            if (!conf.open(QIODevice::WriteOnly))
                return fail(error, QStringLiteral("cannot write ") + path);
            conf.write(QStringLiteral("port %1\n"
                                      "bind 127.0.0.1\n"
                                      "dir %2\n"
                                      "sentinel monitor %3 127.0.0.1 %4 2\n"
                                      "sentinel down-after-milliseconds %3 1000\n"
                                      "sentinel failover-timeout %3 5000\n"
                                      "sentinel parallel-syncs %3 1\n")
                           .arg(m_sentinelPorts[i])
                           .arg(m_dir.path(), kMaster)
                           .arg(m_redisPorts[0])
                           .toUtf8());
            conf.close();
            if (!startProcess(QStringLiteral("redis-sentinel"), {path}, m_sentinelPorts[i], error))
                return false;
        }
        // Every Sentinel knows both replicas and the two other Sentinels:
        // only then can they agree on a failover.
        QDeadlineTimer known(30000);
        for (quint16 port : m_sentinelPorts) {
            for (;;) {
                const QString replicas = redisCli(port, {QStringLiteral("SENTINEL"), QStringLiteral("replicas"), kMaster});
                const QString sentinels = redisCli(port, {QStringLiteral("SENTINEL"), QStringLiteral("sentinels"), kMaster});
                if (entries(replicas) >= 2 && entries(sentinels) >= 2)
                    break;
                if (known.hasExpired())
                    return fail(error, QStringLiteral("Sentinel %1 found %2 of 2 replicas and %3 of 2 other Sentinels")
                                           .arg(port)
                                           .arg(entries(replicas))
                                           .arg(entries(sentinels)));
                QTest::qWait(200);
            }
        }
        return true;
    }

    QString url() const
    {
        return QStringLiteral("redis-sentinel://127.0.0.1:%1,127.0.0.1:%2,127.0.0.1:%3/%4")
            .arg(m_sentinelPorts[0])
            .arg(m_sentinelPorts[1])
            .arg(m_sentinelPorts[2])
            .arg(kMaster);
    }
    quint16 redisPort(int i) const { return m_redisPorts[i]; }
    quint16 sentinelPort(int i) const { return m_sentinelPorts[i]; }
    // What the Sentinels say now ("127.0.0.1:port"), asked of the first.
    QString masterNow() const
    {
        const QStringList parts = redisCli(m_sentinelPorts[0], {QStringLiteral("SENTINEL"),
                                                                QStringLiteral("get-master-addr-by-name"), kMaster})
                                      .split(QLatin1Char('\n'));
        return parts.size() == 2 ? parts[0] + QLatin1Char(':') + parts[1] : QString();
    }
    void killRedis(int i)
    {
        QProcess &p = *m_processes[static_cast<std::size_t>(i)];
        p.kill(); // SIGKILL
        p.waitForFinished(3000);
    }
    QByteArray logs() const
    {
        QByteArray all;
        for (const auto &p : m_processes)
            all += p->readAll();
        return all;
    }

private:
    static bool fail(QString *error, const QString &why)
    {
        *error = why;
        return false;
    }
    bool startProcess(const QString &program, const QStringList &args, quint16 port, QString *error)
    {
        auto process = std::make_unique<QProcess>();
        process->setProcessChannelMode(QProcess::MergedChannels);
        process->start(program, args);
        if (!process->waitForStarted(5000) || !waitForPort(port, 5000))
            return fail(error, QStringLiteral("%1 did not start on port %2: %3 %4")
                                   .arg(program)
                                   .arg(port)
                                   .arg(process->errorString(), QString::fromUtf8(process->readAll())));
        m_processes.push_back(std::move(process));
        return true;
    }

    QTemporaryDir m_dir;
    quint16 m_redisPorts[3]{};
    quint16 m_sentinelPorts[3]{};
    std::vector<std::unique_ptr<QProcess>> m_processes; // 3 Redis, then 3 Sentinels
};

} // namespace

class TstSentinel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();
    void connectionRefusesAReplica();
    void failoverLosesNothing();

private:
    std::unique_ptr<SentinelTopology> m_topology;
    std::unique_ptr<Cluster> m_cluster;
};

void TstSentinel::init()
{
    SB_REQUIRE_SERVICE(!QStandardPaths::findExecutable(QStringLiteral("redis-server")).isEmpty(),
                       "redis-server is not installed (apt-get install redis-server)");
    SB_REQUIRE_SERVICE(!QStandardPaths::findExecutable(QStringLiteral("redis-sentinel")).isEmpty(),
                       "redis-sentinel is not installed (apt-get install redis-sentinel)");
    SB_REQUIRE_SERVICE(!QStandardPaths::findExecutable(QStringLiteral("redis-cli")).isEmpty(),
                       "redis-cli is not installed (apt-get install redis-tools)");
    m_topology = std::make_unique<SentinelTopology>();
    QString error;
    QVERIFY2(m_topology->start(&error), qPrintable(error + QLatin1Char('\n') + QString::fromUtf8(m_topology->logs())));
}

void TstSentinel::cleanup()
{
    // A failure is explained by the instances' own account of it.
    if (m_cluster && QTest::currentTestFailed()) {
        for (int i = 0; i < 2; ++i) {
            int exitCode = 0;
            const bool exited = m_cluster->waitInstanceExit(i, 0, &exitCode);
            std::fprintf(stderr, "--- %s (%s) ---\n%s\n", qPrintable(m_cluster->instanceId(i)),
                         exited ? qPrintable(QStringLiteral("exited, code %1").arg(exitCode)) : "running",
                         m_cluster->instanceLog(i).constData());
        }
    }
    m_cluster.reset();
    m_topology.reset();
}

// A demoted master must not be used: ROLE is checked before connected().
void TstSentinel::connectionRefusesAReplica()
{
    sb::RedisAddress replica;
    replica.host = QStringLiteral("127.0.0.1");
    replica.port = m_topology->redisPort(1);
    sb::RedisConnection toReplica;
    toReplica.setRequireMaster(true);
    QSignalSpy refused(&toReplica, &sb::RedisConnection::disconnected);
    QSignalSpy connectedToReplica(&toReplica, &sb::RedisConnection::connected);
    toReplica.connectTo(replica);
    QVERIFY(refused.wait(5000));
    QVERIFY2(refused.first().first().toString().contains(QLatin1StringView("not a master")),
             qPrintable(refused.first().first().toString()));
    QCOMPARE(connectedToReplica.size(), 0);

    sb::RedisAddress master = replica;
    master.port = m_topology->redisPort(0);
    sb::RedisConnection toMaster;
    toMaster.setRequireMaster(true);
    QSignalSpy connected(&toMaster, &sb::RedisConnection::connected);
    toMaster.connectTo(master);
    QVERIFY(connected.wait(5000));
}

void TstSentinel::failoverLosesNothing()
{
    m_cluster = std::make_unique<Cluster>(Cluster::Options{2, false, {}});
    m_cluster->useRedis(m_topology->url());
    QVERIFY2(m_cluster->start(), qPrintable(m_cluster->error()));
    const quint16 port0 = m_cluster->port(0);
    const quint16 port1 = m_cluster->port(1);
    const QString firstMaster = QStringLiteral("127.0.0.1:%1").arg(m_topology->redisPort(0));
    for (quint16 port : {port0, port1}) {
        const QJsonObject info = instanceInfo(port);
        QCOMPARE(info.value(QStringLiteral("backplane")).toString(), QStringLiteral("redis"));
        QCOMPARE(info.value(QStringLiteral("backplane_kind")).toString(), QStringLiteral("sentinel"));
        QCOMPARE(info.value(QStringLiteral("redis_master")).toString(), firstMaster);
        QCOMPARE(info.value(QStringLiteral("backplane_failovers")).toInteger(), 0);
    }

    // Tokens and presence across instances: a token from instance 0 opens on 1.
    TestClient bob;
    const Token token = issueToken(port0, QStringLiteral("bob"), QStringLiteral("bob-phone"));
    QVERIFY(!token.token.isEmpty());
    QVERIFY(bob.open(port1, token.token));
    QCOMPARE(bob.join(kRoom).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    TestClient alice;
    QVERIFY(alice.connectAs(port0, QStringLiteral("alice"), QStringLiteral("alice-laptop")));
    QCOMPARE(alice.join(kRoom).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    const QJsonObject joined = bob.waitFor([](const QJsonObject &f) {
        return f.value(QStringLiteral("type")).toString() == QStringLiteral("presence")
               && f.value(QStringLiteral("user")).toString() == QStringLiteral("alice");
    });
    QCOMPARE(joined.value(QStringLiteral("event")).toString(), QStringLiteral("join"));

    QList<qint64> acked;
    for (int i = 0; i < 5; ++i) {
        const QJsonObject ack = alice.chat(kRoom, QStringLiteral("before %1").arg(i), QStringLiteral("before-%1").arg(i));
        QCOMPARE(ack.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        acked.append(ack.value(QStringLiteral("seq")).toInteger());
    }
    QTRY_COMPARE(bob.framesOfType(QStringLiteral("chat")).size(), 5);

#ifdef SB_WITH_CONSOLE
    // The console on the Sentinels: it watches the master they name and
    // shows master, replicas and Sentinels, the master used by both instances.
    sb::console::OperatorSession::Options options;
    options.instance.resyncMs = 1000;
    options.redis.topologyIntervalMs = 1000;
    options.redis.backoffFirstMs = 200;
    options.redis.backoffCapMs = 1000;
    sb::console::OperatorSession console(options);
    console.setOperatorKey(Cluster::operatorKey());
    console.setRedisUrl(*sb::RedisUrl::parse(m_topology->url()));
    console.start();
    const sb::console::RedisTopologyModel &model = console.topology();
    const QString replica1 = QStringLiteral("127.0.0.1:%1").arg(m_topology->redisPort(1));
    const QString replica2 = QStringLiteral("127.0.0.1:%1").arg(m_topology->redisPort(2));
    const QStringList both{m_cluster->instanceId(0), m_cluster->instanceId(1)};
    const auto sorted = [](QStringList list) {
        list.sort();
        return list;
    };
    QTRY_COMPARE_WITH_TIMEOUT(model.masterAddresses(), QStringList{firstMaster}, 10000);
    QCOMPARE(sorted(model.replicaAddresses(firstMaster)), sorted({replica1, replica2}));
    QCOMPARE(model.topology().kind, QStringLiteral("sentinel"));
    QCOMPARE(model.rowCount(), 4); // the master, then three Sentinels
    QTRY_COMPARE_WITH_TIMEOUT(model.usedBy(firstMaster), both, 10000);
    QVERIFY2(model.summary().contains(QStringLiteral("1 master, 2 replicas, 3 Sentinels")), qPrintable(model.summary()));
    QTRY_COMPARE_WITH_TIMEOUT(console.redis().state(), sb::console::RedisMonitor::State::Connected, 10000);
    QCOMPARE(console.redis().address().hostPort(), firstMaster);
    QTRY_COMPARE_WITH_TIMEOUT(console.instances().rowCount(), 2, 10000); // found through the master's keys
#endif

    // The master dies. Clients keep talking, resending with the same nonce
    // while the backplane is unavailable, as a real client would.
    m_topology->killRedis(0);
    QElapsedTimer sinceKill;
    sinceKill.start();
    // Seen down first, so the time measured below is the outage's, not that
    // of a chat that slipped through before the loss was noticed.
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(port0), QStringLiteral("backplane_down"), 5000);
    qint64 firstAckAfterMs = -1;
    for (int i = 0; i < 6; ++i) {
        TestClient &sender = i % 2 == 0 ? alice : bob;
        const QString nonce = QStringLiteral("during-%1").arg(i);
        QJsonObject answer;
        QDeadlineTimer deadline(20000);
        for (;;) {
            answer = sender.chat(kRoom, QStringLiteral("during %1").arg(i), nonce);
            if (answer.value(QStringLiteral("type")).toString() == QStringLiteral("ack") || deadline.hasExpired())
                break;
            QCOMPARE(answer.value(QStringLiteral("code")).toString(), QStringLiteral("backplane_unavailable"));
            QTest::qWait(100);
        }
        QVERIFY2(answer.value(QStringLiteral("type")).toString() == QStringLiteral("ack"),
                 qPrintable(QString::fromUtf8(m_cluster->instanceLog(i % 2))));
        if (firstAckAfterMs < 0)
            firstAckAfterMs = sinceKill.elapsed();
        acked.append(answer.value(QStringLiteral("seq")).toInteger());
    }
    qInfo("chat resumed %lld ms after the master was killed", firstAckAfterMs);
    QVERIFY2(firstAckAfterMs < 10000, qPrintable(QStringLiteral("chat resumed only after %1 ms").arg(firstAckAfterMs)));

    // Both instances moved to the master the Sentinels promoted, and counted it.
    const QString newMaster = m_topology->masterNow();
    QVERIFY(!newMaster.isEmpty());
    QVERIFY(newMaster != firstMaster);
    for (int i = 0; i < 2; ++i) {
        const quint16 port = m_cluster->port(i);
        QTRY_COMPARE_WITH_TIMEOUT(readyStatus(port), QStringLiteral("ready"), 10000);
        QTRY_COMPARE_WITH_TIMEOUT(instanceInfo(port).value(QStringLiteral("redis_master")).toString(), newMaster, 10000);
        QVERIFY(instanceInfo(port).value(QStringLiteral("backplane_failovers")).toInteger() >= 1);
        QVERIFY2(metricValue(port, QStringLiteral("sb_backplane_failovers_total")) >= 1,
                 qPrintable(QString::fromUtf8(httpGet(port, QStringLiteral("/metrics")).body)));
        QVERIFY(m_cluster->instanceLog(i).contains("Redis failover"));
    }
#ifdef SB_WITH_CONSOLE
    // The console followed: the new master with the other replica and the
    // old master (down) under it, used by both instances; its monitor is on
    // the new master.
    QTRY_COMPARE_WITH_TIMEOUT(model.masterAddresses(), QStringList{newMaster}, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(sorted(model.replicaAddresses(newMaster)),
                              sorted(QStringList{firstMaster, newMaster == replica1 ? replica2 : replica1}), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(model.topology().node(firstMaster) && !model.topology().node(firstMaster)->healthy, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(model.usedBy(newMaster), both, 10000);
    QVERIFY(model.usedBy(firstMaster).isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(console.redis().address().hostPort(), newMaster, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(console.redis().state(), sb::console::RedisMonitor::State::Connected, 10000);
#endif

    // Every acknowledged message reaches every member: live, or when it
    // rejoins with since = the last seq it has without a gap.
    for (TestClient *member : {&alice, &bob}) {
        QSet<qint64> seen;
        for (const QJsonObject &chat : member->framesOfType(QStringLiteral("chat")))
            seen.insert(chat.value(QStringLiteral("seq")).toInteger());
        qint64 since = 0;
        while (seen.contains(since + 1))
            ++since;
        const QJsonObject rejoin = member->join(kRoom, since);
        QCOMPARE(rejoin.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        for (const QJsonValue &missed : rejoin.value(QStringLiteral("missed")).toArray())
            seen.insert(missed.toObject().value(QStringLiteral("seq")).toInteger());
        for (qint64 seq : std::as_const(acked))
            QVERIFY2(seen.contains(seq), qPrintable(QStringLiteral("seq %1 never reached a member").arg(seq)));
    }
    for (int i = 1; i < acked.size(); ++i)
        QCOMPARE(acked[i], acked[i - 1] + 1);

    // After the failover: a token from instance 1 opens on instance 0, and
    // presence and live chat cross instances again.
    TestClient carol;
    const Token carolToken = issueToken(port1, QStringLiteral("carol"));
    QVERIFY(!carolToken.token.isEmpty());
    QVERIFY(carol.open(port0, carolToken.token));
    bob.clearFrames();
    QCOMPARE(carol.join(kRoom).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QVERIFY(!bob.waitFor([](const QJsonObject &f) {
                    return f.value(QStringLiteral("type")).toString() == QStringLiteral("presence")
                           && f.value(QStringLiteral("user")).toString() == QStringLiteral("carol");
                }).isEmpty());
    const QJsonObject last = carol.chat(kRoom, QStringLiteral("after"), QStringLiteral("after-1"));
    QCOMPARE(last.value(QStringLiteral("seq")).toInteger(), acked.last() + 1);
    QVERIFY(!bob.waitFor([](const QJsonObject &f) {
                    return f.value(QStringLiteral("text")).toString() == QStringLiteral("after");
                }).isEmpty());
}

SB_SERVER_TEST_MAIN(TstSentinel)
#include "tst_sentinel.moc"
