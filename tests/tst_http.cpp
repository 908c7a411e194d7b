// The plain-HTTP side of one instance (docs/protocol.md sections 1, 2 and 6):
// health and readiness, /api/instance, 404s, malformed requests, token
// issuing with its validation and operator key, and /metrics.

#include "testsupport.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QProcess>
#include <QStandardPaths>
#include <QTest>

using namespace sbtest;

namespace {

using Headers = QList<QPair<QByteArray, QByteArray>>;

const QByteArray operatorKey = QByteArrayLiteral("test-operator-key");

Headers bearer(const QByteArray &key)
{
    return {{QByteArrayLiteral("Authorization"), "Bearer " + key}};
}

HttpResult postToken(quint16 port, const QByteArray &body, const Headers &headers = {})
{
    return httpPost(port, QStringLiteral("/api/token"), body, headers);
}

} // namespace

class TstHttp : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        m_server = std::make_unique<TestServer>(QStringList{QStringLiteral("--connect-rate"), QStringLiteral("1000/60")});
    }
    void cleanupTestCase() { m_server.reset(); }

    void healthSlashAnswersOk();
    void healthzNamesTheInstance();
    void readyzSaysReady();
    void apiInstanceDescribesTheInstance_data();
    void apiInstanceDescribesTheInstance();
    void unknownPathIsNotFound_data();
    void unknownPathIsNotFound();
    void malformedRequestIsRefusedAndClosed_data();
    void malformedRequestIsRefusedAndClosed();
    void headerValueMayHoldTabs();
    void headGetsHeadersWithoutBody_data();
    void headGetsHeadersWithoutBody();
    void tokenIsIssued();
    void tokenAcceptsLongestUser();
    void badTokenRequestIsRefused_data();
    void badTokenRequestIsRefused();
    void operatorTokenNeedsTheKey_data();
    void operatorTokenNeedsTheKey();
    void clientIdIsEchoedOrGenerated();
    void metricsListsEveryContractName_data();
    void metricsListsEveryContractName();
    void metricsPassPromtool();
    void httpRequestsAreCountedByRoute();

private:
    std::unique_ptr<TestServer> m_server;
};

void TstHttp::healthSlashAnswersOk()
{
    const HttpResult r = httpGet(m_server->port(), QStringLiteral("/health/"));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.body, QByteArrayLiteral("ok"));
}

void TstHttp::healthzNamesTheInstance()
{
    const HttpResult r = httpGet(m_server->port(), QStringLiteral("/healthz"));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
    QCOMPARE(r.json().value(QStringLiteral("instance")).toString(), QStringLiteral("test-1"));
}

void TstHttp::readyzSaysReady()
{
    const HttpResult r = httpGet(m_server->port(), QStringLiteral("/readyz"));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json(), QJsonObject({{QStringLiteral("status"), QStringLiteral("ready")}}));
}

void TstHttp::apiInstanceDescribesTheInstance_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QJsonValue::Type>("type");
    QTest::addColumn<QJsonValue>("expected"); // Undefined: only the type is checked

    QTest::addRow("id") << QStringLiteral("id") << QJsonValue::String << QJsonValue(QStringLiteral("test-1"));
    QTest::addRow("color") << QStringLiteral("color") << QJsonValue::String << QJsonValue(QJsonValue::Undefined);
    QTest::addRow("version") << QStringLiteral("version") << QJsonValue::String << QJsonValue(QJsonValue::Undefined);
    QTest::addRow("started_at") << QStringLiteral("started_at") << QJsonValue::Double << QJsonValue(QJsonValue::Undefined);
    QTest::addRow("connections") << QStringLiteral("connections") << QJsonValue::Double << QJsonValue(0);
    QTest::addRow("backplane") << QStringLiteral("backplane") << QJsonValue::String << QJsonValue(QStringLiteral("local"));
    QTest::addRow("backplane_up") << QStringLiteral("backplane_up") << QJsonValue::Bool << QJsonValue(true);
    QTest::addRow("backplane_kind") << QStringLiteral("backplane_kind") << QJsonValue::String
                                    << QJsonValue(QStringLiteral("local"));
    QTest::addRow("redis_master") << QStringLiteral("redis_master") << QJsonValue::Null << QJsonValue(QJsonValue::Null);
    QTest::addRow("backplane_failovers") << QStringLiteral("backplane_failovers") << QJsonValue::Double << QJsonValue(0);
    QTest::addRow("store") << QStringLiteral("store") << QJsonValue::String << QJsonValue(QStringLiteral("embedded"));
    QTest::addRow("store_up") << QStringLiteral("store_up") << QJsonValue::Bool << QJsonValue(true);
    QTest::addRow("ready") << QStringLiteral("ready") << QJsonValue::Bool << QJsonValue(true);
}

