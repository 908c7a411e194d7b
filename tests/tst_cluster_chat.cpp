// Several real switchboard-server processes joined by a real Redis and
// PostgreSQL: chat from concurrent posters on different instances arrives
// gap-free and in order everywhere, presence and todos cross instances, and
// a token is good once in the whole cluster.

#include "cluster.h"
#include "testsupport.h"

#include <QJsonArray>
#include <QTest>

using namespace sbtest;

class TstClusterChat : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup() { m_cluster.reset(); }

    void concurrentPostersAreGapFreeEverywhere();
    void presenceCrossesInstances();
    void todosSyncAcrossInstances();
    void tokenIsOneTimeAcrossTheCluster();
    void operatorInjectReachesTheWholeCluster();

private:
    std::unique_ptr<Cluster> m_cluster;
};

void TstClusterChat::init()
{
    m_cluster = std::make_unique<Cluster>(Cluster::Options{3, false, {}});
    QVERIFY2(m_cluster->start(), qPrintable(m_cluster->error()));
}

void TstClusterChat::concurrentPostersAreGapFreeEverywhere()
{
    const QString room = QStringLiteral("busy");
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 6; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->connectAs(m_cluster->port(i % 3), QStringLiteral("user%1").arg(i)));
        QCOMPARE(c->welcome().value(QStringLiteral("instance")).toString(), m_cluster->instanceId(i % 3));
        QCOMPARE(c->join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        clients.push_back(std::move(c));
    }
    // Three posters, one per instance, fire without waiting for acks.
    const int perPoster = 60;
    for (int n = 0; n < perPoster; ++n) {
        for (int p = 0; p < 3; ++p) {
            clients[static_cast<std::size_t>(p)]->send({{QStringLiteral("type"), QStringLiteral("chat")},
                                                        {QStringLiteral("room"), room},
                                                        {QStringLiteral("text"), QStringLiteral("p%1-%2").arg(p).arg(n)},
                                                        {QStringLiteral("ref"), QStringLiteral("p%1-%2").arg(p).arg(n)}});
        }
    }
    const int total = 3 * perPoster;
    for (auto &c : clients) {
        QTRY_COMPARE_WITH_TIMEOUT(c->framesOfType(QStringLiteral("chat")).size(), total, 20000);
        const auto chats = c->framesOfType(QStringLiteral("chat"));
        for (int i = 0; i < total; ++i)
            QCOMPARE(chats[i].value(QStringLiteral("seq")).toInteger(), i + 1);
    }
    // Every ack carried a distinct seq.
    QSet<qint64> acked;
    for (int p = 0; p < 3; ++p) {
        for (const QJsonObject &ack : clients[static_cast<std::size_t>(p)]->framesOfType(QStringLiteral("ack"))) {
            if (ack.contains(QStringLiteral("seq")))
                acked.insert(ack.value(QStringLiteral("seq")).toInteger());
        }
    }
    QCOMPARE(acked.size(), total);
}

void TstClusterChat::presenceCrossesInstances()
{
    TestClient a;
    QVERIFY(a.connectAs(m_cluster->port(0), QStringLiteral("alice")));
    a.join(QStringLiteral("lobby"));
    auto b = std::make_unique<TestClient>();
    QVERIFY(b->connectAs(m_cluster->port(1), QStringLiteral("bob")));
    const QString bobSession = b->welcome().value(QStringLiteral("session_id")).toString();
    const QJsonObject ack = b->join(QStringLiteral("lobby"));
    QStringList instances;
    for (const QJsonValue &m : ack.value(QStringLiteral("members")).toArray())
        instances.append(m.toObject().value(QStringLiteral("instance")).toString());
    instances.sort();
    QCOMPARE(instances, (QStringList{QStringLiteral("app-1"), QStringLiteral("app-2")}));
    const QJsonObject joined = a.waitForType(QStringLiteral("presence"));
    QCOMPARE(joined.value(QStringLiteral("event")).toString(), QStringLiteral("join"));
    QCOMPARE(joined.value(QStringLiteral("session_id")).toString(), bobSession);
    QCOMPARE(joined.value(QStringLiteral("instance")).toString(), QStringLiteral("app-2"));
    b->socket().close();
    const QJsonObject left = a.waitFor([](const QJsonObject &f) {
        return f.value(QStringLiteral("event")).toString() == QStringLiteral("leave");
    }, 1500);
    QCOMPARE(left.value(QStringLiteral("session_id")).toString(), bobSession);
}

