// Peers that stop cooperating (docs/protocol.md sections 3 and "Closing"): a
// peer that answers no pings is dropped after two heartbeat intervals, and a
// room member that stops reading is closed as a slow consumer (1013) without
// delaying or losing anything for the members that keep up.

#include "rawwsclient.h"
#include "testsupport.h"

#include <QElapsedTimer>
#include <QTest>

using namespace sbtest;

namespace {

int connectionsOf(quint16 port)
{
    return httpGet(port, QStringLiteral("/api/instance")).json().value(QStringLiteral("connections")).toInt(-1);
}

// From now on the raw client takes nothing more off the wire: Qt's buffer
// holds one byte and the kernel's receive buffer is shrunk.
void stopReading(RawWsClient &client)
{
    client.socket().setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);
    client.socket().setReadBufferSize(1);
}

QJsonObject join(const QString &room)
{
    return {{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), room}};
}

} // namespace

class TstSlowConsumer : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void silentPeerIsDroppedByHeartbeat();
    void slowConsumerIsClosedWithoutHurtingOthers();
};

void TstSlowConsumer::silentPeerIsDroppedByHeartbeat()
{
    TestServer server({QStringLiteral("--heartbeat-ms"), QStringLiteral("200"), QStringLiteral("--connect-rate"),
                       QStringLiteral("1000/60")});
    const quint16 port = server.port();
    TestClient healthy; // QWebSocket answers pings by itself
    QVERIFY(healthy.connectAs(port, QStringLiteral("healthy")));
    QCOMPARE(healthy.welcome().value(QStringLiteral("heartbeat_ms")).toInt(), 200);

    RawWsClient silent;
    QVERIFY(silent.open(port, issueToken(port, QStringLiteral("silent")).token));
    stopReading(silent);
    QCOMPARE(connectionsOf(port), 2);

    QElapsedTimer clock;
    clock.start();
    QTRY_COMPARE_WITH_TIMEOUT(connectionsOf(port), 1, 1500);
    QVERIFY(clock.elapsed() >= 300); // not before it had a chance to answer

    // The peer that answers pings is kept, well past two intervals.
    QTest::qWait(600);
    QVERIFY(!healthy.isClosed());
    QCOMPARE(healthy.request({{QStringLiteral("type"), QStringLiteral("ping")}}).value(QStringLiteral("type")).toString(),
             QStringLiteral("pong"));
    QCOMPARE(connectionsOf(port), 1);
}

void TstSlowConsumer::slowConsumerIsClosedWithoutHurtingOthers()
{
    TestServer server({QStringLiteral("--max-queue"), QStringLiteral("65536"), QStringLiteral("--msg-rate"),
                       QStringLiteral("0"), QStringLiteral("--connect-rate"), QStringLiteral("1000/60")});
    const quint16 port = server.port();
    const QString room = QStringLiteral("flood");

    TestClient op;
    QVERIFY(op.connectAs(port, QStringLiteral("opal"), {}, QStringLiteral("operator"), QStringLiteral("test-operator-key")));
    QCOMPARE(op.request({{QStringLiteral("type"), QStringLiteral("admin.subscribe")}}).value(QStringLiteral("type")).toString(),
             QStringLiteral("ack"));
    TestClient poster;
    TestClient fast;
    QVERIFY(poster.connectAs(port, QStringLiteral("poster")));
    QVERIFY(fast.connectAs(port, QStringLiteral("fast")));
    QCOMPARE(poster.request(join(room)).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(fast.request(join(room)).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));

    RawWsClient slow;
    QVERIFY(slow.open(port, issueToken(port, QStringLiteral("slow")).token));
    slow.sendJson(join(room));
    const QJsonObject joined = fast.waitFor([](const QJsonObject &f) {
        return f.value(QStringLiteral("type")).toString() == QLatin1StringView("presence")
               && f.value(QStringLiteral("user")).toString() == QLatin1StringView("slow");
    });
    QVERIFY2(!joined.isEmpty(), "the raw client did not join");
    const QString slowSession = joined.value(QStringLiteral("session_id")).toString();
    stopReading(slow);

    // ~12 MB of chat (the slow member trips the limit after about 2.5 MB, once
    // the kernel buffers are full), posted in small batches so that the fast
    // members' own queues never approach the limit between two event-loop turns.
    const int total = 3000;
    const int batch = 5;
    const QString padding(3990, QLatin1Char('.'));
    const auto textOf = [&padding](int i) { return QStringLiteral("%1").arg(i, 6, 10, QLatin1Char('0')) + padding; };
    QElapsedTimer clock;
    clock.start();
    for (int sent = 0; sent < total;) {
        for (int i = 0; i < batch && sent < total; ++i, ++sent) {
            poster.send({{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), room},
                         {QStringLiteral("text"), textOf(sent + 1)}, {QStringLiteral("ref"), QStringLiteral("c%1").arg(sent + 1)}});
        }
        const QString lastRef = QStringLiteral("c%1").arg(sent);
        const QJsonObject answer = poster.waitFor([&lastRef](const QJsonObject &f) {
            return f.value(QStringLiteral("ref")).toString() == lastRef;
        }, 10000);
        QCOMPARE(answer.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        QVERIFY2(!fast.isClosed(), "the fast member was closed");
        QVERIFY2(clock.elapsed() < 50000, qPrintable(QStringLiteral("only %1 chats in 50 s").arg(sent)));
    }

    // The slow member was closed as a slow consumer...
    const QJsonObject closed = op.waitFor([&slowSession](const QJsonObject &f) {
        return f.value(QStringLiteral("type")).toString() == QLatin1StringView("admin.conn.close")
               && f.value(QStringLiteral("session_id")).toString() == slowSession;
    }, 5000);
    QVERIFY2(!closed.isEmpty(), "the slow consumer was not disconnected");
    QCOMPARE(closed.value(QStringLiteral("code")).toInt(), 1013);
    QVERIFY(metricValue(port, QStringLiteral("sb_slow_consumer_disconnects_total")) >= 1);
    QTRY_COMPARE(connectionsOf(port), 3);

    // ...while the fast member got every message, in order, and is still connected.
    QTRY_COMPARE_WITH_TIMEOUT(fast.framesOfType(QStringLiteral("chat")).size(), total, 10000);
    const QList<QJsonObject> chats = fast.framesOfType(QStringLiteral("chat"));
    for (int i = 0; i < total; ++i) {
        QCOMPARE(chats[i].value(QStringLiteral("seq")).toInteger(), i + 1);
        QCOMPARE(chats[i].value(QStringLiteral("text")).toString(), textOf(i + 1));
    }
    QVERIFY(!fast.isClosed());
    QVERIFY(!poster.isClosed());
    QCOMPARE(poster.framesOfType(QStringLiteral("ack")).size(), total + 1); // the join and every chat
    QCOMPARE(poster.framesOfType(QStringLiteral("error")).size(), 0);
    QTRY_COMPARE(poster.framesOfType(QStringLiteral("chat")).size(), total);

    // And the server is healthy with no queue left behind.
    QCOMPARE(httpGet(port, QStringLiteral("/healthz")).status, 200);
    QVERIFY(metricValue(port, QStringLiteral("sb_send_queue_bytes")) <= 65536);
    QCOMPARE(fast.request({{QStringLiteral("type"), QStringLiteral("ping")}}).value(QStringLiteral("type")).toString(),
             QStringLiteral("pong"));
}

SB_SERVER_TEST_MAIN(TstSlowConsumer)
#include "tst_slowconsumer.moc"
