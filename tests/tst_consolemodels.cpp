// Unit tests of the console's models and small helpers, without a server:
// batching in ConnectionsModel, the flow ring buffer, message ordering and
// pending rows, backoff delays and the command line.

#include "app/launchoptions.h"
#include "models/connectionsmodel.h"
#include "models/flowmodel.h"
#include "models/membersmodel.h"
#include "models/messagesmodel.h"
#include "models/redistopologymodel.h"
#include "models/ringbuffer.h"
#include "models/roommodel.h"
#include "models/todomodel.h"
#include "services/backoff.h"
#include "services/operatorhub.h"
#include "services/plainerror.h"
#include "protocol.h"

#include <QAbstractItemModelTester>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTest>

using namespace sb::console;

namespace {

ConnectionInfo conn(const QString &session, const QString &instance = QStringLiteral("app-1"), qint64 at = 0)
{
    ConnectionInfo c;
    c.sessionId = session;
    c.clientId = QStringLiteral("client-") + session;
    c.user = QStringLiteral("user-") + session;
    c.role = QStringLiteral("participant");
    c.instance = instance;
    c.connectedAt = at;
    return c;
}

ChatMessage chat(const QString &room, qint64 seq, const QString &text = {})
{
    ChatMessage m;
    m.room = room;
    m.seq = seq;
    m.from = QStringLiteral("bob");
    m.clientId = QStringLiteral("c-bob");
    m.text = text.isEmpty() ? QStringLiteral("message %1").arg(seq) : text;
    m.ts = 1000 + seq;
    return m;
}

} // namespace