void TstHttp::apiInstanceDescribesTheInstance()
{
    QFETCH(QString, field);
    QFETCH(QJsonValue::Type, type);
    QFETCH(QJsonValue, expected);

    const HttpResult r = httpGet(m_server->port(), QStringLiteral("/api/instance"));
    QCOMPARE(r.status, 200);
    const QJsonValue value = r.json().value(field);
    QCOMPARE(value.type(), type);
    if (!expected.isUndefined())
        QCOMPARE(value, expected);
    if (field == QLatin1StringView("started_at")) {
        const qint64 startedAt = value.toInteger();
        QVERIFY(startedAt > QDateTime::currentMSecsSinceEpoch() - 60 * 1000);
        QVERIFY(startedAt <= QDateTime::currentMSecsSinceEpoch());
    }
    if (field == QLatin1StringView("color") || field == QLatin1StringView("version"))
        QVERIFY(!value.toString().isEmpty());
}

void TstHttp::unknownPathIsNotFound_data()
{
    QTest::addColumn<QString>("path");
    QTest::addRow("root") << QStringLiteral("/");
    QTest::addRow("unknown") << QStringLiteral("/no/such/thing");
    QTest::addRow("health without slash") << QStringLiteral("/health");
    QTest::addRow("api prefix") << QStringLiteral("/api");
    QTest::addRow("api sibling") << QStringLiteral("/api/instances");
}

void TstHttp::unknownPathIsNotFound()
{
    QFETCH(QString, path);
    const HttpResult r = httpGet(m_server->port(), path);
    QCOMPARE(r.status, 404);
    QCOMPARE(r.json(), QJsonObject({{QStringLiteral("error"), QStringLiteral("not_found")}}));
}

void TstHttp::malformedRequestIsRefusedAndClosed_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    const QByteArray post = QByteArrayLiteral("POST /api/token HTTP/1.1\r\nHost: x\r\n");
    const QByteArray get = QByteArrayLiteral("GET /healthz HTTP/1.1\r\nHost: x\r\n");

    QTest::addRow("garbage request line") << QByteArrayLiteral("GARBAGE\r\n\r\n") << 400;
    QTest::addRow("binary noise") << QByteArrayLiteral("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n") << 400;
    // Binary input that never sends a blank line (a TLS hello) is refused at once, not after the head timeout.
    QTest::addRow("tls hello without blank line") << QByteArrayLiteral("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03") << 400;
    QTest::addRow("lower-case method") << QByteArrayLiteral("get /healthz HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::addRow("unknown protocol") << QByteArrayLiteral("GET /healthz SPDY/9\r\nHost: x\r\n\r\n") << 400;
    QTest::addRow("header line without colon")
        << QByteArrayLiteral("GET /healthz HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n") << 400;
    QTest::addRow("header name with space")
        << QByteArrayLiteral("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n") << 400;
    QTest::addRow("bad content length")
        << QByteArrayLiteral("POST /api/token HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n") << 400;
    // A Content-Length is digits only: what toLongLong() would also take, a proxy may read otherwise.
    QTest::addRow("content length with plus sign") << post + "Content-Length: +2\r\n\r\n{}" << 400;
    QTest::addRow("negative content length") << post + "Content-Length: -1\r\n\r\n" << 400;
    QTest::addRow("hexadecimal content length") << post + "Content-Length: 0x2\r\n\r\n{}" << 400;
    QTest::addRow("content length with inner space") << post + "Content-Length: 1 2\r\n\r\n{}" << 400;
    QTest::addRow("empty content length") << post + "Content-Length:\r\n\r\n" << 400;
    QTest::addRow("content length beyond 64 bits") << post + "Content-Length: 99999999999999999999\r\n\r\n" << 400;
    QTest::addRow("duplicate content length") << post + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}" << 400;
    QTest::addRow("content length list") << post + "Content-Length: 2, 2\r\n\r\n{}" << 400;
    QTest::addRow("transfer encoding") << post + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" << 400;
    QTest::addRow("transfer encoding with content length")
        << post + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}" << 400;
    // Control characters other than HTAB in a header value, a bare CR included.
    QTest::addRow("bare CR inside a header value") << get + "X-Test: a\rb\r\n\r\n" << 400;
    QTest::addRow("bare CR ending a header value") << get + "X-Test: a\r\r\n\r\n" << 400;
    QTest::addRow("NUL in a header value") << get + QByteArray("X-Test: a\0b\r\n\r\n", 15) << 400;
    QTest::addRow("escape in a header value") << get + "X-Test: a\x1b[2Jb\r\n\r\n" << 400;
    QTest::addRow("DEL in a header value") << get + "X-Test: a\x7f\r\n\r\n" << 400;
    QTest::addRow("vertical tab in a header value") << get + "X-Test: \va\r\n\r\n" << 400;
    QTest::addRow("header over 16 KiB")
        << QByteArray("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + QByteArray(17 * 1024, 'a') + "\r\n\r\n")
        << 431;
    // 8 KiB or more before the request line's CRLF is refused however TCP cuts
    // the bytes; it used to pass when it arrived in one read (fuzz_http).
    QTest::addRow("request line over 8 KiB")
        << QByteArray("GET /healthz?q=" + QByteArray(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
}

void TstHttp::malformedRequestIsRefusedAndClosed()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);

    // Every refusal is counted where operators look for it.
    const QString badHttp = QStringLiteral("sb_bad_http_total");
    const QStringList reason{status == 431 ? QStringLiteral(R"(reason="too_large")") : QStringLiteral(R"(reason="malformed")")};
    const double refusedBefore = metricValue(m_server->port(), badHttp, reason);
    QElapsedTimer clock;
    clock.start();
    const int timeoutMs = 3000;
    const QByteArray answer = rawExchange(m_server->port(), request, timeoutMs);
    QCOMPARE(statusOf(answer), status);
    QVERIFY2(clock.elapsed() < timeoutMs, "the server did not close the connection");
    QCOMPARE(httpGet(m_server->port(), QStringLiteral("/healthz")).status, 200);
    QCOMPARE(metricValue(m_server->port(), badHttp, reason), refusedBefore + 1);
}

