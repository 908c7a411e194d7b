// Chat over real loopback WebSockets against an in-process server: seq,
// fan-out, membership rules, nonce resends, history paging, recovery with
// `since`, and presence.

#include "testsupport.h"

#include <QJsonArray>
#include <QTest>

using namespace sbtest;

class TstChat : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { m_server = std::make_unique<TestServer>(QStringList{QStringLiteral("--msg-rate"), QStringLiteral("0"), QStringLiteral("--connect-rate"), QStringLiteral("1000/60")}); }
    void cleanupTestCase() { m_server.reset(); }

    void welcomeDescribesTheSession();
    void chatIsSequencedAndFannedOut();
    void chatRequiresMembership();
    void nonceMakesResendsSafe();
    void historyPagesBackwards();
    void joinWithSinceRecoversMissedMessages();
    void presenceFollowsJoinLeaveAndClose();
    void joiningTwiceIsHarmless();
    void framesOfEveryLengthArriveWhole();

private:
    std::unique_ptr<TestServer> m_server;
};

void TstChat::welcomeDescribesTheSession()
{
    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("alice"), QStringLiteral("client-a")));
    const QJsonObject w = c.welcome();
    QCOMPARE(w.value(QStringLiteral("user")).toString(), QStringLiteral("alice"));
    QCOMPARE(w.value(QStringLiteral("client_id")).toString(), QStringLiteral("client-a"));
    QCOMPARE(w.value(QStringLiteral("role")).toString(), QStringLiteral("participant"));
    QCOMPARE(w.value(QStringLiteral("instance")).toString(), QStringLiteral("test-1"));
    QCOMPARE(w.value(QStringLiteral("sticky")).toBool(), true);
    QCOMPARE(w.value(QStringLiteral("heartbeat_ms")).toInt(), 25000);
    QVERIFY(!w.value(QStringLiteral("session_id")).toString().isEmpty());
    QVERIFY(w.value(QStringLiteral("server_time")).toInteger() > 0);
    QCOMPARE(c.frames().first().value(QStringLiteral("type")).toString(), QStringLiteral("welcome"));
}

