// The operator console's Redis-side value types and models, without a
// server: envelope and registry parsing, the bounded and sampled backplane
// flow list, stickiness moves and their reasons, the cluster map's
// aggregation and fan-out targets, instance discovery in the hub, and the
// --redis launch option.

#include "app/launchoptions.h"
#include "models/flowmodel.h"
#include "models/clustermapmodel.h"
#include "models/connectionsmodel.h"
#include "models/instancesmodel.h"
#include "models/stickinessmodel.h"
#include "services/backplanetypes.h"
#include "services/operatorhub.h"

#include <QAbstractItemModelTester>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTest>

using namespace sb::console;

namespace {

QByteArray envelopePayload(const QString &origin, qint64 ts, const QJsonObject &target, const QJsonObject &frame)
{
    return QJsonDocument(QJsonObject{{QStringLiteral("v"), 1},
                                     {QStringLiteral("origin"), origin},
                                     {QStringLiteral("id"), QStringLiteral("e-1")},
                                     {QStringLiteral("ts"), ts},
                                     {QStringLiteral("target"), target},
                                     {QStringLiteral("frame"), frame}})
        .toJson(QJsonDocument::Compact);
}

BackplaneEnvelope chatEnvelope(const QString &origin, const QString &room, int n)
{
    const QJsonObject frame{{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), room},
                            {QStringLiteral("seq"), n}};
    return *BackplaneEnvelope::parse("sb:room:" + room.toUtf8(),
                                     envelopePayload(origin, 1000 + n, {{QStringLiteral("room"), room}}, frame), 1005 + n);
}

ConnectionInfo conn(const QString &session, const QString &client, const QString &instance, QStringList rooms = {},
                    bool sticky = true, qint64 at = 1000)
{
    ConnectionInfo c;
    c.sessionId = session;
    c.clientId = client;
    c.user = QStringLiteral("u-") + client;
    c.role = QStringLiteral("participant");
    c.instance = instance;
    c.rooms = rooms;
    c.sticky = sticky;
    c.connectedAt = at;
    return c;
}

InstanceInfo info(const QString &id, const QString &color)
{
    InstanceInfo i;
    i.id = id;
    i.color = color;
    i.backplane = QStringLiteral("redis");
    return i;
}

} // namespace