void TstHttp::headerValueMayHoldTabs()
{
    const QByteArray answer =
        rawExchange(m_server->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Test: a\tb\t\r\nX-Empty:\r\n\r\n");
    QCOMPARE(statusOf(answer), 200);
}

void TstHttp::headGetsHeadersWithoutBody_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("status");
    QTest::addRow("healthz") << QStringLiteral("/healthz") << 200;
    QTest::addRow("health slash") << QStringLiteral("/health/") << 200;
    QTest::addRow("readyz") << QStringLiteral("/readyz") << 200;
    QTest::addRow("not found") << QStringLiteral("/nowhere") << 404;
    QTest::addRow("token wants POST") << QStringLiteral("/api/token") << 405;
}

void TstHttp::headGetsHeadersWithoutBody()
{
    QFETCH(QString, path);
    QFETCH(int, status);

    const QByteArray get = rawExchange(m_server->port(), "GET " + path.toUtf8() + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const QByteArray head = rawExchange(m_server->port(), "HEAD " + path.toUtf8() + " HTTP/1.1\r\nHost: x\r\n\r\n");
    QCOMPARE(statusOf(head), status);
    QCOMPARE(statusOf(get), status);
    const qsizetype headEnd = head.indexOf("\r\n\r\n");
    QVERIFY2(headEnd > 0, head.constData());
    QCOMPARE(head.mid(headEnd + 4), QByteArray()); // no body
    // The headers are those GET sends: same type, same length.
    const QByteArray getBody = get.mid(get.indexOf("\r\n\r\n") + 4);
    QVERIFY(!getBody.isEmpty());
    QCOMPARE(headerOf(head, "content-length"), QByteArray::number(getBody.size()));
    QCOMPARE(headerOf(head, "content-type"), headerOf(get, "content-type"));
}

void TstHttp::tokenIsIssued()
{
    const HttpResult r = postToken(m_server->port(), R"({"user":"alice","client_id":"client-1","role":"participant"})");
    QCOMPARE(r.status, 200);
    const QJsonObject o = r.json();
    QVERIFY(o.value(QStringLiteral("token")).isString());
    QVERIFY(o.value(QStringLiteral("token")).toString().size() >= 16);
    QCOMPARE(o.value(QStringLiteral("expires_in")), QJsonValue(60));
    QCOMPARE(o.value(QStringLiteral("client_id")).toString(), QStringLiteral("client-1"));
    QCOMPARE(o.value(QStringLiteral("instance")).toString(), QStringLiteral("test-1"));
    // Each request gets its own token.
    const HttpResult again = postToken(m_server->port(), R"({"user":"alice"})");
    QCOMPARE(again.status, 200);
    QVERIFY(again.json().value(QStringLiteral("token")).toString() != o.value(QStringLiteral("token")).toString());
}

void TstHttp::tokenAcceptsLongestUser()
{
    const QByteArray user(32, 'u');
    const HttpResult r = postToken(m_server->port(), R"({"user":")" + user + R"("})");
    QCOMPARE(r.status, 200);
    const HttpResult dotted = postToken(m_server->port(), R"({"user":"A.b_c-9"})");
    QCOMPARE(dotted.status, 200);
}

void TstHttp::badTokenRequestIsRefused_data()
{
    QTest::addColumn<QByteArray>("body");

    QTest::addRow("empty body") << QByteArray();
    QTest::addRow("not JSON") << QByteArrayLiteral("user=alice");
    QTest::addRow("truncated JSON") << QByteArrayLiteral(R"({"user":"alice")");
    QTest::addRow("array") << QByteArrayLiteral(R"(["alice"])");
    QTest::addRow("string") << QByteArrayLiteral(R"("alice")");
    QTest::addRow("number") << QByteArrayLiteral("42");
    QTest::addRow("user missing") << QByteArrayLiteral(R"({"role":"participant"})");
    QTest::addRow("user not a string") << QByteArrayLiteral(R"({"user":42})");
    QTest::addRow("user empty") << QByteArrayLiteral(R"({"user":""})");
    QTest::addRow("user 33 characters") << QByteArray(R"({"user":")" + QByteArray(33, 'u') + R"("})");
    QTest::addRow("user with a space") << QByteArrayLiteral(R"({"user":"al ice"})");
    QTest::addRow("user with a slash") << QByteArrayLiteral(R"({"user":"al/ice"})");
    QTest::addRow("user with a non-ASCII letter") << QByteArray(R"({"user":"j)" "\xc3\xb6" R"(rg"})");
    QTest::addRow("role unknown") << QByteArrayLiteral(R"({"user":"alice","role":"admin"})");
    QTest::addRow("role not a string") << QByteArrayLiteral(R"({"user":"alice","role":true})");
    QTest::addRow("client_id not a string") << QByteArrayLiteral(R"({"user":"alice","client_id":7})");
}

void TstHttp::badTokenRequestIsRefused()
{
    QFETCH(QByteArray, body);
    const HttpResult r = postToken(m_server->port(), body);
    QCOMPARE(r.status, 400);
    QCOMPARE(r.json().value(QStringLiteral("error")).toString(), QStringLiteral("bad_request"));
    QVERIFY(r.json().value(QStringLiteral("message")).isString());
    QVERIFY(!r.json().value(QStringLiteral("message")).toString().isEmpty());
    QVERIFY(!r.json().contains(QStringLiteral("token")));
}

void TstHttp::operatorTokenNeedsTheKey_data()
{
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<int>("status");

    QTest::addRow("no Authorization") << Headers{} << 403;
    QTest::addRow("wrong key") << bearer("not-the-key") << 403;
    QTest::addRow("key as a prefix") << bearer(operatorKey + "x") << 403;
    QTest::addRow("not a bearer") << Headers{{QByteArrayLiteral("Authorization"), "Basic " + operatorKey}} << 403;
    QTest::addRow("right key") << bearer(operatorKey) << 200;
}

void TstHttp::operatorTokenNeedsTheKey()
{
    QFETCH(Headers, headers);
    QFETCH(int, status);
    const HttpResult r = postToken(m_server->port(), R"({"user":"opal","role":"operator"})", headers);
    QCOMPARE(r.status, status);
    QCOMPARE(r.json().contains(QStringLiteral("token")), status == 200);
}

void TstHttp::clientIdIsEchoedOrGenerated()
{
    const QString given = QStringLiteral("2f1c6d2e-4b1a-4c7e-9a51-6a0f3c2b9e10");
    QCOMPARE(postToken(m_server->port(), R"({"user":"alice","client_id":")" + given.toUtf8() + R"("})")
                 .json().value(QStringLiteral("client_id")).toString(),
             given);

    const QString first = postToken(m_server->port(), R"({"user":"alice"})").json().value(QStringLiteral("client_id")).toString();
    const QString second = postToken(m_server->port(), R"({"user":"alice"})").json().value(QStringLiteral("client_id")).toString();
    QVERIFY(!first.isEmpty());
    QVERIFY(!second.isEmpty());
    QVERIFY2(first != second, "a generated client_id must be unique per request");

    // The generated id is the one the connection then carries.
    const Token token = issueToken(m_server->port(), QStringLiteral("alice"));
    TestClient client;
    QVERIFY(client.open(m_server->port(), token.token));
    QCOMPARE(client.welcome().value(QStringLiteral("client_id")).toString(), token.clientId);
}

void TstHttp::metricsListsEveryContractName_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("kind");

    const QList<QPair<const char *, const char *>> names{
        {"sb_connections_active", "gauge"},
        {"sb_connections_total", "counter"},
        {"sb_frames_in_total", "counter"},
        {"sb_frames_out_total", "counter"},
        {"sb_errors_total", "counter"},
        {"sb_http_requests_total", "counter"},
        {"sb_uptime_seconds", "gauge"},
        {"sb_chat_messages_total", "counter"},
        {"sb_todos_created_total", "counter"},
        {"sb_todos_completed_total", "counter"},
        {"sb_broadcasts_total", "counter"},
        {"sb_tokens_rejected_total", "counter"},
        {"sb_rate_limited_total", "counter"},
        {"sb_sticky_miss_total", "counter"},
        {"sb_backplane_up", "gauge"},
        {"sb_backplane_rtt_seconds", "gauge"},
        {"sb_store_up", "gauge"},
        {"sb_delivery_latency_seconds", "histogram"},
        {"sb_send_queue_bytes", "gauge"},
        {"sb_slow_consumer_disconnects_total", "counter"},
    };
    for (const auto &[name, kind] : names)
        QTest::addRow("%s", name) << QString::fromLatin1(name) << QString::fromLatin1(kind);
}

