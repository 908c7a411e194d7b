// Todos per client_id (docs/protocol.md section 3, "Todos"): the acks and
// item shape, todo.changed to every connection of the same client_id, the
// privacy of other clients' items, field validation and durability across a
// restart on the same data directory.

#include "testsupport.h"

#include <QDateTime>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QTest>

using namespace sbtest;

namespace {

QJsonObject addTodo(TestClient &c, const QString &title)
{
    return c.request({{QStringLiteral("type"), QStringLiteral("todo.add")}, {QStringLiteral("title"), title}});
}

QJsonArray listTodos(TestClient &c)
{
    return c.request({{QStringLiteral("type"), QStringLiteral("todo.list")}}).value(QStringLiteral("items")).toArray();
}

// Checks the documented item shape: exactly these keys with these types.
void verifyItemShape(const QJsonObject &item)
{
    QStringList keys = item.keys();
    keys.sort();
    QCOMPARE(keys, QStringList({QStringLiteral("created_at"), QStringLiteral("done"), QStringLiteral("id"),
                                QStringLiteral("title"), QStringLiteral("updated_at")}));
    QVERIFY(item.value(QStringLiteral("id")).isDouble());
    QVERIFY(item.value(QStringLiteral("title")).isString());
    QVERIFY(item.value(QStringLiteral("done")).isBool());
    QVERIFY(item.value(QStringLiteral("created_at")).toInteger() > 0);
    QVERIFY(item.value(QStringLiteral("updated_at")).toInteger() >= item.value(QStringLiteral("created_at")).toInteger());
}

QString code(const QJsonObject &answer)
{
    return answer.value(QStringLiteral("type")).toString() == QLatin1StringView("error")
               ? answer.value(QStringLiteral("code")).toString()
               : answer.value(QStringLiteral("type")).toString();
}

bool isChange(const QJsonObject &f, const QString &op)
{
    return f.value(QStringLiteral("type")).toString() == QLatin1StringView("todo.changed")
           && f.value(QStringLiteral("op")).toString() == op;
}

} // namespace

class TstTodos : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        m_server = std::make_unique<TestServer>(QStringList{QStringLiteral("--connect-rate"), QStringLiteral("1000/60"),
                                                            QStringLiteral("--msg-rate"), QStringLiteral("0")});
    }
    void cleanupTestCase() { m_server.reset(); }

    void addListUpdateDelete();
    void changesReachEveryConnectionOfTheClient();
    void otherClientsCannotSeeOrTouchTodos();
    void titleLengthIsLimited_data();
    void titleLengthIsLimited();
    void wrongFieldTypesAreBadRequests_data();
    void wrongFieldTypesAreBadRequests();
    void todosSurviveARestart();
    void todoLimitHoldsAcrossTabsAndInstances_data();
    void todoLimitHoldsAcrossTabsAndInstances();

private:
    std::unique_ptr<TestServer> m_server;
};

