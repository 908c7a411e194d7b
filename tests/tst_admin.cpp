// Operators (docs/protocol.md section 4 and "Closing"): the admin.subscribe
// snapshot and its stream of connection events, stats and flow samples;
// announcements to each kind of target; disconnect, ticker, drain and
// undrain; and the audit log each action leaves in the embedded store.

#include "rawwsclient.h"
#include "testsupport.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>
#include <QTest>

#include <sqlite3.h>

#include <memory>

using namespace sbtest;

namespace {

const QString operatorUser = QStringLiteral("opal");

QStringList flags(std::initializer_list<const char *> list)
{
    QStringList out{QStringLiteral("--connect-rate"), QStringLiteral("1000/60")};
    for (const char *flag : list)
        out.append(QString::fromLatin1(flag));
    return out;
}

bool connectOperator(TestClient &c, quint16 port, const QString &user = operatorUser)
{
    return c.connectAs(port, user, {}, QStringLiteral("operator"), QStringLiteral("test-operator-key"));
}

QString typeOf(const QJsonObject &f)
{
    return f.value(QStringLiteral("type")).toString();
}

// The answer's type, or its error code.
QString outcome(const QJsonObject &answer)
{
    return typeOf(answer) == QLatin1StringView("error") ? answer.value(QStringLiteral("code")).toString() : typeOf(answer);
}

QString sessionOf(const TestClient &c)
{
    return c.welcome().value(QStringLiteral("session_id")).toString();
}

QJsonObject subscribe(TestClient &op, bool flow = false)
{
    QJsonObject frame{{QStringLiteral("type"), QStringLiteral("admin.subscribe")}};
    if (flow)
        frame.insert(QStringLiteral("flow"), true);
    return op.request(frame);
}

QJsonObject adminRequest(TestClient &op, const QString &type, QJsonObject fields = {})
{
    fields.insert(QStringLiteral("type"), type);
    return op.request(fields);
}

QList<QJsonObject> broadcastsOfKind(const TestClient &c, const QString &kind)
{
    QList<QJsonObject> out;
    for (const QJsonObject &f : c.framesOfType(QStringLiteral("broadcast"))) {
        if (f.value(QStringLiteral("kind")).toString() == kind)
            out.append(f);
    }
    return out;
}

struct SqliteCloser
{
    void operator()(sqlite3 *db) const { sqlite3_close(db); }
};

struct AuditRow
{
    QString actor;
    QString action;
    QJsonObject details;
    qint64 at = 0;
};

// Reads the audit table of an embedded store, read-only, beside the running server.
QList<AuditRow> readAuditLog(const QString &dataDir)
{
    sqlite3 *raw = nullptr;
    const QByteArray path = (dataDir + QStringLiteral("/switchboard.db")).toUtf8();
    const int rc = sqlite3_open_v2(path.constData(), &raw, SQLITE_OPEN_READONLY, nullptr);
    const std::unique_ptr<sqlite3, SqliteCloser> db(raw);
    if (rc != SQLITE_OK)
        return {};
    sqlite3_stmt *statement = nullptr;
    if (sqlite3_prepare_v2(db.get(), "SELECT actor, action, details, at FROM audit_log ORDER BY id", -1, &statement,
                           nullptr) != SQLITE_OK)
        return {};
    QList<AuditRow> rows;
    while (sqlite3_step(statement) == SQLITE_ROW) {
        const auto text = [statement](int column) {
            return QString::fromUtf8(reinterpret_cast<const char *>(sqlite3_column_text(statement, column)));
        };
        rows.append({text(0), text(1), QJsonDocument::fromJson(text(2).toUtf8()).object(),
                     sqlite3_column_int64(statement, 3)});
    }
    sqlite3_finalize(statement);
    return rows;
}

} // namespace

class TstAdmin : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void operatorTokenOpensAnOperatorSession();
    void subscribeSnapshotDescribesTheInstance();
    void snapshotConnHasEveryField_data();
    void snapshotConnHasEveryField();
    void connectionEventsAreStreamed_data();
    void connectionEventsAreStreamed();
    void statsArriveEverySecond();
    void flowIsSampledForFlowSubscribers();
    void injectReachesTheTargetedSockets_data();
    void injectReachesTheTargetedSockets();
    void injectRejectsBadTargets_data();
    void injectRejectsBadTargets();
    void disconnectClosesWith4000();
    void tickerCanBeSwitchedOffAndOn();
    void drainMovesParticipantsAway();
    void actionsAreAudited_data();
    void actionsAreAudited();
};

