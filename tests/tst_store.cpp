// The durable store, end to end through the public Store interface, against
// the embedded SQLite store always and against PostgreSQL when
// SB_TEST_DATABASE_URL names one (each test in a fresh schema of that
// database). SB_TEST_PG_CTL, a command prefix such as
// "pg_ctl -D /path/data -m fast -w", lets restartPostgres() run "<prefix> restart".

#include "store/migrations.h"
#include "store/storefactory.h"
#include "support/testsupport.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QRandomGenerator>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>
#include <QUrlQuery>

#include <memory>

using namespace sb;

namespace {

constexpr int kWaitMs = 20000;
constexpr qint64 kMinute = 60 * 1000;
const qint64 kNow = 1732236000000;

template<typename T, typename Call>
StoreResult<T> await(Call &&call)
{
    std::optional<StoreResult<T>> result;
    call([&result](StoreResult<T> r) { result = std::move(r); });
    if (!QTest::qWaitFor([&result] { return result.has_value(); }, kWaitMs)) {
        StoreResult<T> timedOut;
        timedOut.error = QStringLiteral("timed out waiting for the store");
        return timedOut;
    }
    return *result;
}

ChatDraft draft(const QString &room, const QString &text, const QString &nonce = {}, qint64 ts = kNow)
{
    return {room, QStringLiteral("alice"), QStringLiteral("client-a"), text, nonce, ts, QStringLiteral("app-1")};
}

StoreResult<AppendResult> append(Store &store, const ChatDraft &d)
{
    return await<AppendResult>([&](auto done) { store.appendChat(d, done); });
}

StoreResult<TodoAddResult> addTodo(Store &store, const QString &client, const QString &title, qint64 now,
                                   int limit = 1000)
{
    return await<TodoAddResult>([&](auto done) { store.todoAdd(client, title, limit, now, done); });
}

// An add under the limit: the stored item, or the error.
StoreResult<TodoItem> addedTodo(Store &store, const QString &client, const QString &title, qint64 now)
{
    const StoreResult<TodoAddResult> added = addTodo(store, client, title, now);
    StoreResult<TodoItem> item{added.ok && !added.value.limitReached, added.error, added.value.item};
    if (added.ok && added.value.limitReached)
        item.error = QStringLiteral("limit reached");
    return item;
}

QList<qint64> seqs(const QList<ChatMessage> &messages)
{
    QList<qint64> out;
    for (const ChatMessage &m : messages)
        out.append(m.seq);
    return out;
}

QList<qint64> range(qint64 first, qint64 last)
{
    QList<qint64> out;
    for (qint64 s = first; s <= last; ++s)
        out.append(s);
    return out;
}

} // namespace

class TestStore final : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void migrationsAreIdempotent_data() { addBackends(); }
    void migrationsAreIdempotent();
    void chatSeqStartsAtOneAndGrowsByOne_data() { addBackends(); }
    void chatSeqStartsAtOneAndGrowsByOne();
    void nonceResendReturnsOriginal_data() { addBackends(); }
    void nonceResendReturnsOriginal();
    void messagesSinceReportsRetention_data() { addBackends(); }
    void messagesSinceReportsRetention();
    void historyPages_data() { addBackends(); }
    void historyPages();
    void todosAreCrudAndPerClient_data() { addBackends(); }
    void todosAreCrudAndPerClient();
    void dataSurvivesReopen_data() { addBackends(); }
    void dataSurvivesReopen();
    void concurrentAppendsAreGapFree_data() { addBackends(); }
    void concurrentAppendsAreGapFree();
    void concurrentResendsAreStoredOnce_data() { addBackends(); }
    void concurrentResendsAreStoredOnce();
    void cleanupCounts_data() { addBackends(); }
    void cleanupCounts();
    void refusedRecordIsUndoneAlone_data() { addBackends(); }
    void refusedRecordIsUndoneAlone();
    void recordsOfABatchKeepTheirOrder_data() { addBackends(); }
    void recordsOfABatchKeepTheirOrder();
    void recordsAreWrittenBeforeTheStoreCloses_data() { addBackends(); }
    void recordsAreWrittenBeforeTheStoreCloses();
    void nonceIsUniqueAcrossRooms_data() { addBackends(); }
    void nonceIsUniqueAcrossRooms();
    void concurrentResendsToOtherRoomsAreStoredOnce_data() { addBackends(); }
    void concurrentResendsToOtherRoomsAreStoredOnce();
    void unicodeRoundTrips_data() { addBackends(); }
    void unicodeRoundTrips();
    void unstorableTextIsRefused_data() { addBackends(); }
    void unstorableTextIsRefused();
    void todoLimitHoldsUnderConcurrentAdds_data() { addBackends(); }
    void todoLimitHoldsUnderConcurrentAdds();
    void bigReadsDoNotHoldAppendsBack_data() { addBackends(); }
    void bigReadsDoNotHoldAppendsBack();
    void cleanupDoesNotHoldAppendsBack_data() { addBackends(); }
    void cleanupDoesNotHoldAppendsBack();
    void restartPostgres();
    void unreachableServerAnswersAtOnce();
    void databaseUrlPasswordIsMasked_data();
    void databaseUrlPasswordIsMasked();

private:
    static void addBackends();
    std::unique_ptr<Store> openStore();
    QString runOnDatabase(const QString &sql); // error text, empty on success
    // Stores `count` messages in `room` straight into the database, far
    // faster than appendChat; the room's last_seq follows.
    void prefill(const QString &room, int count);

    Config m_config;
    std::unique_ptr<QTemporaryDir> m_dataDir;
    QString m_baseUrl; // SB_TEST_DATABASE_URL
    QString m_schema;  // this test's PostgreSQL schema
};

void TestStore::addBackends()
{
    QTest::addColumn<QString>("backend");
    QTest::addRow("embedded") << QStringLiteral("embedded");
    QTest::addRow("postgres") << QStringLiteral("postgres");
}

void TestStore::init()
{
    m_config = Config{};
    const QByteArray tag = QTest::currentDataTag() ? QByteArray(QTest::currentDataTag()) : QByteArray();
    const bool postgres = tag == "postgres" || QByteArray(QTest::currentTestFunction()) == "restartPostgres";
    if (!postgres) {
        m_dataDir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dataDir->isValid());
        m_config.dataDir = m_dataDir->path() + QStringLiteral("/nested/data"); // the store creates it
        return;
    }
    m_baseUrl = qEnvironmentVariable("SB_TEST_DATABASE_URL");
    SB_REQUIRE_SERVICE(!m_baseUrl.isEmpty(), "SB_TEST_DATABASE_URL is not set: the PostgreSQL store is not tested");
    // A schema of its own per test: no leftovers, and other runs against the
    // same database are not disturbed.
    m_schema = QStringLiteral("sb_test_%1_%2")
                   .arg(QCoreApplication::applicationPid())
                   .arg(QRandomGenerator::global()->generate());
    const QString error = runOnDatabase(QStringLiteral("CREATE SCHEMA ") + m_schema);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QUrl url(m_baseUrl);
    QUrlQuery query(url);
    query.addQueryItem(QStringLiteral("options"), QStringLiteral("-csearch_path=") + m_schema);
    url.setQuery(query);
    m_config.databaseUrl = url.toString(QUrl::FullyEncoded);
}