void TstTodos::addListUpdateDelete()
{
    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("alice"), QStringLiteral("todo-crud")));
    QCOMPARE(listTodos(c).size(), 0);

    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    const QJsonObject added = addTodo(c, QStringLiteral("buy milk"));
    QCOMPARE(added.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    const QJsonObject item = added.value(QStringLiteral("item")).toObject();
    verifyItemShape(item);
    QCOMPARE(item.value(QStringLiteral("title")).toString(), QStringLiteral("buy milk"));
    QCOMPARE(item.value(QStringLiteral("done")).toBool(), false);
    QVERIFY(item.value(QStringLiteral("created_at")).toInteger() >= before - 1000);
    const qint64 id = item.value(QStringLiteral("id")).toInteger();
    const QJsonObject second = addTodo(c, QStringLiteral("walk dog")).value(QStringLiteral("item")).toObject();
    QVERIFY(second.value(QStringLiteral("id")).toInteger() != id);

    QJsonArray items = listTodos(c);
    QCOMPARE(items.size(), 2);
    QCOMPARE(items[0].toObject(), item); // oldest first
    QCOMPARE(items[1].toObject(), second);

    QTest::qWait(5); // so that updated_at can differ from created_at
    const QJsonObject updated = c.request({{QStringLiteral("type"), QStringLiteral("todo.update")},
                                           {QStringLiteral("id"), id},
                                           {QStringLiteral("done"), true}})
                                    .value(QStringLiteral("item")).toObject();
    verifyItemShape(updated);
    QCOMPARE(updated.value(QStringLiteral("id")).toInteger(), id);
    QCOMPARE(updated.value(QStringLiteral("done")).toBool(), true);
    QCOMPARE(updated.value(QStringLiteral("title")).toString(), QStringLiteral("buy milk")); // untouched
    QCOMPARE(updated.value(QStringLiteral("created_at")), item.value(QStringLiteral("created_at")));
    QVERIFY(updated.value(QStringLiteral("updated_at")).toInteger() > item.value(QStringLiteral("updated_at")).toInteger());

    const QJsonObject renamed = c.request({{QStringLiteral("type"), QStringLiteral("todo.update")},
                                           {QStringLiteral("id"), id},
                                           {QStringLiteral("title"), QStringLiteral("buy oat milk")}})
                                    .value(QStringLiteral("item")).toObject();
    QCOMPARE(renamed.value(QStringLiteral("title")).toString(), QStringLiteral("buy oat milk"));
    QCOMPARE(renamed.value(QStringLiteral("done")).toBool(), true); // untouched

    const QJsonObject deleted = c.request({{QStringLiteral("type"), QStringLiteral("todo.delete")}, {QStringLiteral("id"), id}});
    QCOMPARE(deleted.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(deleted.value(QStringLiteral("id")).toInteger(), id);
    items = listTodos(c);
    QCOMPARE(items.size(), 1);
    QCOMPARE(items[0].toObject().value(QStringLiteral("id")).toInteger(), second.value(QStringLiteral("id")).toInteger());

    // Gone is gone: a second delete or an update of it is not_found.
    QCOMPARE(code(c.request({{QStringLiteral("type"), QStringLiteral("todo.delete")}, {QStringLiteral("id"), id}})),
             QStringLiteral("not_found"));
    QCOMPARE(code(c.request({{QStringLiteral("type"), QStringLiteral("todo.update")}, {QStringLiteral("id"), id},
                             {QStringLiteral("done"), false}})),
             QStringLiteral("not_found"));
    QCOMPARE(code(c.request({{QStringLiteral("type"), QStringLiteral("todo.delete")}, {QStringLiteral("id"), 987654321}})),
             QStringLiteral("not_found"));
}

void TstTodos::changesReachEveryConnectionOfTheClient()
{
    const QString clientId = QStringLiteral("todo-sync");
    TestClient tabA;
    TestClient tabB;
    TestClient stranger;
    QVERIFY(tabA.connectAs(m_server->port(), QStringLiteral("alice"), clientId));
    QVERIFY(tabB.connectAs(m_server->port(), QStringLiteral("alice"), clientId));
    QVERIFY(stranger.connectAs(m_server->port(), QStringLiteral("mallory"), QStringLiteral("todo-stranger")));

    const QJsonObject item = addTodo(tabA, QStringLiteral("shared")).value(QStringLiteral("item")).toObject();
    const qint64 id = item.value(QStringLiteral("id")).toInteger();
    for (TestClient *tab : {&tabA, &tabB}) {
        const QJsonObject added = tab->waitFor([](const QJsonObject &f) { return isChange(f, QStringLiteral("added")); });
        QCOMPARE(added.value(QStringLiteral("item")).toObject(), item);
    }

    const QJsonObject updated = tabB.request({{QStringLiteral("type"), QStringLiteral("todo.update")},
                                              {QStringLiteral("id"), id},
                                              {QStringLiteral("done"), true}})
                                    .value(QStringLiteral("item")).toObject();
    for (TestClient *tab : {&tabA, &tabB}) {
        const QJsonObject change = tab->waitFor([](const QJsonObject &f) { return isChange(f, QStringLiteral("updated")); });
        QCOMPARE(change.value(QStringLiteral("item")).toObject(), updated);
    }

    tabA.request({{QStringLiteral("type"), QStringLiteral("todo.delete")}, {QStringLiteral("id"), id}});
    for (TestClient *tab : {&tabA, &tabB}) {
        const QJsonObject change = tab->waitFor([](const QJsonObject &f) { return isChange(f, QStringLiteral("deleted")); });
        QCOMPARE(change.value(QStringLiteral("item")).toObject(), QJsonObject({{QStringLiteral("id"), id}}));
    }

    // Exactly one event per change and connection; nothing for another client.
    QTest::qWait(100);
    for (TestClient *tab : {&tabA, &tabB})
        QCOMPARE(tab->framesOfType(QStringLiteral("todo.changed")).size(), 3);
    QCOMPARE(stranger.framesOfType(QStringLiteral("todo.changed")).size(), 0);
}

void TstTodos::otherClientsCannotSeeOrTouchTodos()
{
    TestClient owner;
    TestClient other;
    QVERIFY(owner.connectAs(m_server->port(), QStringLiteral("alice"), QStringLiteral("todo-owner")));
    // Same user name, different client_id: still someone else.
    QVERIFY(other.connectAs(m_server->port(), QStringLiteral("alice"), QStringLiteral("todo-other")));

    const qint64 id = addTodo(owner, QStringLiteral("private")).value(QStringLiteral("item")).toObject()
                          .value(QStringLiteral("id")).toInteger();
    QCOMPARE(listTodos(other).size(), 0);
    QCOMPARE(code(other.request({{QStringLiteral("type"), QStringLiteral("todo.update")}, {QStringLiteral("id"), id},
                                 {QStringLiteral("title"), QStringLiteral("hijacked")}})),
             QStringLiteral("not_found"));
    QCOMPARE(code(other.request({{QStringLiteral("type"), QStringLiteral("todo.delete")}, {QStringLiteral("id"), id}})),
             QStringLiteral("not_found"));

    const QJsonArray items = listTodos(owner);
    QCOMPARE(items.size(), 1);
    QCOMPARE(items[0].toObject().value(QStringLiteral("title")).toString(), QStringLiteral("private"));
    QTest::qWait(100);
    QCOMPARE(other.framesOfType(QStringLiteral("todo.changed")).size(), 0);
}

void TstTodos::titleLengthIsLimited_data()
{
    QTest::addColumn<QString>("title");
    QTest::addColumn<QString>("expected");

    QTest::addRow("empty") << QString() << QStringLiteral("bad_request");
    QTest::addRow("one character") << QStringLiteral("x") << QStringLiteral("ack");
    QTest::addRow("500 characters") << QString(500, QLatin1Char('t')) << QStringLiteral("ack");
    QTest::addRow("501 characters") << QString(501, QLatin1Char('t')) << QStringLiteral("too_large");
    // Characters are code points: 500 emoji are 1000 UTF-16 units and still allowed.
    QTest::addRow("500 astral characters") << QString::fromUcs4(std::u32string(500, U'\U0001F600').c_str(), 500)
                                           << QStringLiteral("ack");
    QTest::addRow("501 astral characters") << QString::fromUcs4(std::u32string(501, U'\U0001F600').c_str(), 501)
                                           << QStringLiteral("too_large");
}

void TstTodos::titleLengthIsLimited()
{
    QFETCH(QString, title);
    QFETCH(QString, expected);

    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("alice"), QStringLiteral("todo-limits")));
    const QJsonObject added = addTodo(c, title);
    QCOMPARE(code(added), expected);
    if (expected == QLatin1StringView("ack")) {
        const qint64 id = added.value(QStringLiteral("item")).toObject().value(QStringLiteral("id")).toInteger();
        QCOMPARE(added.value(QStringLiteral("item")).toObject().value(QStringLiteral("title")).toString(), title);
        // The same limit applies to a rename.
        const QJsonObject renamed = c.request({{QStringLiteral("type"), QStringLiteral("todo.update")},
                                               {QStringLiteral("id"), id},
                                               {QStringLiteral("title"), title + QLatin1Char('!')}});
        QCOMPARE(code(renamed), title.size() >= 500 ? QStringLiteral("too_large") : QStringLiteral("ack"));
        QCOMPARE(code(c.request({{QStringLiteral("type"), QStringLiteral("todo.update")}, {QStringLiteral("id"), id},
                                 {QStringLiteral("title"), QString()}})),
                 QStringLiteral("bad_request"));
        c.request({{QStringLiteral("type"), QStringLiteral("todo.delete")}, {QStringLiteral("id"), id}});
    } else {
        QCOMPARE(listTodos(c).size(), 0); // nothing was stored
    }
}

