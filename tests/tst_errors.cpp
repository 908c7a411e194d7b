// Bad input on a WebSocket (docs/protocol.md section 3): each kind of bad
// frame gets its error code with the ref echoed, participants cannot use
// admin.* requests, errors are counted, ten errors in 10 s close with 1008,
// the message rate limit answers rate_limited, 65536 bytes is the largest
// message (one more closes with 1009) — and the server stays healthy.

#include "testsupport.h"

#include <QTest>

using namespace sbtest;

namespace {

QJsonObject ping()
{
    return {{QStringLiteral("type"), QStringLiteral("ping")}};
}

bool isPong(const QJsonObject &answer)
{
    return answer.value(QStringLiteral("type")).toString() == QLatin1StringView("pong");
}

int countErrors(const TestClient &c, const QString &code)
{
    int n = 0;
    for (const QJsonObject &f : c.framesOfType(QStringLiteral("error")))
        n += f.value(QStringLiteral("code")).toString() == code ? 1 : 0;
    return n;
}

// A ping padded with a string field to exactly `bytes` bytes of UTF-8.
QString paddedPing(qsizetype bytes)
{
    const QString head = QStringLiteral(R"({"type":"ping","ref":"big","pad":")");
    const QString tail = QStringLiteral(R"("})");
    return head + QString(bytes - head.size() - tail.size(), QLatin1Char('x')) + tail;
}

} // namespace

class TstErrors : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        m_server = std::make_unique<TestServer>(QStringList{QStringLiteral("--connect-rate"), QStringLiteral("1000/60"),
                                                            QStringLiteral("--msg-rate"), QStringLiteral("0")});
    }
    void cleanupTestCase() { m_server.reset(); }

    void badFrameGetsItsErrorCode_data();
    void badFrameGetsItsErrorCode();
    void binaryFrameIsBadRequest();
    void participantCannotSendAdminRequests_data();
    void participantCannotSendAdminRequests();
    void errorsAreCountedByCode();
    void tenErrorsCloseWith1008();
    void messageRateIsLimited();
    void messageRateRecovers();
    void largestMessageIsAccepted();
    void oversizedMessageClosesWith1009();
    void serverStaysHealthy();

private:
    std::unique_ptr<TestServer> m_server;
};