void TstAdmin::operatorTokenOpensAnOperatorSession()
{
    TestServer server(flags({}));
    TestClient op;
    QVERIFY(connectOperator(op, server.port()));
    QCOMPARE(op.welcome().value(QStringLiteral("role")).toString(), QStringLiteral("operator"));
    QCOMPARE(op.welcome().value(QStringLiteral("user")).toString(), operatorUser);
    QCOMPARE(outcome(subscribe(op)), QStringLiteral("ack"));
}

void TstAdmin::subscribeSnapshotDescribesTheInstance()
{
    TestServer server(flags({}));
    TestClient participant;
    TestClient op;
    QVERIFY(participant.connectAs(server.port(), QStringLiteral("pat")));
    QVERIFY(connectOperator(op, server.port()));

    const QJsonObject ack = subscribe(op);
    QCOMPARE(typeOf(ack), QStringLiteral("ack"));
    const QJsonObject instance = ack.value(QStringLiteral("instance")).toObject();
    const QJsonObject api = httpGet(server.port(), QStringLiteral("/api/instance")).json();
    QCOMPARE(instance.keys(), api.keys());
    for (const QString &key : api.keys())
        QCOMPARE(instance.value(key), api.value(key));
    QCOMPARE(instance.value(QStringLiteral("id")).toString(), QStringLiteral("test-1"));
    QCOMPARE(instance.value(QStringLiteral("connections")).toInt(), 2);

    QSet<QString> sessions;
    for (const QJsonValue &conn : ack.value(QStringLiteral("connections")).toArray())
        sessions.insert(conn.toObject().value(QStringLiteral("session_id")).toString());
    QCOMPARE(sessions, QSet<QString>({sessionOf(participant), sessionOf(op)}));
}

void TstAdmin::snapshotConnHasEveryField_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QJsonValue::Type>("type");
    QTest::addColumn<QJsonValue>("expected"); // Undefined: checked below or by type only

    QTest::addRow("session_id") << QStringLiteral("session_id") << QJsonValue::String << QJsonValue(QJsonValue::Undefined);
    QTest::addRow("client_id") << QStringLiteral("client_id") << QJsonValue::String << QJsonValue(QStringLiteral("conn-client"));
    QTest::addRow("user") << QStringLiteral("user") << QJsonValue::String << QJsonValue(QStringLiteral("pat"));
    QTest::addRow("role") << QStringLiteral("role") << QJsonValue::String << QJsonValue(QStringLiteral("participant"));
    QTest::addRow("remote") << QStringLiteral("remote") << QJsonValue::String << QJsonValue(QStringLiteral("127.0.0.1"));
    QTest::addRow("instance") << QStringLiteral("instance") << QJsonValue::String << QJsonValue(QStringLiteral("test-1"));
    QTest::addRow("rooms") << QStringLiteral("rooms") << QJsonValue::Array << QJsonValue(QJsonArray{QStringLiteral("lobby")});
    QTest::addRow("connected_at") << QStringLiteral("connected_at") << QJsonValue::Double << QJsonValue(QJsonValue::Undefined);
    QTest::addRow("frames_in") << QStringLiteral("frames_in") << QJsonValue::Double << QJsonValue(2);
    QTest::addRow("frames_out") << QStringLiteral("frames_out") << QJsonValue::Double << QJsonValue(QJsonValue::Undefined);
    QTest::addRow("sticky") << QStringLiteral("sticky") << QJsonValue::Bool << QJsonValue(true);
    QTest::addRow("queue_bytes") << QStringLiteral("queue_bytes") << QJsonValue::Double << QJsonValue(QJsonValue::Undefined);
}

