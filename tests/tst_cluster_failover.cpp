// A real cluster losing its parts: an instance killed with SIGKILL (presence
// cleanup, ticker failover), Redis stopped and restarted mid-conversation,
// PostgreSQL restarted. Nothing acknowledged may be lost.

#include "cluster.h"
#include "testsupport.h"

#include <QJsonArray>
#include <QTest>

using namespace sbtest;

class TstClusterFailover : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void cleanup() { m_cluster.reset(); }

    void killedInstanceLeavesRoomsAndTicker();
    void redisRestartLosesNothing();
    void postgresRestartLosesNothing();

private:
    bool startCluster(int instances, const QStringList &flags = {})
    {
        m_cluster = std::make_unique<Cluster>(Cluster::Options{instances, false, flags});
        const bool ok = m_cluster->start();
        if (!ok)
            qWarning("%s", qPrintable(m_cluster->error()));
        return ok;
    }
    std::unique_ptr<Cluster> m_cluster;
};

namespace {

QString readyStatus(quint16 port)
{
    return httpGet(port, QStringLiteral("/readyz")).json().value(QStringLiteral("status")).toString();
}

} // namespace

void TstClusterFailover::killedInstanceLeavesRoomsAndTicker()
{
    QVERIFY(startCluster(3, {QStringLiteral("--ticker"), QStringLiteral("1-1")}));
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 3; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->connectAs(m_cluster->port(i), QStringLiteral("u%1").arg(i)));
        c->join(QStringLiteral("lobby"));
        clients.push_back(std::move(c));
    }
    // Exactly one instance runs the ticker; everybody hears it.
    const QJsonObject tick = clients[0]->waitFor([](const QJsonObject &f) {
        return f.value(QStringLiteral("kind")).toString() == QStringLiteral("ticker");
    }, 5000);
    QVERIFY(!tick.isEmpty());
    QCOMPARE(tick.value(QStringLiteral("from")).toString(), QStringLiteral("system"));
    const QString holder = tick.value(QStringLiteral("origin")).toString();
    QTest::qWait(2500);
    for (auto &c : clients) {
        for (const QJsonObject &b : c->framesOfType(QStringLiteral("broadcast")))
            QCOMPARE(b.value(QStringLiteral("origin")).toString(), holder);
    }

    const int victim = holder == m_cluster->instanceId(0) ? 0 : holder == m_cluster->instanceId(1) ? 1 : 2;
    const int survivor = (victim + 1) % 3;
    const QString victimSession = clients[static_cast<std::size_t>(victim)]->welcome().value(QStringLiteral("session_id")).toString();
    clients[static_cast<std::size_t>(survivor)]->clearFrames();
    m_cluster->killInstance(victim);

    const QJsonObject left = clients[static_cast<std::size_t>(survivor)]->waitFor([&](const QJsonObject &f) {
        return f.value(QStringLiteral("type")).toString() == QStringLiteral("presence")
               && f.value(QStringLiteral("session_id")).toString() == victimSession;
    }, 10000);
    QCOMPARE(left.value(QStringLiteral("event")).toString(), QStringLiteral("leave"));
    QCOMPARE(left.value(QStringLiteral("instance")).toString(), holder);

    const QJsonObject newTick = clients[static_cast<std::size_t>(survivor)]->waitFor([&](const QJsonObject &f) {
        return f.value(QStringLiteral("kind")).toString() == QStringLiteral("ticker")
               && f.value(QStringLiteral("origin")).toString() != holder;
    }, 10000);
    QVERIFY2(!newTick.isEmpty(), "no other instance took over the ticker within 10 s");

    // The dead instance's members are gone from the cluster's view.
    const QJsonObject ack = clients[static_cast<std::size_t>(survivor)]->join(QStringLiteral("lobby"));
    for (const QJsonValue &m : ack.value(QStringLiteral("members")).toArray())
        QVERIFY(m.toObject().value(QStringLiteral("instance")).toString() != holder);
}

