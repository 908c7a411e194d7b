// The operator console watching a real cluster: two switchboard-server
// processes, their Redis and PostgreSQL (sbtest::Cluster). The console is
// given only the Redis URL: it must find the instances itself, show
// connections in the table and on the map, read stickiness histories, inject,
// drain, list backplane envelopes, survive Redis going away, and drop an
// instance that died. One session and one main window are shared by the
// cases, in order, as an operator would keep the console open.
//
// Needs redis-server and PostgreSQL: without them the test fails, or skips
// when SB_ALLOW_SKIP=1 (SB_REQUIRE_SERVICE).

#include "app/operatorsession.h"
#include "cluster.h"
#include "codec.h"
#include "models/clustermapmodel.h"
#include "testsupport.h"
#include "ui/clustermappanel.h"
#include "ui/clustermapview.h"
#include "ui/connectionspanel.h"
#include "ui/flowpanel.h"
#include "ui/injectpanel.h"
#include "ui/instancespanel.h"
#include "ui/mainwindow.h"
#include "ui/redistopologypanel.h"
#include "ui/stickinesspanel.h"

#include <QApplication>
#include <QFile>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeView>

#include <memory>

using namespace sb::console;
using sbtest::Cluster;
using sbtest::TestClient;

namespace {

OperatorSession::Options fastOptions()
{
    OperatorSession::Options o;
    o.instance.readinessPollMs = 300;
    o.instance.resyncMs = 1000;
    o.instance.backoffFirstMs = 200;
    o.instance.backoffCapMs = 1000;
    o.redis.backoffFirstMs = 200;
    o.redis.backoffCapMs = 1000;
    o.vanishGraceMs = 1000;
    return o;
}

const ClusterMapModel::Instance *mapInstance(OperatorSession &session, const QString &id)
{
    for (const ClusterMapModel::Instance &i : session.map().instances()) {
        if (i.id == id)
            return &i;
    }
    return nullptr;
}

int mapParticipants(OperatorSession &session, const QString &id)
{
    session.map().refresh();
    const ClusterMapModel::Instance *i = mapInstance(session, id);
    return i ? i->participants : -1;
}

int rowOfUser(QAbstractItemModel *model, const QString &user)
{
    for (int r = 0; r < model->rowCount(); ++r) {
        if (model->index(r, ConnectionsModel::User).data().toString() == user)
            return r;
    }
    return -1;
}

// Clicks Yes on the next question box (drain asks first).
void acceptNextQuestion()
{
    QTimer::singleShot(0, qApp, [] {
        if (auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget()))
            box->button(QMessageBox::Yes)->click();
        else
            acceptNextQuestion();
    });
}

} // namespace

class TstConsoleCluster final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void patternSubscriptionDeliversEveryChannel();
    void instancesAreDiscoveredFromRedis();
    void redisTopologyShowsTheServerAndWhoUsesIt();
    void connectionShowsInTableAndMapAndGoes();
    void stickinessHistoryIsShown();
    void injectionReachesAClientAndCountsIt();
    void drainFromTheConsoleMakesTheInstanceNotReady();
    void flowViewListsBackplaneEnvelopes();
    void redisGoingAwayIsReportedAndRetried();
    void deadInstanceIsShownThenRemoved();

private:
    std::unique_ptr<Cluster> m_cluster;
    std::unique_ptr<OperatorSession> m_session;
    std::unique_ptr<MainWindow> m_window;
};

