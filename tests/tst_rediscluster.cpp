// Redis Cluster for real: six redis-server nodes on loopback (three masters,
// three replicas, made by `redis-cli --cluster create`), three
// switchboard-server processes on the redis-cluster:// URL. Rooms spread over
// every master (their keys share a slot through the {room:R} hash tag), chat
// crosses instances without gaps, a token works once cluster-wide, presence
// and the ticker lease work; then a master is killed with SIGKILL while
// clients chat, its replica takes over, and every acknowledged message
// reaches every member. A room's slots are also moved to another master by
// hand while it chats (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE): commands
// follow ASK and MOVED, and its sharded subscriptions follow the slot.

#include "cluster.h"
#include "rediscluster.h"
#include "testsupport.h"
#ifdef SB_WITH_CONSOLE
#include "app/operatorsession.h"
#include "services/redismonitor.h"
#include <QSignalSpy>
#endif

#include <QDeadlineTimer>
#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QSet>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>
#include <map>
#include <memory>
#include <vector>

using namespace sbtest;

namespace {

constexpr int kNodes = 6;
constexpr int kInstances = 3;

QString redisCli(quint16 port, const QStringList &args, int timeoutMs = 5000)
{
    QProcess cli;
    cli.start(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-p"), QString::number(port)} + args);
    if (!cli.waitForFinished(timeoutMs))
        return {};
    return QString::fromUtf8(cli.readAllStandardOutput()).trimmed();
}

QString readyStatus(quint16 port)
{
    return httpGet(port, QStringLiteral("/readyz")).json().value(QStringLiteral("status")).toString();
}

QJsonObject instanceInfo(quint16 port)
{
    return httpGet(port, QStringLiteral("/api/instance")).json();
}

// Six cluster-enabled nodes, each its own process with its own directory
// (nodes.conf) and an explicit bus port (cluster-port), all free ports.
class ClusterTopology
{
public:
    ~ClusterTopology()
    {
        for (auto &p : m_processes) {
            if (p && p->state() != QProcess::NotRunning) {
                p->kill();
                p->waitForFinished(3000);
            }
        }
    }

    bool start(QString *error)
    {
        for (int i = 0; i < kNodes; ++i) {
            m_ports.append(freePort());
            const quint16 bus = freePort();
            const QString dir = m_dir.filePath(QString::number(m_ports.last()));
            QDir().mkpath(dir);
            auto process = std::make_unique<QProcess>();
            process->setProcessChannelMode(QProcess::MergedChannels);
            process->start(QStringLiteral("redis-server"),
                           {QStringLiteral("--port"), QString::number(m_ports.last()), QStringLiteral("--cluster-port"),
                            QString::number(bus), QStringLiteral("--bind"), QStringLiteral("127.0.0.1"),
                            QStringLiteral("--cluster-enabled"), QStringLiteral("yes"),
                            QStringLiteral("--cluster-config-file"), QStringLiteral("nodes.conf"),
                            QStringLiteral("--cluster-node-timeout"), QStringLiteral("2000"), QStringLiteral("--save"),
                            QString(), QStringLiteral("--appendonly"), QStringLiteral("no"), QStringLiteral("--dir"), dir});
            if (!process->waitForStarted(5000) || !waitForPort(m_ports.last(), 5000)) {
                *error = QStringLiteral("redis-server did not start on port %1: %2")
                             .arg(m_ports.last())
                             .arg(QString::fromUtf8(process->readAll()));
                return false;
            }
            m_processes.push_back(std::move(process));
        }
        QStringList create{QStringLiteral("--cluster"), QStringLiteral("create")};
        for (quint16 port : std::as_const(m_ports))
            create << QStringLiteral("127.0.0.1:%1").arg(port);
        create << QStringLiteral("--cluster-replicas") << QStringLiteral("1") << QStringLiteral("--cluster-yes");
        QProcess cli;
        cli.setProcessChannelMode(QProcess::MergedChannels);
        cli.start(QStringLiteral("redis-cli"), create);
        if (!cli.waitForFinished(30000) || cli.exitCode() != 0) {
            *error = QStringLiteral("redis-cli --cluster create failed: ") + QString::fromUtf8(cli.readAll());
            return false;
        }
        // Every node agrees the cluster is whole and every replica has its
        // master's data (a replica that never synced cannot be promoted).
        QDeadlineTimer ok(30000);
        for (;;) {
            bool whole = true;
            for (quint16 port : std::as_const(m_ports))
                whole = whole && redisCli(port, {QStringLiteral("CLUSTER"), QStringLiteral("INFO")})
                                     .contains(QLatin1StringView("cluster_state:ok"));
            const QStringList masters = masterPorts();
            for (quint16 port : masters.isEmpty() ? QList<quint16>{} : portsOf(masters))
                whole = whole && redisCli(port, {QStringLiteral("INFO"), QStringLiteral("replication")})
                                     .contains(QLatin1StringView("connected_slaves:1"));
            if (whole && masters.size() == 3)
                return true;
            if (ok.hasExpired()) {
                *error = QStringLiteral("the cluster did not become whole: ")
                         + redisCli(m_ports.first(), {QStringLiteral("CLUSTER"), QStringLiteral("NODES")});
                return false;
            }
            QTest::qWait(200);
        }
    }

    QString url() const
    {
        return QStringLiteral("redis-cluster://127.0.0.1:%1,127.0.0.1:%2").arg(m_ports.at(0)).arg(m_ports.at(1));
    }
    quint16 anyLivePort() const
    {
        for (std::size_t i = 0; i < m_processes.size(); ++i) {
            if (m_processes[i]->state() == QProcess::Running)
                return m_ports.at(static_cast<qsizetype>(i));
        }
        return 0;
    }
    // "127.0.0.1:port" of every master, as CLUSTER NODES on a live node says.
    QStringList masterPorts() const
    {
        QStringList masters;
        const QString nodes = redisCli(anyLivePort(), {QStringLiteral("CLUSTER"), QStringLiteral("NODES")});
        for (const QString &line : nodes.split(QLatin1Char('\n'))) {
            const QStringList f = line.split(QLatin1Char(' '));
            if (f.size() > 8 && f.at(2).contains(QLatin1StringView("master")) && !f.at(2).contains(QLatin1StringView("fail")))
                masters << f.at(1).section(QLatin1Char('@'), 0, 0);
        }
        masters.sort();
        return masters;
    }
    // The master serving `slot`, "127.0.0.1:port".
    QString masterOfSlot(int slot) const
    {
        const QString nodes = redisCli(anyLivePort(), {QStringLiteral("CLUSTER"), QStringLiteral("NODES")});
        for (const QString &line : nodes.split(QLatin1Char('\n'))) {
            const QStringList f = line.split(QLatin1Char(' '));
            if (f.size() <= 8 || !f.at(2).contains(QLatin1StringView("master")) || f.at(2).contains(QLatin1StringView("fail")))
                continue;
            for (qsizetype i = 8; i < f.size(); ++i) {
                const QStringList range = f.at(i).split(QLatin1Char('-'));
                const int first = range.first().toInt();
                const int last = range.size() > 1 ? range.at(1).toInt() : first;
                if (!f.at(i).startsWith(QLatin1Char('[')) && slot >= first && slot <= last)
                    return f.at(1).section(QLatin1Char('@'), 0, 0);
            }
        }
        return {};
    }
    // The replica of master `hostPort`, "127.0.0.1:port".
    QString replicaOf(const QString &hostPort) const
    {
        const QStringList lines = redisCli(anyLivePort(), {QStringLiteral("CLUSTER"), QStringLiteral("NODES")})
                                      .split(QLatin1Char('\n'));
        QString id;
        for (const QString &line : lines) {
            const QStringList f = line.split(QLatin1Char(' '));
            if (f.size() > 3 && f.at(1).section(QLatin1Char('@'), 0, 0) == hostPort)
                id = f.at(0);
        }
        for (const QString &line : lines) {
            const QStringList f = line.split(QLatin1Char(' '));
            if (!id.isEmpty() && f.size() > 3 && f.at(2).contains(QLatin1StringView("slave")) && f.at(3) == id)
                return f.at(1).section(QLatin1Char('@'), 0, 0);
        }
        return {};
    }
    static QList<quint16> portsOf(const QStringList &hostPorts)
    {
        QList<quint16> ports;
        for (const QString &hp : hostPorts)
            ports << static_cast<quint16>(hp.section(QLatin1Char(':'), -1).toUInt());
        return ports;
    }
    void kill(quint16 port)
    {
        const qsizetype i = m_ports.indexOf(port);
        if (i < 0)
            return;
        m_processes[static_cast<std::size_t>(i)]->kill(); // SIGKILL
        m_processes[static_cast<std::size_t>(i)]->waitForFinished(3000);
    }
    QByteArray logs() const
    {
        QByteArray all;
        for (const auto &p : m_processes)
            all += p->readAll();
        return all;
    }

private:
    QTemporaryDir m_dir;
    QList<quint16> m_ports;
    std::vector<std::unique_ptr<QProcess>> m_processes;
};

// Rooms whose keys land on each master: the CLUSTER KEYSLOT Redis computes
// for the key the server writes, mapped through CLUSTER NODES.
std::map<QString, QStringList> roomsByMaster(const ClusterTopology &topology, int perMaster)
{
    std::map<QString, QStringList> rooms;
    const quint16 port = topology.anyLivePort();
    for (int i = 0; i < 200; ++i) {
        const QString room = QStringLiteral("room-%1").arg(i);
        const int slot = redisCli(port, {QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"),
                                         QStringLiteral("sb:{room:%1}:members").arg(room)})
                             .toInt();
        QStringList &list = rooms[topology.masterOfSlot(slot)];
        if (list.size() < perMaster)
            list << room;
        bool done = rooms.size() == 3;
        for (const auto &[master, r] : rooms)
            done = done && r.size() >= perMaster;
        if (done)
            break;
    }
    return rooms;
}

} // namespace

class TstRedisCluster : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanup();
    void cleanupTestCase();
    void slotsAreRedisOwn();
    void instancesShowTheCluster();
    void roomsSpreadOverEveryMasterAndChatCrossesInstances();
    void tokenIsOneTimeClusterWide();
    void oneInstanceHoldsTheTicker();
    void manualFailoverMovesCommandsAndChannels();
    void liveReshardingFollowsAskAndMoved();
#ifdef SB_WITH_CONSOLE
    void consoleWatchesTheCluster();
#endif
    void masterKilledWhileChatting();
    void killedInstanceIsCleanedUp();

private:
    void dumpLogs();
#ifdef SB_WITH_CONSOLE
    // The console's session on the redis-cluster:// URL, kept open from
    // consoleWatchesTheCluster on: its topology must follow the failover.
    std::unique_ptr<sb::console::OperatorSession> m_console;
#endif

