// The console against a real in-process server on loopback: the operator
// service and its models, the participant service (sign-in, rooms, offline
// queue, reconnect, todos, broadcasts), and the two windows built on them.

#include "app/operatorsession.h"
#include "app/participantsession.h"
#include "services/consolesettings.h"
#include "services/operatorkeystore.h"
#include "store/store.h"
#include "testsupport.h"
#include "ui/chartspanel.h"
#include "ui/clientwindow.h"
#include "ui/connectionspanel.h"
#include "ui/injectpanel.h"
#include "ui/mainwindow.h"

#include <QApplication>
#include <QDateTime>
#include <QLineEdit>
#include <QListView>
#include <QProcess>
#include <QPushButton>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QTableView>
#include <QTest>

#include <memory>
#include <vector>

#include <signal.h>

using namespace sb::console;

namespace {

const QString operatorKey = QStringLiteral("test-operator-key");

QStringList serverFlags(QStringList extra = {})
{
    return QStringList{QStringLiteral("--connect-rate"), QStringLiteral("1000/60"), QStringLiteral("--msg-rate"),
                       QStringLiteral("0")}
           + extra;
}

QUrl baseUrl(quint16 port)
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port));
}

InstanceClient::Options operatorOptions()
{
    InstanceClient::Options o;
    o.readinessPollMs = 300;
    o.resyncMs = 1000;
    o.backoffFirstMs = 200;
    o.backoffCapMs = 1000;
    return o;
}

ParticipantClient::Options participantOptions()
{
    ParticipantClient::Options o;
    o.backoffFirstMs = 300;
    o.backoffCapMs = 1500;
    o.resendDelayMs = 300;
    return o;
}

// A participant service (with its models) signed in and welcomed.
std::unique_ptr<ParticipantSession> participant(quint16 port, const QString &user, const QString &clientId = {})
{
    auto session = std::make_unique<ParticipantSession>(participantOptions());
    if (!clientId.isEmpty())
        session->client().setClientId(clientId);
    session->client().signIn(baseUrl(port), user);
    return session;
}

std::unique_ptr<OperatorSession> operatorFor(quint16 port, const QString &key = operatorKey)
{
    auto session = std::make_unique<OperatorSession>(operatorOptions());
    session->setOperatorKey(key);
    session->addInstance(baseUrl(port));
    session->start();
    return session;
}

InstanceClient *onlyClient(OperatorSession &session)
{
    return session.hub().clients().value(0);
}

// An admin request from an operator test client; the answer's type ("ack" or "error").
QString adminRequest(sbtest::TestClient &op, const QString &type, const QString &key, const QString &value)
{
    return op.request({{QStringLiteral("type"), type}, {key, value}}).value(QStringLiteral("type")).toString();
}

// A named widget of a window; fails the test when it is missing.
template<typename T>
T *child(const QWidget &window, const char *name)
{
    T *found = window.findChild<T *>(QString::fromLatin1(name));
    if (!found)
        qFatal("no %s in the window", name);
    return found;
}

} // namespace