void TstConsoleCluster::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("SwitchboardTest"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_console_cluster"));
    QSettings().clear();

    m_cluster = std::make_unique<Cluster>(Cluster::Options{2, false, {}});
    SB_REQUIRE_SERVICE(m_cluster->start(),
                       "cannot start the cluster (Redis, PostgreSQL, servers): " + m_cluster->error().toUtf8());
    m_session = std::make_unique<OperatorSession>(fastOptions());
    m_session->setOperatorKey(Cluster::operatorKey());
    m_session->setRedis(*sb::RedisAddress::fromUrl(m_cluster->redisUrl()));
    m_window = std::make_unique<MainWindow>(*m_session);
    m_window->resize(1500, 950);
    m_session->start();
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

void TstConsoleCluster::cleanupTestCase()
{
    m_window.reset();
    m_session.reset();
    m_cluster.reset();
}

void TstConsoleCluster::patternSubscriptionDeliversEveryChannel()
{
    const auto address = sb::RedisAddress::fromUrl(m_cluster->redisUrl());
    sb::RedisConnection subscriber(sb::RedisConnection::Mode::Subscriber);
    sb::RedisConnection commands;
    subscriber.connectTo(*address);
    commands.connectTo(*address);
    QTRY_VERIFY(subscriber.isConnected() && commands.isConnected());

    struct Message
    {
        QByteArray pattern, channel, payload;
    };
    QList<Message> got;
    std::optional<sb::RedisReply> confirmed;
    subscriber.psubscribe(
        "test:pat:*",
        [&got](const QByteArray &pattern, const QByteArray &channel, const QByteArray &payload) {
            got.append({pattern, channel, payload});
        },
        [&confirmed](const sb::RedisReply &r) { confirmed = r; });
    QTRY_VERIFY(confirmed.has_value());
    QVERIFY2(!confirmed->isError(), qPrintable(confirmed->toString()));

    commands.command({"PUBLISH", "test:pat:one", "first"});
    commands.command({"PUBLISH", "test:other", "not for us"});
    commands.command({"PUBLISH", "test:pat:two", QByteArray("bin\0ary", 7)});
    QTRY_COMPARE(got.size(), 2);
    QCOMPARE(got[0].pattern, QByteArray("test:pat:*"));
    QCOMPARE(got[0].channel, QByteArray("test:pat:one"));
    QCOMPARE(got[0].payload, QByteArray("first"));
    QCOMPARE(got[1].channel, QByteArray("test:pat:two"));
    QCOMPARE(got[1].payload, QByteArray("bin\0ary", 7));

    // After PUNSUBSCRIBE nothing more arrives, and the connection still works.
    subscriber.punsubscribe("test:pat:*");
    commands.command({"PUBLISH", "test:pat:one", "late"});
    QTest::qWait(300);
    QCOMPARE(got.size(), 2);
    QVERIFY(subscriber.isConnected());
}

void TstConsoleCluster::instancesAreDiscoveredFromRedis()
{
    OperatorSession &s = *m_session;
    // Nothing but Redis was given: both instances come from their heartbeats.
    QTRY_COMPARE_WITH_TIMEOUT(s.hub().clients().size(), 2, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(s.liveCount(), 2, 10000);
    QStringList ids = s.instances().instanceIds();
    ids.sort();
    QCOMPARE(ids, (QStringList{m_cluster->instanceId(0), m_cluster->instanceId(1)}));
    for (int i = 0; i < 2; ++i) {
        const QUrl url = s.instances().urlAt(s.instances().instanceIds().indexOf(m_cluster->instanceId(i)));
        QCOMPARE(url.port(), int(m_cluster->port(i)));
        QVERIFY(!s.hub().isPinned(s.hub().clientForUrl(url)));
    }
    QTRY_VERIFY(m_window->redisStatusText().contains(QStringLiteral("connected")));
    QTRY_VERIFY(m_window->statusSummary().contains(QStringLiteral("2 of 2")));
    // Both are on the map, each as a card of its own.
    QTRY_VERIFY(!m_window->mapPanel()->map()->cardRect(m_cluster->instanceId(0)).isEmpty());
    QVERIFY(!m_window->mapPanel()->map()->cardRect(m_cluster->instanceId(1)).isEmpty());
    QVERIFY(!m_window->mapPanel()->map()->cardRect(m_cluster->instanceId(0))
                 .intersects(m_window->mapPanel()->map()->cardRect(m_cluster->instanceId(1))));
    QTRY_COMPARE(s.instances().healthAt(0), QStringLiteral("ready"));
}

// One Redis: the topology dock shows it as the only master, without
// replicas, used by both instances (their /api/instance redis_master).
void TstConsoleCluster::redisTopologyShowsTheServerAndWhoUsesIt()
{
    const RedisTopologyModel &model = m_session->topology();
    const QString server = QStringLiteral("127.0.0.1:%1").arg(m_cluster->redisPort());
    QTRY_COMPARE(model.masterAddresses(), QStringList{server});
    QCOMPARE(model.replicaAddresses(server), QStringList{});
    QTRY_COMPARE(model.usedBy(server), (QStringList{m_cluster->instanceId(0), m_cluster->instanceId(1)}));
    m_window->showTopology();
    RedisTopologyPanel *panel = m_window->topologyPanel();
    QTRY_VERIFY(panel->isVisible());
    QCOMPARE(panel->view()->model()->rowCount(), 1);
    QCOMPARE(panel->view()->model()->index(0, RedisTopologyModel::UsedBy).data().toString(),
             m_cluster->instanceId(0) + QStringLiteral(", ") + m_cluster->instanceId(1));
    QVERIFY2(panel->summaryText().startsWith(QStringLiteral("One Redis: 1 master, 0 replicas")), qPrintable(panel->summaryText()));
}

void TstConsoleCluster::connectionShowsInTableAndMapAndGoes()
{
    OperatorSession &s = *m_session;
    QAbstractItemModel *table = m_window->connectionsPanel()->view()->model();
    TestClient carol;
    QVERIFY(carol.connectAs(m_cluster->port(0), QStringLiteral("carol")));
    QCOMPARE(carol.join(QStringLiteral("maproom")).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));

    QTRY_VERIFY(rowOfUser(table, QStringLiteral("carol")) >= 0);
    QCOMPARE(table->index(rowOfUser(table, QStringLiteral("carol")), ConnectionsModel::Instance).data().toString(),
             m_cluster->instanceId(0));
    QTRY_COMPARE(mapParticipants(s, m_cluster->instanceId(0)), 1);
    // Its room appears on the map (rooms come with the next resync), and a click lists carol.
    QTRY_VERIFY(!m_window->mapPanel()->map()->roomRect(m_cluster->instanceId(0), QStringLiteral("maproom")).isEmpty());
    ClusterMapView *map = m_window->mapPanel()->map();
    QTest::mouseClick(map, Qt::LeftButton, {},
                      map->roomRect(m_cluster->instanceId(0), QStringLiteral("maproom")).center().toPoint());
    QTRY_COMPARE(m_window->mapPanel()->detailView()->model()->rowCount(), 1);
    QVERIFY(m_window->mapPanel()->detailTitle().contains(QStringLiteral("maproom")));

    carol.socket().close();
    QTRY_COMPARE(rowOfUser(table, QStringLiteral("carol")), -1);
    QTRY_COMPARE(mapParticipants(s, m_cluster->instanceId(0)), 0);
    QTRY_COMPARE(m_window->mapPanel()->detailView()->model()->rowCount(), 0);
}

void TstConsoleCluster::stickinessHistoryIsShown()
{
    OperatorSession &s = *m_session;
    const QString clientId = QStringLiteral("sticky-dave");
    // app-1, then app-2 (a move), each token from the instance it is used on.
    {
        TestClient first;
        QVERIFY(first.connectAs(m_cluster->port(0), QStringLiteral("dave"), clientId));
        first.socket().close();
        QVERIFY(first.waitClosed());
    }
    TestClient second;
    QVERIFY(second.connectAs(m_cluster->port(1), QStringLiteral("dave"), clientId));
    // And a sticky miss: a token from app-1 used on app-2.
    const sbtest::Token token = sbtest::issueToken(m_cluster->port(0), QStringLiteral("erin"), QStringLiteral("missed-erin"));
    TestClient erin;
    QVERIFY(erin.open(m_cluster->port(1), token.token));
    QCOMPARE(erin.welcome().value(QStringLiteral("sticky")).toBool(), false);

    // The history comes from Redis (sb:client:<id>:instances), newest first.
    QTRY_COMPARE_WITH_TIMEOUT(s.stickiness().visits(clientId).size(), 2, 10000);
    QCOMPARE(s.stickiness().visits(clientId).at(0).instance, m_cluster->instanceId(1));
    QCOMPARE(s.stickiness().visits(clientId).at(1).instance, m_cluster->instanceId(0));
    QCOMPARE(s.stickiness().moves(clientId).size(), 1);

    // "Show its instance history" from the connections table opens it in the Stickiness dock.
    m_window->showClientHistory(clientId);
    StickinessPanel *panel = m_window->stickinessPanel();
    QCOMPARE(panel->selectedClient(), clientId);
    QTRY_VERIFY(panel->detailText().contains(QStringLiteral("moved from %1").arg(m_cluster->instanceId(0))));
    // Its live session's record, read from sb:session:<id>.
    QTRY_VERIFY_WITH_TIMEOUT(panel->detailText().contains(QStringLiteral("Live sessions in Redis")), 5000);

    // The sticky miss is counted and highlighted.
    QTRY_VERIFY(s.stickiness().rowOf(QStringLiteral("missed-erin")) >= 0);
    QTRY_COMPARE(s.stickiness().index(s.stickiness().rowOf(QStringLiteral("missed-erin")), StickinessModel::Sticky).data().toString(),
                 QStringLiteral("miss"));
    QTRY_VERIFY(s.stickiness().summary().stickySessions < s.stickiness().summary().liveSessions);
    QTRY_VERIFY(panel->summaryText().contains(QStringLiteral("sticky misses: 1")));
    panel->setShow(StickinessPanel::Show::StickyMisses);
    QCOMPARE(panel->view()->model()->rowCount(), 1);
    panel->setShow(StickinessPanel::Show::All);
}

void TstConsoleCluster::injectionReachesAClientAndCountsIt()
{
    TestClient frank;
    QVERIFY(frank.connectAs(m_cluster->port(1), QStringLiteral("frank"), QStringLiteral("frank-phone")));
    InjectPanel *inject = m_window->injectPanel();
    inject->setTarget({InjectTarget::Kind::ClientId, QStringLiteral("frank-phone")});
    inject->setText(QStringLiteral("maintenance at noon"));
    QSignalSpy finished(inject, &InjectPanel::finished);
    inject->send();
    QTRY_COMPARE(finished.size(), 1);
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(inject->resultText()));
    QCOMPARE(finished.first().at(1).toLongLong(), 1);
    QVERIFY2(inject->resultText().contains(QStringLiteral("Delivered to 1 socket")), qPrintable(inject->resultText()));
    const QJsonObject announcement = frank.waitForType(QStringLiteral("broadcast"));
    QCOMPARE(announcement.value(QStringLiteral("kind")).toString(), QStringLiteral("announcement"));
    QCOMPARE(announcement.value(QStringLiteral("text")).toString(), QStringLiteral("maintenance at noon"));
}

