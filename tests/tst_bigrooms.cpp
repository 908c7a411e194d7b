// Big rooms (contract section 8) against an in-process server over real
// loopback WebSockets: per-session presence up to SB_PRESENCE_LIMIT members,
// batched presence (at most one frame a second) above it, `member_count` and
// at most 200 `members` in the join ack, and the `members` request paging
// through the rest in session_id order.

#include "testsupport.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>
#include <QTest>

#include <memory>
#include <vector>

using namespace sbtest;

namespace {
constexpr int PresenceLimit = 5;

bool isBatch(const QJsonObject &f)
{
    return f.value(QStringLiteral("type")).toString() == QStringLiteral("presence")
           && f.value(QStringLiteral("event")).toString() == QStringLiteral("batch");
}

QStringList sessionIds(const QJsonArray &members)
{
    QStringList ids;
    for (const QJsonValue &m : members)
        ids.append(m.toObject().value(QStringLiteral("session_id")).toString());
    return ids;
}
} // namespace

class TstBigRooms : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase() { m_server.reset(); }

    void presencePerSessionUpToTheLimit();
    void batchedPresenceAboveTheLimit();
    void joinAckListsAtMost200AndCounts();
    void membersPagesInSessionOrder();
    void membersRequestRules();

private:
    // `n` connected participants, each joined to `room` (acks awaited together).
    std::vector<std::unique_ptr<TestClient>> joinMany(const QString &room, int n);
    std::unique_ptr<TestServer> m_server;
};

void TstBigRooms::initTestCase()
{
    m_server = std::make_unique<TestServer>(QStringList{
        QStringLiteral("--presence-limit"), QString::number(PresenceLimit), QStringLiteral("--msg-rate"),
        QStringLiteral("0"), QStringLiteral("--connect-rate"), QStringLiteral("100000/60"),
        QStringLiteral("--max-rooms"), QStringLiteral("1000")});
}

std::vector<std::unique_ptr<TestClient>> TstBigRooms::joinMany(const QString &room, int n)
{
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < n; ++i) {
        auto c = std::make_unique<TestClient>();
        if (!c->connectAs(m_server->port(), QStringLiteral("u%1").arg(i)))
            qWarning("client %d did not connect", i);
        clients.push_back(std::move(c));
    }
    // Every join at once, as a crowd arrives.
    for (int i = 0; i < n; ++i)
        clients[i]->send({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), room},
                          {QStringLiteral("ref"), QStringLiteral("j%1").arg(i)}});
    for (int i = 0; i < n; ++i) {
        const QJsonObject ack = clients[i]->waitFor([&](const QJsonObject &f) {
            return f.value(QStringLiteral("ref")).toString() == QStringLiteral("j%1").arg(i);
        }, 20000);
        if (ack.value(QStringLiteral("type")).toString() != QStringLiteral("ack"))
            qWarning("join %d: %s", i, qPrintable(QString::fromUtf8(QJsonDocument(ack).toJson(QJsonDocument::Compact))));
    }
    return clients;
}

void TstBigRooms::presencePerSessionUpToTheLimit()
{
    TestClient first;
    QVERIFY(first.connectAs(m_server->port(), QStringLiteral("first")));
    QCOMPARE(first.join(QStringLiteral("small")).value(QStringLiteral("member_count")).toInteger(), 1);
    std::vector<std::unique_ptr<TestClient>> others;
    for (int i = 1; i < PresenceLimit; ++i) {
        others.push_back(std::make_unique<TestClient>());
        QVERIFY(others.back()->connectAs(m_server->port(), QStringLiteral("u%1").arg(i)));
        const QJsonObject ack = others.back()->join(QStringLiteral("small"));
        QCOMPARE(ack.value(QStringLiteral("member_count")).toInteger(), i + 1);
        QCOMPARE(ack.value(QStringLiteral("members")).toArray().size(), i + 1);
    }
    // A room of PresenceLimit members: every join was told one by one.
    QTRY_COMPARE(first.framesOfType(QStringLiteral("presence")).size(), PresenceLimit - 1);
    for (const QJsonObject &f : first.framesOfType(QStringLiteral("presence")))
        QCOMPARE(f.value(QStringLiteral("event")).toString(), QStringLiteral("join"));
}