class TestConsole final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("SwitchboardTest"));
        QCoreApplication::setApplicationName(QStringLiteral("tst_console"));
        QSettings().clear();
    }

    void operatorSeesSnapshotAndConnectionsComeAndGo()
    {
        sbtest::TestServer server(serverFlags());
        auto op = operatorFor(server.port());
        InstanceClient *client = onlyClient(*op);
        QTRY_COMPARE(client->state(), InstanceClient::State::Connected);
        QCOMPARE(client->instanceId(), QStringLiteral("test-1"));
        // The snapshot holds the operator's own connection.
        QTRY_COMPARE(op->connections().rowCount(), 1);
        QCOMPARE(op->instances().instanceIdAt(0), QStringLiteral("test-1"));
        QTRY_COMPARE(op->instances().healthAt(0), QStringLiteral("ready"));

        sbtest::TestClient bob;
        QVERIFY(bob.connectAs(server.port(), QStringLiteral("bob")));
        const QString bobSession = bob.welcome().value(QStringLiteral("session_id")).toString();
        QTRY_VERIFY(op->connections().rowOf(bobSession) >= 0);
        const ConnectionInfo row = op->connections().connectionAt(op->connections().rowOf(bobSession));
        QCOMPARE(row.user, QStringLiteral("bob"));
        QCOMPARE(row.instance, QStringLiteral("test-1"));
        QCOMPARE(row.role, QStringLiteral("participant"));
        QVERIFY(row.sticky);

        // Joining a room shows up at the next resync.
        QCOMPARE(bob.request({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), QStringLiteral("lobby")}})
                     .value(QStringLiteral("type")).toString(),
                 QStringLiteral("ack"));
        QTRY_COMPARE(op->connections().connection(bobSession).value_or(ConnectionInfo{}).rooms,
                     QStringList{QStringLiteral("lobby")});

        // Filtering through a proxy finds bob by user name.
        QSortFilterProxyModel proxy;
        proxy.setSourceModel(&op->connections());
        proxy.setFilterKeyColumn(-1);
        proxy.setFilterFixedString(QStringLiteral("bob"));
        QCOMPARE(proxy.rowCount(), 1);

        bob.socket().close();
        QTRY_COMPARE(op->connections().rowOf(bobSession), -1);
        QCOMPARE(op->connections().rowCount(), 1);
    }

    void statsArriveAndFeedTheCharts()
    {
        sbtest::TestServer server(serverFlags());
        auto op = operatorFor(server.port());
        QTRY_VERIFY_WITH_TIMEOUT(op->history().points(QStringLiteral("test-1"), StatsHistory::Series::Connections).size() >= 2, 5000);
        QCOMPARE(op->history().points(QStringLiteral("test-1"), StatsHistory::Series::Connections).last().y(), 1.0);
    }

    void wrongOperatorKeyFailsOnceAndClearly()
    {
        sbtest::TestServer server(serverFlags());
        auto op = operatorFor(server.port(), QStringLiteral("not-the-key"));
        InstanceClient *client = onlyClient(*op);
        QSignalSpy states(client, &InstanceClient::stateChanged);
        QSignalSpy refused(op.get(), &OperatorSession::keyRefused);
        QTRY_COMPARE(client->state(), InstanceClient::State::Failed);
        QVERIFY(client->keyRefused());
        QVERIFY2(client->lastError().contains(QStringLiteral("403")), qPrintable(client->lastError()));
        QCOMPARE(refused.size(), 1);
        QCOMPARE(op->instances().healthAt(0), QStringLiteral("key refused"));
        // No retry loop: nothing happens any more.
        const qsizetype seen = states.size();
        QTest::qWait(1500);
        QCOMPARE(states.size(), seen);
        QCOMPARE(client->state(), InstanceClient::State::Failed);

        // With the right key it connects.
        op->setOperatorKey(operatorKey);
        op->reconnectAll();
        QTRY_COMPARE(client->state(), InstanceClient::State::Connected);
    }

    void injectReachesAParticipantAndCountsRecipients()
    {
        sbtest::TestServer server(serverFlags());
        auto op = operatorFor(server.port());
        auto alice = participant(server.port(), QStringLiteral("alice"));
        QTRY_COMPARE(alice->client().state(), ParticipantClient::State::Connected);
        QTRY_COMPARE(onlyClient(*op)->state(), InstanceClient::State::Connected);
        QSignalSpy broadcasts(&alice->client(), &ParticipantClient::broadcastReceived);

        std::optional<Reply> answer;
        op->inject({InjectTarget::Kind::ClientId, alice->client().clientId()}, QStringLiteral("maintenance at noon"), this,
                   [&answer](const Reply &r) { answer = r; });
        QTRY_VERIFY(answer.has_value());
        QVERIFY2(answer->ok, qPrintable(answer->text));
        QCOMPARE(answer->frame.value(QStringLiteral("recipients")).toInt(), 1);
        QTRY_COMPARE(broadcasts.size(), 1);
        const auto b = broadcasts.first().first().value<BroadcastMessage>();
        QCOMPARE(b.kind, BroadcastMessage::Kind::Announcement);
        QCOMPARE(b.text, QStringLiteral("maintenance at noon"));
        QCOMPARE(b.from, QStringLiteral("operator"));

        // Everyone: the participant and the operator's own socket.
        answer.reset();
        op->inject({InjectTarget::Kind::All, {}}, QStringLiteral("hello all"), this, [&answer](const Reply &r) { answer = r; });
        QTRY_VERIFY(answer.has_value());
        QVERIFY(answer->ok);
        QCOMPARE(answer->frame.value(QStringLiteral("recipients")).toInt(), 2);

        // A refusal comes back in plain words.
        answer.reset();
        op->inject({InjectTarget::Kind::Room, QStringLiteral("Not A Room")}, QStringLiteral("x"), this,
                   [&answer](const Reply &r) { answer = r; });
        QTRY_VERIFY(answer.has_value());
        QVERIFY(!answer->ok);
        QCOMPARE(answer->code, QStringLiteral("invalid_room"));
        QVERIFY(answer->text.contains(QStringLiteral("Room names")));
    }

    void drainTurnsReadinessOffAndUndrainBack()
    {
        sbtest::TestServer server(serverFlags());
        auto op = operatorFor(server.port());
        QTRY_COMPARE(onlyClient(*op)->state(), InstanceClient::State::Connected);
        QCOMPARE(sbtest::httpGet(server.port(), QStringLiteral("/readyz")).status, 200);

        std::optional<Reply> answer;
        op->drain(baseUrl(server.port()), this, [&answer](const Reply &r) { answer = r; });
        QTRY_VERIFY(answer.has_value());
        QVERIFY2(answer->ok, qPrintable(answer->text));
        const sbtest::HttpResult ready = sbtest::httpGet(server.port(), QStringLiteral("/readyz"));
        QCOMPARE(ready.status, 503);
        QCOMPARE(ready.json().value(QStringLiteral("status")).toString(), QStringLiteral("draining"));
        QTRY_COMPARE(op->instances().healthAt(0), QStringLiteral("draining"));
        // The operator connection stays open while draining.
        QCOMPARE(onlyClient(*op)->state(), InstanceClient::State::Connected);

        answer.reset();
        op->undrain(baseUrl(server.port()), this, [&answer](const Reply &r) { answer = r; });
        QTRY_VERIFY(answer.has_value());
        QVERIFY(answer->ok);
        QCOMPARE(sbtest::httpGet(server.port(), QStringLiteral("/readyz")).status, 200);
        QTRY_COMPARE(op->instances().healthAt(0), QStringLiteral("ready"));
    }

    void flowSamplesArriveWhileChatFlows()
    {
        sbtest::TestServer server(serverFlags());
        auto op = operatorFor(server.port());
        QTRY_COMPARE(onlyClient(*op)->state(), InstanceClient::State::Connected);
        sbtest::TestClient a;
        QVERIFY(a.connectAs(server.port(), QStringLiteral("a")));
        a.request({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), QStringLiteral("flow")}});
        for (int i = 0; i < 20; ++i)
            a.request({{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), QStringLiteral("flow")},
                       {QStringLiteral("text"), QStringLiteral("m%1").arg(i)}});
        QTRY_VERIFY(op->flow().rowCount() > 0);
        bool sawChat = false;
        for (int r = 0; r < op->flow().rowCount(); ++r)
            sawChat = sawChat || op->flow().sampleAt(r).frameType == QStringLiteral("chat");
        QVERIFY(sawChat);

        op->flow().setPaused(true);
        const int rows = op->flow().rowCount();
        for (int i = 0; i < 20; ++i)
            a.request({{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), QStringLiteral("flow")},
                       {QStringLiteral("text"), QStringLiteral("p%1").arg(i)}});
        QTRY_VERIFY(op->flow().skippedWhilePaused() > 0);
        QCOMPARE(op->flow().rowCount(), rows);
    }

    void participantSignsInJoinsSendsAndReceives()
    {
        sbtest::TestServer server(serverFlags());
        const QString storedId = ConsoleSettings().clientId();
        QCOMPARE(ConsoleSettings().clientId(), storedId); // persistent
        auto alice = participant(server.port(), QStringLiteral("alice"), storedId);
        auto bob = participant(server.port(), QStringLiteral("bob"));
        QSignalSpy welcomed(&alice->client(), &ParticipantClient::welcomed);
        QTRY_COMPARE(alice->client().state(), ParticipantClient::State::Connected);
        QTRY_COMPARE(bob->client().state(), ParticipantClient::State::Connected);
        QCOMPARE(alice->client().welcome().instance, QStringLiteral("test-1"));
        QCOMPARE(alice->client().welcome().clientId, storedId);
        QVERIFY(alice->client().welcome().sticky);

        alice->joinRoom(QStringLiteral("lobby"));
        bob->joinRoom(QStringLiteral("lobby"));
        QTRY_VERIFY(alice->client().isJoined(QStringLiteral("lobby")));
        QTRY_VERIFY(bob->client().isJoined(QStringLiteral("lobby")));
        QTRY_COMPARE(alice->members().users(QStringLiteral("lobby")).size(), 2); // presence of bob

        QSignalSpy sent(&alice->client(), &ParticipantClient::pendingSent);
        const QString nonce = alice->sendToCurrentRoom(QStringLiteral("hi bob"));
        QVERIFY(!nonce.isEmpty());
        QTRY_COMPARE(sent.size(), 1);
        QCOMPARE(sent.first().at(0).toString(), nonce);
        QTRY_COMPARE(bob->messages().seqs(QStringLiteral("lobby")).size(), 1);
        QCOMPARE(bob->messages().index(0).data(MessagesModel::TextRole).toString(), QStringLiteral("hi bob"));
        QCOMPARE(bob->messages().index(0).data(MessagesModel::FromRole).toString(), QStringLiteral("alice"));
        QTRY_COMPARE(alice->messages().pendingCount(QStringLiteral("lobby")), 0);
        QCOMPARE(alice->messages().seqs(QStringLiteral("lobby")), (QList<qint64>{1}));

        // Every error frame reaches the user in plain words.
        QSignalSpy errors(&alice->client(), &ParticipantClient::errorText);
        QSignalSpy failed(&alice->client(), &ParticipantClient::pendingFailed);
        alice->client().sendChat(QStringLiteral("lobby"), QString(4001, QLatin1Char('x')));
        QCOMPARE(errors.size(), 1); // refused before sending
        alice->client().deleteTodo(987654);
        QTRY_COMPARE(errors.size(), 2);
        QVERIFY(errors.last().first().toString().contains(QStringLiteral("does not exist")));
        QCOMPARE(failed.size(), 0);
    }

    void bigRoomShowsTheCountAndPagesItsMembers()
    {
        // A room over SB_PRESENCE_LIMIT: the client counts every member, lists
        // those it was told of, applies batched presence and pages the rest.
        sbtest::TestServer server(serverFlags({QStringLiteral("--presence-limit"), QStringLiteral("3")}));
        std::vector<std::unique_ptr<sbtest::TestClient>> crowd;
        for (int i = 0; i < 205; ++i) {
            crowd.push_back(std::make_unique<sbtest::TestClient>());
            QVERIFY(crowd.back()->connectAs(server.port(), QStringLiteral("p%1").arg(i)));
            QCOMPARE(crowd.back()->join(QStringLiteral("arena")).value(QStringLiteral("type")).toString(),
                     QStringLiteral("ack"));
        }
        auto alice = participant(server.port(), QStringLiteral("alice"));
        alice->joinRoom(QStringLiteral("arena"));
        alice->setCurrentRoom(QStringLiteral("arena"));
        QTRY_VERIFY(alice->client().isJoined(QStringLiteral("arena")));
        MembersModel &members = alice->members();
        QCOMPARE(members.memberCount(QStringLiteral("arena")), 206);
        QCOMPARE(members.rowCount(), 200);
        QVERIFY(members.hasMore(QStringLiteral("arena")));
        alice->loadMoreMembers();
        QTRY_COMPARE(members.rowCount(), 206);
        QVERIFY(!members.hasMore(QStringLiteral("arena")));

        // Leaves and joins arrive batched; the count follows.
        for (int i = 0; i < 5; ++i)
            crowd[i]->socket().close();
        QTRY_COMPARE_WITH_TIMEOUT(members.memberCount(QStringLiteral("arena")), 201, 5000);
        QTRY_COMPARE(members.rowCount(), 201);
        sbtest::TestClient late;
        QVERIFY(late.connectAs(server.port(), QStringLiteral("zed-late")));
        late.join(QStringLiteral("arena"));
        QTRY_COMPARE_WITH_TIMEOUT(members.memberCount(QStringLiteral("arena")), 202, 5000);
        QTRY_VERIFY(members.users(QStringLiteral("arena")).contains(QStringLiteral("zed-late")));
    }

    void historyPagesBackToTheStart()
    {
        sbtest::TestServer server(serverFlags());
        sbtest::TestClient writer;
        QVERIFY(writer.connectAs(server.port(), QStringLiteral("writer")));
        writer.request({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), QStringLiteral("old")}});
        for (int i = 1; i <= 120; ++i)
            writer.send({{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), QStringLiteral("old")},
                         {QStringLiteral("text"), QStringLiteral("n%1").arg(i)}});
        QVERIFY(!writer.waitFor([](const QJsonObject &f) { return f.value(QStringLiteral("seq")).toInt() == 120; }, 10000).isEmpty());

        auto reader = participant(server.port(), QStringLiteral("reader"));
        QSignalSpy exhausted(reader.get(), &ParticipantSession::historyExhausted);
        reader->joinRoom(QStringLiteral("old"));
        QTRY_COMPARE(reader->messages().seqs(QStringLiteral("old")).size(), 50);
        QCOMPARE(reader->messages().oldestSeq(QStringLiteral("old")), 71);
        reader->client().loadOlder(QStringLiteral("old"));
        QTRY_COMPARE(reader->messages().seqs(QStringLiteral("old")).size(), 100);
        reader->client().loadOlder(QStringLiteral("old"));
        QTRY_COMPARE(reader->messages().seqs(QStringLiteral("old")).size(), 120);
        QList<qint64> expected;
        for (int i = 1; i <= 120; ++i)
            expected.append(i);
        QCOMPARE(reader->messages().seqs(QStringLiteral("old")), expected);
        QTRY_VERIFY(!exhausted.isEmpty() && exhausted.last().at(1).toBool());
    }

    void reconnectRejoinsDeliversMissedAndSendsQueuedOnce()
    {
        sbtest::TestServer server(serverFlags());
        auto op = operatorFor(server.port());
        auto alice = participant(server.port(), QStringLiteral("alice"));
        auto bob = participant(server.port(), QStringLiteral("bob"));
        alice->joinRoom(QStringLiteral("lobby"));
        bob->joinRoom(QStringLiteral("lobby"));
        QTRY_VERIFY(alice->client().isJoined(QStringLiteral("lobby")));
        QTRY_VERIFY(bob->client().isJoined(QStringLiteral("lobby")));
        bob->sendToCurrentRoom(QStringLiteral("before"));
        QTRY_COMPARE(alice->messages().seqs(QStringLiteral("lobby")).size(), 1);
        QTRY_COMPARE(onlyClient(*op)->state(), InstanceClient::State::Connected);

        // The operator drops alice's session; she reconnects with backoff.
        QSignalSpy scheduled(&alice->client(), &ParticipantClient::reconnectScheduled);
        std::optional<Reply> answer;
        op->disconnectSession(alice->client().welcome().sessionId, this, [&answer](const Reply &r) { answer = r; });
        QTRY_COMPARE(alice->client().state(), ParticipantClient::State::Reconnecting);
        // Alice's close frame and the operator's ack leave the server in that
        // order, on two sockets: either may be read first here.
        QTRY_VERIFY(answer.has_value());
        QVERIFY(answer->ok);
        QVERIFY(scheduled.first().at(1).toString().contains(QStringLiteral("operator")));

        // While she is away: bob writes, she types (queued, shown as pending).
        QSignalSpy bobSent(&bob->client(), &ParticipantClient::pendingSent);
        for (int i = 0; i < 3; ++i)
            bob->sendToCurrentRoom(QStringLiteral("missed %1").arg(i));
        alice->sendToCurrentRoom(QStringLiteral("typed offline"));
        QCOMPARE(alice->messages().pendingCount(QStringLiteral("lobby")), 1);
        QTRY_COMPARE(bobSent.size(), 3);

        QTRY_COMPARE_WITH_TIMEOUT(alice->client().state(), ParticipantClient::State::Connected, 10000);
        QTRY_COMPARE(alice->messages().seqs(QStringLiteral("lobby")), (QList<qint64>{1, 2, 3, 4, 5}));
        QTRY_COMPARE(alice->messages().pendingCount(QStringLiteral("lobby")), 0);
        // Bob sees alice's offline message exactly once.
        QTRY_COMPARE(bob->messages().seqs(QStringLiteral("lobby")).size(), 5);
        QTest::qWait(300);
        int copies = 0;
        for (int r = 0; r < bob->messages().rowCount(); ++r)
            copies += bob->messages().index(r).data(MessagesModel::TextRole).toString() == QStringLiteral("typed offline") ? 1 : 0;
        QCOMPARE(copies, 1);
    }

    void drainAsksParticipantsToReconnect()
    {
        sbtest::TestServer server(serverFlags({QStringLiteral("--drain-s"), QStringLiteral("1")}));
        auto op = operatorFor(server.port());
        auto alice = participant(server.port(), QStringLiteral("alice"));
        QTRY_COMPARE(alice->client().state(), ParticipantClient::State::Connected);
        QTRY_COMPARE(onlyClient(*op)->state(), InstanceClient::State::Connected);
        QSignalSpy scheduled(&alice->client(), &ParticipantClient::reconnectScheduled);

        std::optional<Reply> answer;
        op->drain(baseUrl(server.port()), this, [&answer](const Reply &r) { answer = r; });
        QTRY_VERIFY(!scheduled.isEmpty());
        QVERIFY2(scheduled.first().at(1).toString().contains(QStringLiteral("draining")),
                 qPrintable(scheduled.first().at(1).toString()));
        // The first delay follows the server's after_ms (at most 2 s), not the backoff.
        QVERIFY(scheduled.first().at(0).toInt() <= 2300);
        // Refused while draining; back once undrained.
        QTest::qWait(2500);
        QVERIFY(alice->client().state() != ParticipantClient::State::Connected);
        answer.reset();
        op->undrain(baseUrl(server.port()), this, [&answer](const Reply &r) { answer = r; });
        QTRY_VERIFY(answer.has_value());
        QTRY_COMPARE_WITH_TIMEOUT(alice->client().state(), ParticipantClient::State::Connected, 10000);
    }

    void reconnectDelaysGrowAndEachAttemptTakesAFreshToken()
    {
        // A drained instance issues tokens but refuses participant upgrades
        // (503): every attempt fails after its token, so the delays show.
        sbtest::TestServer server(serverFlags());
        sbtest::TestClient op;
        QVERIFY(op.connectAs(server.port(), QStringLiteral("root"), {}, QStringLiteral("operator"), operatorKey));
        const QString instance = QStringLiteral("instance");
        QCOMPARE(adminRequest(op, QStringLiteral("admin.drain"), instance, QStringLiteral("test-1")), QStringLiteral("ack"));
        const auto tokensIssued = [&server] {
            return sbtest::metricValue(server.port(), QStringLiteral("sb_http_requests_total"),
                                       {QStringLiteral(R"(route="/api/token")"), QStringLiteral(R"(status="200")")});
        };
        const double tokensBefore = tokensIssued();

        ParticipantClient::Options options;
        options.backoffFirstMs = 200;
        options.backoffCapMs = 1600;
        ParticipantSession alice(options);
        QSignalSpy scheduled(&alice.client(), &ParticipantClient::reconnectScheduled);
        QSignalSpy errors(&alice.client(), &ParticipantClient::errorText);
        alice.client().signIn(baseUrl(server.port()), QStringLiteral("alice"));
        QTRY_COMPARE_WITH_TIMEOUT(scheduled.size(), 6, 15000);
        QCOMPARE(tokensIssued() - tokensBefore, 6.0); // a fresh token for every attempt

        const QList<int> bases{200, 400, 800, 1600, 1600, 1600};
        for (int i = 0; i < bases.size(); ++i) {
            const int delay = scheduled.at(i).at(0).toInt();
            QVERIFY2(delay >= bases.at(i) * 0.8 - 1 && delay <= qMin(1600.0, bases.at(i) * 1.2 + 1),
                     qPrintable(QStringLiteral("attempt %1 waited %2 ms").arg(i + 1).arg(delay)));
        }
        QVERIFY2(scheduled.first().at(1).toString().contains(QStringLiteral("draining")),
                 qPrintable(scheduled.first().at(1).toString()));
        QVERIFY(!errors.isEmpty()); // the user is told each time

        // Back in service: connected, and the next drop starts from the first delay again.
        QCOMPARE(adminRequest(op, QStringLiteral("admin.undrain"), instance, QStringLiteral("test-1")), QStringLiteral("ack"));
        QTRY_COMPARE_WITH_TIMEOUT(alice.client().state(), ParticipantClient::State::Connected, 5000);
        scheduled.clear();
        alice.client().reconnectNow(); // "Reconnect now" skips the wait
        QCOMPARE(scheduled.size(), 1);
        QCOMPARE(scheduled.first().at(0).toInt(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(alice.client().state(), ParticipantClient::State::Connected, 5000);
        QCOMPARE(adminRequest(op, QStringLiteral("admin.disconnect"), QStringLiteral("session_id"),
                              alice.client().welcome().sessionId),
                 QStringLiteral("ack"));
        QTRY_COMPARE(scheduled.size(), 2);
        QVERIFY2(scheduled.last().at(0).toInt() <= 240, qPrintable(scheduled.last().at(0).toString()));
    }

    void unrecoverableGapIsToldAndHistoryReloaded()
    {
        sbtest::TestServer server(
            serverFlags({QStringLiteral("--history"), QStringLiteral("5"), QStringLiteral("--drain-s"), QStringLiteral("1")}));
        const QString room = QStringLiteral("recall");
        auto alice = participant(server.port(), QStringLiteral("alice"));
        alice->joinRoom(room);
        QTRY_VERIFY(alice->client().isJoined(room));

        // The writer is an operator: its connection stays open while the instance drains.
        sbtest::TestClient writer;
        QVERIFY(writer.connectAs(server.port(), QStringLiteral("writer"), {}, QStringLiteral("operator"), operatorKey));
        QCOMPARE(writer.join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        QCOMPARE(writer.chat(room, QStringLiteral("seen")).value(QStringLiteral("seq")).toInteger(), 1);
        QTRY_COMPARE(alice->messages().seqs(room), (QList<qint64>{1}));

        // Alice is kept away (a draining instance refuses her) while 19 more
        // are written and cleanup keeps only the newest 5 of the 20.
        const auto admin = [&writer](const QString &type) {
            return adminRequest(writer, type, QStringLiteral("instance"), QStringLiteral("test-1"));
        };
        QCOMPARE(admin(QStringLiteral("admin.drain")), QStringLiteral("ack"));
        QTRY_VERIFY(alice->client().state() != ParticipantClient::State::Connected);
        for (int i = 2; i <= 20; ++i) {
            const QJsonObject ack = writer.chat(room, QStringLiteral("while away %1").arg(i));
            QCOMPARE(ack.value(QStringLiteral("seq")).toInteger(), i);
        }
        // Without members the instance forgets the room, so only the store can answer.
        writer.request({{QStringLiteral("type"), QStringLiteral("leave")}, {QStringLiteral("room"), room}});
        std::optional<sb::StoreResult<sb::CleanupStats>> cleaned;
        server.server().store().cleanup(QDateTime::currentMSecsSinceEpoch(), 7LL * 24 * 3600 * 1000, 5,
                                        [&cleaned](const sb::StoreResult<sb::CleanupStats> &r) { cleaned = r; });
        QTRY_VERIFY(cleaned.has_value());
        QVERIFY2(cleaned->ok, qPrintable(cleaned->error));
        QCOMPARE(cleaned->value.messages, 15);

        QSignalSpy notices(&alice->client(), &ParticipantClient::notice);
        QCOMPARE(admin(QStringLiteral("admin.undrain")), QStringLiteral("ack"));
        QTRY_COMPARE_WITH_TIMEOUT(alice->client().state(), ParticipantClient::State::Connected, 10000);
        QTRY_COMPARE(notices.size(), 1);
        QCOMPARE(notices.first().at(0).toString(), room);
        QVERIFY(notices.first().at(1).toString().contains(QStringLiteral("could not be recovered")));
        // The history is reloaded: what is retained, in order, and the notice in the room's log.
        QTRY_COMPARE(alice->messages().seqs(room), (QList<qint64>{16, 17, 18, 19, 20}));
        int noticeRows = 0;
        for (int r = 0; r < alice->messages().rowCount(); ++r) {
            const QModelIndex i = alice->messages().index(r);
            if (i.data(MessagesModel::KindRole).toInt() == static_cast<int>(MessagesModel::Kind::Notice)) {
                ++noticeRows;
                QVERIFY(i.data().toString().contains(QStringLiteral("could not be recovered")));
            }
        }
        QCOMPARE(noticeRows, 1);
        // Live messages follow the reloaded history.
        QCOMPARE(writer.join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        QCOMPARE(writer.chat(room, QStringLiteral("after")).value(QStringLiteral("seq")).toInteger(), 21);
        QTRY_COMPARE(alice->messages().seqs(room), (QList<qint64>{16, 17, 18, 19, 20, 21}));
    }

    void todosSyncBetweenTwoClientsOfOneClientId()
    {
        sbtest::TestServer server(serverFlags());
        const QString shared = QStringLiteral("shared-client-1");
        auto first = participant(server.port(), QStringLiteral("carol"), shared);
        auto second = participant(server.port(), QStringLiteral("carol"), shared);
        auto stranger = participant(server.port(), QStringLiteral("dave"));
        QTRY_COMPARE(first->client().state(), ParticipantClient::State::Connected);
        QTRY_COMPARE(second->client().state(), ParticipantClient::State::Connected);
        QTRY_COMPARE(stranger->client().state(), ParticipantClient::State::Connected);

        first->client().addTodo(QStringLiteral("buy milk"));
        QTRY_COMPARE(first->todos().rowCount(), 1);
        QTRY_COMPARE(second->todos().rowCount(), 1);
        QCOMPARE(second->todos().index(0).data().toString(), QStringLiteral("buy milk"));

        // Ticking the box in one window completes it in the other.
        second->todos().setData(second->todos().index(0), Qt::Checked, Qt::CheckStateRole);
        QTRY_VERIFY(first->todos().index(0).data(TodoModel::DoneRole).toBool());
        first->todos().setData(first->todos().index(0), QStringLiteral("buy oat milk"), Qt::EditRole);
        QTRY_COMPARE(second->todos().index(0).data().toString(), QStringLiteral("buy oat milk"));

        // Another client_id sees none of it.
        QTest::qWait(200);
        QCOMPARE(stranger->todos().rowCount(), 0);

        second->client().deleteTodo(second->todos().idAt(0));
        QTRY_COMPARE(first->todos().rowCount(), 0);
        QTRY_COMPARE(second->todos().rowCount(), 0);

        // A client that signs in later loads the list.
        first->client().addTodo(QStringLiteral("later"));
        auto third = participant(server.port(), QStringLiteral("carol"), shared);
        QTRY_COMPARE(third->todos().rowCount(), 1);
    }

    void clientWindowsSignInChatSyncTodosAndShowBroadcasts()
    {
        // Everything through the widgets, as a user would: two windows of one
        // client (the client_id kept in QSettings) and a window of another user.
        sbtest::TestServer server(serverFlags({QStringLiteral("--ticker"), QStringLiteral("1-1")}));
        QSettings().remove(QStringLiteral("client"));
        const QUrl url = baseUrl(server.port());

        ParticipantSession first(participantOptions());
        ClientWindow firstWindow(first);
        first.signIn(url, QStringLiteral("alice"), {QStringLiteral("lobby")});
        QCOMPARE(ConsoleSettings().serverUrl(), url); // remembered for the next start
        QCOMPARE(ConsoleSettings().userName(), QStringLiteral("alice"));
        ParticipantSession second(participantOptions()); // the same client in a second window
        ClientWindow secondWindow(second);
        second.signIn(url, QStringLiteral("alice"));
        ParticipantSession bob(participantOptions());
        bob.client().setClientId(QStringLiteral("bob-device"));
        ClientWindow bobWindow(bob);
        bob.signIn(url, QStringLiteral("bob"), {QStringLiteral("lobby")});
        for (ClientWindow *w : {&firstWindow, &secondWindow, &bobWindow}) {
            w->resize(1100, 700);
            w->show();
            QVERIFY(QTest::qWaitForWindowExposed(w));
        }

        // Signed in, every window of alice's client has the persistent client_id.
        QTRY_COMPARE(firstWindow.stateText(), QStringLiteral("connected"));
        QTRY_COMPARE(secondWindow.stateText(), QStringLiteral("connected"));
        QTRY_COMPARE(bobWindow.stateText(), QStringLiteral("connected"));
        const QString clientId = ConsoleSettings().clientId();
        QCOMPARE(first.client().welcome().clientId, clientId);
        QCOMPARE(second.client().welcome().clientId, clientId);
        QVERIFY(firstWindow.whereText().contains(QStringLiteral("On test-1")));
        QVERIFY(firstWindow.whereText().contains(QStringLiteral("sticky: yes")));
        QCOMPARE(second.currentRoom(), QStringLiteral("lobby")); // the rooms of last time, else lobby

        // Join a room by typing its name.
        for (ClientWindow *w : {&firstWindow, &bobWindow}) {
            QTest::keyClicks(child<QLineEdit>(*w, "joinEdit"), QStringLiteral("dev"));
            QTest::mouseClick(child<QPushButton>(*w, "joinButton"), Qt::LeftButton);
        }
        QTRY_VERIFY(first.client().isJoined(QStringLiteral("dev")));
        QTRY_VERIFY(bob.client().isJoined(QStringLiteral("dev")));
        QCOMPARE(first.currentRoom(), QStringLiteral("dev"));
        QCOMPARE(child<QListView>(firstWindow, "rooms")->model()->rowCount(), 2);
        QTRY_COMPARE(child<QListView>(firstWindow, "members")->model()->rowCount(), 2); // from presence

        // Send by typing; bob's window shows it.
        QTest::keyClicks(child<QLineEdit>(firstWindow, "composer"), QStringLiteral("hello dev"));
        QTest::keyClick(child<QLineEdit>(firstWindow, "composer"), Qt::Key_Return);
        QCOMPARE(child<QLineEdit>(firstWindow, "composer")->text(), QString());
        QAbstractItemModel *bobMessages = child<QListView>(bobWindow, "messages")->model();
        QTRY_COMPARE(bobMessages->rowCount(), 1);
        QVERIFY(bobMessages->index(0, 0).data().toString().contains(QStringLiteral("alice: hello dev")));
        QTRY_COMPARE(first.messages().seqs(QStringLiteral("dev")).size(), 1);
        QCOMPARE(first.messages().pendingCount(QStringLiteral("dev")), 0); // confirmed, no longer pending
        QCOMPARE(child<QListView>(firstWindow, "messages")->model()->rowCount(), 1);

        // A message in a room not shown counts as unread there.
        bob.setCurrentRoom(QStringLiteral("lobby"));
        QTest::keyClicks(child<QLineEdit>(bobWindow, "composer"), QStringLiteral("hi lobby"));
        QTest::mouseClick(child<QPushButton>(bobWindow, "sendButton"), Qt::LeftButton);
        QTRY_COMPARE(first.rooms().unread(QStringLiteral("lobby")), 1);
        QAbstractItemModel *firstRooms = child<QListView>(firstWindow, "rooms")->model();
        const int lobbyRow = first.rooms().rowOf(QStringLiteral("lobby"));
        QCOMPARE(firstRooms->index(lobbyRow, 0).data().toString(), QStringLiteral("#lobby  (1)"));

        // Todos: added in one window, completed in the other, deleted there, gone in both.
        QTest::keyClicks(child<QLineEdit>(firstWindow, "todoEdit"), QStringLiteral("buy milk"));
        QTest::mouseClick(child<QPushButton>(firstWindow, "addTodoButton"), Qt::LeftButton);
        QListView *secondTodos = child<QListView>(secondWindow, "todos");
        QTRY_COMPARE(secondTodos->model()->rowCount(), 1);
        QCOMPARE(secondTodos->model()->index(0, 0).data().toString(), QStringLiteral("buy milk"));
        QCOMPARE(child<QListView>(bobWindow, "todos")->model()->rowCount(), 0);
        secondTodos->setCurrentIndex(secondTodos->model()->index(0, 0));
        QTest::keyClick(secondTodos, Qt::Key_Space); // ticks the box
        QListView *firstTodos = child<QListView>(firstWindow, "todos");
        QTRY_COMPARE(firstTodos->model()->index(0, 0).data(Qt::CheckStateRole).toInt(), static_cast<int>(Qt::Checked));
        firstTodos->model()->setData(firstTodos->model()->index(0, 0), QStringLiteral("buy oat milk"), Qt::EditRole);
        QTRY_COMPARE(secondTodos->model()->index(0, 0).data().toString(), QStringLiteral("buy oat milk"));
        QTest::mouseClick(child<QPushButton>(secondWindow, "deleteTodoButton"), Qt::LeftButton);
        QTRY_COMPARE(firstTodos->model()->rowCount(), 0);
        QTRY_COMPARE(secondTodos->model()->rowCount(), 0);

        // Broadcasts: the ticker runs along the bottom line, an announcement
        // gets the banner; neither shows up in the other's place.
        QTRY_VERIFY_WITH_TIMEOUT(firstWindow.tickerText().startsWith(QStringLiteral("Ticker ")), 5000);
        QVERIFY(firstWindow.announcementText().isEmpty());
        sbtest::TestClient op;
        QVERIFY(op.connectAs(server.port(), QStringLiteral("root"), {}, QStringLiteral("operator"), operatorKey));
        QCOMPARE(op.request({{QStringLiteral("type"), QStringLiteral("admin.inject")},
                             {QStringLiteral("target"), QJsonObject{{QStringLiteral("client_id"), clientId}}},
                             {QStringLiteral("text"), QStringLiteral("maintenance at noon")}})
                     .value(QStringLiteral("recipients")).toInt(),
                 2);
        QTRY_VERIFY(firstWindow.announcementText().contains(QStringLiteral("maintenance at noon")));
        QTRY_VERIFY(secondWindow.announcementText().contains(QStringLiteral("maintenance at noon")));
        QVERIFY(firstWindow.announcementText().contains(QStringLiteral("root")));
        QVERIFY(!firstWindow.tickerText().contains(QStringLiteral("maintenance")));
        QTest::qWait(300);
        QVERIFY(bobWindow.announcementText().isEmpty()); // sent to alice's client only

        // Every error frame is shown in plain words: a refused rename.
        first.client().updateTodo(424242, QStringLiteral("nope"), std::nullopt);
        QTRY_VERIFY(firstWindow.statusText().contains(QStringLiteral("does not exist")));

        // Restarted, the client comes back with the same client_id.
        ParticipantSession restarted(participantOptions());
        restarted.signIn(url, QStringLiteral("alice"));
        QTRY_COMPARE(restarted.client().state(), ParticipantClient::State::Connected);
        QCOMPARE(restarted.client().welcome().clientId, clientId);
    }

    void instanceThatGoesAwayIsRetriedUntilItIsBack()
    {
        auto server = std::make_unique<sbtest::TestServer>(serverFlags());
        const quint16 port = server->port();
        auto op = operatorFor(port);
        InstanceClient *client = onlyClient(*op);
        QTRY_COMPARE(client->state(), InstanceClient::State::Connected);
        QTRY_COMPARE(op->connections().rowCount(), 1);

        server.reset();
        QTRY_COMPARE(client->state(), InstanceClient::State::Retrying);
        QTRY_COMPARE(op->instances().healthAt(0), QStringLiteral("dead"));
        QTRY_COMPARE(op->connections().rowCount(), 0); // nothing is known about a dead instance's sockets
        QVERIFY(!client->lastError().isEmpty());

        server = std::make_unique<sbtest::TestServer>(
            serverFlags({QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(port)}));
        QCOMPARE(server->port(), port);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), InstanceClient::State::Connected, 10000);
        QTRY_COMPARE(op->instances().healthAt(0), QStringLiteral("ready"));
    }

    void hungInstanceIsShownAsNotResponding()
    {
        // A real server process that we can freeze with SIGSTOP.
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close();
        QTemporaryDir data;
        QProcess process;
        process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        process.start(QStringLiteral(SB_SERVER_BINARY),
                      {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(port), QStringLiteral("--data"),
                       data.path(), QStringLiteral("--operator-key"), operatorKey, QStringLiteral("--instance-id"),
                       QStringLiteral("frozen-1"), QStringLiteral("--ticker"), QStringLiteral("off"),
                       QStringLiteral("--connect-rate"), QStringLiteral("1000/60"), QStringLiteral("--log"), QStringLiteral("json")});
        QVERIFY(process.waitForStarted());
        QTRY_COMPARE_WITH_TIMEOUT(sbtest::httpGet(port, QStringLiteral("/readyz")).status, 200, 10000);

        auto op = operatorFor(port);
        InstanceClient *client = onlyClient(*op);
        QTRY_COMPARE(client->state(), InstanceClient::State::Connected);
        ::kill(static_cast<pid_t>(process.processId()), SIGSTOP);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), InstanceClient::State::Hung, 8000);
        QCOMPARE(op->instances().healthAt(0), QStringLiteral("not responding"));
        QVERIFY(client->lastError().contains(QStringLiteral("hung")));
        ::kill(static_cast<pid_t>(process.processId()), SIGCONT);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), InstanceClient::State::Connected, 8000);
        process.terminate();
        QVERIFY(process.waitForFinished(10000));
    }

    void stickinessCookieTravelsWithTheUpgrade()
    {
        // A stand-in load balancer: answers the token request with a
        // stickiness cookie and records the upgrade request that follows.
        QTcpServer lb;
        QVERIFY(lb.listen(QHostAddress::LocalHost, 0));
        QHash<QTcpSocket *, QByteArray> buffers;
        QByteArray upgrade;
        connect(&lb, &QTcpServer::newConnection, this, [&] {
            while (QTcpSocket *s = lb.nextPendingConnection()) {
                connect(s, &QTcpSocket::readyRead, s, [&, s] {
                    QByteArray &buffer = buffers[s];
                    buffer += s->readAll();
                    const qsizetype end = buffer.indexOf("\r\n\r\n");
                    if (end < 0)
                        return;
                    if (buffer.startsWith("POST /api/token")) {
                        const qsizetype lengthAt = buffer.toLower().indexOf("content-length:");
                        const int length = lengthAt < 0 ? 0 : buffer.mid(lengthAt + 15, buffer.indexOf("\r\n", lengthAt) - lengthAt - 15).trimmed().toInt();
                        if (buffer.size() < end + 4 + length)
                            return;
                        const QByteArray body = R"({"token":"t0k","expires_in":60,"client_id":"cookie-client","instance":"app-2"})";
                        s->write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: sb_lb=app-2; Path=/\r\n"
                                 "Content-Length: " + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
                    } else {
                        upgrade = buffer.left(end);
                        s->write("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                    buffer.clear();
                    s->disconnectFromHost();
                });
                connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
        ParticipantSession session(participantOptions());
        session.client().setClientId(QStringLiteral("cookie-client"));
        session.client().signIn(baseUrl(lb.serverPort()), QStringLiteral("alice"));
        QTRY_VERIFY(!upgrade.isEmpty());
        QVERIFY2(upgrade.toLower().contains("\r\ncookie: sb_lb=app-2"), upgrade.constData());
        QVERIFY(upgrade.startsWith("GET /ws?token=t0k"));
        // Refused with 503: it says so and tries again later.
        QTRY_COMPARE(session.client().state(), ParticipantClient::State::Reconnecting);
        session.client().signOut();
    }

    void keychainNeverFallsBackToSettings()
    {
        OperatorKeyStore store;
        std::optional<bool> written;
        store.write(QStringLiteral("s3cret-key"), [&written](bool ok, const QString &) { written = ok; });
        QTRY_VERIFY_WITH_TIMEOUT(written.has_value(), 10000);
        QSettings settings;
        for (const QString &key : settings.allKeys())
            QVERIFY(!settings.value(key).toString().contains(QStringLiteral("s3cret-key")));
        if (*written) {
            std::optional<bool> removed;
            store.remove([&removed](bool ok, const QString &) { removed = ok; });
            QTRY_VERIFY_WITH_TIMEOUT(removed.has_value(), 10000);
        }
    }

    void windowsShowLiveData()
    {
        sbtest::TestServer server(serverFlags());
        auto op = operatorFor(server.port());
        auto alice = participant(server.port(), QStringLiteral("alice"));
        alice->joinRoom(QStringLiteral("lobby"));

        MainWindow main(*op);
        main.resize(1400, 900);
        main.show();
        ClientWindow client(*alice);
        client.resize(1100, 700);
        client.show();
        QVERIFY(QTest::qWaitForWindowExposed(&main));
        QVERIFY(QTest::qWaitForWindowExposed(&client));

        QTRY_COMPARE(main.connectionsPanel()->view()->model()->rowCount(), 2);
        QTRY_COMPARE(main.connectionsPanel()->countText(), QStringLiteral("2 connections"));
        main.connectionsPanel()->setFilterText(QStringLiteral("alice"));
        QCOMPARE(main.connectionsPanel()->view()->model()->rowCount(), 1);
        QCOMPARE(main.connectionsPanel()->countText(), QStringLiteral("1 of 2 connections"));
        main.connectionsPanel()->setFilterText(QString());
        QTRY_VERIFY(main.statusSummary().contains(QStringLiteral("1 of 1")));
        QTRY_VERIFY_WITH_TIMEOUT(op->history().points(QStringLiteral("test-1"), StatsHistory::Series::Connections).size() >= 1, 5000);
        main.chartsPanel()->refresh();
        QCOMPARE(main.chartsPanel()->seriesCount(), 3);

        QTRY_VERIFY(client.whereText().contains(QStringLiteral("test-1")));
        QVERIFY(client.whereText().contains(QStringLiteral("sticky: yes")));
        QTRY_COMPARE(client.stateText(), QStringLiteral("connected"));

        alice->sendToCurrentRoom(QStringLiteral("hello from the window test"));
        QTRY_COMPARE(client.messagesView()->model()->rowCount(), 1);

        main.injectPanel()->setTarget({InjectTarget::Kind::All, {}});
        main.injectPanel()->setText(QStringLiteral("window announcement"));
        main.injectPanel()->send();
        QTRY_VERIFY(main.injectPanel()->resultText().contains(QStringLiteral("Delivered to 2")));
        QTRY_VERIFY(client.announcementText().contains(QStringLiteral("window announcement")));

        const QImage mainShot = main.grab().toImage();
        const QImage clientShot = client.grab().toImage();
        QVERIFY(!mainShot.isNull() && mainShot.width() > 500);
        QVERIFY(!clientShot.isNull() && clientShot.width() > 500);
    }
};

QTEST_MAIN(TestConsole)
#include "tst_console.moc"