void TstAdmin::snapshotConnHasEveryField()
{
    QFETCH(QString, field);
    QFETCH(QJsonValue::Type, type);
    QFETCH(QJsonValue, expected);

    TestServer server(flags({}));
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    TestClient participant;
    QVERIFY(participant.connectAs(server.port(), QStringLiteral("pat"), QStringLiteral("conn-client")));
    QCOMPARE(outcome(participant.request({{QStringLiteral("type"), QStringLiteral("join")},
                                          {QStringLiteral("room"), QStringLiteral("lobby")}})),
             QStringLiteral("ack"));
    QCOMPARE(outcome(participant.request({{QStringLiteral("type"), QStringLiteral("ping")}})), QStringLiteral("pong"));

    TestClient op;
    QVERIFY(connectOperator(op, server.port()));
    QJsonObject conn;
    for (const QJsonValue &c : subscribe(op).value(QStringLiteral("connections")).toArray()) {
        if (c.toObject().value(QStringLiteral("session_id")).toString() == sessionOf(participant))
            conn = c.toObject();
    }
    QVERIFY2(!conn.isEmpty(), "the participant is not in the snapshot");

    const QJsonValue value = conn.value(field);
    QCOMPARE(value.type(), type);
    if (!expected.isUndefined())
        QCOMPARE(value, expected);
    if (field == QLatin1StringView("session_id"))
        QCOMPARE(value.toString(), sessionOf(participant));
    if (field == QLatin1StringView("connected_at"))
        QVERIFY(value.toInteger() >= before - 1000 && value.toInteger() <= QDateTime::currentMSecsSinceEpoch());
    if (field == QLatin1StringView("frames_out"))
        QCOMPARE(value.toInteger(), 3); // welcome, join ack, pong
    if (field == QLatin1StringView("queue_bytes"))
        QVERIFY(value.toInteger() >= 0);
}

void TstAdmin::connectionEventsAreStreamed_data()
{
    QTest::addColumn<int>("clientCloseCode");
    QTest::addRow("normal close") << 1000;
    QTest::addRow("going away") << 1001;
    QTest::addRow("application code") << 4002;
}

void TstAdmin::connectionEventsAreStreamed()
{
    QFETCH(int, clientCloseCode);

    TestServer server(flags({}));
    TestClient op;
    QVERIFY(connectOperator(op, server.port()));
    QCOMPARE(outcome(subscribe(op)), QStringLiteral("ack"));

    TestClient participant;
    QVERIFY(participant.connectAs(server.port(), QStringLiteral("pat"), QStringLiteral("stream-client")));
    const QString sessionId = sessionOf(participant);
    const QJsonObject opened = op.waitForType(QStringLiteral("admin.conn.open"));
    const QJsonObject conn = opened.value(QStringLiteral("conn")).toObject();
    QCOMPARE(conn.value(QStringLiteral("session_id")).toString(), sessionId);
    QCOMPARE(conn.value(QStringLiteral("user")).toString(), QStringLiteral("pat"));
    QCOMPARE(conn.value(QStringLiteral("client_id")).toString(), QStringLiteral("stream-client"));
    QCOMPARE(conn.value(QStringLiteral("role")).toString(), QStringLiteral("participant"));
    QCOMPARE(conn.value(QStringLiteral("instance")).toString(), QStringLiteral("test-1"));

    participant.socket().close(static_cast<QWebSocketProtocol::CloseCode>(clientCloseCode));
    const QJsonObject closed = op.waitForType(QStringLiteral("admin.conn.close"));
    QCOMPARE(closed.value(QStringLiteral("session_id")).toString(), sessionId);
    QCOMPARE(closed.value(QStringLiteral("instance")).toString(), QStringLiteral("test-1"));
    QCOMPARE(closed.value(QStringLiteral("code")).toInt(), clientCloseCode);
}

void TstAdmin::statsArriveEverySecond()
{
    TestServer server(flags({}));
    TestClient participant;
    QVERIFY(participant.connectAs(server.port(), QStringLiteral("pat")));
    TestClient op;
    QVERIFY(connectOperator(op, server.port()));
    QCOMPARE(outcome(subscribe(op)), QStringLiteral("ack"));

    const QJsonObject stats = op.waitForType(QStringLiteral("admin.stats"), 1500);
    QVERIFY2(!stats.isEmpty(), "no admin.stats within 1.5 s");
    QCOMPARE(stats.value(QStringLiteral("instance")).toString(), QStringLiteral("test-1"));
    QCOMPARE(stats.value(QStringLiteral("connections")).toInt(), 2);
    for (const char *field : {"frames_in_per_s", "frames_out_per_s", "bytes_in_per_s", "bytes_out_per_s",
                              "backplane_rtt_ms", "queue_max_bytes", "rss_bytes"}) {
        const QJsonValue value = stats.value(QString::fromLatin1(field));
        QVERIFY2(value.isDouble(), field);
        QVERIFY2(value.toDouble() >= 0, field);
    }
    QCOMPARE(stats.value(QStringLiteral("backplane_rtt_ms")).toDouble(), 0.0); // local backplane
    QVERIFY(stats.value(QStringLiteral("rss_bytes")).toDouble() > 1024 * 1024);

    // Traffic shows up in the next seconds' rates, and the stream keeps coming.
    for (int i = 0; i < 20; ++i)
        participant.send({{QStringLiteral("type"), QStringLiteral("ping")}});
    QTRY_COMPARE(participant.framesOfType(QStringLiteral("pong")).size(), 20);
    QTRY_VERIFY_WITH_TIMEOUT(op.framesOfType(QStringLiteral("admin.stats")).size() >= 3, 2500);
    double framesIn = 0;
    double framesOut = 0;
    for (const QJsonObject &s : op.framesOfType(QStringLiteral("admin.stats"))) {
        framesIn += s.value(QStringLiteral("frames_in_per_s")).toDouble();
        framesOut += s.value(QStringLiteral("frames_out_per_s")).toDouble();
    }
    QVERIFY2(framesIn >= 20, qPrintable(QString::number(framesIn)));
    QVERIFY2(framesOut >= 20, qPrintable(QString::number(framesOut)));
}