void TstErrors::badFrameGetsItsErrorCode_data()
{
    QTest::addColumn<QString>("frame");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("ref"); // empty: the error must carry no ref

    const QString longRoom(65, QLatin1Char('a'));
    const QString longRef(65, QLatin1Char('r'));

    QTest::addRow("not JSON") << QStringLiteral("hello") << QStringLiteral("bad_json") << QString();
    QTest::addRow("empty text") << QString() << QStringLiteral("bad_json") << QString();
    QTest::addRow("truncated object") << QStringLiteral(R"({"type":"ping","ref":"t")") << QStringLiteral("bad_json") << QString();
    QTest::addRow("array") << QStringLiteral(R"([{"type":"ping"}])") << QStringLiteral("bad_json") << QString();
    QTest::addRow("number") << QStringLiteral("42") << QStringLiteral("bad_json") << QString();
    QTest::addRow("string") << QStringLiteral(R"("ping")") << QStringLiteral("bad_json") << QString();
    QTest::addRow("null") << QStringLiteral("null") << QStringLiteral("bad_json") << QString();
    QTest::addRow("missing type") << QStringLiteral(R"({"ref":"e1"})") << QStringLiteral("bad_request") << QStringLiteral("e1");
    QTest::addRow("type is a number") << QStringLiteral(R"({"type":7,"ref":"e2"})") << QStringLiteral("bad_request") << QStringLiteral("e2");
    QTest::addRow("type is null") << QStringLiteral(R"({"type":null,"ref":"e3"})") << QStringLiteral("bad_request") << QStringLiteral("e3");
    QTest::addRow("type is an object") << QStringLiteral(R"({"type":{"name":"ping"},"ref":"e4"})") << QStringLiteral("bad_request") << QStringLiteral("e4");
    QTest::addRow("ref over 64 characters") << QStringLiteral(R"({"type":"ping","ref":"%1"})").arg(longRef) << QStringLiteral("bad_request") << QString();
    QTest::addRow("unknown type") << QStringLiteral(R"({"type":"teleport","ref":"e5"})") << QStringLiteral("unknown_type") << QStringLiteral("e5");
    QTest::addRow("type in the wrong case") << QStringLiteral(R"({"type":"PING","ref":"e6"})") << QStringLiteral("unknown_type") << QStringLiteral("e6");
    QTest::addRow("server-to-client type") << QStringLiteral(R"({"type":"welcome","ref":"e7"})") << QStringLiteral("unknown_type") << QStringLiteral("e7");
    QTest::addRow("join without room") << QStringLiteral(R"({"type":"join","ref":"j1"})") << QStringLiteral("bad_request") << QStringLiteral("j1");
    QTest::addRow("leave without room") << QStringLiteral(R"({"type":"leave","ref":"j2"})") << QStringLiteral("bad_request") << QStringLiteral("j2");
    QTest::addRow("chat without room") << QStringLiteral(R"({"type":"chat","text":"hi","ref":"j3"})") << QStringLiteral("bad_request") << QStringLiteral("j3");
    QTest::addRow("room is a number") << QStringLiteral(R"({"type":"join","room":5,"ref":"r1"})") << QStringLiteral("invalid_room") << QStringLiteral("r1");
    QTest::addRow("room is an array") << QStringLiteral(R"({"type":"join","room":["a"],"ref":"r2"})") << QStringLiteral("invalid_room") << QStringLiteral("r2");
    QTest::addRow("room is empty") << QStringLiteral(R"({"type":"join","room":"","ref":"r3"})") << QStringLiteral("invalid_room") << QStringLiteral("r3");
    QTest::addRow("room has capitals") << QStringLiteral(R"({"type":"join","room":"Lobby","ref":"r4"})") << QStringLiteral("invalid_room") << QStringLiteral("r4");
    QTest::addRow("room has a space") << QStringLiteral(R"({"type":"join","room":"the lobby","ref":"r5"})") << QStringLiteral("invalid_room") << QStringLiteral("r5");
    QTest::addRow("room starts with a dash") << QStringLiteral(R"({"type":"join","room":"-lobby","ref":"r6"})") << QStringLiteral("invalid_room") << QStringLiteral("r6");
    QTest::addRow("room of 65 characters") << QStringLiteral(R"({"type":"join","room":"%1","ref":"r7"})").arg(longRoom) << QStringLiteral("invalid_room") << QStringLiteral("r7");
    QTest::addRow("history of a bad room") << QStringLiteral(R"({"type":"history","room":"a/b","ref":"r8"})") << QStringLiteral("invalid_room") << QStringLiteral("r8");
    QTest::addRow("chat to a bad room") << QStringLiteral(R"({"type":"chat","room":"a.b","text":"hi","ref":"r9"})") << QStringLiteral("invalid_room") << QStringLiteral("r9");
    QTest::addRow("history limit not a number") << QStringLiteral(R"({"type":"history","room":"ok","limit":"ten","ref":"h1"})") << QStringLiteral("bad_request") << QStringLiteral("h1");
}

void TstErrors::badFrameGetsItsErrorCode()
{
    QFETCH(QString, frame);
    QFETCH(QString, code);
    QFETCH(QString, ref);

    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("alice")));
    c.sendRaw(frame);
    const QJsonObject error = c.waitForType(QStringLiteral("error"));
    QCOMPARE(error.value(QStringLiteral("code")).toString(), code);
    QVERIFY(error.value(QStringLiteral("message")).isString());
    if (ref.isEmpty())
        QVERIFY(!error.contains(QStringLiteral("ref")));
    else
        QCOMPARE(error.value(QStringLiteral("ref")).toString(), ref);
    // One error does not cost the connection.
    QVERIFY(isPong(c.request(ping())));
}