void TstChat::chatIsSequencedAndFannedOut()
{
    TestClient a;
    TestClient b;
    QVERIFY(a.connectAs(m_server->port(), QStringLiteral("alice")));
    QVERIFY(b.connectAs(m_server->port(), QStringLiteral("bob")));
    QCOMPARE(a.join(QStringLiteral("seq-room")).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(b.join(QStringLiteral("seq-room")).value(QStringLiteral("last_seq")).toInteger(), 0);
    for (int i = 1; i <= 20; ++i) {
        const QJsonObject ack = (i % 2 ? a : b).chat(QStringLiteral("seq-room"), QStringLiteral("hello %1").arg(i));
        QCOMPARE(ack.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        QCOMPARE(ack.value(QStringLiteral("seq")).toInteger(), i);
        QCOMPARE(ack.value(QStringLiteral("room")).toString(), QStringLiteral("seq-room"));
    }
    for (TestClient *c : {&a, &b}) {
        QTRY_COMPARE(c->framesOfType(QStringLiteral("chat")).size(), 20);
        const auto chats = c->framesOfType(QStringLiteral("chat"));
        for (int i = 0; i < 20; ++i) {
            QCOMPARE(chats[i].value(QStringLiteral("seq")).toInteger(), i + 1);
            QCOMPARE(chats[i].value(QStringLiteral("text")).toString(), QStringLiteral("hello %1").arg(i + 1));
            QCOMPARE(chats[i].value(QStringLiteral("from")).toString(), (i + 1) % 2 ? QStringLiteral("alice") : QStringLiteral("bob"));
            QCOMPARE(chats[i].value(QStringLiteral("origin")).toString(), QStringLiteral("test-1"));
            QVERIFY(chats[i].value(QStringLiteral("ts")).toInteger() > 0);
        }
    }
}

void TstChat::chatRequiresMembership()
{
    TestClient a;
    QVERIFY(a.connectAs(m_server->port(), QStringLiteral("alice")));
    QCOMPARE(a.chat(QStringLiteral("elsewhere"), QStringLiteral("hi")).value(QStringLiteral("code")).toString(),
             QStringLiteral("not_member"));
    QCOMPARE(a.chat(QStringLiteral("Bad Room"), QStringLiteral("hi")).value(QStringLiteral("code")).toString(),
             QStringLiteral("invalid_room"));
    a.join(QStringLiteral("limits"));
    QCOMPARE(a.chat(QStringLiteral("limits"), QString()).value(QStringLiteral("code")).toString(), QStringLiteral("bad_request"));
    QCOMPARE(a.chat(QStringLiteral("limits"), QString(4001, QLatin1Char('x'))).value(QStringLiteral("code")).toString(),
             QStringLiteral("too_large"));
    QCOMPARE(a.chat(QStringLiteral("limits"), QString(4000, QLatin1Char('x'))).value(QStringLiteral("type")).toString(),
             QStringLiteral("ack"));
    QCOMPARE(a.request({{QStringLiteral("type"), QStringLiteral("leave")}, {QStringLiteral("room"), QStringLiteral("limits")}})
                 .value(QStringLiteral("room")).toString(), QStringLiteral("limits"));
    QCOMPARE(a.chat(QStringLiteral("limits"), QStringLiteral("after leaving")).value(QStringLiteral("code")).toString(),
             QStringLiteral("not_member"));
}

void TstChat::nonceMakesResendsSafe()
{
    TestClient a;
    QVERIFY(a.connectAs(m_server->port(), QStringLiteral("alice"), QStringLiteral("nonce-client")));
    a.join(QStringLiteral("nonces"));
    const qint64 first = a.chat(QStringLiteral("nonces"), QStringLiteral("once"), QStringLiteral("n-1")).value(QStringLiteral("seq")).toInteger();
    const qint64 again = a.chat(QStringLiteral("nonces"), QStringLiteral("once"), QStringLiteral("n-1")).value(QStringLiteral("seq")).toInteger();
    QCOMPARE(again, first);
    const qint64 other = a.chat(QStringLiteral("nonces"), QStringLiteral("twice"), QStringLiteral("n-2")).value(QStringLiteral("seq")).toInteger();
    QCOMPARE(other, first + 1);
    QTRY_COMPARE(a.framesOfType(QStringLiteral("chat")).size(), 2);
    QTest::qWait(100);
    QCOMPARE(a.framesOfType(QStringLiteral("chat")).size(), 2);
}

void TstChat::historyPagesBackwards()
{
    TestClient a;
    QVERIFY(a.connectAs(m_server->port(), QStringLiteral("alice")));
    a.join(QStringLiteral("hist"));
    for (int i = 1; i <= 30; ++i)
        a.chat(QStringLiteral("hist"), QStringLiteral("m%1").arg(i));
    QJsonObject page = a.request({{QStringLiteral("type"), QStringLiteral("history")}, {QStringLiteral("room"), QStringLiteral("hist")},
                                  {QStringLiteral("limit"), 10}});
    QJsonArray messages = page.value(QStringLiteral("messages")).toArray();
    QCOMPARE(messages.size(), 10);
    QCOMPARE(messages.first().toObject().value(QStringLiteral("seq")).toInteger(), 21);
    QCOMPARE(messages.last().toObject().value(QStringLiteral("seq")).toInteger(), 30);
    page = a.request({{QStringLiteral("type"), QStringLiteral("history")}, {QStringLiteral("room"), QStringLiteral("hist")},
                      {QStringLiteral("before"), 21}, {QStringLiteral("limit"), 15}});
    messages = page.value(QStringLiteral("messages")).toArray();
    QCOMPARE(messages.size(), 15);
    QCOMPARE(messages.first().toObject().value(QStringLiteral("seq")).toInteger(), 6);
    QCOMPARE(messages.last().toObject().value(QStringLiteral("seq")).toInteger(), 20);
    // Membership is not required; the default page is 50 and limits clamp to 200.
    TestClient b;
    QVERIFY(b.connectAs(m_server->port(), QStringLiteral("bob")));
    page = b.request({{QStringLiteral("type"), QStringLiteral("history")}, {QStringLiteral("room"), QStringLiteral("hist")},
                      {QStringLiteral("limit"), 5000}});
    QCOMPARE(page.value(QStringLiteral("messages")).toArray().size(), 30);
}

void TstChat::joinWithSinceRecoversMissedMessages()
{
    TestClient a;
    TestClient b;
    QVERIFY(a.connectAs(m_server->port(), QStringLiteral("alice")));
    QVERIFY(b.connectAs(m_server->port(), QStringLiteral("bob"), QStringLiteral("bob-client")));
    a.join(QStringLiteral("recover"));
    b.join(QStringLiteral("recover"));
    a.chat(QStringLiteral("recover"), QStringLiteral("before"));
    QTRY_COMPARE(b.framesOfType(QStringLiteral("chat")).size(), 1);
    const qint64 seen = b.framesOfType(QStringLiteral("chat")).last().value(QStringLiteral("seq")).toInteger();
    b.socket().close();
    QVERIFY(b.waitClosed());
    for (int i = 0; i < 5; ++i)
        a.chat(QStringLiteral("recover"), QStringLiteral("while away %1").arg(i));

    TestClient b2;
    QVERIFY(b2.connectAs(m_server->port(), QStringLiteral("bob"), QStringLiteral("bob-client")));
    const QJsonObject ack = b2.join(QStringLiteral("recover"), seen);
    QCOMPARE(ack.value(QStringLiteral("recovered")).toBool(), true);
    QCOMPARE(ack.value(QStringLiteral("last_seq")).toInteger(), seen + 5);
    const QJsonArray missed = ack.value(QStringLiteral("missed")).toArray();
    QCOMPARE(missed.size(), 5);
    for (int i = 0; i < 5; ++i) {
        QCOMPARE(missed[i].toObject().value(QStringLiteral("seq")).toInteger(), seen + 1 + i);
        QCOMPARE(missed[i].toObject().value(QStringLiteral("text")).toString(), QStringLiteral("while away %1").arg(i));
    }
    a.chat(QStringLiteral("recover"), QStringLiteral("after"));
    const QJsonObject live = b2.waitForType(QStringLiteral("chat"));
    QCOMPARE(live.value(QStringLiteral("seq")).toInteger(), seen + 6);
    // Without since: nothing missed, recovered true.
    const QJsonObject plain = a.join(QStringLiteral("other-room"));
    QCOMPARE(plain.value(QStringLiteral("missed")).toArray().size(), 0);
    QCOMPARE(plain.value(QStringLiteral("recovered")).toBool(), true);
}

void TstChat::presenceFollowsJoinLeaveAndClose()
{
    TestClient a;
    QVERIFY(a.connectAs(m_server->port(), QStringLiteral("alice")));
    a.join(QStringLiteral("presence"));
    auto b = std::make_unique<TestClient>();
    QVERIFY(b->connectAs(m_server->port(), QStringLiteral("bob")));
    const QString bobSession = b->welcome().value(QStringLiteral("session_id")).toString();
    const QJsonObject ack = b->join(QStringLiteral("presence"));
    QCOMPARE(ack.value(QStringLiteral("members")).toArray().size(), 2);
    const QJsonObject joined = a.waitForType(QStringLiteral("presence"));
    QCOMPARE(joined.value(QStringLiteral("event")).toString(), QStringLiteral("join"));
    QCOMPARE(joined.value(QStringLiteral("session_id")).toString(), bobSession);
    QCOMPARE(joined.value(QStringLiteral("user")).toString(), QStringLiteral("bob"));
    QCOMPARE(joined.value(QStringLiteral("instance")).toString(), QStringLiteral("test-1"));
    QCOMPARE(b->framesOfType(QStringLiteral("presence")).size(), 0);
    b->socket().close();
    const QJsonObject left = a.waitFor([&](const QJsonObject &f) {
        return f.value(QStringLiteral("type")).toString() == QStringLiteral("presence")
               && f.value(QStringLiteral("event")).toString() == QStringLiteral("leave");
    }, 1000);
    QCOMPARE(left.value(QStringLiteral("session_id")).toString(), bobSession);
}

void TstChat::framesOfEveryLengthArriveWhole()
{
    // The server writes its text frames itself (ws/textframe.h): lengths of
    // 7, 16 and 64 bits, read here by QWebSocket, which closes on a bad one.
    TestClient alice;
    TestClient bob;
    QVERIFY(alice.connectAs(m_server->port(), QStringLiteral("alice")));
    QVERIFY(bob.connectAs(m_server->port(), QStringLiteral("bob")));
    const QString room = QStringLiteral("sizes");
    QCOMPARE(alice.join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(bob.join(room).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QStringList texts;
    for (const int length : {1, 20, 3900})
        texts.append(QString(length, QLatin1Char('a' + texts.size())));
    for (int i = 0; i < 20; ++i)
        texts.append(QString(3900, QLatin1Char('k' + i % 10)));
    for (const QString &text : std::as_const(texts))
        QCOMPARE(alice.chat(room, text).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QTRY_COMPARE(bob.framesOfType(QStringLiteral("chat")).size(), texts.size());
    for (int i = 0; i < texts.size(); ++i)
        QCOMPARE(bob.framesOfType(QStringLiteral("chat")).at(i).value(QStringLiteral("text")).toString(), texts.at(i));
    // About 80 KB in one frame: a 64-bit length.
    const QJsonObject page = bob.request({{QStringLiteral("type"), QStringLiteral("history")},
                                          {QStringLiteral("room"), room}, {QStringLiteral("limit"), 200}});
    const QJsonArray messages = page.value(QStringLiteral("messages")).toArray();
    QCOMPARE(messages.size(), texts.size());
    QCOMPARE(messages.last().toObject().value(QStringLiteral("text")).toString(), texts.last());
    QVERIFY(!bob.isClosed());
}

void TstChat::joiningTwiceIsHarmless()
{
    TestClient a;
    QVERIFY(a.connectAs(m_server->port(), QStringLiteral("alice")));
    a.join(QStringLiteral("twice"));
    a.chat(QStringLiteral("twice"), QStringLiteral("one"));
    const QJsonObject again = a.join(QStringLiteral("twice"));
    QCOMPARE(again.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(again.value(QStringLiteral("last_seq")).toInteger(), 1);
    a.chat(QStringLiteral("twice"), QStringLiteral("two"));
    QTRY_COMPARE(a.framesOfType(QStringLiteral("chat")).size(), 2);
    QTest::qWait(100);
    QCOMPARE(a.framesOfType(QStringLiteral("chat")).size(), 2);
}

SB_SERVER_TEST_MAIN(TstChat)
#include "tst_chat.moc"