void TstAdmin::flowIsSampledForFlowSubscribers()
{
    TestServer server(flags({"--msg-rate", "0"}));
    TestClient flowOp;
    TestClient plainOp;
    QVERIFY(connectOperator(flowOp, server.port()));
    QVERIFY(connectOperator(plainOp, server.port(), QStringLiteral("otto")));
    QCOMPARE(outcome(subscribe(flowOp, true)), QStringLiteral("ack"));
    QCOMPARE(outcome(subscribe(plainOp, false)), QStringLiteral("ack"));

    TestClient participant;
    QVERIFY(participant.connectAs(server.port(), QStringLiteral("pat")));
    participant.request({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), QStringLiteral("flowroom")}});
    // Traffic for a little over two seconds: at least one sample a second.
    QElapsedTimer clock;
    clock.start();
    int sent = 0;
    while (clock.elapsed() < 2300) {
        participant.request({{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), QStringLiteral("flowroom")},
                             {QStringLiteral("text"), QStringLiteral("flowing %1").arg(++sent)}});
        QTest::qWait(50);
    }

    const QList<QJsonObject> samples = flowOp.framesOfType(QStringLiteral("admin.flow"));
    QVERIFY2(samples.size() >= 2, qPrintable(QStringLiteral("%1 samples for %2 chats").arg(samples.size()).arg(sent)));
    const QStringList directions{QStringLiteral("in"), QStringLiteral("out"), QStringLiteral("publish"), QStringLiteral("deliver")};
    for (const QJsonObject &f : samples) {
        QVERIFY(directions.contains(f.value(QStringLiteral("dir")).toString()));
        QVERIFY(!f.value(QStringLiteral("frame_type")).toString().isEmpty());
        QVERIFY(f.value(QStringLiteral("size")).isDouble());
        QVERIFY(f.value(QStringLiteral("size")).toInteger() > 0);
        QVERIFY(f.value(QStringLiteral("ts")).toInteger() > 0);
        QVERIFY(f.contains(QStringLiteral("room")));
        QVERIFY(f.contains(QStringLiteral("session_id")));
        QVERIFY(f.contains(QStringLiteral("origin")));
    }
    QCOMPARE(plainOp.framesOfType(QStringLiteral("admin.flow")).size(), 0);
    QCOMPARE(participant.framesOfType(QStringLiteral("admin.flow")).size(), 0);
}

void TstAdmin::injectReachesTheTargetedSockets_data()
{
    // Sockets: "op" (the operator), "a1" and "a2" (one client_id; a1 is in
    // room "news"), "b" (another client). "$b" stands for b's session id.
    QTest::addColumn<QString>("key");
    QTest::addColumn<QJsonValue>("value");
    QTest::addColumn<QStringList>("receivers");

    QTest::addRow("all") << QStringLiteral("all") << QJsonValue(true)
                         << QStringList{QStringLiteral("op"), QStringLiteral("a1"), QStringLiteral("a2"), QStringLiteral("b")};
    QTest::addRow("instance") << QStringLiteral("instance") << QJsonValue(QStringLiteral("test-1"))
                              << QStringList{QStringLiteral("op"), QStringLiteral("a1"), QStringLiteral("a2"), QStringLiteral("b")};
    QTest::addRow("other instance") << QStringLiteral("instance") << QJsonValue(QStringLiteral("elsewhere")) << QStringList{};
    QTest::addRow("room") << QStringLiteral("room") << QJsonValue(QStringLiteral("news")) << QStringList{QStringLiteral("a1")};
    QTest::addRow("empty room") << QStringLiteral("room") << QJsonValue(QStringLiteral("nobody-here")) << QStringList{};
    QTest::addRow("client_id") << QStringLiteral("client_id") << QJsonValue(QStringLiteral("inject-a"))
                               << QStringList{QStringLiteral("a1"), QStringLiteral("a2")};
    QTest::addRow("unknown client_id") << QStringLiteral("client_id") << QJsonValue(QStringLiteral("inject-nobody")) << QStringList{};
    QTest::addRow("session_id") << QStringLiteral("session_id") << QJsonValue(QStringLiteral("$b")) << QStringList{QStringLiteral("b")};
}