void TstClusterFailover::redisRestartLosesNothing()
{
    QVERIFY(startCluster(2));
    TestClient a;
    TestClient b;
    QVERIFY(a.connectAs(m_cluster->port(0), QStringLiteral("alice")));
    QVERIFY(b.connectAs(m_cluster->port(1), QStringLiteral("bob"), QStringLiteral("bob-device")));
    a.join(QStringLiteral("ops"));
    b.join(QStringLiteral("ops"));
    QList<qint64> acked;
    for (int i = 0; i < 5; ++i)
        acked.append(a.chat(QStringLiteral("ops"), QStringLiteral("before %1").arg(i)).value(QStringLiteral("seq")).toInteger());
    QTRY_COMPARE(b.framesOfType(QStringLiteral("chat")).size(), 5);

    m_cluster->stopRedis();
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(m_cluster->port(0)), QStringLiteral("backplane_down"), 10000);
    QVERIFY(httpGet(m_cluster->port(0), QStringLiteral("/metrics")).body.contains("\nsb_backplane_up 0\n"));
    const QJsonObject refused = a.chat(QStringLiteral("ops"), QStringLiteral("while down"));
    QCOMPARE(refused.value(QStringLiteral("code")).toString(), QStringLiteral("backplane_unavailable"));
    QCOMPARE(httpGet(m_cluster->port(1), QStringLiteral("/healthz")).status, 200);

    QVERIFY(m_cluster->startRedis());
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(m_cluster->port(0)), QStringLiteral("ready"), 5000);
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(m_cluster->port(1)), QStringLiteral("ready"), 5000);
    // Cross-instance chat works again without restarting anything.
    // (QTRY_* would evaluate a sending expression more than once.)
    QJsonObject afterAck = a.chat(QStringLiteral("ops"), QStringLiteral("after"));
    QCOMPARE(afterAck.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    acked.append(afterAck.value(QStringLiteral("seq")).toInteger());
    QCOMPARE(acked.last(), acked[acked.size() - 2] + 1);
    const QJsonObject after = b.waitFor([](const QJsonObject &f) {
        return f.value(QStringLiteral("text")).toString() == QStringLiteral("after");
    }, 5000);
    QCOMPARE(after.value(QStringLiteral("seq")).toInteger(), acked.last());

    // A client rejoining with since gets every acknowledged message.
    TestClient late;
    QVERIFY(late.connectAs(m_cluster->port(1), QStringLiteral("carol")));
    const QJsonArray missed = late.join(QStringLiteral("ops"), 0).value(QStringLiteral("missed")).toArray();
    QCOMPARE(missed.size(), acked.size());
    for (int i = 0; i < acked.size(); ++i)
        QCOMPARE(missed[i].toObject().value(QStringLiteral("seq")).toInteger(), acked[i]);
}

void TstClusterFailover::postgresRestartLosesNothing()
{
    QVERIFY(startCluster(2));
    TestClient a;
    TestClient b;
    QVERIFY(a.connectAs(m_cluster->port(0), QStringLiteral("alice")));
    QVERIFY(b.connectAs(m_cluster->port(1), QStringLiteral("bob")));
    a.join(QStringLiteral("db"));
    b.join(QStringLiteral("db"));
    for (int i = 0; i < 3; ++i)
        QCOMPARE(a.chat(QStringLiteral("db"), QStringLiteral("m%1").arg(i)).value(QStringLiteral("seq")).toInteger(), i + 1);

    m_cluster->stopPostgres();
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(m_cluster->port(0)), QStringLiteral("store_down"), 10000);
    QVERIFY(httpGet(m_cluster->port(0), QStringLiteral("/metrics")).body.contains("\nsb_store_up 0\n"));
    QCOMPARE(a.chat(QStringLiteral("db"), QStringLiteral("lost?")).value(QStringLiteral("code")).toString(),
             QStringLiteral("store_unavailable"));
    QCOMPARE(a.request({{QStringLiteral("type"), QStringLiteral("todo.add")}, {QStringLiteral("title"), QStringLiteral("x")}})
                 .value(QStringLiteral("code")).toString(), QStringLiteral("store_unavailable"));

    QVERIFY(m_cluster->startPostgres());
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(m_cluster->port(0)), QStringLiteral("ready"), 15000);
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(m_cluster->port(1)), QStringLiteral("ready"), 15000);
    QCOMPARE(b.chat(QStringLiteral("db"), QStringLiteral("back")).value(QStringLiteral("seq")).toInteger(), 4);
    const QJsonObject history = b.request({{QStringLiteral("type"), QStringLiteral("history")}, {QStringLiteral("room"), QStringLiteral("db")}});
    const QJsonArray messages = history.value(QStringLiteral("messages")).toArray();
    QCOMPARE(messages.size(), 4);
    QCOMPARE(messages.last().toObject().value(QStringLiteral("text")).toString(), QStringLiteral("back"));
    QTRY_COMPARE(a.framesOfType(QStringLiteral("chat")).size(), 4);
}

SB_SERVER_TEST_MAIN(TstClusterFailover)
#include "tst_cluster_failover.moc"