void TstTodos::wrongFieldTypesAreBadRequests_data()
{
    QTest::addColumn<QString>("frame");

    QTest::addRow("add without title") << QStringLiteral(R"({"type":"todo.add"})");
    QTest::addRow("add title number") << QStringLiteral(R"({"type":"todo.add","title":42})");
    QTest::addRow("add title null") << QStringLiteral(R"({"type":"todo.add","title":null})");
    QTest::addRow("add title array") << QStringLiteral(R"({"type":"todo.add","title":["a"]})");
    QTest::addRow("update without id") << QStringLiteral(R"({"type":"todo.update","done":true})");
    QTest::addRow("update id string") << QStringLiteral(R"({"type":"todo.update","id":"1","done":true})");
    QTest::addRow("update id fraction") << QStringLiteral(R"({"type":"todo.update","id":1.5,"done":true})");
    QTest::addRow("update done string") << QStringLiteral(R"({"type":"todo.update","id":1,"done":"yes"})");
    QTest::addRow("update done number") << QStringLiteral(R"({"type":"todo.update","id":1,"done":1})");
    QTest::addRow("update title number") << QStringLiteral(R"({"type":"todo.update","id":1,"title":7})");
    QTest::addRow("delete without id") << QStringLiteral(R"({"type":"todo.delete"})");
    QTest::addRow("delete id string") << QStringLiteral(R"({"type":"todo.delete","id":"1"})");
    QTest::addRow("delete id bool") << QStringLiteral(R"({"type":"todo.delete","id":true})");
}