void TestStore::cleanup()
{
    if (!m_schema.isEmpty()) {
        const QString error = runOnDatabase(QStringLiteral("DROP SCHEMA ") + m_schema + QStringLiteral(" CASCADE"));
        if (!error.isEmpty())
            qWarning("could not drop %s: %s", qPrintable(m_schema), qPrintable(error));
        m_schema.clear();
    }
    m_dataDir.reset();
}

QString TestStore::runOnDatabase(const QString &sql)
{
    Config base;
    base.databaseUrl = m_baseUrl;
    const std::unique_ptr<SqlConnection> connection = makeSqlConnection(base);
    QString error;
    if (!connection->open(&error))
        return error;
    try {
        connection->exec(sql);
    } catch (const SqlError &e) {
        return e.message();
    }
    return {};
}

std::unique_ptr<Store> TestStore::openStore()
{
    std::unique_ptr<Store> store = makeStore(m_config);
    store->start();
    if (!QTest::qWaitFor([&store] { return store->isUp(); }, kWaitMs)) {
        qWarning("store did not come up");
        return nullptr;
    }
    return store;
}

void TestStore::migrationsAreIdempotent()
{
    QFETCH(QString, backend);
    for (int round = 0; round < 2; ++round) {
        const std::unique_ptr<Store> store = openStore();
        QVERIFY(store);
        QCOMPARE(store->kind(), backend);
        const auto appended = append(*store, draft(QStringLiteral("lobby"), QStringLiteral("hello")));
        QVERIFY2(appended.ok, qPrintable(appended.error));
        QCOMPARE(appended.value.message.seq, round + 1);
    }

    // The store migrated on first open; doing it again changes nothing.
    const std::unique_ptr<SqlConnection> connection = makeSqlConnection(m_config);
    QString error;
    QVERIFY2(connection->open(&error), qPrintable(error));
    try {
        QCOMPARE(applyMigrations(*connection, kNow), 0);
        QCOMPARE(applyMigrations(*connection, kNow), 0);
        const SqlRows versions = connection->exec(QStringLiteral("SELECT version FROM schema_migrations ORDER BY version"));
        QCOMPARE(versions.size(), latestSchemaVersion());
        QCOMPARE(versions.last().value(0).toLongLong(), latestSchemaVersion());
    } catch (const SqlError &e) {
        QFAIL(qPrintable(e.message()));
    }
}

void TestStore::chatSeqStartsAtOneAndGrowsByOne()
{
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    for (qint64 expected = 1; expected <= 5; ++expected) {
        const auto r = append(*store, draft(QStringLiteral("lobby"), QStringLiteral("m%1").arg(expected)));
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY(!r.value.duplicate);
        QCOMPARE(r.value.message.seq, expected);
        QCOMPARE(r.value.message.text, QStringLiteral("m%1").arg(expected));
        QCOMPARE(r.value.message.from, QStringLiteral("alice"));
        QCOMPARE(r.value.message.origin, QStringLiteral("app-1"));
    }
    const auto other = append(*store, draft(QStringLiteral("other"), QStringLiteral("first")));
    QVERIFY2(other.ok, qPrintable(other.error));
    QCOMPARE(other.value.message.seq, 1);

    const auto last = await<qint64>([&](auto done) { store->lastSeq(QStringLiteral("lobby"), done); });
    QVERIFY2(last.ok, qPrintable(last.error));
    QCOMPARE(last.value, 5);
    const auto none = await<qint64>([&](auto done) { store->lastSeq(QStringLiteral("empty"), done); });
    QVERIFY2(none.ok, qPrintable(none.error));
    QCOMPARE(none.value, 0);
}

void TestStore::nonceResendReturnsOriginal()
{
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const QString room = QStringLiteral("lobby");
    const auto first = append(*store, draft(room, QStringLiteral("original"), QStringLiteral("n1")));
    QVERIFY2(first.ok, qPrintable(first.error));
    QCOMPARE(first.value.message.seq, 1);
    const auto between = append(*store, draft(room, QStringLiteral("between"), QStringLiteral("n2")));
    QCOMPARE(between.value.message.seq, 2);

    const auto resend = append(*store, draft(room, QStringLiteral("resent"), QStringLiteral("n1"), kNow + 9 * kMinute));
    QVERIFY2(resend.ok, qPrintable(resend.error));
    QVERIFY(resend.value.duplicate);
    QCOMPARE(resend.value.message.seq, 1);
    QCOMPARE(resend.value.message.text, QStringLiteral("original"));
    QCOMPARE(resend.value.message.ts, kNow);

    // The same nonce from another client is its own message.
    ChatDraft otherClient = draft(room, QStringLiteral("other client"), QStringLiteral("n1"));
    otherClient.clientId = QStringLiteral("client-b");
    const auto other = append(*store, otherClient);
    QVERIFY(!other.value.duplicate);
    QCOMPARE(other.value.message.seq, 3);

    // After ten minutes the nonce is free again.
    const auto late = append(*store, draft(room, QStringLiteral("late"), QStringLiteral("n1"), kNow + 11 * kMinute));
    QVERIFY2(late.ok, qPrintable(late.error));
    QVERIFY(!late.value.duplicate);
    QCOMPARE(late.value.message.seq, 4);

    const auto all = await<QList<ChatMessage>>([&](auto done) { store->history(room, 0, 50, done); });
    QCOMPARE(seqs(all.value), range(1, 4));
}

void TestStore::messagesSinceReportsRetention()
{
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const QString room = QStringLiteral("lobby");
    for (int i = 1; i <= 10; ++i)
        QVERIFY(append(*store, draft(room, QStringLiteral("m%1").arg(i))).ok);

    auto since = [&](qint64 s, int limit) {
        return await<RangeResult>([&](auto done) { store->messagesSince(room, s, limit, done); });
    };
    auto r = since(0, 100);
    QVERIFY2(r.ok, qPrintable(r.error));
    QVERIFY(r.value.complete);
    QCOMPARE(r.value.lastSeq, 10);
    QCOMPARE(seqs(r.value.messages), range(1, 10));
    QCOMPARE(r.value.messages.first().text, QStringLiteral("m1"));

    r = since(6, 2);
    QCOMPARE(seqs(r.value.messages), range(7, 8));
    QVERIFY(r.value.complete);

    const auto cleaned = await<CleanupStats>([&](auto done) { store->cleanup(kNow, kMinute, 4, done); });
    QVERIFY2(cleaned.ok, qPrintable(cleaned.error));
    QCOMPARE(cleaned.value.messages, 6);

    r = since(0, 100);
    QVERIFY(!r.value.complete);
    QCOMPARE(seqs(r.value.messages), range(7, 10));
    r = since(5, 100);
    QVERIFY(!r.value.complete);
    r = since(6, 100);
    QVERIFY(r.value.complete);
    QCOMPARE(seqs(r.value.messages), range(7, 10));
    r = since(10, 100);
    QVERIFY(r.value.complete);
    QVERIFY(r.value.messages.isEmpty());
    QCOMPARE(r.value.lastSeq, 10);

    r = await<RangeResult>([&](auto done) { store->messagesSince(QStringLiteral("nowhere"), 0, 100, done); });
    QVERIFY(r.ok);
    QVERIFY(r.value.complete);
    QCOMPARE(r.value.lastSeq, 0);

    // Keeping none of a room's history: nothing after `since` is retained.
    QVERIFY(await<CleanupStats>([&](auto done) { store->cleanup(kNow, kMinute, 0, done); }).ok);
    r = since(3, 100);
    QVERIFY(!r.value.complete);
    QVERIFY(r.value.messages.isEmpty());
    QCOMPARE(r.value.lastSeq, 10);
}

