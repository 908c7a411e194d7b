// Who may open a WebSocket (docs/protocol.md sections 1-3): one-time tokens
// and the 4401 close for bad, used, missing or expired ones; the
// per-address connection rate limit; the Origin allow-list; and the client
// address taken from X-Forwarded-For behind a trusted proxy.

#include "testsupport.h"

#include <QJsonArray>
#include <QTest>

using namespace sbtest;

namespace {

using Headers = QList<QPair<QByteArray, QByteArray>>;

QStringList flags(std::initializer_list<const char *> list)
{
    QStringList out;
    for (const char *flag : list)
        out.append(QString::fromLatin1(flag));
    return out;
}

QString wsUrl(quint16 port, const QString &target)
{
    return QStringLiteral("ws://127.0.0.1:%1%2").arg(port).arg(target);
}

// Opens `target` with a QWebSocket and expects the server's 4401 close with no frame.
void expectUnauthorized(quint16 port, const QString &target)
{
    TestClient client;
    client.socket().open(QUrl(wsUrl(port, target)));
    QVERIFY2(client.waitClosed(), "the server did not close the connection");
    QCOMPARE(client.closeCode(), 4401);
    QCOMPARE(client.closeReason(), QStringLiteral("unauthorized"));
    QVERIFY2(client.frames().isEmpty(), "the server sent a frame before closing with 4401");
}

} // namespace

class TstTokens : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        m_server = std::make_unique<TestServer>(flags({"--connect-rate", "1000/60"}));
    }
    void cleanupTestCase() { m_server.reset(); }

    void tokenWorksOnce();
    void badTokenIsClosedWith4401_data();
    void badTokenIsClosedWith4401();
    void expiredTokenIsClosedWith4401();
    void rejectedTokensAreCounted();
    void connectionAttemptsAreRateLimited();
    void rateLimitIsKeyedByForwardedAddress();
    void originMustBeAllowed_data();
    void originMustBeAllowed();
    void forwardedForNamesTheClient_data();
    void forwardedForNamesTheClient();

private:
    std::unique_ptr<TestServer> m_server;
};

void TstTokens::tokenWorksOnce()
{
    const Token token = issueToken(m_server->port(), QStringLiteral("alice"));
    QVERIFY(!token.token.isEmpty());
    TestClient first;
    QVERIFY(first.open(m_server->port(), token.token));
    QCOMPARE(first.welcome().value(QStringLiteral("user")).toString(), QStringLiteral("alice"));

    TestClient second;
    QVERIFY(!second.open(m_server->port(), token.token));
    QVERIFY(second.waitClosed());
    QCOMPARE(second.closeCode(), 4401);
    QCOMPARE(second.closeReason(), QStringLiteral("unauthorized"));
    QVERIFY(second.frames().isEmpty());

    // The first connection is unaffected by the refused reuse.
    QCOMPARE(first.request({{QStringLiteral("type"), QStringLiteral("ping")}}).value(QStringLiteral("type")).toString(),
             QStringLiteral("pong"));
    // Once used, the token stays used after its connection has gone.
    first.socket().close();
    QVERIFY(first.waitClosed());
    expectUnauthorized(m_server->port(), QStringLiteral("/ws?token=") + token.token);
}

void TstTokens::badTokenIsClosedWith4401_data()
{
    QTest::addColumn<QString>("target");
    QTest::addRow("no query") << QStringLiteral("/ws");
    QTest::addRow("empty token") << QStringLiteral("/ws?token=");
    QTest::addRow("other parameter") << QStringLiteral("/ws?tok=abc");
    QTest::addRow("garbage token") << QStringLiteral("/ws?token=garbage");
    QTest::addRow("token-shaped garbage") << QStringLiteral("/ws?token=") + QString(43, QLatin1Char('A'));
}

void TstTokens::badTokenIsClosedWith4401()
{
    QFETCH(QString, target);
    expectUnauthorized(m_server->port(), target);
}