void TstAdmin::injectReachesTheTargetedSockets()
{
    QFETCH(QString, key);
    QFETCH(QJsonValue, value);
    QFETCH(QStringList, receivers);

    TestServer server(flags({}));
    TestClient op;
    TestClient a1;
    TestClient a2;
    TestClient b;
    QVERIFY(connectOperator(op, server.port()));
    QVERIFY(a1.connectAs(server.port(), QStringLiteral("alice"), QStringLiteral("inject-a")));
    QVERIFY(a2.connectAs(server.port(), QStringLiteral("alice"), QStringLiteral("inject-a")));
    QVERIFY(b.connectAs(server.port(), QStringLiteral("bob"), QStringLiteral("inject-b")));
    QCOMPARE(outcome(a1.request({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), QStringLiteral("news")}})),
             QStringLiteral("ack"));
    if (value == QJsonValue(QStringLiteral("$b")))
        value = sessionOf(b);

    const QString text = QStringLiteral("maintenance at noon (%1)").arg(QString::fromLatin1(QTest::currentDataTag()));
    const QJsonObject ack = adminRequest(op, QStringLiteral("admin.inject"),
                                         {{QStringLiteral("target"), QJsonObject{{key, value}}}, {QStringLiteral("text"), text}});
    QCOMPARE(typeOf(ack), QStringLiteral("ack"));
    QCOMPARE(ack.value(QStringLiteral("recipients")).toInt(), receivers.size());

    const QList<QPair<QString, TestClient *>> sockets{{QStringLiteral("op"), &op}, {QStringLiteral("a1"), &a1},
                                                      {QStringLiteral("a2"), &a2}, {QStringLiteral("b"), &b}};
    for (const auto &[name, client] : sockets) {
        if (!receivers.contains(name))
            continue;
        const QJsonObject announcement = client->waitForType(QStringLiteral("broadcast"));
        QVERIFY2(!announcement.isEmpty(), qPrintable(name + QStringLiteral(" got no announcement")));
        QCOMPARE(announcement.value(QStringLiteral("kind")).toString(), QStringLiteral("announcement"));
        QCOMPARE(announcement.value(QStringLiteral("from")).toString(), operatorUser);
        QCOMPARE(announcement.value(QStringLiteral("text")).toString(), text);
        QCOMPARE(announcement.value(QStringLiteral("origin")).toString(), QStringLiteral("test-1"));
        QVERIFY(announcement.value(QStringLiteral("ts")).toInteger() > 0);
    }
    QTest::qWait(150);
    for (const auto &[name, client] : sockets) {
        QCOMPARE(client->framesOfType(QStringLiteral("broadcast")).size(), receivers.contains(name) ? 1 : 0);
    }
}

void TstAdmin::injectRejectsBadTargets_data()
{
    QTest::addColumn<QJsonObject>("frame");
    QTest::addColumn<QString>("code");

    const auto inject = [](const QJsonValue &target) {
        QJsonObject frame{{QStringLiteral("text"), QStringLiteral("hello")}};
        if (!target.isUndefined())
            frame.insert(QStringLiteral("target"), target);
        return frame;
    };
    QTest::addRow("no target") << inject(QJsonValue::Undefined) << QStringLiteral("bad_request");
    QTest::addRow("target is a string") << inject(QStringLiteral("all")) << QStringLiteral("bad_request");
    QTest::addRow("empty target") << inject(QJsonObject{}) << QStringLiteral("bad_request");
    QTest::addRow("all false") << inject(QJsonObject{{QStringLiteral("all"), false}}) << QStringLiteral("bad_request");
    QTest::addRow("unknown key") << inject(QJsonObject{{QStringLiteral("planet"), QStringLiteral("mars")}}) << QStringLiteral("bad_request");
    QTest::addRow("two keys") << inject(QJsonObject{{QStringLiteral("all"), true}, {QStringLiteral("room"), QStringLiteral("news")}})
                              << QStringLiteral("bad_request");
    QTest::addRow("empty client_id") << inject(QJsonObject{{QStringLiteral("client_id"), QString()}}) << QStringLiteral("bad_request");
    QTest::addRow("session_id number") << inject(QJsonObject{{QStringLiteral("session_id"), 5}}) << QStringLiteral("bad_request");
    QTest::addRow("bad room") << inject(QJsonObject{{QStringLiteral("room"), QStringLiteral("Bad Room")}}) << QStringLiteral("invalid_room");
    QTest::addRow("no text") << QJsonObject{{QStringLiteral("target"), QJsonObject{{QStringLiteral("all"), true}}}}
                             << QStringLiteral("bad_request");
    QTest::addRow("empty text") << QJsonObject{{QStringLiteral("target"), QJsonObject{{QStringLiteral("all"), true}}},
                                               {QStringLiteral("text"), QString()}}
                                << QStringLiteral("bad_request");
}