void TestStore::historyPages()
{
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const QString room = QStringLiteral("lobby");
    for (int i = 1; i <= 10; ++i)
        QVERIFY(append(*store, draft(room, QStringLiteral("m%1").arg(i))).ok);
    QVERIFY(append(*store, draft(QStringLiteral("other"), QStringLiteral("elsewhere"))).ok);

    auto page = [&](qint64 before, int limit) {
        return await<QList<ChatMessage>>([&](auto done) { store->history(room, before, limit, done); });
    };
    const auto newest = page(0, 3);
    QVERIFY2(newest.ok, qPrintable(newest.error));
    QCOMPARE(seqs(newest.value), range(8, 10));
    QCOMPARE(newest.value.last().text, QStringLiteral("m10"));
    QCOMPARE(newest.value.last().room, room);
    QCOMPARE(seqs(page(8, 3).value), range(5, 7));
    QCOMPARE(seqs(page(3, 5).value), range(1, 2));
    QVERIFY(page(1, 5).value.isEmpty());
    QCOMPARE(seqs(page(-1, 50).value), range(1, 10));
    QVERIFY(await<QList<ChatMessage>>([&](auto done) { store->history(QStringLiteral("none"), 0, 5, done); })
                .value.isEmpty());
}

void TestStore::todosAreCrudAndPerClient()
{
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const QString a = QStringLiteral("client-a");
    const QString b = QStringLiteral("client-b");
    auto add = [&](const QString &client, const QString &title, qint64 now) {
        return addedTodo(*store, client, title, now);
    };
    auto list = [&](const QString &client) {
        return await<QList<TodoItem>>([&](auto done) { store->todoList(client, done); });
    };
    auto update = [&](const QString &client, qint64 id, std::optional<QString> title, std::optional<bool> done,
                      qint64 now) {
        return await<std::optional<TodoItem>>(
            [&](auto callback) { store->todoUpdate(client, id, title, done, now, callback); });
    };
    auto remove = [&](const QString &client, qint64 id) {
        return await<bool>([&](auto done) { store->todoDelete(client, id, done); });
    };

    const auto milk = add(a, QStringLiteral("milk"), kNow);
    QVERIFY2(milk.ok, qPrintable(milk.error));
    QCOMPARE(milk.value.title, QStringLiteral("milk"));
    QCOMPARE(milk.value.done, false);
    QCOMPARE(milk.value.createdAt, kNow);
    QCOMPARE(milk.value.updatedAt, kNow);
    const auto eggs = add(a, QStringLiteral("eggs"), kNow + 1);
    const auto theirs = add(b, QStringLiteral("theirs"), kNow + 2);
    QVERIFY(eggs.ok && theirs.ok);
    QVERIFY(eggs.value.id > milk.value.id);

    auto listed = list(a);
    QVERIFY2(listed.ok, qPrintable(listed.error));
    QCOMPARE(listed.value.size(), 2);
    QCOMPARE(listed.value.at(0).title, QStringLiteral("milk"));
    QCOMPARE(listed.value.at(1).title, QStringLiteral("eggs"));
    QCOMPARE(list(b).value.size(), 1);
    QVERIFY(list(QStringLiteral("nobody")).value.isEmpty());

    auto updated = update(a, milk.value.id, std::nullopt, true, kNow + 10);
    QVERIFY2(updated.ok, qPrintable(updated.error));
    QVERIFY(updated.value.has_value());
    QCOMPARE(updated.value->title, QStringLiteral("milk"));
    QCOMPARE(updated.value->done, true);
    QCOMPARE(updated.value->createdAt, kNow);
    QCOMPARE(updated.value->updatedAt, kNow + 10);
    updated = update(a, milk.value.id, QStringLiteral("oat milk"), std::nullopt, kNow + 20);
    QCOMPARE(updated.value->title, QStringLiteral("oat milk"));
    QCOMPARE(updated.value->done, true);
    QCOMPARE(updated.value->updatedAt, kNow + 20);

    // Another client's id behaves like an unknown one.
    updated = update(b, milk.value.id, QStringLiteral("stolen"), false, kNow + 30);
    QVERIFY(updated.ok);
    QVERIFY(!updated.value.has_value());
    QVERIFY(!update(a, 999999, QStringLiteral("x"), std::nullopt, kNow).value.has_value());
    auto removed = remove(b, milk.value.id);
    QVERIFY(removed.ok);
    QVERIFY(!removed.value);
    QCOMPARE(list(a).value.at(0).title, QStringLiteral("oat milk"));

    removed = remove(a, milk.value.id);
    QVERIFY2(removed.ok, qPrintable(removed.error));
    QVERIFY(removed.value);
    QVERIFY(!remove(a, milk.value.id).value);
    listed = list(a);
    QCOMPARE(listed.value.size(), 1);
    QCOMPARE(listed.value.at(0).id, eggs.value.id);
    QCOMPARE(list(b).value.at(0).title, QStringLiteral("theirs"));
}

void TestStore::dataSurvivesReopen()
{
    qint64 todoId = 0;
    {
        const std::unique_ptr<Store> store = openStore();
        QVERIFY(store);
        for (int i = 1; i <= 3; ++i)
            QVERIFY(append(*store, draft(QStringLiteral("lobby"), QStringLiteral("m%1").arg(i))).ok);
        const auto todo = addedTodo(*store, QStringLiteral("client-a"), QStringLiteral("persist"), kNow);
        QVERIFY(todo.ok);
        todoId = todo.value.id;
    }
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const auto history = await<QList<ChatMessage>>([&](auto done) { store->history(QStringLiteral("lobby"), 0, 50, done); });
    QVERIFY2(history.ok, qPrintable(history.error));
    QCOMPARE(seqs(history.value), range(1, 3));
    QCOMPARE(history.value.at(2).text, QStringLiteral("m3"));
    const auto todos = await<QList<TodoItem>>([&](auto done) { store->todoList(QStringLiteral("client-a"), done); });
    QCOMPARE(todos.value.size(), 1);
    QCOMPARE(todos.value.at(0).id, todoId);
    const auto next = append(*store, draft(QStringLiteral("lobby"), QStringLiteral("m4")));
    QCOMPARE(next.value.message.seq, 4);
}