void TstTokens::expiredTokenIsClosedWith4401()
{
    TestServer server(flags({"--token-ttl", "1"}));
    const HttpResult issued = httpPost(server.port(), QStringLiteral("/api/token"), R"({"user":"slowpoke"})");
    QCOMPARE(issued.status, 200);
    QCOMPARE(issued.json().value(QStringLiteral("expires_in")), QJsonValue(1));
    const QString token = issued.json().value(QStringLiteral("token")).toString();
    QTest::qWait(1300);
    expectUnauthorized(server.port(), QStringLiteral("/ws?token=") + token);

    // A fresh token with the same TTL still works when used at once.
    TestClient client;
    QVERIFY(client.connectAs(server.port(), QStringLiteral("quick")));
}

void TstTokens::rejectedTokensAreCounted()
{
    const QString name = QStringLiteral("sb_tokens_rejected_total");
    const double before = metricValue(m_server->port(), name);
    expectUnauthorized(m_server->port(), QStringLiteral("/ws?token=nonsense"));
    expectUnauthorized(m_server->port(), QStringLiteral("/ws"));
    QCOMPARE(metricValue(m_server->port(), name), before + 2);
}

void TstTokens::connectionAttemptsAreRateLimited()
{
    TestServer server(flags({"--connect-rate", "3/60"}));
    const quint16 port = server.port();
    const double limitedBefore = metricValue(port, QStringLiteral("sb_rate_limited_total"));

    const Token first = issueToken(port, QStringLiteral("alice"));   // attempt 1
    const Token second = issueToken(port, QStringLiteral("alice"));  // attempt 2
    QVERIFY(!first.token.isEmpty());
    QVERIFY(!second.token.isEmpty());
    TestClient connected;
    QVERIFY(connected.open(port, first.token));                      // attempt 3

    const HttpResult refused = httpPost(port, QStringLiteral("/api/token"), R"({"user":"alice"})"); // attempt 4
    QCOMPARE(refused.status, 429);
    QVERIFY(!refused.json().contains(QStringLiteral("token")));
    bool numeric = false;
    const int retryAfter = refused.headers.value("retry-after").toInt(&numeric);
    QVERIFY2(numeric, "429 without a numeric Retry-After");
    QVERIFY(retryAfter >= 1);
    QVERIFY(retryAfter <= 60);

    // An upgrade over the limit is refused with plain HTTP, before any upgrade.
    const QByteArray answer = rawExchange(port, upgradeRequest(QStringLiteral("/ws?token=") + second.token));
    QCOMPARE(statusOf(answer), 429);
    QVERIFY(headerOf(answer, "Retry-After").toInt() >= 1);
    QVERIFY(!answer.contains("101 Switching Protocols"));

    TestClient refusedClient;
    QVERIFY(!refusedClient.open(port, second.token));
    QVERIFY(refusedClient.welcome().isEmpty());
    QVERIFY(refusedClient.socket().error() != QAbstractSocket::UnknownSocketError);
    QVERIFY(refusedClient.closeCode() != 4401);

    // The connection made before the limit is unaffected.
    QCOMPARE(connected.request({{QStringLiteral("type"), QStringLiteral("ping")}}).value(QStringLiteral("type")).toString(),
             QStringLiteral("pong"));
    QVERIFY(metricValue(port, QStringLiteral("sb_rate_limited_total")) >= limitedBefore + 3);
}

void TstTokens::rateLimitIsKeyedByForwardedAddress()
{
    TestServer server(flags({"--connect-rate", "3/60"}));
    const quint16 port = server.port();
    const auto tokenStatus = [port](const QByteArray &forwardedFor) {
        Headers headers;
        if (!forwardedFor.isEmpty())
            headers.append({QByteArrayLiteral("X-Forwarded-For"), forwardedFor});
        return httpPost(port, QStringLiteral("/api/token"), R"({"user":"alice"})", headers).status;
    };
    for (int i = 0; i < 3; ++i)
        QCOMPARE(tokenStatus("203.0.113.50"), 200);
    QCOMPARE(tokenStatus("203.0.113.50"), 429);
    QCOMPARE(tokenStatus("198.51.100.1, 203.0.113.50"), 429); // same right-most client
    QCOMPARE(tokenStatus("203.0.113.51"), 200);                // another client behind the proxy
    QCOMPARE(tokenStatus({}), 200);                            // the proxy itself
}