void TstAdmin::injectRejectsBadTargets()
{
    QFETCH(QJsonObject, frame);
    QFETCH(QString, code);

    TestServer server(flags({}));
    TestClient op;
    TestClient participant;
    QVERIFY(connectOperator(op, server.port()));
    QVERIFY(participant.connectAs(server.port(), QStringLiteral("pat")));
    QCOMPARE(outcome(adminRequest(op, QStringLiteral("admin.inject"), frame)), code);
    QTest::qWait(100);
    QCOMPARE(participant.framesOfType(QStringLiteral("broadcast")).size(), 0);
    QCOMPARE(op.framesOfType(QStringLiteral("broadcast")).size(), 0);
}

void TstAdmin::disconnectClosesWith4000()
{
    TestServer server(flags({}));
    TestClient op;
    TestClient victim;
    TestClient bystander;
    QVERIFY(connectOperator(op, server.port()));
    QVERIFY(victim.connectAs(server.port(), QStringLiteral("victim")));
    QVERIFY(bystander.connectAs(server.port(), QStringLiteral("bystander")));
    QCOMPARE(outcome(subscribe(op)), QStringLiteral("ack"));

    const QJsonObject ack = adminRequest(op, QStringLiteral("admin.disconnect"), {{QStringLiteral("session_id"), sessionOf(victim)}});
    QCOMPARE(typeOf(ack), QStringLiteral("ack"));
    QVERIFY(victim.waitClosed());
    QCOMPARE(victim.closeCode(), 4000);
    QCOMPARE(victim.closeReason(), QStringLiteral("disconnected by operator"));
    const QJsonObject closed = op.waitForType(QStringLiteral("admin.conn.close"));
    QCOMPARE(closed.value(QStringLiteral("session_id")).toString(), sessionOf(victim));
    QCOMPARE(closed.value(QStringLiteral("code")).toInt(), 4000);
    QVERIFY(!bystander.isClosed());

    QCOMPARE(outcome(adminRequest(op, QStringLiteral("admin.disconnect"), {{QStringLiteral("session_id"), sessionOf(victim)}})),
             QStringLiteral("not_found"));
    QCOMPARE(outcome(adminRequest(op, QStringLiteral("admin.disconnect"), {{QStringLiteral("session_id"), QStringLiteral("no-such-session")}})),
             QStringLiteral("not_found"));
    QCOMPARE(outcome(adminRequest(op, QStringLiteral("admin.disconnect"))), QStringLiteral("bad_request"));
    QCOMPARE(outcome(bystander.request({{QStringLiteral("type"), QStringLiteral("ping")}})), QStringLiteral("pong"));
}

void TstAdmin::tickerCanBeSwitchedOffAndOn()
{
    TestServer server(flags({"--ticker", "1-1"}));
    TestClient op;
    TestClient participant;
    QVERIFY(connectOperator(op, server.port()));
    QVERIFY(participant.connectAs(server.port(), QStringLiteral("pat")));

    const auto waitTicker = [](TestClient &c, int timeoutMs) {
        return c.waitFor([](const QJsonObject &f) {
            return typeOf(f) == QLatin1StringView("broadcast") && f.value(QStringLiteral("kind")).toString() == QLatin1StringView("ticker");
        }, timeoutMs);
    };

    QCOMPARE(adminRequest(op, QStringLiteral("admin.ticker"), {{QStringLiteral("enabled"), false}}).value(QStringLiteral("type")).toString(),
             QStringLiteral("ack"));
    QTest::qWait(100);
    participant.clearFrames();
    QTest::qWait(2500);
    QCOMPARE(broadcastsOfKind(participant, QStringLiteral("ticker")).size(), 0);

    QCOMPARE(outcome(adminRequest(op, QStringLiteral("admin.ticker"), {{QStringLiteral("enabled"), true}})), QStringLiteral("ack"));
    const QJsonObject tick = waitTicker(participant, 1600);
    QVERIFY2(!tick.isEmpty(), "no ticker broadcast within 1.6 s of enabling it (interval 1-1 s)");
    QCOMPARE(tick.value(QStringLiteral("from")).toString(), QStringLiteral("system"));
    QCOMPARE(tick.value(QStringLiteral("origin")).toString(), QStringLiteral("test-1"));
    QVERIFY(!tick.value(QStringLiteral("text")).toString().isEmpty());
    QVERIFY(tick.value(QStringLiteral("ts")).toInteger() > 0);
    QVERIFY(!waitTicker(op, 1500).isEmpty()); // operators get it too
    QTRY_VERIFY_WITH_TIMEOUT(broadcastsOfKind(participant, QStringLiteral("ticker")).size() >= 2, 2500);

    QCOMPARE(outcome(adminRequest(op, QStringLiteral("admin.ticker"), {{QStringLiteral("enabled"), false}})), QStringLiteral("ack"));
    QTest::qWait(100);
    participant.clearFrames();
    QTest::qWait(2000);
    QCOMPARE(broadcastsOfKind(participant, QStringLiteral("ticker")).size(), 0);
}