void TstBigRooms::batchedPresenceAboveTheLimit()
{
    const double batchesBefore = metricValue(m_server->port(), QStringLiteral("sb_presence_batches_total"));
    TestClient watcher;
    QVERIFY(watcher.connectAs(m_server->port(), QStringLiteral("watcher")));
    watcher.join(QStringLiteral("crowd"));
    QList<qint64> arrivals; // ms at which each batch reached the watcher
    QElapsedTimer clock;
    clock.start();
    connect(&watcher.socket(), &QWebSocket::textMessageReceived, this, [&](const QString &text) {
        if (text.contains(QStringLiteral("\"batch\"")))
            arrivals.append(clock.elapsed());
    });

    auto crowd = joinMany(QStringLiteral("crowd"), 3 * PresenceLimit);
    QSet<QString> expected;
    for (const auto &c : crowd)
        expected.insert(c->welcome().value(QStringLiteral("session_id")).toString());

    // Up to the limit one by one, then batches; together they name everyone.
    QSet<QString> told;
    QJsonObject last;
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
        told.clear();
        for (const QJsonObject &f : watcher.framesOfType(QStringLiteral("presence"))) {
            if (isBatch(f)) {
                for (const QString &id : sessionIds(f.value(QStringLiteral("joined")).toArray()))
                    told.insert(id);
                last = f;
            } else if (f.value(QStringLiteral("event")).toString() == QStringLiteral("join")) {
                told.insert(f.value(QStringLiteral("session_id")).toString());
            }
        }
        return told == expected;
    }()), 10000);
    QVERIFY(!last.isEmpty());
    QCOMPARE(last.value(QStringLiteral("room")).toString(), QStringLiteral("crowd"));
    QCOMPARE(last.value(QStringLiteral("count")).toInteger(), 1 + 3 * PresenceLimit);
    QCOMPARE(last.value(QStringLiteral("truncated")).toBool(), false);
    QVERIFY(last.value(QStringLiteral("left")).isArray());
    const QList<QJsonObject> perSession = [&] {
        QList<QJsonObject> out;
        for (const QJsonObject &f : watcher.framesOfType(QStringLiteral("presence")))
            if (!isBatch(f))
                out.append(f);
        return out;
    }();
    QVERIFY2(perSession.size() <= PresenceLimit, qPrintable(QString::number(perSession.size())));
    const QJsonObject member = last.value(QStringLiteral("joined")).toArray().first().toObject();
    for (const char *key : {"session_id", "user", "client_id", "instance"})
        QVERIFY2(!member.value(QLatin1StringView(key)).toString().isEmpty(), key);

    // Leaves are batched too, and the count follows.
    for (int i = 0; i < 3; ++i)
        crowd[i]->socket().close();
    QTRY_VERIFY_WITH_TIMEOUT(([&] {
        const QList<QJsonObject> all = watcher.framesOfType(QStringLiteral("presence"));
        return isBatch(all.last()) && all.last().value(QStringLiteral("count")).toInteger() == 1 + 3 * PresenceLimit - 3;
    }()), 5000);
    QSet<QString> gone;
    for (const QJsonObject &f : watcher.framesOfType(QStringLiteral("presence"))) {
        if (isBatch(f)) {
            for (const QString &id : sessionIds(f.value(QStringLiteral("left")).toArray()))
                gone.insert(id);
        }
    }
    QCOMPARE(gone.size(), 3);
    QVERIFY(gone.contains(crowd[0]->welcome().value(QStringLiteral("session_id")).toString()));

    // At most one batch a second reached this member.
    for (qsizetype i = 1; i < arrivals.size(); ++i)
        QVERIFY2(arrivals[i] - arrivals[i - 1] >= 900,
                 qPrintable(QStringLiteral("batches %1 ms apart").arg(arrivals[i] - arrivals[i - 1])));
    QVERIFY(metricValue(m_server->port(), QStringLiteral("sb_presence_batches_total")) >= batchesBefore + 2);
}