void TestStore::concurrentAppendsAreGapFree()
{
    // Two stores stand in for two server instances sharing one database.
    const std::unique_ptr<Store> first = openStore();
    const std::unique_ptr<Store> second = openStore();
    QVERIFY(first && second);
    constexpr int perStore = 100;
    const QString room = QStringLiteral("busy");
    QList<qint64> assigned;
    QStringList errors;
    int answered = 0;
    for (int i = 0; i < perStore; ++i) {
        for (Store *store : {first.get(), second.get()}) {
            store->appendChat(draft(room, QStringLiteral("m%1").arg(i)), [&](StoreResult<AppendResult> r) {
                ++answered;
                if (r.ok)
                    assigned.append(r.value.message.seq);
                else
                    errors.append(r.error);
            });
        }
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, 2 * perStore, 60000);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(QLatin1StringView("; "))));
    std::sort(assigned.begin(), assigned.end());
    QCOMPARE(assigned, range(1, 2 * perStore));
    const auto stored = await<QList<ChatMessage>>([&](auto done) { first->history(room, 0, 1000, done); });
    QCOMPARE(seqs(stored.value), range(1, 2 * perStore));
}

void TestStore::concurrentResendsAreStoredOnce()
{
    // A client resending to another instance while the first still works on
    // the original: one message per nonce, and both answers carry its seq.
    const std::unique_ptr<Store> first = openStore();
    const std::unique_ptr<Store> second = openStore();
    QVERIFY(first && second);
    constexpr int nonces = 50;
    const QString room = QStringLiteral("resends");
    QHash<QString, QList<qint64>> seqsByNonce;
    QStringList errors;
    int answered = 0;
    int duplicates = 0;
    for (int i = 0; i < nonces; ++i) {
        const QString nonce = QStringLiteral("n%1").arg(i);
        for (Store *store : {first.get(), second.get()}) {
            store->appendChat(draft(room, nonce, nonce), [&, nonce](StoreResult<AppendResult> r) {
                ++answered;
                if (!r.ok) {
                    errors.append(r.error);
                    return;
                }
                seqsByNonce[nonce].append(r.value.message.seq);
                duplicates += r.value.duplicate ? 1 : 0;
                if (r.value.message.text != nonce)
                    errors.append(QStringLiteral("%1 answered with the text of %2").arg(nonce, r.value.message.text));
            });
        }
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, 2 * nonces, 60000);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(QLatin1StringView("; "))));
    QCOMPARE(duplicates, nonces);
    QSet<qint64> distinct;
    for (auto it = seqsByNonce.cbegin(); it != seqsByNonce.cend(); ++it) {
        QCOMPARE(it.value().size(), 2);
        QCOMPARE(it.value().at(0), it.value().at(1));
        distinct.insert(it.value().at(0));
    }
    QCOMPARE(distinct.size(), nonces);
    const auto stored = await<QList<ChatMessage>>([&](auto done) { first->history(room, 0, 1000, done); });
    QCOMPARE(seqs(stored.value), range(1, nonces));
}

void TestStore::cleanupCounts()
{
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const qint64 hour = 60 * kMinute;
    auto session = [](const QString &id, qint64 connectedAt) {
        return SessionRecord{id, QStringLiteral("client-a"), QStringLiteral("alice"), QStringLiteral("participant"),
                             QStringLiteral("127.0.0.1"), QStringLiteral("app-1"), connectedAt};
    };
    for (const char *id : {"old-1", "old-2", "recent", "open"})
        store->sessionOpened(session(QString::fromLatin1(id), kNow - 3 * hour));
    store->sessionClosed(QStringLiteral("old-1"), 1000, kNow - 2 * hour);
    store->sessionClosed(QStringLiteral("old-2"), 1001, kNow - 90 * kMinute);
    store->sessionClosed(QStringLiteral("recent"), 1000, kNow - 10 * kMinute);
    store->audit(QStringLiteral("root"), QStringLiteral("admin.drain"), {{QStringLiteral("instance"), QStringLiteral("app-1")}},
                 kNow);

    const QString room = QStringLiteral("lobby");
    QVERIFY(append(*store, draft(room, QStringLiteral("a"), QStringLiteral("n-old-1"), kNow - 30 * kMinute)).ok);
    QVERIFY(append(*store, draft(room, QStringLiteral("b"), QStringLiteral("n-old-2"), kNow - 20 * kMinute)).ok);
    QVERIFY(append(*store, draft(room, QStringLiteral("c"), QStringLiteral("n-new"), kNow - 5 * kMinute)).ok);
    QVERIFY(append(*store, draft(room, QStringLiteral("d"))).ok);
    QVERIFY(append(*store, draft(room, QStringLiteral("e"))).ok);
    QVERIFY(append(*store, draft(QStringLiteral("small"), QStringLiteral("only"))).ok);

    const auto stats = await<CleanupStats>([&](auto done) { store->cleanup(kNow, hour, 3, done); });
    QVERIFY2(stats.ok, qPrintable(stats.error));
    QCOMPARE(stats.value.sessions, 2);
    QCOMPARE(stats.value.messages, 2);
    QCOMPARE(stats.value.nonces, 2);

    const auto again = await<CleanupStats>([&](auto done) { store->cleanup(kNow, hour, 3, done); });
    QVERIFY(again.ok);
    QCOMPARE(again.value.sessions, 0);
    QCOMPARE(again.value.messages, 0);
    QCOMPARE(again.value.nonces, 0);

    const auto kept = await<QList<ChatMessage>>([&](auto done) { store->history(room, 0, 50, done); });
    QCOMPARE(seqs(kept.value), range(3, 5));
    // The fresh nonce still deduplicates.
    const auto resend = append(*store, draft(room, QStringLiteral("c again"), QStringLiteral("n-new")));
    QVERIFY(resend.value.duplicate);
    QCOMPARE(resend.value.message.seq, 3);

    // The remaining records are visible in the database itself.
    const std::unique_ptr<SqlConnection> connection = makeSqlConnection(m_config);
    QString error;
    QVERIFY2(connection->open(&error), qPrintable(error));
    try {
        const SqlRows sessions = connection->exec(
            QStringLiteral("SELECT session_id, close_code, disconnected_at FROM sessions ORDER BY session_id"));
        QCOMPARE(sessions.size(), 2);
        QCOMPARE(sessions.at(0).value(0).toString(), QStringLiteral("open"));
        QVERIFY(sessions.at(0).value(1).isNull());
        QCOMPARE(sessions.at(1).value(0).toString(), QStringLiteral("recent"));
        QCOMPARE(sessions.at(1).value(1).toLongLong(), 1000);
        QCOMPARE(sessions.at(1).value(2).toLongLong(), kNow - 10 * kMinute);
        const SqlRows audit = connection->exec(QStringLiteral("SELECT actor, action, details, at FROM audit_log"));
        QCOMPARE(audit.size(), 1);
        QCOMPARE(audit.at(0).value(0).toString(), QStringLiteral("root"));
        QCOMPARE(audit.at(0).value(1).toString(), QStringLiteral("admin.drain"));
        QCOMPARE(audit.at(0).value(2).toString(), QStringLiteral("{\"instance\":\"app-1\"}"));
        QCOMPARE(audit.at(0).value(3).toLongLong(), kNow);
    } catch (const SqlError &e) {
        QFAIL(qPrintable(e.message()));
    }
}