void TstConsoleCluster::drainFromTheConsoleMakesTheInstanceNotReady()
{
    OperatorSession &s = *m_session;
    const QString id = m_cluster->instanceId(0);
    InstancesPanel *panel = m_window->instancesPanel();
    const int row = s.instances().instanceIds().indexOf(id);
    panel->selectRow(row);
    QTRY_COMPARE(s.instances().healthAt(row), QStringLiteral("ready"));
    QPushButton *drain = nullptr;
    for (QPushButton *b : panel->findChildren<QPushButton *>()) {
        if (b->text() == QStringLiteral("Drain…"))
            drain = b;
    }
    QVERIFY(drain);
    QTRY_VERIFY(drain->isEnabled());
    acceptNextQuestion();
    drain->click();

    QTRY_COMPARE(sbtest::httpGet(m_cluster->port(0), QStringLiteral("/readyz")).status, 503);
    QCOMPARE(sbtest::httpGet(m_cluster->port(0), QStringLiteral("/readyz")).json().value(QStringLiteral("status")).toString(),
             QStringLiteral("draining"));
    QTRY_COMPARE(s.instances().healthAt(row), QStringLiteral("draining"));
    s.map().refresh();
    QCOMPARE(mapInstance(s, id)->health, QStringLiteral("draining"));
    // The other instance stays ready.
    QCOMPARE(sbtest::httpGet(m_cluster->port(1), QStringLiteral("/readyz")).status, 200);

    std::optional<Reply> undone;
    s.undrain(s.instances().urlAt(row), this, [&undone](const Reply &r) { undone = r; });
    QTRY_VERIFY(undone.has_value());
    QVERIFY2(undone->ok, qPrintable(undone->text));
    QTRY_COMPARE(s.instances().healthAt(row), QStringLiteral("ready"));
}