class TestConsoleModels final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void everyErrorCodeHasPlainText();
    void connectionsAreAppliedInOneBatch()
    {
        ConnectionsModel model;
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        for (int i = 0; i < 100; ++i)
            model.addConnection(conn(QString::number(i), QStringLiteral("app-1"), i));
        QCOMPARE(model.rowCount(), 0); // nothing before the tick
        QTRY_COMPARE(model.rowCount(), 100); // the 250 ms tick applies the batch
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(inserted.first().at(1).toInt(), 0);
        QCOMPARE(inserted.first().at(2).toInt(), 99);

        // Close every other row and update ten: contiguous removals are grouped,
        // updates come as one dataChanged range.
        for (int i = 0; i < 100; i += 2)
            model.removeConnection(QString::number(i));
        for (int i = 1; i < 20; i += 2) {
            ConnectionInfo c = conn(QString::number(i), QStringLiteral("app-1"), i);
            c.framesIn = 42;
            model.addConnection(c);
        }
        model.flush();
        QCOMPARE(model.rowCount(), 50);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(removed.size(), 50); // every other row: no two removals are contiguous
        const int row = model.rowOf(QStringLiteral("5"));
        QVERIFY(row >= 0);
        QCOMPARE(model.connectionAt(row).framesIn, 42);
        QCOMPARE(model.rowOf(QStringLiteral("4")), -1);
    }

    void connectionsModelKeepsProxiesInStep()
    {
        ConnectionsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.setSortRole(ConnectionsModel::SortRole);
        proxy.setDynamicSortFilter(true);
        proxy.sort(ConnectionsModel::ConnectedSince);
        QRandomGenerator random(42);
        QStringList live;
        for (int round = 0; round < 200; ++round) {
            const int ops = random.bounded(1, 6);
            for (int i = 0; i < ops; ++i) {
                const int what = random.bounded(4);
                if (what == 0 || live.isEmpty()) {
                    const QString id = QStringLiteral("s%1-%2").arg(round).arg(i);
                    model.addConnection(conn(id, random.bounded(2) ? QStringLiteral("app-1") : QStringLiteral("app-2"), round));
                    live.append(id);
                } else if (what == 1) {
                    model.removeConnection(live.takeAt(random.bounded(live.size())));
                } else if (what == 2) {
                    ConnectionInfo c = conn(live.at(random.bounded(live.size())));
                    c.framesIn = round;
                    model.addConnection(c); // an update of a known row
                } else {
                    QList<ConnectionInfo> snapshot;
                    QStringList kept;
                    for (const QString &id : std::as_const(live)) {
                        if (random.bounded(3) != 0) {
                            snapshot.append(conn(id));
                            kept.append(id);
                        }
                    }
                    // Every known session is on app-1 in this snapshot's view.
                    model.clearInstance(QStringLiteral("app-2"));
                    model.applySnapshot(QStringLiteral("app-1"), snapshot);
                    live = kept;
                }
            }
            model.flush();
            QCOMPARE(model.rowCount(), live.size());
            QCOMPARE(proxy.rowCount(), model.rowCount());
        }
    }

    void snapshotReplacesOneInstanceOnly()
    {
        ConnectionsModel model;
        model.addConnection(conn(QStringLiteral("a1"), QStringLiteral("app-1")));
        model.addConnection(conn(QStringLiteral("a2"), QStringLiteral("app-1")));
        model.addConnection(conn(QStringLiteral("b1"), QStringLiteral("app-2")));
        model.flush();
        QCOMPARE(model.rowCount(), 3);
        model.applySnapshot(QStringLiteral("app-1"), {conn(QStringLiteral("a2")), conn(QStringLiteral("a3"))});
        model.flush();
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.rowOf(QStringLiteral("a1")), -1);
        QVERIFY(model.rowOf(QStringLiteral("a3")) >= 0);
        QVERIFY(model.rowOf(QStringLiteral("b1")) >= 0);
        model.clearInstance(QStringLiteral("app-2"));
        model.flush();
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.rowOf(QStringLiteral("b1")), -1);
        // Internal index stays consistent with the rows after removals.
        for (int r = 0; r < model.rowCount(); ++r)
            QCOMPARE(model.rowOf(model.connectionAt(r).sessionId), r);
    }

    void flowModelIsBoundedAndPausable()
    {
        FlowModel model(FlowModel::Source::InstanceSamples, 10);
        for (int i = 0; i < 25; ++i) {
            FlowSample f;
            f.frameType = QStringLiteral("chat");
            f.size = i;
            model.addSample(f);
        }
        model.flush();
        QCOMPARE(model.rowCount(), 10);
        QCOMPARE(model.sampleAt(0).size, 15);
        QCOMPARE(model.sampleAt(9).size, 24);
        model.setPaused(true);
        model.addSample(FlowSample{});
        model.flush();
        QCOMPARE(model.rowCount(), 10);
        QCOMPARE(model.skippedWhilePaused(), 1);
        model.setPaused(false);

        const QList<QByteArray> lines = model.toJsonLines({0, 9}).split('\n');
        QCOMPARE(lines.size(), 3); // two lines and the trailing newline
        const QJsonObject first = QJsonDocument::fromJson(lines.first()).object();
        QCOMPARE(first.value(QStringLiteral("size")).toInt(), 15);
        QCOMPARE(first.value(QStringLiteral("frame_type")).toString(), QStringLiteral("chat"));
    }

    void ringBufferKeepsTheNewest()
    {
        RingBuffer<int> ring(3);
        for (int i = 1; i <= 5; ++i)
            ring.append(i);
        QCOMPARE(ring.toList(), (QList<int>{3, 4, 5}));
        QCOMPARE(ring.last(), 5);
    }

    void messagesAreOrderedAndDeduplicated()
    {
        MessagesModel model;
        model.setOwnClientId(QStringLiteral("me"));
        model.setRoom(QStringLiteral("lobby"));
        model.appendMessages(QStringLiteral("lobby"), {chat(QStringLiteral("lobby"), 5), chat(QStringLiteral("lobby"), 6)});
        model.addHistory(QStringLiteral("lobby"), {chat(QStringLiteral("lobby"), 3), chat(QStringLiteral("lobby"), 4)}, false);
        model.appendMessages(QStringLiteral("lobby"), {chat(QStringLiteral("lobby"), 6), chat(QStringLiteral("lobby"), 7)});
        model.appendMessages(QStringLiteral("other"), {chat(QStringLiteral("other"), 1)});
        QCOMPARE(model.seqs(QStringLiteral("lobby")), (QList<qint64>{3, 4, 5, 6, 7}));
        QCOMPARE(model.rowCount(), 5);

        PendingMessage p{QStringLiteral("n1"), QStringLiteral("lobby"), QStringLiteral("hello"), 0};
        model.addPending(p);
        QCOMPARE(model.rowCount(), 6);
        QCOMPARE(model.pendingCount(QStringLiteral("lobby")), 1);
        QVERIFY(model.index(5).data().toString().contains(QStringLiteral("not sent yet")));
        model.confirmPending(QStringLiteral("n1"));
        QCOMPARE(model.pendingCount(QStringLiteral("lobby")), 0);
        QCOMPARE(model.rowCount(), 5);

        model.addPending({QStringLiteral("n2"), QStringLiteral("lobby"), QStringLiteral("too long"), 0});
        model.failPending(QStringLiteral("n2"), QStringLiteral("The text is too long."));
        QVERIFY(model.index(5).data().toString().contains(QStringLiteral("not sent")));

        model.setRoom(QStringLiteral("other"));
        QCOMPARE(model.rowCount(), 1);
    }

    void unreadCountsSkipTheShownRoom()
    {
        RoomModel rooms;
        rooms.addRoom(QStringLiteral("lobby"));
        rooms.addRoom(QStringLiteral("dev"));
        rooms.setCurrentRoom(QStringLiteral("lobby"));
        rooms.addUnread(QStringLiteral("lobby"), 3);
        rooms.addUnread(QStringLiteral("dev"), 2);
        QCOMPARE(rooms.unread(QStringLiteral("lobby")), 0);
        QCOMPARE(rooms.unread(QStringLiteral("dev")), 2);
        QVERIFY(rooms.index(rooms.rowOf(QStringLiteral("dev"))).data().toString().contains(QStringLiteral("(2)")));
        rooms.setCurrentRoom(QStringLiteral("dev"));
        QCOMPARE(rooms.unread(QStringLiteral("dev")), 0);
    }

    void bigRoomListsMembersUpToTheLastPage()
    {
        // The list of a big room is every member up to the cursor: a joiner
        // past it is counted now and listed by the page that reaches it, so
        // a batch that arrives after the join answer does not grow the list.
        const auto member = [](const QString &id) {
            return RoomMember{id, QStringLiteral("user-") + id, QStringLiteral("c-") + id, QStringLiteral("app-1")};
        };
        MembersModel model;
        QAbstractItemModelTester tester(&model);
        model.setRoom(QStringLiteral("arena"));
        model.setMembers(QStringLiteral("arena"), {member(QStringLiteral("b")), member(QStringLiteral("d"))}, 5);
        QCOMPARE(model.rowCount(), 2);
        QVERIFY(model.hasMore(QStringLiteral("arena")));

        model.applyBatch(QStringLiteral("arena"), {member(QStringLiteral("a")), member(QStringLiteral("e"))}, {}, 7);
        QCOMPARE(model.memberCount(QStringLiteral("arena")), 7);
        QCOMPARE(model.users(QStringLiteral("arena")),
                 (QStringList{QStringLiteral("user-a"), QStringLiteral("user-b"), QStringLiteral("user-d")}));
        model.memberJoined(QStringLiteral("arena"), member(QStringLiteral("f")));
        QCOMPARE(model.memberCount(QStringLiteral("arena")), 8);
        QCOMPARE(model.rowCount(), 3);

        model.addPage(QStringLiteral("arena"), {member(QStringLiteral("e")), member(QStringLiteral("f"))}, {});
        QVERIFY(!model.hasMore(QStringLiteral("arena")));
        QCOMPARE(model.rowCount(), 5);
        model.applyBatch(QStringLiteral("arena"), {member(QStringLiteral("z"))}, {member(QStringLiteral("a"))}, 8);
        QCOMPARE(model.users(QStringLiteral("arena")),
                 (QStringList{QStringLiteral("user-b"), QStringLiteral("user-d"), QStringLiteral("user-e"),
                              QStringLiteral("user-f"), QStringLiteral("user-z")}));
    }

    void todoEditsAreRequestsNotLocalChanges()
    {
        TodoModel model;
        TodoItem item;
        item.id = 7;
        item.title = QStringLiteral("buy milk");
        model.setItems({item});
        QSignalSpy requested(&model, &TodoModel::updateRequested);
        QVERIFY(!model.setData(model.index(0), Qt::Checked, Qt::CheckStateRole));
        QCOMPARE(requested.size(), 1);
        QCOMPARE(model.index(0).data(TodoModel::DoneRole).toBool(), false); // until todo.changed
        item.done = true;
        model.apply(TodoChange::Updated, item);
        QCOMPARE(model.index(0).data(TodoModel::DoneRole).toBool(), true);
        model.apply(TodoChange::Deleted, item);
        QCOMPARE(model.rowCount(), 0);
    }

    void backoffDoublesWithJitterAndCaps()
    {
        Backoff backoff(1000, 16000);
        const QList<int> bases{1000, 2000, 4000, 8000, 16000, 16000, 16000};
        for (int base : bases) {
            const int delay = backoff.next();
            QVERIFY2(delay >= base * 0.8 - 1 && delay <= qMin(16000.0, base * 1.2 + 1),
                     qPrintable(QStringLiteral("%1 for base %2").arg(delay).arg(base)));
        }
        backoff.reset();
        QVERIFY(backoff.next() <= 1200);
    }

    void launchOptions_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("mode");
        QTest::addColumn<int>("instances");
        QTest::addColumn<QString>("key");
        QTest::addColumn<bool>("error");
        QTest::addRow("nothing asks") << QStringList{} << int(LaunchOptions::Mode::Ask) << 0 << QStringLiteral("env") << false;
        QTest::addRow("two instances") << QStringList{QStringLiteral("--instance"), QStringLiteral("127.0.0.1:1"),
                                                      QStringLiteral("--instance"), QStringLiteral("http://h:2/")}
                                       << int(LaunchOptions::Mode::Operator) << 2 << QStringLiteral("env") << false;
        QTest::addRow("key flag wins") << QStringList{QStringLiteral("--operator"), QStringLiteral("--operator-key"), QStringLiteral("k")}
                                       << int(LaunchOptions::Mode::Operator) << 0 << QStringLiteral("k") << false;
        QTest::addRow("client") << QStringList{QStringLiteral("--client"), QStringLiteral("--server"), QStringLiteral("http://lb:80"),
                                               QStringLiteral("--user"), QStringLiteral("alice")}
                                << int(LaunchOptions::Mode::Client) << 0 << QStringLiteral("env") << false;
        QTest::addRow("bad url") << QStringList{QStringLiteral("--instance"), QStringLiteral("ftp://x")}
                                 << int(LaunchOptions::Mode::Ask) << 0 << QString() << true;
        QTest::addRow("both modes") << QStringList{QStringLiteral("--client"), QStringLiteral("--operator")}
                                    << int(LaunchOptions::Mode::Ask) << 0 << QString() << true;
        QTest::addRow("sentinels") << QStringList{QStringLiteral("--redis"), QStringLiteral("redis-sentinel://127.0.0.1:26390,127.0.0.1:26391/sbmaster")}
                                   << int(LaunchOptions::Mode::Operator) << 0 << QStringLiteral("env") << false;
    }

    void launchOptions()
    {
        QFETCH(QStringList, args);
        QFETCH(int, mode);
        QFETCH(int, instances);
        QFETCH(QString, key);
        QFETCH(bool, error);
        const LaunchOptions o = LaunchOptions::parse(QStringList{QStringLiteral("switchboard-console")} + args, QStringLiteral("env"));
        QCOMPARE(!o.error.isEmpty(), error);
        if (error)
            return;
        QCOMPARE(int(o.mode), mode);
        QCOMPARE(o.instanceUrls.size(), instances);
        QCOMPARE(o.operatorKey, key);
        for (const QUrl &u : o.instanceUrls)
            QVERIFY(u.scheme() == QStringLiteral("http") && !u.path().endsWith(QLatin1Char('/')));
    }

    // CLUSTER NODES as Redis 7.0 writes it: a failed master whose replica
    // took over, a slot being migrated, a replica whose link is down.
    void topologyFromClusterNodes()
    {
        const QByteArray text =
            "a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460 [5461->-b2]\n"
            "b2 127.0.0.1:7002@17002 master - 0 1700 2 connected 5461-10922\n"
            "c3 127.0.0.1:7003@17003,host3 master,fail - 1600 1500 3 disconnected\n"
            "d4 127.0.0.1:7004@17004 slave a1 0 1700 1 connected\n"
            "e5 127.0.0.1:7005@17005 slave b2 0 1700 2 disconnected\n"
            "f6 127.0.0.1:7006@17006 master - 0 1700 7 connected 10923-16383\n";
        const RedisTopology t = RedisTopology::fromClusterNodes(text);
        QCOMPARE(t.kind, QStringLiteral("cluster"));
        QCOMPARE(t.masters().size(), 4);
        QCOMPARE(t.masters().at(0).address, QStringLiteral("127.0.0.1:7001")); // by first slot
        QCOMPARE(t.masters().at(2).address, QStringLiteral("127.0.0.1:7006"));
        QCOMPARE(t.masters().at(0).slotsText(), QStringLiteral("0-5460"));
        QCOMPARE(t.masters().at(0).migratingSlots, 1);
        QCOMPARE(t.node(QStringLiteral("127.0.0.1:7003"))->state, QStringLiteral("fail"));
        QVERIFY(!t.node(QStringLiteral("127.0.0.1:7003"))->healthy);
        QCOMPARE(t.replicasOf(QStringLiteral("127.0.0.1:7001")).size(), 1);
        QCOMPARE(t.node(QStringLiteral("127.0.0.1:7005"))->masterAddress, QStringLiteral("127.0.0.1:7002"));
        QCOMPARE(t.node(QStringLiteral("127.0.0.1:7005"))->state, QStringLiteral("disconnected"));

        RedisTopologyModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setTopology(t);
        model.setInstanceUse(QStringLiteral("app-2"), QStringLiteral("cluster"),
                             QStringLiteral("localhost:7001,127.0.0.1:7002,127.0.0.1:7006"));
        model.setInstanceUse(QStringLiteral("app-1"), QStringLiteral("cluster"),
                             QStringLiteral("127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7006"));
        QCOMPARE(model.rowCount(), 4);
        QCOMPARE(model.usedBy(QStringLiteral("127.0.0.1:7001")), (QStringList{QStringLiteral("app-1"), QStringLiteral("app-2")}));
        QVERIFY(model.usedBy(QStringLiteral("127.0.0.1:7003")).isEmpty());
        QCOMPARE(model.index(0, RedisTopologyModel::Slots).data().toString(), QStringLiteral("0-5460 (5461), 1 migrating"));
        QVERIFY(model.summary().contains(QStringLiteral("16384 of 16384 slots served")));
        QVERIFY(model.summary().contains(QStringLiteral("2 nodes failing or unreachable")));
        // The same shape again changes data in place: no reset, so the tree keeps its state.
        QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
        model.setTopology(t);
        QCOMPARE(resets.size(), 0);
        model.removeInstance(QStringLiteral("app-2"));
        QCOMPARE(model.usedBy(QStringLiteral("127.0.0.1:7002")), QStringList{QStringLiteral("app-1")});
    }

    void topologyFromInfoAndSentinels()
    {
        const QByteArray info = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"
                                "slave0:ip=127.0.0.1,port=6391,state=online,offset=42,lag=0\r\n"
                                "slave1:ip=127.0.0.1,port=6392,state=wait_bgsave,offset=0,lag=0\r\n"
                                "master_failover_state:no-failover\r\n";
        const RedisTopology t = RedisTopology::fromInfoReplication(info, QStringLiteral("127.0.0.1:6390"));
        QCOMPARE(t.masters().size(), 1);
        QCOMPARE(t.replicasOf(QStringLiteral("127.0.0.1:6390")).size(), 2);
        QVERIFY(!t.node(QStringLiteral("127.0.0.1:6392"))->healthy);
        const RedisTopology fromReplica = RedisTopology::fromInfoReplication(
            "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6390\r\nmaster_link_status:down\r\n",
            QStringLiteral("127.0.0.1:6391"));
        QCOMPARE(fromReplica.masters().first().address, QStringLiteral("127.0.0.1:6390"));
        QCOMPARE(fromReplica.node(QStringLiteral("127.0.0.1:6391"))->state, QStringLiteral("link down"));

        const RedisNodeInfo replica = sentinelNode(
            sentinelFields({"name", "127.0.0.1:6390", "ip", "127.0.0.1", "port", "6390", "flags", "s_down,slave,disconnected",
                            "master-link-status", "err"}),
            RedisNodeInfo::Role::Replica, QStringLiteral("127.0.0.1:6391"));
        QCOMPARE(replica.address, QStringLiteral("127.0.0.1:6390"));
        QCOMPARE(replica.masterAddress, QStringLiteral("127.0.0.1:6391"));
        QVERIFY(!replica.healthy);
        QCOMPARE(replica.state, QStringLiteral("down, disconnected, link down"));
        const RedisNodeInfo master = sentinelNode(sentinelFields({"name", "sbmaster", "ip", "127.0.0.1", "port", "6391",
                                                                  "flags", "master"}),
                                                  RedisNodeInfo::Role::Master);
        QVERIFY(master.healthy);
        QCOMPARE(master.state, QStringLiteral("ok"));
    }

    void normalizeUrl()
    {
        QCOMPARE(OperatorHub::normalizeUrl(QStringLiteral("127.0.0.1:8080")), QUrl(QStringLiteral("http://127.0.0.1:8080")));
        QCOMPARE(OperatorHub::normalizeUrl(QStringLiteral("ws://h:1/")), QUrl(QStringLiteral("http://h:1")));
        QVERIFY(OperatorHub::normalizeUrl(QStringLiteral("")).isEmpty());
    }
};

void TestConsoleModels::everyErrorCodeHasPlainText()
{
    // A participant sees a sentence for every code of the contract, limit_exceeded included.
    for (std::size_t i = 0; i < sb::errorCodeNames.size(); ++i) {
        const QString code(sb::errorCodeNames[i]);
        const QString text = sb::console::plainErrorText(code, QStringLiteral("detail"));
        QVERIFY2(!text.isEmpty() && text != QLatin1StringView("detail"), qPrintable(code));
    }
    QVERIFY(sb::console::plainErrorText(QStringLiteral("limit_exceeded"), {}).contains(QLatin1StringView("limit")));
}

QTEST_MAIN(TestConsoleModels)
#include "tst_consolemodels.moc"