void TestStore::refusedRecordIsUndoneAlone()
{
    // Records are written many to a transaction; one the database refuses
    // (here a trigger) is undone alone, and the records around it are kept.
    QFETCH(QString, backend);
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const std::unique_ptr<SqlConnection> connection = makeSqlConnection(m_config);
    QString error;
    QVERIFY2(connection->open(&error), qPrintable(error));
    try {
        if (backend == QLatin1StringView("postgres")) {
            connection->exec(QStringLiteral("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                                            " $$BEGIN RAISE EXCEPTION 'refused by the test'; END$$"));
            connection->exec(QStringLiteral("CREATE TRIGGER refuse BEFORE INSERT ON audit_log FOR EACH ROW"
                                            " WHEN (NEW.action = 'refused') EXECUTE FUNCTION refuse()"));
        } else {
            connection->exec(QStringLiteral("CREATE TRIGGER refuse BEFORE INSERT ON audit_log"
                                            " WHEN NEW.action = 'refused' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"));
        }
    } catch (const SqlError &e) {
        QFAIL(qPrintable(e.message()));
    }

    constexpr int Sessions = 400;
    for (int i = 0; i < Sessions; ++i) {
        store->sessionOpened({QStringLiteral("s%1").arg(i, 3, 10, QLatin1Char('0')), QStringLiteral("client-a"),
                              QStringLiteral("alice"), QStringLiteral("participant"), QStringLiteral("127.0.0.1"),
                              QStringLiteral("app-1"), kNow});
        if (i % 100 == 50)
            QVERIFY(store->audit(QStringLiteral("root"), QStringLiteral("refused"), {}, kNow));
    }
    QVERIFY(store->audit(QStringLiteral("root"), QStringLiteral("admin.drain"), {}, kNow));
    const auto counted = [&connection](const QString &query) {
        try {
            return connection->exec(query).value(0).value(0).toInt();
        } catch (const SqlError &) {
            return -1;
        }
    };
    QTRY_COMPARE_WITH_TIMEOUT(counted(QStringLiteral("SELECT count(*) FROM audit_log WHERE action = 'admin.drain'")), 1,
                              kWaitMs);
    QCOMPARE(counted(QStringLiteral("SELECT count(*) FROM sessions")), Sessions);
    QCOMPARE(counted(QStringLiteral("SELECT count(*) FROM audit_log")), 1);
}

void TestStore::recordsOfABatchKeepTheirOrder()
{
    // The records that wait together are written a statement per kind: a
    // session opened and closed within one batch still ends up closed, and
    // the audit log keeps the order the actions came in.
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    constexpr int Sessions = 300;
    for (int i = 0; i < Sessions; ++i) {
        const QString id = QStringLiteral("s%1").arg(i, 3, 10, QLatin1Char('0'));
        store->sessionOpened({id, QStringLiteral("client-a"), QStringLiteral("alice"), QStringLiteral("participant"),
                              QStringLiteral("127.0.0.1"), QStringLiteral("app-1"), kNow + i});
        if (i % 2 == 0)
            store->sessionClosed(id, 1000 + i % 7, kNow + i + 1);
        if (i % 10 == 0)
            QVERIFY(store->audit(QStringLiteral("root"), QStringLiteral("action %1").arg(i, 3, 10, QLatin1Char('0')),
                                 {{QStringLiteral("i"), i}}, kNow + i));
    }
    const std::unique_ptr<SqlConnection> connection = makeSqlConnection(m_config);
    QString error;
    QVERIFY2(connection->open(&error), qPrintable(error));
    const auto rows = [&connection](const QString &query) {
        try {
            return connection->exec(query);
        } catch (const SqlError &e) {
            return SqlRows{{e.message()}};
        }
    };
    QTRY_COMPARE_WITH_TIMEOUT(rows(QStringLiteral("SELECT count(*) FROM audit_log")).value(0).value(0).toInt(),
                              Sessions / 10, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(rows(QStringLiteral("SELECT count(*) FROM sessions WHERE disconnected_at IS NOT NULL"))
                                  .value(0).value(0).toInt(),
                              Sessions / 2, kWaitMs);
    const SqlRows sessions = rows(QStringLiteral("SELECT session_id, client_id, user_name, role, remote, instance,"
                                                 " connected_at, disconnected_at, close_code FROM sessions"
                                                 " ORDER BY session_id"));
    QCOMPARE(sessions.size(), Sessions);
    for (int i = 0; i < Sessions; ++i) {
        const SqlRow &row = sessions.at(i);
        QCOMPARE(row.value(0).toString(), QStringLiteral("s%1").arg(i, 3, 10, QLatin1Char('0')));
        QCOMPARE(row.value(1).toString(), QStringLiteral("client-a"));
        QCOMPARE(row.value(2).toString(), QStringLiteral("alice"));
        QCOMPARE(row.value(3).toString(), QStringLiteral("participant"));
        QCOMPARE(row.value(4).toString(), QStringLiteral("127.0.0.1"));
        QCOMPARE(row.value(5).toString(), QStringLiteral("app-1"));
        QCOMPARE(row.value(6).toLongLong(), kNow + i);
        if (i % 2 == 0) {
            QCOMPARE(row.value(7).toLongLong(), kNow + i + 1);
            QCOMPARE(row.value(8).toInt(), 1000 + i % 7);
        } else {
            QVERIFY(row.value(7).isNull());
            QVERIFY(row.value(8).isNull());
        }
    }
    const SqlRows audit = rows(QStringLiteral("SELECT action, details, at FROM audit_log ORDER BY id"));
    QCOMPARE(audit.size(), Sessions / 10);
    for (int k = 0; k < audit.size(); ++k) {
        QCOMPARE(audit.at(k).value(0).toString(), QStringLiteral("action %1").arg(k * 10, 3, 10, QLatin1Char('0')));
        QCOMPARE(audit.at(k).value(1).toString(), QStringLiteral("{\"i\":%1}").arg(k * 10));
        QCOMPARE(audit.at(k).value(2).toLongLong(), kNow + k * 10);
    }
}

void TestStore::recordsAreWrittenBeforeTheStoreCloses()
{
    // Records gather for a moment before their transaction; a store closed
    // meanwhile (the server exiting) writes them first.
    {
        const std::unique_ptr<Store> store = openStore();
        QVERIFY(store);
        store->sessionOpened({QStringLiteral("last"), QStringLiteral("client-a"), QStringLiteral("alice"),
                              QStringLiteral("participant"), QStringLiteral("127.0.0.1"), QStringLiteral("app-1"), kNow});
        QVERIFY(store->audit(QStringLiteral("root"), QStringLiteral("admin.drain"), {}, kNow));
    }
    const std::unique_ptr<SqlConnection> connection = makeSqlConnection(m_config);
    QString error;
    QVERIFY2(connection->open(&error), qPrintable(error));
    try {
        QCOMPARE(connection->exec(QStringLiteral("SELECT session_id FROM sessions")).value(0).value(0).toString(),
                 QStringLiteral("last"));
        QCOMPARE(connection->exec(QStringLiteral("SELECT action FROM audit_log")).value(0).value(0).toString(),
                 QStringLiteral("admin.drain"));
    } catch (const SqlError &e) {
        QFAIL(qPrintable(e.message()));
    }
}

void TestStore::prefill(const QString &room, int count)
{
    const std::unique_ptr<SqlConnection> connection = makeSqlConnection(m_config);
    QString error;
    QVERIFY2(connection->open(&error), qPrintable(error));
    try {
        SqlTransaction transaction(*connection);
        connection->exec(QStringLiteral("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $2)"
                                        " INSERT INTO messages (room, seq, from_user, client_id, text, ts, origin)"
                                        " SELECT CAST($1 AS TEXT), n, 'bulk', 'bulk', CAST($3 AS TEXT), $4, 'app-1'"
                                        " FROM s"),
                         {room, count, QString(200, QLatin1Char('x')), kNow});
        connection->exec(QStringLiteral("INSERT INTO rooms (name, last_seq) VALUES ($1, $2)"), {room, count});
        transaction.commit();
    } catch (const SqlError &e) {
        QFAIL(qPrintable(e.message()));
    }
}

void TestStore::nonceIsUniqueAcrossRooms()
{
    // A resend of a nonce to another room is the same message: the answer
    // names the room and seq it was first stored with, and nothing is stored
    // in the other room (not even a seq is used up).
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const auto original = append(*store, draft(QStringLiteral("first"), QStringLiteral("original"), QStringLiteral("n1")));
    QVERIFY2(original.ok, qPrintable(original.error));
    QVERIFY(append(*store, draft(QStringLiteral("second"), QStringLiteral("unrelated"))).ok);

    const auto resend = append(*store, draft(QStringLiteral("second"), QStringLiteral("resent"), QStringLiteral("n1"),
                                             kNow + 9 * kMinute));
    QVERIFY2(resend.ok, qPrintable(resend.error));
    QVERIFY(resend.value.duplicate);
    QCOMPARE(resend.value.message.room, QStringLiteral("first"));
    QCOMPARE(resend.value.message.seq, 1);
    QCOMPARE(resend.value.message.text, QStringLiteral("original"));
    QCOMPARE(seqs(await<QList<ChatMessage>>([&](auto done) { store->history(QStringLiteral("second"), 0, 50, done); })
                      .value),
             range(1, 1));
    QCOMPARE(await<qint64>([&](auto done) { store->lastSeq(QStringLiteral("second"), done); }).value, 1);
    const auto next = append(*store, draft(QStringLiteral("second"), QStringLiteral("next")));
    QCOMPARE(next.value.message.seq, 2);

    // Still the original when retention already dropped the message itself.
    QVERIFY(await<CleanupStats>([&](auto done) { store->cleanup(kNow, kMinute, 0, done); }).ok);
    const auto late = append(*store, draft(QStringLiteral("third"), QStringLiteral("again"), QStringLiteral("n1"),
                                           kNow + 9 * kMinute));
    QVERIFY(late.value.duplicate);
    QCOMPARE(late.value.message.room, QStringLiteral("first"));
    QCOMPARE(late.value.message.seq, 1);
}

void TestStore::concurrentResendsToOtherRoomsAreStoredOnce()
{
    // Each nonce sent at once to room "east" through one store and to room
    // "west" through another (two instances): stored once, in one of the two
    // rooms, and both answers carry that room and seq.
    const std::unique_ptr<Store> first = openStore();
    const std::unique_ptr<Store> second = openStore();
    QVERIFY(first && second);
    constexpr int nonces = 40;
    QHash<QString, QList<QPair<QString, qint64>>> answers;
    QStringList errors;
    int answered = 0;
    for (int i = 0; i < nonces; ++i) {
        const QString nonce = QStringLiteral("n%1").arg(i);
        const QList<QPair<Store *, QString>> sends{{first.get(), QStringLiteral("east")},
                                                   {second.get(), QStringLiteral("west")}};
        for (const auto &[store, room] : sends) {
            store->appendChat(draft(room, room + nonce, nonce), [&, nonce](StoreResult<AppendResult> r) {
                ++answered;
                if (!r.ok)
                    errors.append(r.error);
                else
                    answers[nonce].append({r.value.message.room, r.value.message.seq});
            });
        }
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, 2 * nonces, 60000);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(QLatin1StringView("; "))));
    QSet<QPair<QString, qint64>> stored;
    for (auto it = answers.cbegin(); it != answers.cend(); ++it) {
        QCOMPARE(it.value().size(), 2);
        QCOMPARE(it.value().at(0), it.value().at(1));
        stored.insert(it.value().at(0));
    }
    QCOMPARE(stored.size(), nonces);
    const auto east = await<QList<ChatMessage>>([&](auto done) { first->history(QStringLiteral("east"), 0, 200, done); });
    const auto west = await<QList<ChatMessage>>([&](auto done) { first->history(QStringLiteral("west"), 0, 200, done); });
    QCOMPARE(east.value.size() + west.value.size(), nonces);
    // Gap-free in both rooms: a losing resend gave its seq back.
    QCOMPARE(seqs(east.value), range(1, east.value.size()));
    QCOMPARE(seqs(west.value), range(1, west.value.size()));
}

void TestStore::unicodeRoundTrips()
{
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const QStringList texts{
        QString::fromUtf8("emoji \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"), // skin tone modifier
        QString::fromUtf8("family \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 flag "
                          "\xF0\x9F\x87\xA9\xF0\x9F\x87\xAA"),                      // ZWJ sequence, regional indicators
        QString::fromUcs4(U"astral \U0001D11E \U00020B9F \U0010FFFD"),               // G clef, CJK ext. B, last plane
        QString::fromUtf8("RTL \xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D"
                          " \xE2\x80\x8F\xE2\x80\xAE mixed"),                           // Arabic, Hebrew, RLM, RLO
        QString::fromUtf8("combining e\xCC\x81 n\xCC\x83 Z\xCD\x91\xCD\xAB\xCC\x93\xCD\xAA"), // not normalised
        QString::fromUtf8("e\xCC\x81 vs \xC3\xA9"),                                    // NFD and NFC stay distinct
        QString::fromUtf8("\xEF\xBB\xBFzero\xE2\x80\x8Bwidth\xE2\x80\x8C\xE2\x80\x8D and U+FFFF \xEF\xBF\xBF"),
        QString::fromUtf8("quotes ' \" \\ $1 ?1 %s"),
    };
    const QString room = QStringLiteral("unicode");
    for (qsizetype i = 0; i < texts.size(); ++i) {
        const QString &text = texts.at(i);
        const auto r = append(*store, draft(room, text, QStringLiteral("u%1").arg(i)));
        QVERIFY2(r.ok, qPrintable(r.error));
        QCOMPARE(r.value.message.text.toUtf8(), text.toUtf8());
        const auto todo = addedTodo(*store, QStringLiteral("client-u"), text, kNow);
        QVERIFY2(todo.ok, qPrintable(todo.error));
        QCOMPARE(todo.value.title.toUtf8(), text.toUtf8());
    }
    const auto history = await<QList<ChatMessage>>([&](auto done) { store->history(room, 0, 50, done); });
    const auto since = await<RangeResult>([&](auto done) { store->messagesSince(room, 0, 50, done); });
    const auto todos = await<QList<TodoItem>>([&](auto done) { store->todoList(QStringLiteral("client-u"), done); });
    QVERIFY(history.ok && since.ok && todos.ok);
    QCOMPARE(history.value.size(), texts.size());
    QCOMPARE(since.value.messages.size(), texts.size());
    QCOMPARE(todos.value.size(), texts.size());
    for (qsizetype i = 0; i < texts.size(); ++i) {
        QCOMPARE(history.value.at(i).text.toUtf8(), texts.at(i).toUtf8());
        QCOMPARE(since.value.messages.at(i).text.toUtf8(), texts.at(i).toUtf8());
        QCOMPARE(todos.value.at(i).title.toUtf8(), texts.at(i).toUtf8());
    }
    // A resend still finds the nonce's message, with its text intact.
    const auto resend = append(*store, draft(room, QStringLiteral("again"), QStringLiteral("u2")));
    QVERIFY(resend.value.duplicate);
    QCOMPARE(resend.value.message.text.toUtf8(), texts.at(2).toUtf8());
}

void TestStore::unstorableTextIsRefused()
{
    // The codec refuses these at the wire; should one get this far, the store
    // refuses it too instead of storing something else (PostgreSQL would cut
    // the text at U+0000).
    QFETCH(QString, backend);
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    const QString withNul = QStringLiteral("before") + QChar(0) + QStringLiteral("after");
    const QString loneSurrogate = QStringLiteral("broken ") + QChar(0xD83D) + QStringLiteral(" pair");
    const QString room = QStringLiteral("refusals");
    for (const QString &text : {withNul, loneSurrogate}) {
        const auto chat = append(*store, draft(room, text));
        QVERIFY(!chat.ok);
        QVERIFY2(chat.error.contains(text == withNul ? QLatin1StringView("U+0000") : QLatin1StringView("surrogate")),
                 qPrintable(chat.error));
        QVERIFY(!append(*store, draft(room, QStringLiteral("fine"), text)).ok); // as a nonce
        const auto todo = addTodo(*store, QStringLiteral("client-r"), text, kNow);
        QVERIFY(!todo.ok);
        QVERIFY2(!todo.error.isEmpty(), "a refusal says why");
    }
    QCOMPARE(await<qint64>([&](auto done) { store->lastSeq(room, done); }).value, 0); // no seq used
    QVERIFY(await<QList<TodoItem>>([&](auto done) { store->todoList(QStringLiteral("client-r"), done); }).value.isEmpty());

    const auto kept = addedTodo(*store, QStringLiteral("client-r"), QStringLiteral("kept"), kNow);
    QVERIFY(kept.ok);
    const auto renamed = await<std::optional<TodoItem>>([&](auto done) {
        store->todoUpdate(QStringLiteral("client-r"), kept.value.id, withNul, std::nullopt, kNow + 1, done);
    });
    QVERIFY(!renamed.ok);
    QCOMPARE(await<QList<TodoItem>>([&](auto done) { store->todoList(QStringLiteral("client-r"), done); })
                 .value.at(0)
                 .title,
             QStringLiteral("kept"));

    if (backend == QLatin1StringView("postgres")) {
        // Beneath the store, the connection itself refuses to truncate.
        const std::unique_ptr<SqlConnection> connection = makeSqlConnection(m_config);
        QString error;
        QVERIFY2(connection->open(&error), qPrintable(error));
        try {
            connection->exec(QStringLiteral("SELECT $1::text"), {withNul});
            QFAIL("a parameter with U+0000 was sent");
        } catch (const SqlError &e) {
            QVERIFY2(e.message().contains(QLatin1StringView("U+0000")), qPrintable(e.message()));
            QVERIFY(!e.connectionLost());
        }
    }
}

void TestStore::todoLimitHoldsUnderConcurrentAdds()
{
    // Two stores (two instances) add for one client at once: never more than
    // the limit, and each refusal is a "limit reached", not an error.
    const std::unique_ptr<Store> first = openStore();
    const std::unique_ptr<Store> second = openStore();
    QVERIFY(first && second);
    constexpr int limit = 7;
    constexpr int perStore = 10;
    int answered = 0;
    int stored = 0;
    int refused = 0;
    QStringList errors;
    for (int i = 0; i < perStore; ++i) {
        for (Store *store : {first.get(), second.get()}) {
            store->todoAdd(QStringLiteral("client-l"), QStringLiteral("t%1").arg(i), limit, kNow,
                           [&](StoreResult<TodoAddResult> r) {
                               ++answered;
                               if (!r.ok)
                                   errors.append(r.error);
                               else if (r.value.limitReached)
                                   ++refused;
                               else
                                   ++stored;
                           });
        }
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, 2 * perStore, 30000);
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(QLatin1StringView("; "))));
    QCOMPARE(stored, limit);
    QCOMPARE(refused, 2 * perStore - limit);
    QCOMPARE(await<QList<TodoItem>>([&](auto done) { second->todoList(QStringLiteral("client-l"), done); }).value.size(),
             limit);
    // The limit is per client.
    const auto other = addTodo(*first, QStringLiteral("client-m"), QStringLiteral("mine"), kNow, limit);
    QVERIFY(other.ok && !other.value.limitReached);
    QVERIFY(addTodo(*first, QStringLiteral("client-l"), QStringLiteral("more"), kNow, limit).value.limitReached);
}