void TstTokens::originMustBeAllowed_data()
{
    QTest::addColumn<QByteArray>("origin"); // empty: no Origin header
    QTest::addColumn<bool>("allowed");

    QTest::addRow("allowed origin") << QByteArrayLiteral("https://ok.example") << true;
    QTest::addRow("no Origin header") << QByteArray() << true;
    QTest::addRow("other origin") << QByteArrayLiteral("https://evil.example") << false;
    QTest::addRow("other scheme") << QByteArrayLiteral("http://ok.example") << false;
    QTest::addRow("allowed origin as a prefix") << QByteArrayLiteral("https://ok.example.evil") << false;
    QTest::addRow("null origin") << QByteArrayLiteral("null") << false;
}

void TstTokens::originMustBeAllowed()
{
    QFETCH(QByteArray, origin);
    QFETCH(bool, allowed);

    TestServer server(flags({"--allowed-origins", "https://ok.example,https://also-ok.example"}));
    Headers headers;
    if (!origin.isEmpty())
        headers.append({QByteArrayLiteral("Origin"), origin});

    if (!allowed) {
        const Token token = issueToken(server.port(), QStringLiteral("alice"));
        const QByteArray answer = rawExchange(server.port(), upgradeRequest(QStringLiteral("/ws?token=") + token.token, headers));
        QCOMPARE(statusOf(answer), 403);
        QVERIFY(!answer.contains("101 Switching Protocols"));
    }
    const Token token = issueToken(server.port(), QStringLiteral("alice"));
    TestClient client;
    QCOMPARE(client.open(server.port(), token.token, headers), allowed);
    if (!allowed)
        QVERIFY(client.frames().isEmpty());
}

void TstTokens::forwardedForNamesTheClient_data()
{
    QTest::addColumn<QByteArray>("forwardedFor"); // empty: no header
    QTest::addColumn<QString>("remote");

    QTest::addRow("no header") << QByteArray() << QStringLiteral("127.0.0.1");
    QTest::addRow("one client") << QByteArrayLiteral("198.51.100.23") << QStringLiteral("198.51.100.23");
    QTest::addRow("trusted hop on the right") << QByteArrayLiteral("198.51.100.23, 127.0.0.9") << QStringLiteral("198.51.100.23");
    QTest::addRow("right-most untrusted wins") << QByteArrayLiteral("203.0.113.9, 198.51.100.23") << QStringLiteral("198.51.100.23");
    QTest::addRow("every hop trusted") << QByteArrayLiteral("127.0.0.5") << QStringLiteral("127.0.0.1");
    QTest::addRow("IPv6 client") << QByteArrayLiteral("2001:db8::7") << QStringLiteral("2001:db8::7");
}

void TstTokens::forwardedForNamesTheClient()
{
    QFETCH(QByteArray, forwardedFor);
    QFETCH(QString, remote);

    Headers headers;
    if (!forwardedFor.isEmpty())
        headers.append({QByteArrayLiteral("X-Forwarded-For"), forwardedFor});
    const Token token = issueToken(m_server->port(), QStringLiteral("proxied"));
    TestClient participant;
    QVERIFY(participant.open(m_server->port(), token.token, headers));
    const QString sessionId = participant.welcome().value(QStringLiteral("session_id")).toString();

    TestClient operatorClient;
    QVERIFY(operatorClient.connectAs(m_server->port(), QStringLiteral("opal"), {}, QStringLiteral("operator"),
                                     QStringLiteral("test-operator-key")));
    const QJsonObject snapshot = operatorClient.request({{QStringLiteral("type"), QStringLiteral("admin.subscribe")}});
    QCOMPARE(snapshot.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QJsonObject conn;
    for (const QJsonValue &c : snapshot.value(QStringLiteral("connections")).toArray()) {
        if (c.toObject().value(QStringLiteral("session_id")).toString() == sessionId)
            conn = c.toObject();
    }
    QVERIFY2(!conn.isEmpty(), "the participant is missing from the operator's snapshot");
    QCOMPARE(conn.value(QStringLiteral("remote")).toString(), remote);
}

SB_SERVER_TEST_MAIN(TstTokens)
#include "tst_tokens.moc"