void TstErrors::binaryFrameIsBadRequest()
{
    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("alice")));
    c.socket().sendBinaryMessage(QByteArrayLiteral(R"({"type":"ping"})"));
    const QJsonObject error = c.waitForType(QStringLiteral("error"));
    QCOMPARE(error.value(QStringLiteral("code")).toString(), QStringLiteral("bad_request"));
    QCOMPARE(c.framesOfType(QStringLiteral("pong")).size(), 0); // it was not treated as a ping
    QVERIFY(isPong(c.request(ping())));
}

void TstErrors::participantCannotSendAdminRequests_data()
{
    QTest::addColumn<QJsonObject>("frame");

    QTest::addRow("admin.subscribe") << QJsonObject{{QStringLiteral("type"), QStringLiteral("admin.subscribe")},
                                                    {QStringLiteral("flow"), true}};
    QTest::addRow("admin.inject") << QJsonObject{{QStringLiteral("type"), QStringLiteral("admin.inject")},
                                                 {QStringLiteral("target"), QJsonObject{{QStringLiteral("all"), true}}},
                                                 {QStringLiteral("text"), QStringLiteral("pwned")}};
    QTest::addRow("admin.disconnect") << QJsonObject{{QStringLiteral("type"), QStringLiteral("admin.disconnect")},
                                                     {QStringLiteral("session_id"), QStringLiteral("whatever")}};
    QTest::addRow("admin.drain") << QJsonObject{{QStringLiteral("type"), QStringLiteral("admin.drain")},
                                                {QStringLiteral("instance"), QStringLiteral("test-1")}};
    QTest::addRow("admin.undrain") << QJsonObject{{QStringLiteral("type"), QStringLiteral("admin.undrain")},
                                                  {QStringLiteral("instance"), QStringLiteral("test-1")}};
    QTest::addRow("admin.ticker") << QJsonObject{{QStringLiteral("type"), QStringLiteral("admin.ticker")},
                                                 {QStringLiteral("enabled"), true}};
}

void TstErrors::participantCannotSendAdminRequests()
{
    QFETCH(QJsonObject, frame);

    TestClient c;
    TestClient bystander;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("mallory")));
    QVERIFY(bystander.connectAs(m_server->port(), QStringLiteral("bob")));
    const QJsonObject answer = c.request(frame);
    QCOMPARE(answer.value(QStringLiteral("type")).toString(), QStringLiteral("error"));
    QCOMPARE(answer.value(QStringLiteral("code")).toString(), QStringLiteral("forbidden"));

    // Nothing happened: no announcement, no drain, no admin stream.
    QTest::qWait(150);
    QCOMPARE(bystander.framesOfType(QStringLiteral("broadcast")).size(), 0);
    QCOMPARE(httpGet(m_server->port(), QStringLiteral("/readyz")).status, 200);
    for (const QJsonObject &f : c.frames())
        QVERIFY(!f.value(QStringLiteral("type")).toString().startsWith(QLatin1StringView("admin.")));
    QVERIFY(isPong(c.request(ping())));
}

void TstErrors::errorsAreCountedByCode()
{
    const quint16 port = m_server->port();
    const QString name = QStringLiteral("sb_errors_total");
    const QStringList unknownType{QStringLiteral(R"(code="unknown_type")")};
    const QStringList badJson{QStringLiteral(R"(code="bad_json")")};
    const double unknownBefore = metricValue(port, name, unknownType);
    const double badJsonBefore = metricValue(port, name, badJson);

    TestClient c;
    QVERIFY(c.connectAs(port, QStringLiteral("alice")));
    for (int i = 0; i < 3; ++i)
        c.request({{QStringLiteral("type"), QStringLiteral("nonsense")}});
    c.sendRaw(QStringLiteral("{{{"));
    QTRY_COMPARE(c.framesOfType(QStringLiteral("error")).size(), 4);

    QCOMPARE(metricValue(port, name, unknownType), unknownBefore + 3);
    QCOMPARE(metricValue(port, name, badJson), badJsonBefore + 1);
}