void TestStore::bigReadsDoNotHoldAppendsBack()
{
    // Reads have their own connection and thread: a chat appended while a
    // read of 100 000 messages runs is acknowledged before that read answers.
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    prefill(QStringLiteral("big"), 100000);
    QVERIFY(append(*store, draft(QStringLiteral("hot"), QStringLiteral("warm-up"))).ok);

    bool readAnswered = false;
    qsizetype readRows = 0;
    store->messagesSince(QStringLiteral("big"), 0, 100000, [&](StoreResult<RangeResult> r) {
        readAnswered = true;
        readRows = r.value.messages.size();
    });
    QTest::qWait(5); // the read is under way
    const auto appended = append(*store, draft(QStringLiteral("hot"), QStringLiteral("during the read")));
    QVERIFY2(appended.ok, qPrintable(appended.error));
    QVERIFY2(!readAnswered, "the append waited for the read");
    QTRY_VERIFY_WITH_TIMEOUT(readAnswered, kWaitMs);
    QCOMPARE(readRows, 100000);
}

void TestStore::cleanupDoesNotHoldAppendsBack()
{
    // Cleanup deletes in small batches: appends are stored between two of
    // them, long before the cleanup of 100 000 messages is over.
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    prefill(QStringLiteral("big"), 100000);
    std::optional<StoreResult<CleanupStats>> cleaned;
    store->cleanup(kNow, kMinute, 10, [&](StoreResult<CleanupStats> r) { cleaned = std::move(r); });
    QTest::qWait(20); // batches are being deleted
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < 3; ++i) {
        const auto appended = append(*store, draft(QStringLiteral("hot"), QStringLiteral("during cleanup %1").arg(i)));
        QVERIFY2(appended.ok, qPrintable(appended.error));
    }
    QVERIFY2(!cleaned.has_value(), "the appends waited for the whole cleanup");
    QVERIFY2(timer.elapsed() < 1000, qPrintable(QStringLiteral("3 appends took %1 ms").arg(timer.elapsed())));
    QTRY_VERIFY_WITH_TIMEOUT(cleaned.has_value(), 60000);
    QVERIFY2(cleaned->ok, qPrintable(cleaned->error));
    QCOMPARE(cleaned->value.messages, 100000 - 10);
    const auto kept = await<QList<ChatMessage>>([&](auto done) { store->history(QStringLiteral("big"), 0, 50, done); });
    QCOMPARE(seqs(kept.value), range(100000 - 9, 100000));
    const auto since = await<RangeResult>([&](auto done) { store->messagesSince(QStringLiteral("big"), 0, 50, done); });
    QVERIFY(!since.value.complete);
}