    std::unique_ptr<ClusterTopology> m_topology;
    std::unique_ptr<Cluster> m_cluster;
};

void TstRedisCluster::initTestCase()
{
    SB_REQUIRE_SERVICE(!QStandardPaths::findExecutable(QStringLiteral("redis-server")).isEmpty(),
                       "redis-server is not installed (apt-get install redis-server)");
    SB_REQUIRE_SERVICE(!QStandardPaths::findExecutable(QStringLiteral("redis-cli")).isEmpty(),
                       "redis-cli is not installed (apt-get install redis-tools)");
    m_topology = std::make_unique<ClusterTopology>();
    QString error;
    QVERIFY2(m_topology->start(&error), qPrintable(error + QLatin1Char('\n') + QString::fromUtf8(m_topology->logs())));
    m_cluster = std::make_unique<Cluster>(
        Cluster::Options{kInstances, false, {QStringLiteral("--ticker"), QStringLiteral("1-1")}});
    m_cluster->useRedis(m_topology->url());
    QVERIFY2(m_cluster->start(), qPrintable(m_cluster->error()));
}

void TstRedisCluster::dumpLogs()
{
    for (int i = 0; i < kInstances; ++i) {
        std::fprintf(stderr, "--- %s ---\n%s\n", qPrintable(m_cluster->instanceId(i)),
                     m_cluster->instanceLog(i).constData());
    }
}