void TstTodos::wrongFieldTypesAreBadRequests()
{
    QFETCH(QString, frame);
    TestClient c;
    QVERIFY(c.connectAs(m_server->port(), QStringLiteral("alice"), QStringLiteral("todo-types")));
    c.sendRaw(frame.chopped(1) + QStringLiteral(R"(,"ref":"typed"})"));
    const QJsonObject answer = c.waitFor([](const QJsonObject &f) {
        return f.value(QStringLiteral("ref")).toString() == QLatin1StringView("typed");
    });
    QCOMPARE(answer.value(QStringLiteral("type")).toString(), QStringLiteral("error"));
    QCOMPARE(answer.value(QStringLiteral("code")).toString(), QStringLiteral("bad_request"));
    QCOMPARE(listTodos(c).size(), 0);
    QCOMPARE(c.framesOfType(QStringLiteral("todo.changed")).size(), 0);
}

void TstTodos::todosSurviveARestart()
{
    QTemporaryDir dataDir;
    QVERIFY(dataDir.isValid());
    const QStringList flags{QStringLiteral("--connect-rate"), QStringLiteral("1000/60")};
    const QString clientId = QStringLiteral("todo-durable");
    QJsonArray before;
    {
        TestServer first(flags, dataDir.path());
        TestClient c;
        QVERIFY(c.connectAs(first.port(), QStringLiteral("alice"), clientId));
        addTodo(c, QStringLiteral("one"));
        const qint64 id = addTodo(c, QStringLiteral("two")).value(QStringLiteral("item")).toObject()
                              .value(QStringLiteral("id")).toInteger();
        addTodo(c, QStringLiteral("three"));
        c.request({{QStringLiteral("type"), QStringLiteral("todo.update")}, {QStringLiteral("id"), id},
                   {QStringLiteral("done"), true}});
        before = listTodos(c);
        QCOMPARE(before.size(), 3);
        first.stop();
    }

    TestServer second(flags, dataDir.path());
    TestClient c;
    QVERIFY(c.connectAs(second.port(), QStringLiteral("alice"), clientId));
    const QJsonArray after = listTodos(c);
    QCOMPARE(after, before);
    QCOMPARE(after[1].toObject().value(QStringLiteral("done")).toBool(), true);
    // New ids do not reuse old ones.
    const qint64 next = addTodo(c, QStringLiteral("four")).value(QStringLiteral("item")).toObject()
                            .value(QStringLiteral("id")).toInteger();
    for (const QJsonValue &old : before)
        QVERIFY(old.toObject().value(QStringLiteral("id")).toInteger() != next);
}

void TstTodos::todoLimitHoldsAcrossTabsAndInstances_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addRow("embedded") << QStringLiteral("embedded");
    QTest::addRow("postgres") << QStringLiteral("postgres");
}