void TstHttp::metricsListsEveryContractName()
{
    QFETCH(QString, name);
    QFETCH(QString, kind);
    const HttpResult r = httpGet(m_server->port(), QStringLiteral("/metrics"));
    QCOMPARE(r.status, 200);
    QVERIFY(r.headers.value("content-type").startsWith("text/plain"));
    QVERIFY2(r.body.contains(QStringLiteral("\n# TYPE %1 %2\n").arg(name, kind).toUtf8()),
             qPrintable(QStringLiteral("no \"# TYPE %1 %2\" line").arg(name, kind)));
}

void TstHttp::metricsPassPromtool()
{
    const QString promtool = QStandardPaths::findExecutable(QStringLiteral("promtool"));
    SB_REQUIRE_SERVICE(!promtool.isEmpty(), "promtool (Debian package prometheus) is not on PATH");
    // Some traffic first, so that labelled families have samples.
    TestClient client;
    QVERIFY(client.connectAs(m_server->port(), QStringLiteral("metrics-user")));
    client.sendRaw(QStringLiteral("not json"));
    QVERIFY(!client.waitForType(QStringLiteral("error")).isEmpty());
    httpGet(m_server->port(), QStringLiteral("/nowhere"));

    const HttpResult r = httpGet(m_server->port(), QStringLiteral("/metrics"));
    QCOMPARE(r.status, 200);
    QProcess check;
    check.start(promtool, {QStringLiteral("check"), QStringLiteral("metrics")});
    QVERIFY(check.waitForStarted());
    check.write(r.body);
    check.closeWriteChannel();
    QVERIFY(check.waitForFinished(20000));
    const QByteArray output = check.readAllStandardOutput() + check.readAllStandardError();
    QVERIFY2(check.exitStatus() == QProcess::NormalExit && check.exitCode() == 0, output.constData());
}