class TstOperatorModels final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void envelopeIsParsedWithItsLatency()
    {
        const BackplaneEnvelope e = chatEnvelope(QStringLiteral("app-1"), QStringLiteral("lobby"), 7);
        QCOMPARE(e.origin, QStringLiteral("app-1"));
        QCOMPARE(e.channel, QStringLiteral("sb:room:lobby"));
        QCOMPARE(e.frameType, QStringLiteral("chat"));
        QCOMPARE(e.room, QStringLiteral("lobby"));
        QCOMPARE(e.target, QStringLiteral(R"({"room":"lobby"})"));
        QCOMPARE(e.latencyMs, 5);
        QCOMPARE(e.size, e.payload.size());
        const QJsonObject line = e.toJson();
        QCOMPARE(line.value(QStringLiteral("latency_ms")).toInt(), 5);
        QCOMPARE(line.value(QStringLiteral("envelope")).toObject().value(QStringLiteral("id")).toString(), QStringLiteral("e-1"));

        // A probe has no frame type: the channel says what it is.
        const auto probe = BackplaneEnvelope::parse("sb:backplane:probe:app-2",
                                                    envelopePayload(QStringLiteral("app-2"), 1, {}, {{QStringLiteral("seq"), 3}}), 2);
        QVERIFY(probe);
        QCOMPARE(probe->frameType, QStringLiteral("probe"));
        QVERIFY(!BackplaneEnvelope::parse("sb:x", "not json", 0));
        QVERIFY(!BackplaneEnvelope::parse("sb:x", R"({"v":2,"frame":{}})", 0));
    }

    void registryEntriesAreParsed_data()
    {
        QTest::addColumn<QByteArray>("entry");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<QString>("instance");
        QTest::addColumn<qint64>("at");
        QTest::addRow("plain") << QByteArray("app-1|1732236000123") << true << QStringLiteral("app-1") << qint64(1732236000123);
        QTest::addRow("bar in id") << QByteArray("a|b|5") << true << QStringLiteral("a|b") << qint64(5);
        QTest::addRow("no time") << QByteArray("app-1|") << false << QString() << qint64(0);
        QTest::addRow("no bar") << QByteArray("app-1") << false << QString() << qint64(0);
    }

    void registryEntriesAreParsed()
    {
        QFETCH(QByteArray, entry);
        QFETCH(bool, valid);
        const std::optional<ClientVisit> v = ClientVisit::parse(entry);
        QCOMPARE(v.has_value(), valid);
        if (!valid)
            return;
        QFETCH(QString, instance);
        QFETCH(qint64, at);
        QCOMPARE(v->instance, instance);
        QCOMPARE(v->at, at);
    }

    void heartbeatAndSessionHashesAreParsed()
    {
        const QHash<QByteArray, QByteArray> heartbeat{{"id", "app-2"}, {"host", "0.0.0.0"}, {"port", "8082"},
                                                      {"color", "green"}, {"ready", "0"}, {"draining", "1"}};
        const std::optional<DiscoveredInstance> d = DiscoveredInstance::fromHash(heartbeat);
        QVERIFY(d);
        QVERIFY(d->draining && !d->ready);
        // An instance listening everywhere is reached where Redis is.
        QCOMPARE(d->url(QStringLiteral("10.0.0.5")), QUrl(QStringLiteral("http://10.0.0.5:8082")));
        QVERIFY(!DiscoveredInstance::fromHash({{"id", "x"}}));

        const QHash<QByteArray, QByteArray> session{{"session_id", "s1"}, {"client_id", "c1"}, {"instance", "app-1"},
                                                    {"rooms", "lobby,dev"}, {"sticky", "0"}, {"frames_in", "12"},
                                                    {"connected_at", "99"}};
        const std::optional<ConnectionInfo> c = connectionFromSessionHash(session);
        QVERIFY(c);
        QCOMPARE(c->rooms, (QStringList{QStringLiteral("dev"), QStringLiteral("lobby")}));
        QVERIFY(!c->sticky);
        QCOMPARE(c->framesIn, 12);
        QCOMPARE(c->connectedAt, 99);
    }

    void backplaneFlowIsSampledAndBounded()
    {
        FlowModel model(FlowModel::Source::RedisEnvelopes, 100, 40); // keep 100 rows, at most 40 a second (10 a tick)
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QList<BackplaneEnvelope> burst;
        for (int i = 0; i < 1000; ++i)
            burst.append(chatEnvelope(QStringLiteral("app-1"), QStringLiteral("r%1").arg(i % 7), i));
        model.addEnvelopes(burst);
        model.flush();
        QCOMPARE(model.rowCount(), 10);
        QCOMPARE(model.totalReceived(), 1000);
        QCOMPARE(model.sampledOut(), 990);
        // Evenly sampled: the first kept and the last kept are far apart.
        QVERIFY(model.envelopeAt(9).ts - model.envelopeAt(0).ts > 800);
        for (int round = 0; round < 20; ++round) {
            model.addEnvelopes(burst.mid(0, 50));
            model.flush();
            QVERIFY(model.rowCount() <= model.capacity());
        }
        QCOMPARE(model.rowCount(), 100);
        QCOMPARE(model.types(), QStringList{QStringLiteral("chat")});

        model.setPaused(true);
        model.addEnvelopes(burst.mid(0, 5));
        model.flush();
        QCOMPARE(model.skippedWhilePaused(), 5);
        QCOMPARE(model.rowCount(), 100);
        model.setPaused(false);

        const QList<QByteArray> lines = model.toJsonLines({0, 1, 2}).trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        QVERIFY(lines.first().contains("\"channel\":\"sb:room:"));
    }

    void stickinessMovesAreExplained_data()
    {
        QTest::addColumn<QString>("event");
        QTest::addColumn<int>("reason");
        QTest::addRow("instance died") << QStringLiteral("dead") << int(StickinessModel::MoveReason::Failover);
        QTest::addRow("instance drained") << QStringLiteral("draining") << int(StickinessModel::MoveReason::Drain);
        QTest::addRow("nothing happened") << QString() << int(StickinessModel::MoveReason::Moved);
    }

    void stickinessMovesAreExplained()
    {
        QFETCH(QString, event);
        QFETCH(int, reason);
        ConnectionsModel connections;
        StickinessModel model(connections);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        if (!event.isEmpty())
            model.noteInstanceState(QStringLiteral("app-1"), event, 10000);
        model.applyHistories({{QStringLiteral("c1"),
                               {{QStringLiteral("app-2"), 11000}, {QStringLiteral("app-1"), 5000}, {QStringLiteral("app-1"), 1000}}}});
        QCOMPARE(model.rowCount(), 1);
        const QList<StickinessModel::Move> moves = model.moves(QStringLiteral("c1"));
        QCOMPARE(moves.size(), 1);
        QCOMPARE(moves.first().from, QStringLiteral("app-1"));
        QCOMPARE(moves.first().to, QStringLiteral("app-2"));
        QCOMPARE(int(moves.first().reason), reason);
        QCOMPARE(model.index(0, StickinessModel::Moves).data().toInt(), 1);
    }

    void stickinessFollowsLiveConnections()
    {
        ConnectionsModel connections;
        StickinessModel model(connections);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        connections.addConnection(conn(QStringLiteral("s1"), QStringLiteral("c1"), QStringLiteral("app-1")));
        connections.addConnection(conn(QStringLiteral("s2"), QStringLiteral("c2"), QStringLiteral("app-2"), {}, false));
        connections.addConnection(conn(QStringLiteral("s3"), QStringLiteral("c3"), QStringLiteral("app-2")));
        connections.flush();
        model.refreshLive();
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.summary().liveSessions, 3);
        QCOMPARE(model.summary().stickySessions, 2);
        const int miss = model.rowOf(QStringLiteral("c2"));
        QCOMPARE(model.index(miss, StickinessModel::Sticky).data().toString(), QStringLiteral("miss"));
        QCOMPARE(model.index(miss, 0).data(StickinessModel::StatusRole).toInt(), int(StickinessModel::Status::StickyMiss));
        // Without Redis the visits come from what the console saw.
        QCOMPARE(model.visits(QStringLiteral("c1")).size(), 1);
        QCOMPARE(model.takeClientsToRead(10).size(), 3);

        // c1 leaves and comes back on app-2: a move, seen without Redis.
        connections.removeConnection(QStringLiteral("s1"));
        connections.flush();
        model.refreshLive();
        QCOMPARE(model.index(model.rowOf(QStringLiteral("c1")), StickinessModel::NowOn).data().toString(), QStringLiteral("offline"));
        const ConnectionInfo back = conn(QStringLiteral("s4"), QStringLiteral("c1"), QStringLiteral("app-2"), {}, true, 2000);
        model.recordOpen(back);
        connections.addConnection(back);
        connections.flush();
        model.refreshLive();
        QCOMPARE(model.visits(QStringLiteral("c1")).size(), 2);
        QCOMPARE(model.moves(QStringLiteral("c1")).size(), 1);
        QCOMPARE(model.summary().movedClients, 1);
    }

    void instanceDetailShowsTheRedisMaster()
    {
        const InstanceInfo sentinel = InstanceInfo::fromJson(
            {{QStringLiteral("id"), QStringLiteral("app-1")}, {QStringLiteral("backplane"), QStringLiteral("redis")},
             {QStringLiteral("backplane_kind"), QStringLiteral("sentinel")},
             {QStringLiteral("redis_master"), QStringLiteral("10.0.0.7:6379")},
             {QStringLiteral("backplane_failovers"), 2}});
        QCOMPARE(sentinel.backplaneKind, QStringLiteral("sentinel"));
        QCOMPARE(sentinel.redisMaster, QStringLiteral("10.0.0.7:6379"));
        QCOMPARE(sentinel.backplaneFailovers, 2);
        // A local backplane has no master (null), and older servers send none of these.
        const InstanceInfo local = InstanceInfo::fromJson({{QStringLiteral("id"), QStringLiteral("app-2")},
                                                           {QStringLiteral("redis_master"), QJsonValue::Null}});
        QVERIFY(local.redisMaster.isEmpty());
        QVERIFY(local.backplaneKind.isEmpty());

        InstancesModel instances;
        const QUrl one(QStringLiteral("http://127.0.0.1:1"));
        instances.addInstance(one);
        instances.setInfo(one, sentinel);
        const QString detail = instances.detailAt(0);
        QVERIFY2(detail.contains(QStringLiteral("master 10.0.0.7:6379")), qPrintable(detail));
        QVERIFY2(detail.contains(QStringLiteral("2 failover")), qPrintable(detail));
    }

    void clusterMapAggregatesAndFansOut()
    {
        InstancesModel instances;
        ConnectionsModel connections;
        ClusterMapModel map(instances, connections);
        const QUrl one(QStringLiteral("http://127.0.0.1:1"));
        const QUrl two(QStringLiteral("http://127.0.0.1:2"));
        instances.addInstance(one);
        instances.addInstance(two);
        instances.setInfo(one, info(QStringLiteral("app-1"), QStringLiteral("blue")));
        instances.setInfo(two, info(QStringLiteral("app-2"), QStringLiteral("green")));
        instances.setLink(one, InstancesModel::Link::Connected);
        instances.setLink(two, InstancesModel::Link::Connected);
        for (int i = 0; i < 30; ++i)
            connections.addConnection(conn(QStringLiteral("a%1").arg(i), QStringLiteral("ca%1").arg(i), QStringLiteral("app-1"),
                                           {QStringLiteral("big")}, i != 0));
        for (int i = 0; i < 5; ++i)
            connections.addConnection(conn(QStringLiteral("b%1").arg(i), QStringLiteral("cb%1").arg(i), QStringLiteral("app-2"),
                                           {i < 2 ? QStringLiteral("big") : QStringLiteral("small")}));
        ConnectionInfo op = conn(QStringLiteral("op"), QStringLiteral("op"), QStringLiteral("app-2"));
        op.role = QStringLiteral("operator");
        connections.addConnection(op);
        connections.flush();
        map.refresh();

        QCOMPARE(map.instances().size(), 2);
        const ClusterMapModel::Instance &a = map.instances().at(0);
        const ClusterMapModel::Instance &b = map.instances().at(1);
        QCOMPARE(a.id, QStringLiteral("app-1"));
        QCOMPARE(a.participants, 30);
        QCOMPARE(a.stickyMisses, 1);
        QCOMPARE(b.participants, 5);
        QCOMPARE(b.operators, 1);
        QCOMPARE(b.roomCount, 2);
        QCOMPARE(b.rooms.first().room, QStringLiteral("small")); // the largest first
        QCOMPARE(b.rooms.first().members, 3);
        QCOMPARE(map.totalParticipants(), 35);
        QVERIFY(qAbs(map.stickyRatio() - 34.0 / 35.0) < 1e-9);

        // A chat in "big" from app-1 fans out to app-2, which has members there;
        // one in "small" from app-2 goes nowhere else.
        QSignalSpy bursts(&map, &ClusterMapModel::flowBursts);
        map.addEnvelopes({chatEnvelope(QStringLiteral("app-1"), QStringLiteral("big"), 1),
                          chatEnvelope(QStringLiteral("app-1"), QStringLiteral("big"), 2),
                          chatEnvelope(QStringLiteral("app-2"), QStringLiteral("small"), 3)});
        QTRY_COMPARE(bursts.size(), 1);
        const auto list = bursts.first().first().value<QList<ClusterMapModel::FlowBurst>>();
        QCOMPARE(list.size(), 2);
        for (const ClusterMapModel::FlowBurst &burst : list) {
            if (burst.origin == QStringLiteral("app-1")) {
                QCOMPARE(burst.count, 2);
                QCOMPARE(burst.targets, QStringList{QStringLiteral("app-2")});
            } else {
                QVERIFY(burst.targets.isEmpty());
            }
        }
    }

    void hubOpensAndClosesDiscoveredInstances()
    {
        OperatorHub hub; // not started: clients stay idle, which is all this needs
        hub.setVanishGraceMs(0);
        const QUrl pinned(QStringLiteral("http://127.0.0.1:8081"));
        hub.addInstance(pinned);
        DiscoveredInstance a;
        a.id = QStringLiteral("app-1");
        a.host = QStringLiteral("127.0.0.1");
        a.port = 8081;
        DiscoveredInstance b = a;
        b.id = QStringLiteral("app-2");
        b.port = 8082;
        QSignalSpy added(&hub, &OperatorHub::clientAdded);
        hub.applyDiscovered({a, b}, QStringLiteral("127.0.0.1"));
        QCOMPARE(hub.clients().size(), 2); // app-1 is the pinned URL
        QCOMPARE(added.size(), 1);
        QVERIFY(!hub.isPinned(hub.clientForUrl(QUrl(QStringLiteral("http://127.0.0.1:8082")))));
        QCOMPARE(hub.pinnedUrls(), QList<QUrl>{pinned});

        // Both vanish: the discovered one goes, the pinned one stays.
        QSignalSpy removed(&hub, &OperatorHub::clientRemoved);
        hub.applyDiscovered({}, QStringLiteral("127.0.0.1"));
        QCOMPARE(removed.size(), 1);
        QCOMPARE(hub.clients().size(), 1);
        QCOMPARE(hub.clients().first()->baseUrl(), pinned);
    }

    void launchOptionsTakeRedis()
    {
        const LaunchOptions ok = LaunchOptions::parse(
            {QStringLiteral("switchboard-console"), QStringLiteral("--redis"), QStringLiteral("redis://127.0.0.1:6390")}, {});
        QVERIFY2(ok.error.isEmpty(), qPrintable(ok.error));
        QCOMPARE(ok.mode, LaunchOptions::Mode::Operator);
        QCOMPARE(ok.redisUrl, QStringLiteral("redis://127.0.0.1:6390"));
        const LaunchOptions bad = LaunchOptions::parse(
            {QStringLiteral("switchboard-console"), QStringLiteral("--redis"), QStringLiteral("http://nope")}, {});
        QVERIFY(bad.error.contains(QStringLiteral("--redis")));
    }
};

QTEST_MAIN(TstOperatorModels)
#include "tst_operatormodels.moc"