void TstConsoleCluster::flowViewListsBackplaneEnvelopes()
{
    OperatorSession &s = *m_session;
    TestClient a;
    TestClient b;
    QVERIFY(a.connectAs(m_cluster->port(0), QStringLiteral("gina")));
    QVERIFY(b.connectAs(m_cluster->port(1), QStringLiteral("hank")));
    a.join(QStringLiteral("flowroom"));
    b.join(QStringLiteral("flowroom"));
    const qint64 pulsesBefore = m_window->mapPanel()->map()->pulsesStarted();
    for (int i = 0; i < 5; ++i)
        QCOMPARE(a.chat(QStringLiteral("flowroom"), QStringLiteral("over the backplane %1").arg(i)).value(QStringLiteral("type")).toString(),
                 QStringLiteral("ack"));
    QTRY_COMPARE(b.framesOfType(QStringLiteral("chat")).size(), 5);

    FlowModel &flow = s.backplaneFlow();
    const auto chatRows = [&flow] {
        QList<int> rows;
        for (int r = 0; r < flow.rowCount(); ++r) {
            if (flow.envelopeAt(r).frameType == QStringLiteral("chat") && flow.envelopeAt(r).room == QStringLiteral("flowroom"))
                rows.append(r);
        }
        return rows;
    };
    QTRY_COMPARE(chatRows().size(), 5);
    const BackplaneEnvelope &e = flow.envelopeAt(chatRows().first());
    QCOMPARE(e.origin, m_cluster->instanceId(0));
    QCOMPARE(e.channel, QStringLiteral("sb:room:flowroom"));
    QVERIFY(e.latencyMs >= 0 && e.latencyMs < 5000);
    QVERIFY(e.size > 0);

    // The panel filters by type and exports what it shows as JSON Lines.
    FlowPanel *panel = m_window->backplaneFlowPanel();
    panel->setTypeFilter(QStringLiteral("chat"));
    panel->setFilterText(QStringLiteral("flowroom"));
    QCOMPARE(panel->view()->model()->rowCount(), 5);
    QVERIFY(panel->search(QStringLiteral("sb:room:flowroom")));
    QTemporaryDir dir;
    QString error;
    const QString file = dir.filePath(QStringLiteral("flow.jsonl"));
    QVERIFY2(panel->exportTo(file, &error), qPrintable(error));
    QFile exported(file);
    QVERIFY(exported.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = exported.readAll().trimmed().split('\n');
    QCOMPARE(lines.size(), 5);
    const QJsonObject line = sb::decodeObject(lines.first()).value_or(QJsonObject{});
    QCOMPARE(line.value(QStringLiteral("origin")).toString(), m_cluster->instanceId(0));
    QCOMPARE(line.value(QStringLiteral("envelope")).toObject().value(QStringLiteral("frame")).toObject()
                 .value(QStringLiteral("text")).toString(),
             QStringLiteral("over the backplane 0"));
    panel->setTypeFilter(QString());
    panel->setFilterText(QString());

    // The map drew the publishes, and the charts have the delivery latency.
    QTRY_VERIFY(m_window->mapPanel()->map()->pulsesStarted() > pulsesBefore);
    QTRY_VERIFY(s.history().hasSeries(m_cluster->instanceId(0), StatsHistory::Series::DeliveryP99));
    QTRY_VERIFY(s.history().hasSeries(m_cluster->instanceId(0), StatsHistory::Series::BackplaneRtt));
}

void TstConsoleCluster::redisGoingAwayIsReportedAndRetried()
{
    OperatorSession &s = *m_session;
    QSignalSpy messages(m_session.get(), &OperatorSession::statusMessage);
    m_cluster->stopRedis();
    QTRY_COMPARE_WITH_TIMEOUT(s.redis().state(), RedisMonitor::State::Retrying, 5000);
    QTRY_VERIFY(m_window->redisStatusText().contains(QStringLiteral("unreachable")));
    QVERIFY2(s.redis().lastError().contains(QStringLiteral("Retrying in")), qPrintable(s.redis().lastError()));
    bool said = false;
    for (const QList<QVariant> &m : std::as_const(messages))
        said = said || m.first().toString().contains(QStringLiteral("Redis at redis://127.0.0.1"));
    QVERIFY(said);
    // Without Redis nothing is removed: the instances are still watched directly.
    QTest::qWait(1500);
    QCOMPARE(s.hub().clients().size(), 2);

    QVERIFY(m_cluster->startRedis());
    QTRY_COMPARE_WITH_TIMEOUT(s.redis().state(), RedisMonitor::State::Connected, 10000);
    QTRY_VERIFY(m_window->redisStatusText().contains(QStringLiteral("connected")));
    // Instances re-register within seconds and are still there.
    QTRY_VERIFY_WITH_TIMEOUT(m_cluster->waitReady(0, 1000) && m_cluster->waitReady(1, 1000), 15000);
    QCOMPARE(s.hub().clients().size(), 2);
}

void TstConsoleCluster::deadInstanceIsShownThenRemoved()
{
    OperatorSession &s = *m_session;
    const QString id = m_cluster->instanceId(1);
    QTRY_COMPARE_WITH_TIMEOUT(s.liveCount(), 2, 10000);
    m_cluster->killInstance(1);
    // Dead within seconds (its socket drops at once) …
    QTRY_COMPARE_WITH_TIMEOUT(s.instances().healthAt(s.instances().instanceIds().indexOf(id)), QStringLiteral("dead"), 5000);
    QTRY_VERIFY(m_window->statusSummary().contains(QStringLiteral("1 of 2")));
    // … and gone once its heartbeat key expired (5 s) and the grace period passed.
    QTRY_COMPARE_WITH_TIMEOUT(s.hub().clients().size(), 1, 15000);
    QCOMPARE(s.instances().rowCount(), 1);
    QCOMPARE(s.instances().instanceIdAt(0), m_cluster->instanceId(0));
    QTRY_VERIFY(m_window->mapPanel()->map()->cardRect(id).isEmpty());
    QTRY_VERIFY(m_window->statusSummary().contains(QStringLiteral("1 of 1")));
}

QTEST_MAIN(TstConsoleCluster)
#include "tst_console_cluster.moc"