void TstHttp::httpRequestsAreCountedByRoute()
{
    const quint16 port = m_server->port();
    const QString name = QStringLiteral("sb_http_requests_total");
    const QStringList healthz{QStringLiteral(R"(route="/healthz")"), QStringLiteral(R"(status="200")")};
    const QStringList other{QStringLiteral(R"(route="other")"), QStringLiteral(R"(status="404")")};
    const QStringList tokenBad{QStringLiteral(R"(route="/api/token")"), QStringLiteral(R"(status="400")")};

    const double healthzBefore = metricValue(port, name, healthz);
    const double otherBefore = metricValue(port, name, other);
    const double tokenBadBefore = metricValue(port, name, tokenBad);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(httpGet(port, QStringLiteral("/healthz")).status, 200);
    QCOMPARE(httpGet(port, QStringLiteral("/unknown/a")).status, 404);
    QCOMPARE(httpGet(port, QStringLiteral("/unknown/b")).status, 404);
    QCOMPARE(postToken(port, "{").status, 400);

    QCOMPARE(metricValue(port, name, healthz), healthzBefore + 3);
    QCOMPARE(metricValue(port, name, other), otherBefore + 2);
    QCOMPARE(metricValue(port, name, tokenBad), tokenBadBefore + 1);
    // Unknown paths share the one "other" route instead of a series each.
    const HttpResult metrics = httpGet(port, QStringLiteral("/metrics"));
    QVERIFY(!metrics.body.contains("/unknown/a"));
}

SB_SERVER_TEST_MAIN(TstHttp)
#include "tst_http.moc"