void TstTodos::todoLimitHoldsAcrossTabsAndInstances()
{
    // SB_MAX_TODOS is 5. Two tabs of one client_id add 5 todos each at once,
    // on one instance (embedded store) or on two instances sharing PostgreSQL:
    // exactly 5 are stored, the other 5 get limit_exceeded.
    QFETCH(QString, backend);
    QTemporaryDir dataDir;
    QVERIFY(dataDir.isValid());
    QStringList flags{QStringLiteral("--connect-rate"), QStringLiteral("1000/60"), QStringLiteral("--msg-rate"),
                      QStringLiteral("0"), QStringLiteral("--max-todos"), QStringLiteral("5")};
    if (backend == QLatin1StringView("postgres")) {
        const QString url = qEnvironmentVariable("SB_TEST_DATABASE_URL");
        SB_REQUIRE_SERVICE(!url.isEmpty(), "SB_TEST_DATABASE_URL is not set: the PostgreSQL store is not tested");
        flags << QStringLiteral("--database-url") << url;
    }
    TestServer first(flags, dataDir.path());
    std::unique_ptr<TestServer> secondInstance;
    if (backend == QLatin1StringView("postgres"))
        secondInstance = std::make_unique<TestServer>(flags);
    TestServer &second = secondInstance ? *secondInstance : first;
    // The PostgreSQL database outlives the test: a client of its own each run.
    const QString clientId = QStringLiteral("todo-limit-%1-%2").arg(backend).arg(QDateTime::currentMSecsSinceEpoch());
    TestClient tabA;
    TestClient tabB;
    QVERIFY(tabA.connectAs(first.port(), QStringLiteral("alice"), clientId));
    QVERIFY(tabB.connectAs(second.port(), QStringLiteral("alice"), clientId));
    const QString limitLabel = QStringLiteral("kind=\"todos\"");
    auto refusals = [&] {
        double sum = metricValue(first.port(), QStringLiteral("sb_limit_exceeded_total"), {limitLabel});
        if (secondInstance)
            sum += metricValue(second.port(), QStringLiteral("sb_limit_exceeded_total"), {limitLabel});
        return sum;
    };
    const double refusedBefore = refusals();

    for (int i = 0; i < 5; ++i) {
        for (TestClient *tab : {&tabA, &tabB}) {
            tab->send({{QStringLiteral("type"), QStringLiteral("todo.add")},
                       {QStringLiteral("title"), QStringLiteral("t%1").arg(i)},
                       {QStringLiteral("ref"), QStringLiteral("limit-%1").arg(i)}});
        }
    }
    int acks = 0;
    int refused = 0;
    for (TestClient *tab : {&tabA, &tabB}) {
        for (int i = 0; i < 5; ++i) {
            const QString ref = QStringLiteral("limit-%1").arg(i);
            const QJsonObject answer = tab->waitFor(
                [&ref](const QJsonObject &f) { return f.value(QStringLiteral("ref")).toString() == ref; });
            const QString answered = code(answer);
            if (answered == QLatin1StringView("ack")) {
                ++acks;
            } else {
                QCOMPARE(answered, QStringLiteral("limit_exceeded"));
                QVERIFY(!answer.value(QStringLiteral("message")).toString().isEmpty());
                ++refused;
            }
        }
    }
    QCOMPARE(acks, 5);
    QCOMPARE(refused, 5);
    const QJsonArray stored = listTodos(tabA);
    QCOMPARE(stored.size(), 5);
    QCOMPARE(listTodos(tabB), stored);
    QCOMPARE(refusals() - refusedBefore, 5.0);
    // A refused add announces nothing: every todo.changed is of a stored item.
    // (Without a shared backplane the instances do not hear each other's.)
    QTest::qWait(100);
    for (TestClient *tab : {&tabA, &tabB}) {
        for (const QJsonObject &change : tab->framesOfType(QStringLiteral("todo.changed")))
            QVERIFY(stored.contains(change.value(QStringLiteral("item")).toObject()));
    }
    if (!secondInstance)
        QCOMPARE(tabA.framesOfType(QStringLiteral("todo.changed")).size(), 5);

    // Room again after a delete.
    const qint64 id = listTodos(tabA).at(0).toObject().value(QStringLiteral("id")).toInteger();
    QCOMPARE(code(tabA.request({{QStringLiteral("type"), QStringLiteral("todo.delete")}, {QStringLiteral("id"), id}})),
             QStringLiteral("ack"));
    QCOMPARE(code(addTodo(tabB, QStringLiteral("again"))), QStringLiteral("ack"));
    QCOMPARE(code(addTodo(tabA, QStringLiteral("one too many"))), QStringLiteral("limit_exceeded"));
}

SB_SERVER_TEST_MAIN(TstTodos)
#include "tst_todos.moc"