void TstBigRooms::joinAckListsAtMost200AndCounts()
{
    auto crowd = joinMany(QStringLiteral("stadium"), 205);
    TestClient late;
    QVERIFY(late.connectAs(m_server->port(), QStringLiteral("late")));
    const QJsonObject ack = late.join(QStringLiteral("stadium"));
    QCOMPARE(ack.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(ack.value(QStringLiteral("member_count")).toInteger(), 206);
    const QStringList listed = sessionIds(ack.value(QStringLiteral("members")).toArray());
    QCOMPARE(listed.size(), 200);
    QStringList sorted = listed;
    sorted.sort();
    QCOMPARE(listed, sorted);
    // Joining twice counts once.
    QCOMPARE(crowd[0]->join(QStringLiteral("stadium")).value(QStringLiteral("member_count")).toInteger(), 206);

    // Batches never list more than 100 members a side.
    for (const auto &c : crowd) {
        for (const QJsonObject &f : c->framesOfType(QStringLiteral("presence"))) {
            if (!isBatch(f))
                continue;
            QVERIFY(f.value(QStringLiteral("joined")).toArray().size() <= 100);
            QVERIFY(f.value(QStringLiteral("left")).toArray().size() <= 100);
            if (f.value(QStringLiteral("joined")).toArray().size() < 100)
                QVERIFY(!f.value(QStringLiteral("truncated")).toBool());
        }
    }
}

void TstBigRooms::membersPagesInSessionOrder()
{
    auto crowd = joinMany(QStringLiteral("pages"), 230);
    QSet<QString> expected;
    for (const auto &c : crowd)
        expected.insert(c->welcome().value(QStringLiteral("session_id")).toString());
    TestClient &me = *crowd.front();

    QStringList all;
    QJsonValue after;
    int pages = 0;
    do {
        QJsonObject request{{QStringLiteral("type"), QStringLiteral("members")}, {QStringLiteral("room"), QStringLiteral("pages")}};
        if (after.isString())
            request.insert(QStringLiteral("after"), after);
        const QJsonObject ack = me.request(request);
        QCOMPARE(ack.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        QCOMPARE(ack.value(QStringLiteral("room")).toString(), QStringLiteral("pages"));
        QVERIFY(ack.contains(QStringLiteral("next")));
        const QStringList page = sessionIds(ack.value(QStringLiteral("members")).toArray());
        QVERIFY(page.size() <= 200);
        all += page;
        after = ack.value(QStringLiteral("next"));
        QVERIFY(after.isNull() || after.toString() == page.last());
        ++pages;
    } while (!after.isNull() && pages < 10);
    QCOMPARE(pages, 2);
    QCOMPARE(all.size(), 230);
    QStringList sorted = all;
    sorted.sort();
    QCOMPARE(all, sorted);
    QCOMPARE(QSet<QString>(all.cbegin(), all.cend()), expected);

    // limit: clamped to 1..1000.
    const QJsonObject one = me.request({{QStringLiteral("type"), QStringLiteral("members")},
                                        {QStringLiteral("room"), QStringLiteral("pages")},
                                        {QStringLiteral("limit"), 0}});
    QCOMPARE(one.value(QStringLiteral("members")).toArray().size(), 1);
    QCOMPARE(one.value(QStringLiteral("next")).toString(), all.first());
    const QJsonObject big = me.request({{QStringLiteral("type"), QStringLiteral("members")},
                                        {QStringLiteral("room"), QStringLiteral("pages")},
                                        {QStringLiteral("limit"), 5000}});
    QCOMPARE(big.value(QStringLiteral("members")).toArray().size(), 230);
    QVERIFY(big.value(QStringLiteral("next")).isNull());
    const QJsonObject middle = me.request({{QStringLiteral("type"), QStringLiteral("members")},
                                           {QStringLiteral("room"), QStringLiteral("pages")},
                                           {QStringLiteral("after"), all.at(99)},
                                           {QStringLiteral("limit"), 10}});
    QCOMPARE(sessionIds(middle.value(QStringLiteral("members")).toArray()), all.mid(100, 10));
    QCOMPARE(middle.value(QStringLiteral("next")).toString(), all.at(109));
}

void TstBigRooms::membersRequestRules()
{
    TestClient a;
    QVERIFY(a.connectAs(m_server->port(), QStringLiteral("alice")));
    const double before = metricValue(m_server->port(), QStringLiteral("sb_errors_total"), {QStringLiteral("code=\"not_member\"")});
    QJsonObject e = a.request({{QStringLiteral("type"), QStringLiteral("members")}, {QStringLiteral("room"), QStringLiteral("elsewhere")}});
    QCOMPARE(e.value(QStringLiteral("code")).toString(), QStringLiteral("not_member"));
    QCOMPARE(metricValue(m_server->port(), QStringLiteral("sb_errors_total"), {QStringLiteral("code=\"not_member\"")}), before + 1);
    e = a.request({{QStringLiteral("type"), QStringLiteral("members")}});
    QCOMPARE(e.value(QStringLiteral("code")).toString(), QStringLiteral("bad_request"));
    e = a.request({{QStringLiteral("type"), QStringLiteral("members")}, {QStringLiteral("room"), QStringLiteral("Bad!")}});
    QCOMPARE(e.value(QStringLiteral("code")).toString(), QStringLiteral("invalid_room"));
    a.join(QStringLiteral("rules"));
    e = a.request({{QStringLiteral("type"), QStringLiteral("members")}, {QStringLiteral("room"), QStringLiteral("rules")},
                   {QStringLiteral("after"), 5}});
    QCOMPARE(e.value(QStringLiteral("code")).toString(), QStringLiteral("bad_request"));
    e = a.request({{QStringLiteral("type"), QStringLiteral("members")}, {QStringLiteral("room"), QStringLiteral("rules")},
                   {QStringLiteral("limit"), QStringLiteral("ten")}});
    QCOMPARE(e.value(QStringLiteral("code")).toString(), QStringLiteral("bad_request"));
    const QJsonObject ok = a.request({{QStringLiteral("type"), QStringLiteral("members")}, {QStringLiteral("room"), QStringLiteral("rules")}});
    QCOMPARE(sessionIds(ok.value(QStringLiteral("members")).toArray()),
             QStringList{a.welcome().value(QStringLiteral("session_id")).toString()});
    QVERIFY(ok.value(QStringLiteral("next")).isNull());
}

SB_SERVER_TEST_MAIN(TstBigRooms)
#include "tst_bigrooms.moc"