void TstClusterChat::todosSyncAcrossInstances()
{
    TestClient tab1;
    TestClient tab2;
    TestClient stranger;
    QVERIFY(tab1.connectAs(m_cluster->port(0), QStringLiteral("alice"), QStringLiteral("alice-device")));
    QVERIFY(tab2.connectAs(m_cluster->port(2), QStringLiteral("alice"), QStringLiteral("alice-device")));
    QVERIFY(stranger.connectAs(m_cluster->port(1), QStringLiteral("eve"), QStringLiteral("eve-device")));
    const QJsonObject added = tab1.request({{QStringLiteral("type"), QStringLiteral("todo.add")}, {QStringLiteral("title"), QStringLiteral("milk")}});
    const qint64 id = added.value(QStringLiteral("item")).toObject().value(QStringLiteral("id")).toInteger();
    QVERIFY(id > 0);
    const QJsonObject seen = tab2.waitForType(QStringLiteral("todo.changed"));
    QCOMPARE(seen.value(QStringLiteral("op")).toString(), QStringLiteral("added"));
    QCOMPARE(seen.value(QStringLiteral("item")).toObject().value(QStringLiteral("title")).toString(), QStringLiteral("milk"));
    tab2.request({{QStringLiteral("type"), QStringLiteral("todo.update")}, {QStringLiteral("id"), id}, {QStringLiteral("done"), true}});
    const QJsonObject updated = tab1.waitFor([](const QJsonObject &f) {
        return f.value(QStringLiteral("op")).toString() == QStringLiteral("updated");
    });
    QCOMPARE(updated.value(QStringLiteral("item")).toObject().value(QStringLiteral("done")).toBool(), true);
    QCOMPARE(stranger.request({{QStringLiteral("type"), QStringLiteral("todo.delete")}, {QStringLiteral("id"), id}})
                 .value(QStringLiteral("code")).toString(), QStringLiteral("not_found"));
    QCOMPARE(stranger.framesOfType(QStringLiteral("todo.changed")).size(), 0);
}

void TstClusterChat::tokenIsOneTimeAcrossTheCluster()
{
    const Token token = issueToken(m_cluster->port(0), QStringLiteral("alice"));
    QCOMPARE(token.instance, QStringLiteral("app-1"));
    TestClient first;
    QVERIFY(first.open(m_cluster->port(1), token.token));
    QCOMPARE(first.welcome().value(QStringLiteral("sticky")).toBool(), false); // issued by app-1, used on app-2
    TestClient second;
    QVERIFY(!second.open(m_cluster->port(2), token.token));
    QVERIFY(second.waitClosed());
    QCOMPARE(second.closeCode(), 4401);
    QCOMPARE(second.frames().size(), 0);
    const QByteArray metrics = httpGet(m_cluster->port(1), QStringLiteral("/metrics")).body;
    QVERIFY(metrics.contains("\nsb_sticky_miss_total 1\n"));
}

void TstClusterChat::operatorInjectReachesTheWholeCluster()
{
    std::vector<std::unique_ptr<TestClient>> participants;
    for (int i = 0; i < 3; ++i) {
        auto c = std::make_unique<TestClient>();
        QVERIFY(c->connectAs(m_cluster->port(i), QStringLiteral("p%1").arg(i)));
        participants.push_back(std::move(c));
    }
    participants[2]->join(QStringLiteral("ops"));
    TestClient op;
    QVERIFY(op.connectAs(m_cluster->port(0), QStringLiteral("root"), {}, QStringLiteral("operator"), Cluster::operatorKey()));
    QJsonObject ack = op.request({{QStringLiteral("type"), QStringLiteral("admin.inject")},
                                  {QStringLiteral("target"), QJsonObject{{QStringLiteral("all"), true}}},
                                  {QStringLiteral("text"), QStringLiteral("maintenance at noon")}});
    QCOMPARE(ack.value(QStringLiteral("recipients")).toInteger(), 4); // three participants and the operator
    for (auto &c : participants) {
        const QJsonObject b = c->waitForType(QStringLiteral("broadcast"));
        QCOMPARE(b.value(QStringLiteral("kind")).toString(), QStringLiteral("announcement"));
        QCOMPARE(b.value(QStringLiteral("from")).toString(), QStringLiteral("root"));
    }
    ack = op.request({{QStringLiteral("type"), QStringLiteral("admin.inject")},
                      {QStringLiteral("target"), QJsonObject{{QStringLiteral("room"), QStringLiteral("ops")}}},
                      {QStringLiteral("text"), QStringLiteral("room only")}});
    QCOMPARE(ack.value(QStringLiteral("recipients")).toInteger(), 1);
    // Disconnect a session that lives on another instance.
    ack = op.request({{QStringLiteral("type"), QStringLiteral("admin.disconnect")},
                      {QStringLiteral("session_id"), participants[1]->welcome().value(QStringLiteral("session_id"))}});
    QCOMPARE(ack.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QVERIFY(participants[1]->waitClosed());
    QCOMPARE(participants[1]->closeCode(), 4000);
}

SB_SERVER_TEST_MAIN(TstClusterChat)
#include "tst_cluster_chat.moc"