void TstAdmin::drainMovesParticipantsAway()
{
    TestServer server(flags({"--drain-s", "1"}));
    const quint16 port = server.port();
    TestClient op;
    QVERIFY(connectOperator(op, port));
    QCOMPARE(outcome(subscribe(op)), QStringLiteral("ack"));
    // Raw clients: Qt 6.4's QWebSocket reports a received 1012 as 1002.
    RawWsClient first;
    RawWsClient second;
    QVERIFY(first.open(port, issueToken(port, QStringLiteral("first")).token));
    QVERIFY(second.open(port, issueToken(port, QStringLiteral("second")).token));

    QCOMPARE(outcome(adminRequest(op, QStringLiteral("admin.drain"), {{QStringLiteral("instance"), QStringLiteral("elsewhere")}})),
             QStringLiteral("not_found"));
    QCOMPARE(httpGet(port, QStringLiteral("/readyz")).status, 200);

    QElapsedTimer clock;
    clock.start();
    QCOMPARE(outcome(adminRequest(op, QStringLiteral("admin.drain"), {{QStringLiteral("instance"), QStringLiteral("test-1")}})),
             QStringLiteral("ack"));

    const HttpResult ready = httpGet(port, QStringLiteral("/readyz"));
    QCOMPARE(ready.status, 503);
    QCOMPARE(ready.json().value(QStringLiteral("status")).toString(), QStringLiteral("draining"));
    QVERIFY(!ready.json().value(QStringLiteral("reason")).toString().isEmpty());
    QCOMPARE(httpGet(port, QStringLiteral("/api/instance")).json().value(QStringLiteral("ready")).toBool(), false);

    // A new participant is refused before the upgrade.
    const Token refusedToken = issueToken(port, QStringLiteral("latecomer"));
    QCOMPARE(statusOf(rawExchange(port, upgradeRequest(QStringLiteral("/ws?token=") + refusedToken.token))), 503);
    TestClient latecomer;
    QVERIFY(!latecomer.connectAs(port, QStringLiteral("latecomer")));

    // Each participant is asked to reconnect and closed with 1012, spread over SB_DRAIN_S.
    QList<qint64> closedAt{-1, -1};
    const QList<RawWsClient *> participants{&first, &second};
    while ((closedAt[0] < 0 || closedAt[1] < 0) && clock.elapsed() < 4000) {
        for (qsizetype i = 0; i < participants.size(); ++i) {
            participants[i]->poll();
            if (closedAt[i] < 0 && participants[i]->closeCode() >= 0) {
                closedAt[i] = clock.elapsed();
                participants[i]->socket().disconnectFromHost(); // as a client would after the close frame
            }
        }
        QTest::qWait(5);
    }
    for (RawWsClient *p : participants) {
        QCOMPARE(p->closeCode(), 1012);
        QVERIFY(!p->textFrames().isEmpty());
        const QJsonObject reconnect = p->textFrames().last();
        QCOMPARE(typeOf(reconnect), QStringLiteral("reconnect"));
        QCOMPARE(reconnect.value(QStringLiteral("reason")).toString(), QStringLiteral("draining"));
        QVERIFY(reconnect.value(QStringLiteral("after_ms")).isDouble());
        QVERIFY(reconnect.value(QStringLiteral("after_ms")).toInteger() >= 0);
    }
    QVERIFY2(qAbs(closedAt[1] - closedAt[0]) >= 200,
             qPrintable(QStringLiteral("closes at %1 and %2 ms are not spread").arg(closedAt[0]).arg(closedAt[1])));
    QVERIFY(qMax(closedAt[0], closedAt[1]) <= 2500);
    QTRY_COMPARE(op.framesOfType(QStringLiteral("admin.conn.close")).size(), 2);
    for (const QJsonObject &closed : op.framesOfType(QStringLiteral("admin.conn.close")))
        QCOMPARE(closed.value(QStringLiteral("code")).toInt(), 1012);

    // Operators stay, and may still connect.
    QVERIFY(!op.isClosed());
    QCOMPARE(outcome(op.request({{QStringLiteral("type"), QStringLiteral("ping")}})), QStringLiteral("pong"));
    TestClient secondOp;
    QVERIFY(connectOperator(secondOp, port, QStringLiteral("otto")));
    QCOMPARE(httpGet(port, QStringLiteral("/readyz")).status, 503); // still draining: it stays up, not ready

    QCOMPARE(outcome(adminRequest(secondOp, QStringLiteral("admin.undrain"), {{QStringLiteral("instance"), QStringLiteral("test-1")}})),
             QStringLiteral("ack"));
    const HttpResult readyAgain = httpGet(port, QStringLiteral("/readyz"));
    QCOMPARE(readyAgain.status, 200);
    QCOMPARE(readyAgain.json().value(QStringLiteral("status")).toString(), QStringLiteral("ready"));
    TestClient returning;
    QVERIFY(returning.connectAs(port, QStringLiteral("first")));
    QTest::qWait(1200); // longer than the drain period: nobody is sent away any more
    QVERIFY(!returning.isClosed());
    QVERIFY(!op.isClosed());
}