void TstErrors::tenErrorsCloseWith1008()
{
    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("clumsy")));
    for (int i = 0; i < 9; ++i)
        c.sendRaw(QStringLiteral("not json %1").arg(i));
    QTRY_COMPARE(c.framesOfType(QStringLiteral("error")).size(), 9);
    // Nine are tolerated; good frames in between do not reset the count.
    QVERIFY(isPong(c.request(ping())));
    QVERIFY(!c.isClosed());

    c.sendRaw(QStringLiteral(R"({"type":"still-wrong"})"));
    QVERIFY(c.waitClosed());
    QCOMPARE(c.closeCode(), 1008);
    QCOMPARE(c.framesOfType(QStringLiteral("error")).size(), 10);
}

void TstErrors::messageRateIsLimited()
{
    TestServer server({QStringLiteral("--msg-rate"), QStringLiteral("5")});
    const double limitedBefore = metricValue(server.port(), QStringLiteral("sb_rate_limited_total"));
    TestClient c;
    QVERIFY(c.connectAs(server.port(), QStringLiteral("spammer")));
    for (int i = 0; i < 30; ++i)
        c.send(ping());
    // Bursts up to twice the rate pass; the rest is refused. Ten refusals are
    // ten errors, so the connection is then closed with 1008.
    QTRY_VERIFY(countErrors(c, QStringLiteral("rate_limited")) >= 1);
    QVERIFY(c.waitClosed(3000));
    QCOMPARE(c.closeCode(), 1008);
    const qsizetype pongs = c.framesOfType(QStringLiteral("pong")).size();
    QVERIFY2(pongs >= 10 && pongs <= 12, qPrintable(QStringLiteral("%1 pongs for a burst of 30 at 5/s").arg(pongs)));
    QCOMPARE(countErrors(c, QStringLiteral("rate_limited")), 10);
    QVERIFY(metricValue(server.port(), QStringLiteral("sb_rate_limited_total")) >= limitedBefore + 1);
}

void TstErrors::messageRateRecovers()
{
    TestServer server({QStringLiteral("--msg-rate"), QStringLiteral("5")});
    TestClient c;
    QVERIFY(c.connectAs(server.port(), QStringLiteral("bursty")));
    for (int i = 0; i < 12; ++i)
        c.send(ping());
    QTRY_VERIFY(countErrors(c, QStringLiteral("rate_limited")) >= 1);
    const QJsonObject limited = c.waitForType(QStringLiteral("error"));
    QCOMPARE(limited.value(QStringLiteral("code")).toString(), QStringLiteral("rate_limited"));
    QTest::qWait(500); // about two messages' worth at 5/s
    QVERIFY(isPong(c.request(ping())));
    QVERIFY(!c.isClosed());
}

void TstErrors::largestMessageIsAccepted()
{
    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("bulky")));
    const QString frame = paddedPing(65536);
    QCOMPARE(frame.toUtf8().size(), 65536);
    c.sendRaw(frame);
    const QJsonObject pong = c.waitForType(QStringLiteral("pong"));
    QCOMPARE(pong.value(QStringLiteral("ref")).toString(), QStringLiteral("big"));
    QVERIFY(!c.isClosed());
    QCOMPARE(c.framesOfType(QStringLiteral("error")).size(), 0);
}

void TstErrors::oversizedMessageClosesWith1009()
{
    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("bulky")));
    const QString frame = paddedPing(65537);
    QCOMPARE(frame.toUtf8().size(), 65537);
    c.sendRaw(frame);
    QVERIFY(c.waitClosed());
    QCOMPARE(c.closeCode(), 1009);
    QCOMPARE(c.framesOfType(QStringLiteral("pong")).size(), 0);
}

void TstErrors::serverStaysHealthy()
{
    const HttpResult health = httpGet(m_server->port(), QStringLiteral("/healthz"));
    QCOMPARE(health.status, 200);
    QCOMPARE(httpGet(m_server->port(), QStringLiteral("/readyz")).status, 200);
    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("after-all-that")));
    QVERIFY(isPong(c.request(ping())));
}

SB_SERVER_TEST_MAIN(TstErrors)
#include "tst_errors.moc"
