// The cluster behind a real HAProxy with cookie stickiness: the token request
// and the WebSocket land on the same instance; going around the balancer is a
// sticky miss; draining an instance sends its clients (1012) to another
// instance, where they recover every message with `since`.

#include "cluster.h"
#include "codec.h"
#include "rawwsclient.h"
#include "testsupport.h"

#include <QDeadlineTimer>
#include <QJsonArray>
#include <QNetworkCookie>
#include <QNetworkCookieJar>
#include <QTest>

using namespace sbtest;

class TstClusterLb : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup() { m_cluster.reset(); }

    void tokenAndSocketLandOnTheSameInstance();
    void goingAroundTheBalancerIsAStickyMiss();
    void drainMovesClientsToAnotherInstance();

private:
    std::unique_ptr<Cluster> m_cluster;
};


void TstClusterLb::init()
{
    m_cluster = std::make_unique<Cluster>(Cluster::Options{2, true, {QStringLiteral("--drain-s"), QStringLiteral("1")}});
    QVERIFY2(m_cluster->start(), qPrintable(m_cluster->error()));
}

void TstClusterLb::tokenAndSocketLandOnTheSameInstance()
{
    QSet<QString> instances;
    for (int i = 0; i < 6; ++i) {
        Browser browser;
        TestClient client;
        Token token;
        QVERIFY(browser.connect(client, m_cluster->lbPort(), QStringLiteral("user%1").arg(i), {}, &token));
        QVERIFY2(browser.cookieHeader(m_cluster->lbPort()).startsWith("SBSERVER="), "HAProxy set no stickiness cookie");
        QCOMPARE(client.welcome().value(QStringLiteral("instance")).toString(), token.instance);
        QCOMPARE(client.welcome().value(QStringLiteral("sticky")).toBool(), true);
        instances.insert(token.instance);
    }
    QCOMPARE(instances.size(), 2); // the balancer spreads new clients over both instances
}

void TstClusterLb::goingAroundTheBalancerIsAStickyMiss()
{
    Browser browser;
    const Token token = browser.token(m_cluster->lbPort(), QStringLiteral("alice"));
    const int other = token.instance == m_cluster->instanceId(0) ? 1 : 0;
    TestClient client;
    QVERIFY(client.open(m_cluster->port(other), token.token));
    QCOMPARE(client.welcome().value(QStringLiteral("sticky")).toBool(), false);
    QCOMPARE(client.welcome().value(QStringLiteral("instance")).toString(), m_cluster->instanceId(other));
    QVERIFY(httpGet(m_cluster->port(other), QStringLiteral("/metrics")).body.contains("\nsb_sticky_miss_total 1\n"));
}

void TstClusterLb::drainMovesClientsToAnotherInstance()
{
    // The first connection is a raw client: Qt's own reports close code 1012 as 1002.
    Browser browser;
    const Token token = browser.token(m_cluster->lbPort(), QStringLiteral("alice"), QStringLiteral("alice-device"));
    RawWsClient first;
    QVERIFY(first.open(m_cluster->lbPort(), token.token, "Cookie: " + browser.cookieHeader(m_cluster->lbPort()) + "\r\n"));
    const QString drained = token.instance;
    const int drainedIndex = drained == m_cluster->instanceId(0) ? 0 : 1;
    const int otherIndex = 1 - drainedIndex;
    // The chat only once the join is answered (as a client does): a chat the
    // server reads while the join is still in flight is not_member.
    first.sendJson({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), QStringLiteral("lobby")},
                    {QStringLiteral("ref"), QStringLiteral("join-1")}});
    const auto joined = [&first] {
        first.poll();
        for (const QJsonObject &f : first.textFrames()) {
            if (f.value(QStringLiteral("ref")).toString() == QStringLiteral("join-1"))
                return true;
        }
        return false;
    };
    QTRY_VERIFY_WITH_TIMEOUT(joined(), 20000);
    first.sendJson({{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), QStringLiteral("lobby")},
                    {QStringLiteral("text"), QStringLiteral("hello")}});
    const auto firstChats = [&first] {
        first.poll();
        qint64 last = 0;
        for (const QJsonObject &f : first.textFrames()) {
            if (f.value(QStringLiteral("type")).toString() == QStringLiteral("chat"))
                last = f.value(QStringLiteral("seq")).toInteger();
        }
        return last;
    };
    QTRY_COMPARE_WITH_TIMEOUT(firstChats(), 1, 20000);
    QCOMPARE(first.textFrames().first().value(QStringLiteral("instance")).toString(), drained);
    const qint64 seen = 1;

    // Someone on the other instance keeps talking while alice moves.
    TestClient bob;
    QVERIFY(bob.connectAs(m_cluster->port(otherIndex), QStringLiteral("bob")));
    bob.join(QStringLiteral("lobby"));

    TestClient op;
    QVERIFY(op.connectAs(m_cluster->port(otherIndex), QStringLiteral("root"), {}, QStringLiteral("operator"), Cluster::operatorKey()));
    QCOMPARE(op.request({{QStringLiteral("type"), QStringLiteral("admin.drain")}, {QStringLiteral("instance"), drained}})
                 .value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QVERIFY(first.waitClosed(5000));
    QCOMPARE(first.closeCode(), 1012);
    const QJsonObject reconnect = first.textFrames().last();
    QCOMPARE(reconnect.value(QStringLiteral("type")).toString(), QStringLiteral("reconnect"));
    QCOMPARE(reconnect.value(QStringLiteral("reason")).toString(), QStringLiteral("draining"));
    QVERIFY(reconnect.value(QStringLiteral("after_ms")).toInteger() >= 0);
    QCOMPARE(httpGet(m_cluster->port(drainedIndex), QStringLiteral("/readyz")).status, 503);

    for (int i = 0; i < 3; ++i)
        bob.request({{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), QStringLiteral("lobby")},
                     {QStringLiteral("text"), QStringLiteral("while moving %1").arg(i)}});

    // Reconnect through the balancer as a client would, with backoff, until it lands elsewhere.
    std::unique_ptr<TestClient> second;
    for (int attempt = 0; attempt < 20 && !second; ++attempt) {
        auto candidate = std::make_unique<TestClient>();
        if (browser.connect(*candidate, m_cluster->lbPort(), QStringLiteral("alice"), QStringLiteral("alice-device")))
            second = std::move(candidate);
        else
            QTest::qWait(500);
    }
    QVERIFY2(second, "could not reconnect through the balancer");
    QCOMPARE(second->welcome().value(QStringLiteral("instance")).toString(), m_cluster->instanceId(otherIndex));
    const QJsonObject ack = second->join(QStringLiteral("lobby"), seen);
    QCOMPARE(ack.value(QStringLiteral("recovered")).toBool(), true);
    const QJsonArray missed = ack.value(QStringLiteral("missed")).toArray();
    QCOMPARE(missed.size(), 3);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(missed[i].toObject().value(QStringLiteral("text")).toString(), QStringLiteral("while moving %1").arg(i));

    // Undrain brings the instance back into rotation.
    QCOMPARE(op.request({{QStringLiteral("type"), QStringLiteral("admin.undrain")}, {QStringLiteral("instance"), drained}})
                 .value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QTRY_COMPARE_WITH_TIMEOUT(httpGet(m_cluster->port(drainedIndex), QStringLiteral("/readyz")).status, 200, 5000);
}

SB_SERVER_TEST_MAIN(TstClusterLb)
#include "tst_cluster_lb.moc"