void TstAdmin::actionsAreAudited_data()
{
    QTest::addColumn<QString>("action");
    QTest::addColumn<QJsonObject>("fields"); // "$victim" stands for a participant's session id
    QTest::addColumn<QString>("detailKey");  // a field the audit details must repeat

    QTest::addRow("admin.inject") << QStringLiteral("admin.inject")
                                  << QJsonObject{{QStringLiteral("target"), QJsonObject{{QStringLiteral("all"), true}}},
                                                 {QStringLiteral("text"), QStringLiteral("audited")}}
                                  << QStringLiteral("text");
    QTest::addRow("admin.disconnect") << QStringLiteral("admin.disconnect")
                                      << QJsonObject{{QStringLiteral("session_id"), QStringLiteral("$victim")}}
                                      << QStringLiteral("session_id");
    QTest::addRow("admin.drain") << QStringLiteral("admin.drain")
                                 << QJsonObject{{QStringLiteral("instance"), QStringLiteral("test-1")}}
                                 << QStringLiteral("instance");
    QTest::addRow("admin.undrain") << QStringLiteral("admin.undrain")
                                   << QJsonObject{{QStringLiteral("instance"), QStringLiteral("test-1")}}
                                   << QStringLiteral("instance");
    QTest::addRow("admin.ticker") << QStringLiteral("admin.ticker")
                                  << QJsonObject{{QStringLiteral("enabled"), false}}
                                  << QStringLiteral("enabled");
}

void TstAdmin::actionsAreAudited()
{
    QFETCH(QString, action);
    QFETCH(QJsonObject, fields);
    QFETCH(QString, detailKey);

    TestServer server(flags({"--drain-s", "1"}));
    TestClient op;
    TestClient victim;
    QVERIFY(connectOperator(op, server.port()));
    QVERIFY(victim.connectAs(server.port(), QStringLiteral("victim")));
    if (fields.value(QStringLiteral("session_id")).toString() == QLatin1StringView("$victim"))
        fields.insert(QStringLiteral("session_id"), sessionOf(victim));
    QCOMPARE(readAuditLog(server.dataDir()).size(), 0);

    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    QCOMPARE(outcome(adminRequest(op, action, fields)), QStringLiteral("ack"));

    QList<AuditRow> rows;
    QTRY_VERIFY((rows = readAuditLog(server.dataDir())).size() == 1);
    const AuditRow &row = rows.first();
    QCOMPARE(row.actor, operatorUser);
    QCOMPARE(row.action, action);
    QVERIFY(row.at >= before - 1000 && row.at <= QDateTime::currentMSecsSinceEpoch());
    QCOMPARE(row.details.value(detailKey), fields.value(detailKey));
}

SB_SERVER_TEST_MAIN(TstAdmin)
#include "tst_admin.moc"