void TstRedisCluster::cleanup()
{
    if (m_cluster && QTest::currentTestFailed())
        dumpLogs();
}

void TstRedisCluster::cleanupTestCase()
{
#ifdef SB_WITH_CONSOLE
    m_console.reset();
#endif
    m_cluster.reset();
    m_topology.reset();
}

// Our CRC16 slot is the one Redis computes, hash tags included.
void TstRedisCluster::slotsAreRedisOwn()
{
    const quint16 port = m_topology->anyLivePort();
    for (const QByteArray &key : {QByteArrayLiteral("sb:{room:lobby}:members"), QByteArrayLiteral("sb:instance:app-1"),
                                 QByteArrayLiteral("sb:token:abc"), QByteArrayLiteral("{}x"),
                                 QByteArrayLiteral("a{b}c{d}"), QByteArrayLiteral("123456789")}) {
        QCOMPARE(QString::number(sb::clusterKeySlot(key)),
                 redisCli(port, {QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"), QString::fromUtf8(key)}));
    }
}

void TstRedisCluster::instancesShowTheCluster()
{
    const QStringList masters = m_topology->masterPorts();
    for (int i = 0; i < kInstances; ++i) {
        const QJsonObject info = instanceInfo(m_cluster->port(i));
        QCOMPARE(info.value(QStringLiteral("backplane_kind")).toString(), QStringLiteral("cluster"));
        QStringList shown = info.value(QStringLiteral("redis_master")).toString().split(QLatin1Char(','));
        shown.sort();
        QCOMPARE(shown, masters);
        QCOMPARE(info.value(QStringLiteral("backplane_failovers")).toInteger(), 0);
        QCOMPARE(readyStatus(m_cluster->port(i)), QStringLiteral("ready"));
    }
}

void TstRedisCluster::roomsSpreadOverEveryMasterAndChatCrossesInstances()
{
    const auto byMaster = roomsByMaster(*m_topology, 1);
    QCOMPARE(byMaster.size(), std::size_t(3));
    QStringList rooms;
    for (const auto &[master, list] : byMaster)
        rooms << list;

    // One member per instance in every room; each sees the others join.
    std::vector<std::unique_ptr<TestClient>> members;
    for (int i = 0; i < kInstances; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->connectAs(m_cluster->port(i), QStringLiteral("user%1").arg(i)));
        for (const QString &room : std::as_const(rooms))
            QCOMPARE(c->join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        members.push_back(std::move(c));
    }
    for (const QString &room : std::as_const(rooms)) {
        QVERIFY(!members[0]->waitFor([&](const QJsonObject &f) {
                               return f.value(QStringLiteral("type")).toString() == QStringLiteral("presence")
                                      && f.value(QStringLiteral("room")).toString() == room
                                      && f.value(QStringLiteral("user")).toString() == QStringLiteral("user2");
                           }).isEmpty());
    }
    // The members' keys live on the room's master, both in one slot.
    for (const auto &[master, list] : byMaster) {
        const quint16 port = static_cast<quint16>(master.section(QLatin1Char(':'), -1).toUInt());
        for (const QString &room : list) {
            QCOMPARE(redisCli(port, {QStringLiteral("HLEN"), QStringLiteral("sb:{room:%1}:members").arg(room)}),
                     QStringLiteral("3"));
            QCOMPARE(redisCli(port, {QStringLiteral("ZCARD"), QStringLiteral("sb:{room:%1}:member-ids").arg(room)}),
                     QStringLiteral("3"));
        }
    }

    // Every instance posts to every room; every member gets every message,
    // in seq order, without a gap.
    constexpr int kRounds = 5;
    for (int round = 0; round < kRounds; ++round) {
        for (int i = 0; i < kInstances; ++i) {
            for (const QString &room : std::as_const(rooms)) {
                const QJsonObject ack = members[static_cast<std::size_t>(i)]->chat(
                    room, QStringLiteral("m %1 %2").arg(round).arg(i), QStringLiteral("n-%1-%2-%3").arg(room).arg(round).arg(i));
                QCOMPARE(ack.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
            }
        }
    }
    const qsizetype expected = qsizetype(kRounds) * kInstances;
    for (auto &member : members) {
        for (const QString &room : std::as_const(rooms)) {
            const auto inRoom = [&] {
                QList<qint64> seqs;
                for (const QJsonObject &chat : member->framesOfType(QStringLiteral("chat"))) {
                    if (chat.value(QStringLiteral("room")).toString() == room)
                        seqs << chat.value(QStringLiteral("seq")).toInteger();
                }
                return seqs;
            };
            QTRY_COMPARE_WITH_TIMEOUT(inRoom().size(), expected, 10000);
            const QList<qint64> seqs = inRoom();
            for (qsizetype k = 1; k < seqs.size(); ++k)
                QCOMPARE(seqs.at(k), seqs.at(k - 1) + 1);
        }
    }

    // Presence: a leave reaches the other instances.
    const QString leaver = members[1]->welcome().value(QStringLiteral("session_id")).toString();
    QCOMPARE(members[1]->request({{QStringLiteral("type"), QStringLiteral("leave")}, {QStringLiteral("room"), rooms.first()}})
                 .value(QStringLiteral("type")).toString(),
             QStringLiteral("ack"));
    QVERIFY(!members[2]->waitFor([&](const QJsonObject &f) {
                           return f.value(QStringLiteral("type")).toString() == QStringLiteral("presence")
                                  && f.value(QStringLiteral("event")).toString() == QStringLiteral("leave")
                                  && f.value(QStringLiteral("session_id")).toString() == leaver;
                       }).isEmpty());
}

void TstRedisCluster::tokenIsOneTimeClusterWide()
{
    // Several tokens, so their keys land on different masters.
    for (int i = 0; i < 6; ++i) {
        const Token token = issueToken(m_cluster->port(i % kInstances), QStringLiteral("alice"));
        QVERIFY(!token.token.isEmpty());
        TestClient first;
        QVERIFY(first.open(m_cluster->port((i + 1) % kInstances), token.token));
        TestClient second;
        QVERIFY(!second.open(m_cluster->port((i + 2) % kInstances), token.token));
        QVERIFY(second.waitClosed());
        QCOMPARE(second.closeCode(), 4401);
    }
}

void TstRedisCluster::oneInstanceHoldsTheTicker()
{
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < kInstances; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->connectAs(m_cluster->port(i), QStringLiteral("t%1").arg(i)));
        clients.push_back(std::move(c));
    }
    const QJsonObject tick = clients[0]->waitFor([](const QJsonObject &f) {
        return f.value(QStringLiteral("kind")).toString() == QStringLiteral("ticker");
    }, 5000);
    QVERIFY(!tick.isEmpty());
    const QString holder = tick.value(QStringLiteral("origin")).toString();
    QTest::qWait(2500);
    for (auto &c : clients) {
        QVERIFY(!c->framesOfType(QStringLiteral("broadcast")).isEmpty());
        for (const QJsonObject &b : c->framesOfType(QStringLiteral("broadcast")))
            QCOMPARE(b.value(QStringLiteral("origin")).toString(), holder);
    }
}

#ifdef SB_WITH_CONSOLE
// The console's Redis monitor on the redis-cluster:// URL: it finds every
// instance (their keys are spread over the masters, each SCANned) and sees
// the cluster-wide channels.
void TstRedisCluster::consoleWatchesTheCluster()
{
    sb::console::RedisMonitor monitor;
    QSignalSpy discovered(&monitor, &sb::console::RedisMonitor::instancesDiscovered);
    QSignalSpy envelopes(&monitor, &sb::console::RedisMonitor::envelopesReceived);
    monitor.start(*sb::RedisUrl::parse(m_topology->url()));
    QTRY_VERIFY_WITH_TIMEOUT(!discovered.isEmpty()
                                 && discovered.last().first().value<QList<sb::console::DiscoveredInstance>>().size()
                                        == kInstances,
                             10000);
    QStringList ids;
    for (const auto &instance : discovered.last().first().value<QList<sb::console::DiscoveredInstance>>())
        ids << instance.id;
    QCOMPARE(ids, (QStringList{m_cluster->instanceId(0), m_cluster->instanceId(1), m_cluster->instanceId(2)}));
    QTRY_VERIFY_WITH_TIMEOUT(!envelopes.isEmpty(), 10000); // the instances' probes, at least
    QCOMPARE(monitor.state(), sb::console::RedisMonitor::State::Connected);

    // The operator console's topology view: three masters with their slots,
    // each with its replica, each used by every instance (/api/instance
    // names every master for a cluster instance).
    sb::console::OperatorSession::Options options;
    options.instance.resyncMs = 1000;
    options.redis.topologyIntervalMs = 1000;
    m_console = std::make_unique<sb::console::OperatorSession>(options);
    m_console->setOperatorKey(Cluster::operatorKey());
    m_console->setRedisUrl(*sb::RedisUrl::parse(m_topology->url()));
    m_console->start();
    const sb::console::RedisTopologyModel &model = m_console->topology();
    const QStringList masters = m_topology->masterPorts();
    const auto sortedMasters = [&model] {
        QStringList m = model.masterAddresses();
        m.sort();
        return m;
    };
    QTRY_COMPARE_WITH_TIMEOUT(sortedMasters(), masters, 10000);
    QCOMPARE(model.rowCount(), 3);
    const QStringList all{m_cluster->instanceId(0), m_cluster->instanceId(1), m_cluster->instanceId(2)};
    for (const QString &master : masters) {
        QCOMPARE(model.replicaAddresses(master), QStringList{m_topology->replicaOf(master)});
        QTRY_COMPARE_WITH_TIMEOUT(model.usedBy(master), all, 10000);
    }
    int slotsShown = 0;
    for (int row = 0; row < model.rowCount(); ++row) {
        const QModelIndex master = model.index(row, 0);
        QCOMPARE(model.rowCount(master), 1);
        QCOMPARE(model.index(row, sb::console::RedisTopologyModel::Role).data().toString(), QStringLiteral("master"));
        QCOMPARE(model.index(row, sb::console::RedisTopologyModel::State).data().toString(), QStringLiteral("connected"));
        QCOMPARE(model.index(0, sb::console::RedisTopologyModel::Role, master).data().toString(), QStringLiteral("replica"));
        QVERIFY(model.index(0, sb::console::RedisTopologyModel::UsedBy, master).data().toString().isEmpty());
        for (const auto &[first, last] : model.topology().node(model.index(row, 0).data().toString())->slotRanges)
            slotsShown += last - first + 1;
    }
    QCOMPARE(slotsShown, sb::ClusterSlotCount);
    QVERIFY2(model.summary().contains(QStringLiteral("3 masters, 3 replicas; 16384 of 16384 slots served")),
             qPrintable(model.summary()));
}
#endif

// CLUSTER FAILOVER on a replica: the old master turns replica with every
// connection still open, so commands are answered MOVED and the room's
// sharded subscriptions are dropped by the node ("sunsubscribe").
void TstRedisCluster::manualFailoverMovesCommandsAndChannels()
{
    const quint16 any = m_topology->anyLivePort();
    const auto slotOf = [any](const QString &key) {
        return redisCli(any, {QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"), key}).toInt();
    };
    // A room whose keys and channel live on one master.
    QString room;
    QString master;
    for (int i = 0; i < 100 && room.isEmpty(); ++i) {
        const QString candidate = QStringLiteral("moved-%1").arg(i);
        const QString keysOn = m_topology->masterOfSlot(slotOf(QStringLiteral("sb:{room:%1}:members").arg(candidate)));
        if (keysOn == m_topology->masterOfSlot(slotOf(QStringLiteral("sb:room:") + candidate))) {
            room = candidate;
            master = keysOn;
        }
    }
    QVERIFY(!room.isEmpty());
    const QString replica = m_topology->replicaOf(master);
    QVERIFY(!replica.isEmpty());

    std::vector<std::unique_ptr<TestClient>> members;
    for (int i = 0; i < kInstances; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->connectAs(m_cluster->port(i), QStringLiteral("m%1").arg(i)));
        QCOMPARE(c->join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        members.push_back(std::move(c));
    }
    // Room channels are sharded: every instance SSUBSCRIBEd on the master, none SUBSCRIBEd.
    const quint16 masterPort = ClusterTopology::portsOf({master}).first();
    const QString channel = QStringLiteral("sb:room:") + room;
    QCOMPARE(redisCli(masterPort, {QStringLiteral("PUBSUB"), QStringLiteral("SHARDNUMSUB"), channel}).section(QLatin1Char('\n'), -1),
             QStringLiteral("3"));
    for (quint16 port : ClusterTopology::portsOf(m_topology->masterPorts()))
        QCOMPARE(redisCli(port, {QStringLiteral("PUBSUB"), QStringLiteral("NUMSUB"), channel}).section(QLatin1Char('\n'), -1),
                 QStringLiteral("0"));

    QCOMPARE(redisCli(ClusterTopology::portsOf({replica}).first(), {QStringLiteral("CLUSTER"), QStringLiteral("FAILOVER")}),
             QStringLiteral("OK"));
    QTRY_COMPARE_WITH_TIMEOUT(m_topology->masterOfSlot(slotOf(channel)), replica, 15000);

    // Chat goes on (a refusal while the instances move is resent); every
    // member hears every message live, through the new master.
    for (int i = 0; i < 6; ++i) {
        TestClient &sender = *members[static_cast<std::size_t>(i % kInstances)];
        QJsonObject answer;
        QDeadlineTimer deadline(20000);
        do {
            answer = sender.chat(room, QStringLiteral("moved %1").arg(i), QStringLiteral("moved-%1").arg(i));
            if (answer.value(QStringLiteral("type")).toString() != QStringLiteral("ack"))
                QTest::qWait(100);
        } while (answer.value(QStringLiteral("type")).toString() != QStringLiteral("ack") && !deadline.hasExpired());
        QCOMPARE(answer.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    }
    for (auto &member : members)
        QTRY_COMPARE_WITH_TIMEOUT(member->framesOfType(QStringLiteral("chat")).size(), qsizetype(6), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(
        redisCli(ClusterTopology::portsOf({replica}).first(), {QStringLiteral("PUBSUB"), QStringLiteral("SHARDNUMSUB"), channel})
            .section(QLatin1Char('\n'), -1),
        QStringLiteral("3"), 10000);
    for (int i = 0; i < kInstances; ++i)
        QTRY_VERIFY_WITH_TIMEOUT(instanceInfo(m_cluster->port(i)).value(QStringLiteral("backplane_failovers")).toInteger() >= 1,
                                 10000);
    // The old master, now a replica, has its data again before the next case kills a master.
    QTRY_VERIFY_WITH_TIMEOUT(redisCli(ClusterTopology::portsOf({replica}).first(), {QStringLiteral("INFO"), QStringLiteral("replication")})
                                 .contains(QLatin1StringView("connected_slaves:1")),
                             15000);
}

// A live slot migration, as `redis-cli --cluster reshard` does it, of both
// slots of one room (its keys' and its channel's) while its members chat:
// between MIGRATE and SETSLOT NODE the old master answers ASK for the room's
// keys (a join then runs on the new master after ASKING); after SETSLOT NODE
// it answers MOVED and drops the room's SSUBSCRIBEs ("sunsubscribe"), which
// the instances make again on the new master. Every acked chat reaches every
// member, in seq order.
void TstRedisCluster::liveReshardingFollowsAskAndMoved()
{
    const quint16 any = m_topology->anyLivePort();
    const auto slotOf = [any](const QString &key) {
        return redisCli(any, {QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"), key}).toInt();
    };
    QString room;
    QString source;
    for (int i = 0; i < 100 && room.isEmpty(); ++i) {
        const QString candidate = QStringLiteral("resharded-%1").arg(i);
        const QString keysOn = m_topology->masterOfSlot(slotOf(QStringLiteral("sb:{room:%1}:members").arg(candidate)));
        if (keysOn == m_topology->masterOfSlot(slotOf(QStringLiteral("sb:room:") + candidate))) {
            room = candidate;
            source = keysOn;
        }
    }
    QVERIFY(!room.isEmpty());
    const QString channel = QStringLiteral("sb:room:") + room;
    const QString membersKey = QStringLiteral("sb:{room:%1}:members").arg(room);
    const QList<int> roomSlots{slotOf(membersKey), slotOf(channel)};
    const QStringList masters = m_topology->masterPorts();
    QString target;
    for (const QString &m : masters) {
        if (m != source && target.isEmpty())
            target = m;
    }
    const quint16 sourcePort = ClusterTopology::portsOf({source}).first();
    const quint16 targetPort = ClusterTopology::portsOf({target}).first();
    const QString sourceId = redisCli(sourcePort, {QStringLiteral("CLUSTER"), QStringLiteral("MYID")});
    const QString targetId = redisCli(targetPort, {QStringLiteral("CLUSTER"), QStringLiteral("MYID")});
    const auto askingCalls = [targetPort] {
        const QString stats = redisCli(targetPort, {QStringLiteral("INFO"), QStringLiteral("commandstats")});
        const qsizetype at = stats.indexOf(QLatin1StringView("cmdstat_asking:calls="));
        return at < 0 ? 0 : stats.mid(at + 21).section(QLatin1Char(','), 0, 0).toInt();
    };
    const int askingBefore = askingCalls();
    QList<qint64> failoversBefore;
    for (int i = 0; i < kInstances; ++i)
        failoversBefore << instanceInfo(m_cluster->port(i)).value(QStringLiteral("backplane_failovers")).toInteger();

    std::vector<std::unique_ptr<TestClient>> members;
    for (int i = 0; i < kInstances; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->connectAs(m_cluster->port(i), QStringLiteral("r%1").arg(i)));
        QCOMPARE(c->join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        members.push_back(std::move(c));
    }
    QList<qint64> acked;
    int sent = 0;
    // Chat goes on throughout; a refusal while the instances move (the
    // backplane is down for a moment) is resent with the same nonce.
    const auto chat = [&]() -> bool {
        TestClient &sender = *members[static_cast<std::size_t>(sent % kInstances)];
        const QString nonce = QStringLiteral("reshard-%1").arg(sent);
        QJsonObject answer;
        QDeadlineTimer deadline(20000);
        for (;;) {
            answer = sender.chat(room, QStringLiteral("resharded %1").arg(sent), nonce);
            if (answer.value(QStringLiteral("type")).toString() == QStringLiteral("ack") || deadline.hasExpired())
                break;
            if (answer.value(QStringLiteral("code")).toString() != QStringLiteral("backplane_unavailable"))
                break;
            QTest::qWait(100);
        }
        ++sent;
        if (answer.value(QStringLiteral("type")).toString() != QStringLiteral("ack")) {
            qWarning("chat %d not acked: %s", sent - 1, qPrintable(QString::fromUtf8(QJsonDocument(answer).toJson(QJsonDocument::Compact))));
            return false;
        }
        acked << answer.value(QStringLiteral("seq")).toInteger();
        return true;
    };
    const auto cli = [](quint16 port, const QStringList &args) { return redisCli(port, args); };
    QVERIFY(chat());

    for (int slot : roomSlots) {
        QCOMPARE(cli(targetPort, {QStringLiteral("CLUSTER"), QStringLiteral("SETSLOT"), QString::number(slot),
                                  QStringLiteral("IMPORTING"), sourceId}),
                 QStringLiteral("OK"));
        QCOMPARE(cli(sourcePort, {QStringLiteral("CLUSTER"), QStringLiteral("SETSLOT"), QString::number(slot),
                                  QStringLiteral("MIGRATING"), targetId}),
                 QStringLiteral("OK"));
    }
    QVERIFY(chat());
    // The room's keys go over; its slot stays the source's until SETSLOT NODE.
    QStringList keys = cli(sourcePort, {QStringLiteral("CLUSTER"), QStringLiteral("GETKEYSINSLOT"),
                                        QString::number(roomSlots.first()), QStringLiteral("100")})
                           .split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QVERIFY(keys.contains(membersKey));
    QCOMPARE(cli(sourcePort, QStringList{QStringLiteral("MIGRATE"), QStringLiteral("127.0.0.1"), QString::number(targetPort),
                                         QString(), QStringLiteral("0"), QStringLiteral("5000"), QStringLiteral("KEYS")}
                                 + keys),
             QStringLiteral("OK"));
    QVERIFY(chat());
    // A join now writes the room's keys: the source answers ASK, the target serves it.
    TestClient late;
    QVERIFY(late.connectAs(m_cluster->port(1), QStringLiteral("late")));
    QCOMPARE(late.join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QVERIFY(askingCalls() > askingBefore);
    QVERIFY(chat());

    // The slots are the target's: the target first, then every other master.
    for (int slot : roomSlots) {
        for (const QString &m : QStringList{target, source} + masters) {
            const QString answer = cli(ClusterTopology::portsOf({m}).first(),
                                       {QStringLiteral("CLUSTER"), QStringLiteral("SETSLOT"), QString::number(slot),
                                        QStringLiteral("NODE"), targetId});
            QCOMPARE(answer, QStringLiteral("OK"));
        }
    }
    for (int i = 0; i < 6; ++i)
        QVERIFY(chat());
    QTRY_COMPARE_WITH_TIMEOUT(m_topology->masterOfSlot(roomSlots.last()), target, 10000);
    QCOMPARE(cli(targetPort, {QStringLiteral("HLEN"), membersKey}), QStringLiteral("4")); // the late join's too

    // Every member heard every acked chat, in order, none twice.
    for (qsizetype k = 1; k < acked.size(); ++k)
        QCOMPARE(acked.at(k), acked.at(k - 1) + 1);
    for (auto &member : members) {
        const auto seqs = [&member] {
            QList<qint64> out;
            for (const QJsonObject &c : member->framesOfType(QStringLiteral("chat")))
                out << c.value(QStringLiteral("seq")).toInteger();
            return out;
        };
        QTRY_COMPARE_WITH_TIMEOUT(seqs(), acked, 10000);
    }
    // The subscriptions followed the channel's slot: all three on the target, none left on the source.
    const QStringList numsub{QStringLiteral("PUBSUB"), QStringLiteral("SHARDNUMSUB"), channel};
    QTRY_COMPARE_WITH_TIMEOUT(cli(targetPort, numsub).section(QLatin1Char('\n'), -1), QStringLiteral("3"), 10000);
    QCOMPARE(cli(sourcePort, numsub).section(QLatin1Char('\n'), -1), QStringLiteral("0"));
    // A slot moving between masters is no failover.
    for (int i = 0; i < kInstances; ++i) {
        QTRY_COMPARE(readyStatus(m_cluster->port(i)), QStringLiteral("ready"));
        QCOMPARE(instanceInfo(m_cluster->port(i)).value(QStringLiteral("backplane_failovers")).toInteger(),
                 failoversBefore.at(i));
    }
}

void TstRedisCluster::masterKilledWhileChatting()
{
    // A room on the master about to die; members on every instance.
    const QString room = QStringLiteral("failover");
    const quint16 redisPort = m_topology->anyLivePort();
    const int slot = redisCli(redisPort, {QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"),
                                          QStringLiteral("sb:{room:%1}:members").arg(room)})
                         .toInt();
    const QString victim = m_topology->masterOfSlot(slot);
    QVERIFY(!victim.isEmpty());
    const QString promoted = m_topology->replicaOf(victim);
    QVERIFY(!promoted.isEmpty());

    std::vector<std::unique_ptr<TestClient>> members;
    for (int i = 0; i < kInstances; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->connectAs(m_cluster->port(i), QStringLiteral("f%1").arg(i)));
        QCOMPARE(c->join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        members.push_back(std::move(c));
    }
    QList<qint64> acked;
    for (int i = 0; i < 6; ++i) {
        const QJsonObject ack = members[static_cast<std::size_t>(i % kInstances)]->chat(
            room, QStringLiteral("before %1").arg(i), QStringLiteral("before-%1").arg(i));
        QCOMPARE(ack.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        acked << ack.value(QStringLiteral("seq")).toInteger();
    }

    m_topology->kill(ClusterTopology::portsOf({victim}).first());
    QElapsedTimer sinceKill;
    sinceKill.start();
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(m_cluster->port(0)), QStringLiteral("backplane_down"), 10000);
    qint64 firstAckAfterMs = -1;
    for (int i = 0; i < 9; ++i) {
        TestClient &sender = *members[static_cast<std::size_t>(i % kInstances)];
        const QString nonce = QStringLiteral("during-%1").arg(i);
        QJsonObject answer;
        QDeadlineTimer deadline(30000);
        for (;;) {
            answer = sender.chat(room, QStringLiteral("during %1").arg(i), nonce);
            if (answer.value(QStringLiteral("type")).toString() == QStringLiteral("ack") || deadline.hasExpired())
                break;
            QCOMPARE(answer.value(QStringLiteral("code")).toString(), QStringLiteral("backplane_unavailable"));
            QTest::qWait(100);
        }
        QCOMPARE(answer.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        if (firstAckAfterMs < 0)
            firstAckAfterMs = sinceKill.elapsed();
        acked << answer.value(QStringLiteral("seq")).toInteger();
    }
    qInfo("chat resumed %lld ms after a cluster master was killed", firstAckAfterMs);

    // The replica took over; every instance follows it, counted and shown.
    const QStringList masters = m_topology->masterPorts();
    QCOMPARE(masters.size(), 3);
    QVERIFY(!masters.contains(victim));
    for (int i = 0; i < kInstances; ++i) {
        const quint16 port = m_cluster->port(i);
        QTRY_COMPARE_WITH_TIMEOUT(readyStatus(port), QStringLiteral("ready"), 20000);
        QTRY_VERIFY_WITH_TIMEOUT(!instanceInfo(port).value(QStringLiteral("redis_master")).toString().contains(victim), 10000);
        QVERIFY(instanceInfo(port).value(QStringLiteral("backplane_failovers")).toInteger() >= 1);
        QVERIFY(metricValue(port, QStringLiteral("sb_backplane_failovers_total")) >= 1);
        QVERIFY(m_cluster->instanceLog(i).contains("Redis failover"));
    }

    // Every acknowledged message reaches every member: live, or on a rejoin
    // with since = the last seq it holds without a gap.
    for (auto &member : members) {
        QSet<qint64> seen;
        for (const QJsonObject &chat : member->framesOfType(QStringLiteral("chat")))
            seen.insert(chat.value(QStringLiteral("seq")).toInteger());
        qint64 since = 0;
        while (seen.contains(since + 1))
            ++since;
        const QJsonObject rejoin = member->join(room, since);
        QCOMPARE(rejoin.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        for (const QJsonValue &missed : rejoin.value(QStringLiteral("missed")).toArray())
            seen.insert(missed.toObject().value(QStringLiteral("seq")).toInteger());
        for (qint64 seq : std::as_const(acked))
            QVERIFY2(seen.contains(seq), qPrintable(QStringLiteral("seq %1 never reached a member").arg(seq)));
    }
    for (qsizetype i = 1; i < acked.size(); ++i)
        QCOMPARE(acked.at(i), acked.at(i - 1) + 1);

#ifdef SB_WITH_CONSOLE
    // The console's topology follows: the promoted replica is a master with
    // the slots and the instances, the killed master is shown failed, slotless
    // and unused.
    const sb::console::RedisTopologyModel &model = m_console->topology();
    QTRY_VERIFY_WITH_TIMEOUT(model.topology().node(promoted)
                                 && model.topology().node(promoted)->role == sb::console::RedisNodeInfo::Role::Master
                                 && model.topology().node(promoted)->slotCount() > 0,
                             15000);
    QTRY_COMPARE_WITH_TIMEOUT(model.topology().node(victim) ? model.topology().node(victim)->state : QString(),
                              QStringLiteral("fail"), 15000);
    QVERIFY(model.topology().node(victim)->slotRanges.isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(model.usedBy(promoted),
                              (QStringList{m_cluster->instanceId(0), m_cluster->instanceId(1), m_cluster->instanceId(2)}),
                              15000);
    QTRY_VERIFY_WITH_TIMEOUT(model.usedBy(victim).isEmpty(), 15000);
    QVERIFY2(model.summary().contains(QStringLiteral("16384 of 16384 slots served")), qPrintable(model.summary()));
    QVERIFY2(model.summary().contains(QStringLiteral("1 node failing or unreachable")), qPrintable(model.summary()));
#endif

    // Live chat crosses instances again after the failover.
    members[1]->clearFrames();
    const QJsonObject last = members[0]->chat(room, QStringLiteral("after"), QStringLiteral("after-1"));
    QCOMPARE(last.value(QStringLiteral("seq")).toInteger(), acked.last() + 1);
    QVERIFY(!members[1]->waitFor([](const QJsonObject &f) {
                           return f.value(QStringLiteral("text")).toString() == QStringLiteral("after");
                       }).isEmpty());
}

// Crash cleanup slot by slot: a killed instance's members leave their rooms
// (keys on several masters) and another instance takes the ticker over.
void TstRedisCluster::killedInstanceIsCleanedUp()
{
    const auto byMaster = roomsByMaster(*m_topology, 1);
    QStringList rooms;
    for (const auto &[master, list] : byMaster)
        rooms << list;
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < kInstances; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->connectAs(m_cluster->port(i), QStringLiteral("k%1").arg(i)));
        for (const QString &room : std::as_const(rooms))
            QCOMPARE(c->join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        clients.push_back(std::move(c));
    }
    const QJsonObject tick = clients[0]->waitFor([](const QJsonObject &f) {
        return f.value(QStringLiteral("kind")).toString() == QStringLiteral("ticker");
    }, 5000);
    QVERIFY(!tick.isEmpty());
    const QString holder = tick.value(QStringLiteral("origin")).toString();
    int victim = 0;
    while (victim < kInstances && m_cluster->instanceId(victim) != holder)
        ++victim;
    QVERIFY(victim < kInstances);
    const int survivor = (victim + 1) % kInstances;
    TestClient &watcher = *clients[static_cast<std::size_t>(survivor)];
    const QString victimSession = clients[static_cast<std::size_t>(victim)]->welcome().value(QStringLiteral("session_id")).toString();
    watcher.clearFrames();
    m_cluster->killInstance(victim);

    for (const QString &room : std::as_const(rooms)) {
        const QJsonObject left = watcher.waitFor([&](const QJsonObject &f) {
            return f.value(QStringLiteral("type")).toString() == QStringLiteral("presence")
                   && f.value(QStringLiteral("room")).toString() == room
                   && f.value(QStringLiteral("session_id")).toString() == victimSession;
        }, 15000);
        QCOMPARE(left.value(QStringLiteral("event")).toString(), QStringLiteral("leave"));
    }
    const quint16 any = m_topology->anyLivePort();
    for (const QString &room : std::as_const(rooms)) {
        const QString owner = m_topology->masterOfSlot(
            redisCli(any, {QStringLiteral("CLUSTER"), QStringLiteral("KEYSLOT"), QStringLiteral("sb:{room:%1}:members").arg(room)})
                .toInt());
        QCOMPARE(redisCli(ClusterTopology::portsOf({owner}).first(),
                          {QStringLiteral("HEXISTS"), QStringLiteral("sb:{room:%1}:members").arg(room), victimSession}),
                 QStringLiteral("0"));
    }
    QVERIFY(!watcher.waitFor([&](const QJsonObject &f) {
                        return f.value(QStringLiteral("kind")).toString() == QStringLiteral("ticker")
                               && f.value(QStringLiteral("origin")).toString() != holder;
                    }, 15000).isEmpty());
}

SB_SERVER_TEST_MAIN(TstRedisCluster)
#include "tst_rediscluster.moc"