void TestStore::restartPostgres()
{
    const QString pgCtl = qEnvironmentVariable("SB_TEST_PG_CTL");
    SB_REQUIRE_SERVICE(!pgCtl.isEmpty(), "SB_TEST_PG_CTL is not set: PostgreSQL cannot be restarted");
    const std::unique_ptr<Store> store = openStore();
    QVERIFY(store);
    QCOMPARE(store->kind(), QStringLiteral("postgres"));
    const QString room = QStringLiteral("lobby");
    QVERIFY(append(*store, draft(room, QStringLiteral("before"))).ok);
    QSignalSpy upChanged(store.get(), &Store::upChanged);

    QProcess restart;
    restart.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    QStringList command = QProcess::splitCommand(pgCtl);
    command.append(QStringLiteral("restart"));
    restart.start(command.takeFirst(), command);
    QVERIFY2(restart.waitForStarted(), qPrintable(restart.errorString()));

    // Noticed without any query running; while down, calls fail at once.
    QTRY_VERIFY_WITH_TIMEOUT(!upChanged.isEmpty(), 30000);
    QCOMPARE(upChanged.first().first().toBool(), false);
    QVERIFY(!store->isUp());
    QElapsedTimer refusal;
    refusal.start();
    const auto refused = append(*store, draft(room, QStringLiteral("while down")));
    QVERIFY(!refused.ok);
    QVERIFY2(refused.error.startsWith(QLatin1StringView("store unavailable: ")), qPrintable(refused.error));
    QVERIFY(refusal.elapsed() < 1000);
    // Session and audit records wait for the store instead of being dropped.
    QVERIFY(store->audit(QStringLiteral("while-down"), QStringLiteral("admin.drain"), {}, kNow));
    store->sessionOpened({QStringLiteral("s-while-down"), QStringLiteral("c"), QStringLiteral("alice"),
                          QStringLiteral("participant"), QStringLiteral("127.0.0.1"), QStringLiteral("app-1"), kNow});

    QVERIFY(restart.waitForFinished(60000));
    QCOMPARE(restart.exitCode(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(upChanged.size(), 2, 30000);
    QCOMPARE(upChanged.at(1).first().toBool(), true);
    QVERIFY(store->isUp());
    const auto after = append(*store, draft(room, QStringLiteral("after")));
    QVERIFY2(after.ok, qPrintable(after.error));
    QCOMPARE(after.value.message.seq, 2);
    // Reads work again too (on the reader once it is back, on the writer until then).
    QTRY_VERIFY_WITH_TIMEOUT(
        seqs(await<QList<ChatMessage>>([&](auto done) { store->history(room, 0, 10, done); }).value) == range(1, 2),
        10000);
    const QString kept = QStringLiteral("DO $$ BEGIN IF (SELECT count(*) FROM %1.audit_log WHERE actor = 'while-down') <> 1"
                                        " OR (SELECT count(*) FROM %1.sessions WHERE session_id = 's-while-down') <> 1"
                                        " THEN RAISE EXCEPTION 'records kept while down are missing'; END IF; END $$")
                             .arg(m_schema);
    QTRY_VERIFY2_WITH_TIMEOUT(runOnDatabase(kept).isEmpty(), qPrintable(runOnDatabase(kept)), 10000);
}

void TestStore::unreachableServerAnswersAtOnce()
{
    // Port 1 on loopback: nothing listens, the connect is refused at once.
    Config config;
    config.databaseUrl = QStringLiteral("postgresql://sb:secret-pw@127.0.0.1:1/sb");
    const std::unique_ptr<Store> store = makeStore(config);
    QCOMPARE(store->kind(), QStringLiteral("postgres"));
    QSignalSpy upChanged(store.get(), &Store::upChanged);
    store->start();
    QTRY_COMPARE_WITH_TIMEOUT(upChanged.size(), 1, kWaitMs);
    QCOMPARE(upChanged.first().first().toBool(), false);
    QVERIFY(!store->isUp());

    QElapsedTimer timer;
    timer.start();
    const auto refused = append(*store, draft(QStringLiteral("lobby"), QStringLiteral("hi")));
    QVERIFY(!refused.ok);
    QVERIFY2(refused.error.startsWith(QLatin1StringView("store unavailable: ")), qPrintable(refused.error));
    QVERIFY2(!refused.error.contains(QLatin1StringView("secret-pw")), qPrintable(refused.error));
    const auto todos = await<QList<TodoItem>>([&](auto done) { store->todoList(QStringLiteral("c"), done); });
    QVERIFY(!todos.ok);
    QVERIFY(timer.elapsed() < 1000);
    // Kept until the store is up (bounded), so the operator action goes ahead.
    QVERIFY(store->audit(QStringLiteral("root"), QStringLiteral("admin.drain"), {}, kNow));
}

void TestStore::databaseUrlPasswordIsMasked_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("masked");
    QTest::addRow("userinfo") << QStringLiteral("postgresql://sb:s3cr%40t@db:5433/sb")
                              << QStringLiteral("postgresql://sb:***@db:5433/sb");
    QTest::addRow("query") << QStringLiteral("postgres://db/sb?user=sb&password=hunter2&sslmode=require")
                           << QStringLiteral("postgres://db/sb?user=sb&password=***&sslmode=require");
    QTest::addRow("keywords") << QStringLiteral("host=db password='a b' user=sb")
                              << QStringLiteral("host=db password=*** user=sb");
    QTest::addRow("? and # in the password") << QStringLiteral("postgresql://sb:se?c#ret@db/sb")
                                             << QStringLiteral("postgresql://sb:***@db/sb");
    QTest::addRow("no password") << QStringLiteral("postgresql://sb@db/sb") << QStringLiteral("postgresql://sb@db/sb");
    QTest::addRow("several hosts") << QStringLiteral("postgresql://sb:pw@h1:5432,h2:5433/sb?target_session_attrs=read-write")
                                   << QStringLiteral("postgresql://sb:***@h1:5432,h2:5433/sb?target_session_attrs=read-write");
    QTest::addRow("several hosts, no password")
        << QStringLiteral("postgresql://h1:5432,h2:5433/sb?target_session_attrs=read-write")
        << QStringLiteral("postgresql://h1:5432,h2:5433/sb?target_session_attrs=read-write");
    QTest::addRow("keywords, several hosts") << QStringLiteral("host=h1,h2 port=5432,5433 password=pw target_session_attrs=read-write")
                                             << QStringLiteral("host=h1,h2 port=5432,5433 password=*** target_session_attrs=read-write");
}

void TestStore::databaseUrlPasswordIsMasked()
{
    QFETCH(QString, url);
    QFETCH(QString, masked);
    QCOMPARE(maskDatabaseUrl(url), masked);
}

QTEST_GUILESS_MAIN(TestStore)
#include "tst_store.moc"
