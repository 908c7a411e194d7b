// RedisBackplane and the RedisConnection adapter against a real Redis.
//
// Most cases use the server in SB_TEST_REDIS_URL, each under its own random
// key prefix. Without it they fail (SB_REQUIRE_SERVICE), or skip when
// SB_ALLOW_SKIP=1. The cases that kill, pause or
// restart Redis start a redis-server of their own on a free loopback port
// (sbtest::freePort; they need the redis-server binary, with the same skip/fail rule).

#include "backplane/redisbackplane.h"
#include "redisconnection.h"
#include "support/testsupport.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QUuid>

#include <csignal>
#include <memory>
#include <optional>

#include <sys/types.h>

using namespace sb;
using sbtest::freePort;

namespace sb {
// What QCOMPARE prints when two replies differ.
char *toString(const RedisReply &reply)
{
    return qstrdup(qPrintable(reply.toString()));
}
} // namespace sb

namespace {

#define SB_REQUIRE(condition, why) SB_REQUIRE_SERVICE(condition, why)

// A redis-server of the test's own, to kill, pause and restart at will.
class RedisProcess
{
public:
    ~RedisProcess() { kill(); }

    static bool available() { return !QStandardPaths::findExecutable(QStringLiteral("redis-server")).isEmpty(); }

    // Starts on `port` (0: a free one) and waits until it accepts connections.
    bool start(quint16 port = 0)
    {
        m_port = port ? port : freePort();
        if (m_port == 0)
            return false;
        m_process = std::make_unique<QProcess>();
        m_process->setProcessChannelMode(QProcess::MergedChannels);
        m_process->start(QStringLiteral("redis-server"),
                         {QStringLiteral("--port"), QString::number(m_port), QStringLiteral("--bind"),
                          QStringLiteral("127.0.0.1"), QStringLiteral("--save"), QString(),
                          QStringLiteral("--appendonly"), QStringLiteral("no"), QStringLiteral("--daemonize"),
                          QStringLiteral("no")});
        if (!m_process->waitForStarted(5000))
            return false;
        QElapsedTimer waited;
        waited.start();
        while (waited.elapsed() < 10000) {
            QTcpSocket socket;
            socket.connectToHost(QHostAddress::LocalHost, m_port);
            if (socket.waitForConnected(200))
                return true;
            if (m_process->state() != QProcess::Running)
                return false;
            QTest::qWait(50);
        }
        return false;
    }

    void kill()
    {
        if (!m_process)
            return;
        resume();
        m_process->kill();
        m_process->waitForFinished(5000);
        m_process.reset();
    }
    void pause() { ::kill(static_cast<pid_t>(m_process->processId()), SIGSTOP); }
    void resume()
    {
        if (m_process && m_process->state() == QProcess::Running)
            ::kill(static_cast<pid_t>(m_process->processId()), SIGCONT);
    }

    quint16 port() const { return m_port; }
    QString url() const { return QStringLiteral("redis://127.0.0.1:%1").arg(m_port); }

private:
    std::unique_ptr<QProcess> m_process;
    quint16 m_port = 0;
};

// Runs one command and waits for its reply.
RedisReply call(RedisConnection &connection, const QList<QByteArray> &argv)
{
    std::optional<RedisReply> reply;
    connection.command(argv, [&reply](const RedisReply &r) { reply = r; });
    if (!QTest::qWaitFor([&reply] { return reply.has_value(); }, 10000))
        return RedisReply::error("ERR the test waited in vain");
    return *reply;
}

Member member(const QString &sessionId, const QString &user, const QString &instance)
{
    return {sessionId, user, QStringLiteral("client-") + user, instance};
}

QString describe(const QList<Member> &list)
{
    QStringList parts;
    for (const Member &m : list)
        parts.append(m.sessionId + QLatin1Char('/') + m.user + QLatin1Char('/') + m.instance);
    return parts.join(QLatin1Char(' '));
}

} // namespace

class TstRedisBackplane : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void urlParsing_data();
    void urlParsing();
    void connectionCommands();
    void connectionFailures();
    void connectionTimeout();
    void starvedProcessKeepsConnection();

    void connectAndUp();
    void downCallsAnswerAtOnce();
    void pubSubBetweenInstances();
    void tokenTakenOnce();
    void tokenExpires();
    void rateLimit();
    void lease();
    void members();
    void memberPages();
    void registryKeys();
    void instanceGone();
    void staleEntriesOfAnEarlierRun();
    void takenForDeadRewrites();
    void subscriberKilled();
    void redisRestart();
    void redisHang();

private:
    std::unique_ptr<RedisBackplane> makeBackplane(const QString &id, const QString &url = {});
    bool waitUp(RedisBackplane &backplane);
    QList<Member> membersOf(RedisBackplane &backplane, const QString &room, bool *ok = nullptr);
    std::unique_ptr<RedisConnection> rawConnection(const QString &url = {});
    QByteArray key(const QString &rest) const { return (m_prefix + rest).toUtf8(); }

    QString m_url = qEnvironmentVariable("SB_TEST_REDIS_URL");
    QString m_prefix;
};

#define SB_REQUIRE_REDIS() SB_REQUIRE(!m_url.isEmpty(), "SB_TEST_REDIS_URL is not set")
#define SB_REQUIRE_REDIS_SERVER() SB_REQUIRE(RedisProcess::available(), "no redis-server binary on PATH")

void TstRedisBackplane::init()
{
    m_prefix = QStringLiteral("sbtest:%1:").arg(QUuid::createUuid().toString(QUuid::Id128).left(12));
}

void TstRedisBackplane::cleanup()
{
    if (m_url.isEmpty())
        return;
    // Leave the shared Redis as we found it.
    auto raw = rawConnection();
    if (!raw->isConnected())
        return;
    QByteArray cursor = "0";
    do {
        const RedisReply page = call(*raw, {"SCAN", cursor, "MATCH", key(QStringLiteral("*")), "COUNT", "1000"});
        if (!page.isArray())
            break;
        for (const RedisReply &k : page.at(1).elements())
            call(*raw, {"DEL", k.bytes()});
        cursor = page.at(0).bytes();
    } while (cursor != "0");
}

std::unique_ptr<RedisBackplane> TstRedisBackplane::makeBackplane(const QString &id, const QString &url)
{
    Config config;
    config.redisUrl = url.isEmpty() ? m_url : url;
    config.redisPrefix = m_prefix;
    config.instanceId = id;
    auto backplane = std::make_unique<RedisBackplane>(config);
    RedisBackplane::Timings timings;
    timings.heartbeatTtlMs = 1500;
    timings.cleanupIntervalMs = 300;
    timings.cleanupClaimMs = 3000;
    timings.reconnectMinMs = 100;
    timings.reconnectMaxMs = 500;
    timings.commandTimeoutMs = 1500;
    timings.connectTimeoutMs = 1500;
    backplane->setTimings(timings);
    return backplane;
}

bool TstRedisBackplane::waitUp(RedisBackplane &backplane)
{
    return QTest::qWaitFor([&backplane] { return backplane.isUp(); }, 10000);
}

QList<Member> TstRedisBackplane::membersOf(RedisBackplane &backplane, const QString &room, bool *ok)
{
    std::optional<QList<Member>> result;
    bool answered = false;
    backplane.members(room, {}, 1000, [&](bool success, const MemberPage &page) {
        answered = true;
        if (success)
            result = page.members;
    });
    if (!QTest::qWaitFor([&answered] { return answered; }, 10000))
        qWarning("members() never answered");
    if (ok)
        *ok = result.has_value();
    return result.value_or(QList<Member>());
}

std::unique_ptr<RedisConnection> TstRedisBackplane::rawConnection(const QString &url)
{
    auto connection = std::make_unique<RedisConnection>();
    connection->connectTo(*RedisAddress::fromUrl(url.isEmpty() ? m_url : url));
    if (!QTest::qWaitFor([&connection] { return connection->isConnected(); }, 10000))
        qWarning("the test's own Redis connection did not come up");
    return connection;
}

// --- RedisAddress and RedisConnection ------------------------------------------

void TstRedisBackplane::urlParsing_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QByteArray>("username");
    QTest::addColumn<QByteArray>("password");
    QTest::addColumn<int>("db");

    QTest::addRow("host and port") << "redis://127.0.0.1:6380" << true << "127.0.0.1" << 6380 << QByteArray()
                                   << QByteArray() << 0;
    QTest::addRow("default port") << "redis://localhost" << true << "localhost" << 6379 << QByteArray() << QByteArray()
                                  << 0;
    QTest::addRow("password and db") << "redis://:s3cret@redis.example:6381/2" << true << "redis.example" << 6381
                                     << QByteArray() << QByteArray("s3cret") << 2;
    QTest::addRow("acl user") << "redis://app:pw@h:1/0" << true << "h" << 1 << QByteArray("app") << QByteArray("pw")
                              << 0;
    QTest::addRow("percent-encoded password") << "redis://:p%40ss%2Fw@h" << true << "h" << 6379 << QByteArray()
                                              << QByteArray("p@ss/w") << 0;
    QTest::addRow("ipv6") << "redis://[::1]:7000/3" << true << "::1" << 7000 << QByteArray() << QByteArray() << 3;
    QTest::addRow("other scheme") << "http://h:1" << false << "" << 0 << QByteArray() << QByteArray() << 0;
    QTest::addRow("no host") << "redis://" << false << "" << 0 << QByteArray() << QByteArray() << 0;
    QTest::addRow("bad port") << "redis://h:99999" << false << "" << 0 << QByteArray() << QByteArray() << 0;
    QTest::addRow("bad db") << "redis://h/abc" << false << "" << 0 << QByteArray() << QByteArray() << 0;
    QTest::addRow("negative db") << "redis://h/-1" << false << "" << 0 << QByteArray() << QByteArray() << 0;
}

void TstRedisBackplane::urlParsing()
{
    QFETCH(QString, url);
    QFETCH(bool, valid);
    QString error;
    const auto address = RedisAddress::fromUrl(url, &error);
    QCOMPARE(address.has_value(), valid);
    if (!valid) {
        QVERIFY(!error.isEmpty());
        return;
    }
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QByteArray, username);
    QFETCH(QByteArray, password);
    QFETCH(int, db);
    QCOMPARE(address->host, host);
    QCOMPARE(int(address->port), port);
    QCOMPARE(address->username, username);
    QCOMPARE(address->password, password);
    QCOMPARE(address->db, db);
    if (!password.isEmpty()) {
        QVERIFY2(!address->toString().contains(QString::fromUtf8(password)), qPrintable(address->toString()));
        QVERIFY(address->toString().contains(QStringLiteral("***")));
    }
}

void TstRedisBackplane::connectionCommands()
{
    SB_REQUIRE_REDIS();
    RedisConnection connection;
    int connectedCount = 0;
    connect(&connection, &RedisConnection::connected, this, [&connectedCount] { ++connectedCount; });
    connection.connectTo(*RedisAddress::fromUrl(m_url));
    QTRY_COMPARE_WITH_TIMEOUT(connectedCount, 1, 10000);

    // Binary safe both ways: NUL bytes, high bytes, an empty value.
    const QByteArray value("a\0b\xff\r\nc", 7);
    QVERIFY(call(connection, {"SET", key(QStringLiteral("bin")), value}).isOk());
    QCOMPARE(call(connection, {"GET", key(QStringLiteral("bin"))}), RedisReply::string(value));
    QVERIFY(call(connection, {"SET", key(QStringLiteral("empty")), QByteArray()}).isOk());
    QCOMPARE(call(connection, {"GET", key(QStringLiteral("empty"))}), RedisReply::string(QByteArray()));
    QVERIFY(call(connection, {"GET", key(QStringLiteral("missing"))}).isNil());
    QCOMPARE(call(connection, {"INCRBY", key(QStringLiteral("n")), "41"}), RedisReply::integer(41));
    const RedisReply list = call(connection, {"LRANGE", key(QStringLiteral("none")), "0", "-1"});
    QVERIFY(list.isArray());
    QCOMPARE(list.size(), std::size_t(0));
    QVERIFY(call(connection, {"NOSUCHCOMMAND"}).isError());

    // Replies come back in order, each to its own callback.
    QList<qint64> order;
    for (int i = 0; i < 100; ++i)
        connection.command({"INCR", key(QStringLiteral("seq"))}, [&order](const RedisReply &r) { order.append(r.integer()); });
    QTRY_COMPARE(order.size(), 100);
    for (int i = 0; i < 100; ++i)
        QCOMPARE(order[i], qint64(i + 1));

    // A subscriber connection delivers (channel, payload) and refuses commands.
    RedisConnection subscriber(RedisConnection::Mode::Subscriber);
    subscriber.connectTo(*RedisAddress::fromUrl(m_url));
    QTRY_VERIFY_WITH_TIMEOUT(subscriber.isConnected(), 10000);
    QList<QPair<QByteArray, QByteArray>> received;
    bool confirmed = false;
    subscriber.subscribe(
        key(QStringLiteral("chan")), [&received](const QByteArray &c, const QByteArray &p) { received.append({c, p}); },
        [&confirmed](const RedisReply &r) { confirmed = !r.isError(); });
    QTRY_VERIFY(confirmed);
    QCOMPARE(call(connection, {"PUBLISH", key(QStringLiteral("chan")), value}), RedisReply::integer(1));
    QTRY_COMPARE(received.size(), 1);
    QCOMPARE(received.first().first, key(QStringLiteral("chan")));
    QCOMPARE(received.first().second, value);
    QVERIFY(call(subscriber, {"GET", "x"}).isError());
    subscriber.unsubscribe(key(QStringLiteral("chan")));
    QTRY_COMPARE(call(connection, {"PUBLISH", key(QStringLiteral("chan")), "again"}), RedisReply::integer(0));
    QCOMPARE(received.size(), 1);

    // Disconnecting answers what is pending and says so once.
    QStringList disconnects;
    connect(&connection, &RedisConnection::disconnected, this, [&disconnects](const QString &e) { disconnects.append(e); });
    bool failed = false;
    connection.command({"PING"}, [&failed](const RedisReply &r) { failed = r.isError(); });
    connection.disconnectFromServer();
    QTRY_VERIFY(failed);
    QTRY_COMPARE(disconnects, QStringList{QString()});
    QCOMPARE(connection.state(), RedisConnection::State::Disconnected);

    // Commands while disconnected fail, and never inside the call itself.
    bool answered = false;
    connection.command({"PING"}, [&answered](const RedisReply &r) { answered = r.isError(); });
    QVERIFY(!answered);
    QTRY_VERIFY(answered);

    // The same object connects again.
    connection.connectTo(*RedisAddress::fromUrl(m_url));
    QTRY_COMPARE_WITH_TIMEOUT(connectedCount, 2, 10000);
    QCOMPARE(call(connection, {"PING"}), RedisReply::status("PONG"));
}

void TstRedisBackplane::connectionFailures()
{
    // Nothing listens on a port we just found free: refused, with hiredis' text.
    const quint16 closed = freePort();
    QVERIFY(closed != 0);
    RedisConnection connection;
    QStringList errors;
    connect(&connection, &RedisConnection::disconnected, this, [&errors](const QString &e) { errors.append(e); });
    connection.connectTo(QStringLiteral("127.0.0.1"), closed);
    QTRY_COMPARE(errors.size(), 1);
    QVERIFY2(errors.first().contains(QStringLiteral("refused"), Qt::CaseInsensitive), qPrintable(errors.first()));
    QCOMPARE(connection.state(), RedisConnection::State::Disconnected);

    // A host name that cannot resolve fails without blocking.
    connection.connectTo(QStringLiteral("no-such-host.invalid"), 6379);
    QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 2, 15000);

    if (m_url.isEmpty())
        return;
    // A password the server does not expect: the handshake fails and the
    // error never shows the password.
    RedisAddress address = *RedisAddress::fromUrl(m_url);
    address.password = "wrong-password-42";
    connection.connectTo(address);
    QTRY_COMPARE_WITH_TIMEOUT(errors.size(), 3, 10000);
    QVERIFY2(errors.last().contains(QStringLiteral("AUTH")), qPrintable(errors.last()));
    QVERIFY(!errors.last().contains(QStringLiteral("wrong-password-42")));
    QVERIFY(!connection.isConnected());
}

void TstRedisBackplane::connectionTimeout()
{
    SB_REQUIRE_REDIS_SERVER();
    RedisProcess redis;
    QVERIFY(redis.start());
    RedisConnection connection;
    connection.setCommandTimeout(300);
    QStringList errors;
    connect(&connection, &RedisConnection::disconnected, this, [&errors](const QString &e) { errors.append(e); });
    connection.connectTo(QStringLiteral("127.0.0.1"), redis.port());
    QTRY_VERIFY_WITH_TIMEOUT(connection.isConnected(), 10000);

    // A server that stops answering: the command fails after its timeout and
    // the connection is dropped, instead of waiting forever.
    redis.pause();
    std::optional<RedisReply> first;
    std::optional<RedisReply> second;
    QElapsedTimer elapsed;
    elapsed.start();
    connection.command({"PING"}, [&first](const RedisReply &r) { first = r; });
    connection.command({"PING"}, [&second](const RedisReply &r) { second = r; }, 0);
    QTRY_VERIFY_WITH_TIMEOUT(first.has_value() && second.has_value(), 5000);
    QVERIFY2(elapsed.elapsed() < 3000, qPrintable(QString::number(elapsed.elapsed())));
    QVERIFY(first->isError());
    QVERIFY2(first->text().contains(QStringLiteral("no reply")), qPrintable(first->text()));
    QVERIFY(second->isError());
    QTRY_COMPARE(errors.size(), 1);
    QVERIFY(!connection.isConnected());
    redis.resume();
}

void TstRedisBackplane::starvedProcessKeepsConnection()
{
    // A process that gets no CPU for longer than the timeout (its event loop
    // does not run) has not failed Redis: a command not yet written is timed
    // from its write, and a reply waiting in the socket is read before the
    // timer may call it late.
    SB_REQUIRE_REDIS_SERVER();
    RedisProcess redis;
    QVERIFY(redis.start());
    RedisConnection connection;
    connection.setCommandTimeout(200);
    QStringList errors;
    connect(&connection, &RedisConnection::disconnected, this, [&errors](const QString &e) { errors.append(e); });
    connection.connectTo(QStringLiteral("127.0.0.1"), redis.port());
    QTRY_VERIFY_WITH_TIMEOUT(connection.isConnected(), 10000);

    for (int round = 0; round < 5; ++round) {
        std::optional<RedisReply> queued;
        connection.command({"PING"}, [&queued](const RedisReply &r) { queued = r; });
        QThread::msleep(400); // starved before hiredis could write it
        QTRY_VERIFY_WITH_TIMEOUT(queued.has_value(), 5000);
        QVERIFY2(!queued->isError(), qPrintable(queued->toString()));

        std::optional<RedisReply> waiting;
        connection.command({"PING"}, [&waiting](const RedisReply &r) { waiting = r; });
        QCoreApplication::processEvents(); // written; the reply follows
        QThread::msleep(400);              // starved while it waits in the socket
        QTRY_VERIFY_WITH_TIMEOUT(waiting.has_value(), 5000);
        QVERIFY2(!waiting->isError(), qPrintable(waiting->toString()));
    }
    QVERIFY(connection.isConnected());
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join(QLatin1Char('\n'))));
}

// --- RedisBackplane -------------------------------------------------------------

void TstRedisBackplane::connectAndUp()
{
    SB_REQUIRE_REDIS();
    auto backplane = makeBackplane(QStringLiteral("app-a"));
    QCOMPARE(backplane->kind(), QStringLiteral("redis"));
    QList<bool> changes;
    connect(backplane.get(), &Backplane::upChanged, this, [&changes](bool up) { changes.append(up); });
    QVERIFY(!backplane->isUp());
    backplane->start();
    QTRY_COMPARE_WITH_TIMEOUT(changes, QList<bool>{true}, 10000);
    QVERIFY(backplane->isUp());
    // The probe goes round once a second.
    QTRY_VERIFY_WITH_TIMEOUT(backplane->rttMs() > 0, 5000);
    QVERIFY(backplane->rttMs() < 1000);
}

void TstRedisBackplane::downCallsAnswerAtOnce()
{
    // A backplane that cannot reach Redis answers every call with ok=false.
    const quint16 closed = freePort();
    QVERIFY(closed != 0);
    auto backplane = makeBackplane(QStringLiteral("app-a"), QStringLiteral("redis://127.0.0.1:%1").arg(closed));
    backplane->start();
    int answers = 0;
    QElapsedTimer elapsed;
    elapsed.start();
    backplane->publish(QStringLiteral("room:x"), "{}", [&](bool ok) { answers += ok ? 100 : 1; });
    backplane->storeToken(QStringLiteral("t"), {}, 60, [&](bool ok) { answers += ok ? 100 : 1; });
    backplane->takeToken(QStringLiteral("t"), [&](bool ok, std::optional<TokenRecord>) { answers += ok ? 100 : 1; });
    backplane->members(QStringLiteral("x"), {}, 10, [&](bool ok, MemberPage) { answers += ok ? 100 : 1; });
    backplane->liveInstances([&](bool ok, QStringList) { answers += ok ? 100 : 1; });
    backplane->tryLease(QStringLiteral("l"), QStringLiteral("app-a"), 1000, [&](bool held) { answers += held ? 100 : 1; });
    QCOMPARE(answers, 0); // never inside the call
    QTRY_COMPARE(answers, 6);
    QVERIFY(elapsed.elapsed() < 1000);
    QVERIFY(!backplane->isUp());

    // A malformed URL: down for good, still answering.
    auto broken = makeBackplane(QStringLiteral("app-b"), QStringLiteral("redis://:pw@/x"));
    broken->start();
    bool answered = false;
    broken->takeToken(QStringLiteral("t"), [&](bool ok, std::optional<TokenRecord>) { answered = !ok; });
    QTRY_VERIFY(answered);
}

void TstRedisBackplane::pubSubBetweenInstances()
{
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    auto b = makeBackplane(QStringLiteral("app-b"));
    QList<QPair<QString, QByteArray>> atA;
    QList<QPair<QString, QByteArray>> atB;
    connect(a.get(), &Backplane::message, this, [&atA](const QString &c, const QByteArray &p) { atA.append({c, p}); });
    connect(b.get(), &Backplane::message, this, [&atB](const QString &c, const QByteArray &p) { atB.append({c, p}); });
    a->subscribe(QStringLiteral("room:lobby"));
    b->subscribe(QStringLiteral("room:lobby"));
    b->subscribe(QStringLiteral("room:other"));
    a->start();
    b->start();
    QVERIFY(waitUp(*a));
    QVERIFY(waitUp(*b));

    // Somebody watching Redis directly sees the prefixed channel.
    RedisConnection monitor(RedisConnection::Mode::Subscriber);
    monitor.connectTo(*RedisAddress::fromUrl(m_url));
    QTRY_VERIFY_WITH_TIMEOUT(monitor.isConnected(), 10000);
    QByteArrayList seenByMonitor;
    bool confirmed = false;
    monitor.subscribe(
        key(QStringLiteral("room:lobby")), [&seenByMonitor](const QByteArray &, const QByteArray &p) { seenByMonitor.append(p); },
        [&confirmed](const RedisReply &r) { confirmed = !r.isError(); });
    QTRY_VERIFY(confirmed);

    const QByteArray envelope = R"({"v":1,"origin":"app-a","id":"e1","ts":1,"target":{"room":"lobby"},"frame":{"type":"chat","text":"hi"}})";
    bool published = false;
    a->publish(QStringLiteral("room:lobby"), envelope, [&published](bool ok) { published = ok; });
    QTRY_VERIFY(published);
    QTRY_COMPARE(atB.size(), 1);
    QCOMPARE(atB.first().first, QStringLiteral("room:lobby"));
    QCOMPARE(atB.first().second, envelope);
    QTRY_COMPARE(atA.size(), 1); // the sender, subscribed too, gets it back
    QTRY_COMPARE(seenByMonitor, QByteArrayList{envelope});

    // After unsubscribe nothing more arrives for that channel, while others still do.
    b->unsubscribe(QStringLiteral("room:lobby"));
    QTest::qWait(200);
    a->publish(QStringLiteral("room:lobby"), "second");
    a->publish(QStringLiteral("room:other"), "marker");
    QTRY_COMPARE(atB.size(), 2);
    QCOMPARE(atB.last(), qMakePair(QStringLiteral("room:other"), QByteArray("marker")));
    QTRY_COMPARE(atA.size(), 2);
}

void TstRedisBackplane::tokenTakenOnce()
{
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    auto b = makeBackplane(QStringLiteral("app-b"));
    a->start();
    b->start();
    QVERIFY(waitUp(*a));
    QVERIFY(waitUp(*b));

    const TokenRecord record{QStringLiteral("alice"), QStringLiteral("2f1c"), QStringLiteral("participant"),
                             QStringLiteral("app-a")};
    bool stored = false;
    a->storeToken(QStringLiteral("tok-1"), record, 60, [&stored](bool ok) { stored = ok; });
    QTRY_VERIFY(stored);
    auto raw = rawConnection();
    const RedisReply json = call(*raw, {"GET", key(QStringLiteral("token:tok-1"))});
    QVERIFY2(json.bytes().contains("\"user\":\"alice\""), qPrintable(json.toString()));
    const RedisReply ttl = call(*raw, {"TTL", key(QStringLiteral("token:tok-1"))});
    QVERIFY2(ttl.integer() > 0 && ttl.integer() <= 60, qPrintable(ttl.toString()));

    // Both instances race for it: exactly one wins, with the whole record.
    int answers = 0;
    QList<TokenRecord> won;
    const auto take = [&](bool ok, std::optional<TokenRecord> r) {
        QVERIFY(ok);
        ++answers;
        if (r)
            won.append(*r);
    };
    a->takeToken(QStringLiteral("tok-1"), take);
    b->takeToken(QStringLiteral("tok-1"), take);
    QTRY_COMPARE(answers, 2);
    QCOMPARE(won.size(), 1);
    QCOMPARE(won.first().user, record.user);
    QCOMPARE(won.first().clientId, record.clientId);
    QCOMPARE(won.first().role, record.role);
    QCOMPARE(won.first().instance, record.instance);

    a->takeToken(QStringLiteral("tok-1"), take);
    QTRY_COMPARE(answers, 3);
    QCOMPARE(won.size(), 1);
}

void TstRedisBackplane::tokenExpires()
{
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    a->start();
    QVERIFY(waitUp(*a));
    bool stored = false;
    a->storeToken(QStringLiteral("short"), {QStringLiteral("bob"), {}, QStringLiteral("participant"), {}}, 1,
                  [&stored](bool ok) { stored = ok; });
    QTRY_VERIFY(stored);
    QTest::qWait(1300);
    std::optional<bool> ok;
    bool found = true;
    a->takeToken(QStringLiteral("short"), [&](bool success, std::optional<TokenRecord> r) {
        ok = success;
        found = r.has_value();
    });
    QTRY_VERIFY(ok.has_value());
    QVERIFY(*ok);
    QVERIFY(!found);
}

void TstRedisBackplane::rateLimit()
{
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    auto b = makeBackplane(QStringLiteral("app-b"));
    a->start();
    b->start();
    QVERIFY(waitUp(*a));
    QVERIFY(waitUp(*b));

    struct Hit
    {
        bool allowed;
        int retryAfter;
    };
    const auto hit = [](RedisBackplane &bp, const QString &k, RateSpec spec) {
        std::optional<Hit> result;
        bp.hitRateLimit(k, spec, [&result](bool allowed, int retry) { result = Hit{allowed, retry}; });
        if (!QTest::qWaitFor([&result] { return result.has_value(); }, 10000))
            qWarning("hitRateLimit() never answered");
        return result.value_or(Hit{false, -1});
    };

    // 3 per 2 s, counted across instances.
    const RateSpec three{3, 2};
    QVERIFY(hit(*a, QStringLiteral("10.0.0.1"), three).allowed);
    QVERIFY(hit(*b, QStringLiteral("10.0.0.1"), three).allowed);
    QVERIFY(hit(*a, QStringLiteral("10.0.0.1"), three).allowed);
    const Hit refused = hit(*b, QStringLiteral("10.0.0.1"), three);
    QVERIFY(!refused.allowed);
    QVERIFY2(refused.retryAfter >= 1 && refused.retryAfter <= 2, qPrintable(QString::number(refused.retryAfter)));
    QVERIFY(hit(*a, QStringLiteral("10.0.0.2"), three).allowed); // another address is not affected

    // Refused attempts count too: 1 per 2 s, hit at 0 s (allowed), 1.2 s
    // (refused) and 2.2 s: the first has left the window but the refused one
    // has not, so it is still refused.
    const RateSpec one{1, 2};
    QVERIFY(hit(*a, QStringLiteral("10.0.0.3"), one).allowed);
    QTest::qWait(1200);
    QVERIFY(!hit(*b, QStringLiteral("10.0.0.3"), one).allowed);
    QTest::qWait(1000);
    const Hit still = hit(*a, QStringLiteral("10.0.0.3"), one);
    QVERIFY(!still.allowed);
    QVERIFY2(still.retryAfter >= 1 && still.retryAfter <= 2, qPrintable(QString::number(still.retryAfter)));

    // A count of 0 disables the limit.
    for (int i = 0; i < 3; ++i)
        QVERIFY(hit(*a, QStringLiteral("10.0.0.4"), RateSpec{0, 60}).allowed);
}

void TstRedisBackplane::lease()
{
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    auto b = makeBackplane(QStringLiteral("app-b"));
    a->start();
    b->start();
    QVERIFY(waitUp(*a));
    QVERIFY(waitUp(*b));
    const auto tryLease = [](RedisBackplane &bp, const QString &holder, int ttl) {
        std::optional<bool> held;
        bp.tryLease(QStringLiteral("ticker"), holder, ttl, [&held](bool h) { held = h; });
        if (!QTest::qWaitFor([&held] { return held.has_value(); }, 10000))
            qWarning("tryLease() never answered");
        return held.value_or(false);
    };
    QVERIFY(tryLease(*a, QStringLiteral("app-a"), 800));
    QVERIFY(!tryLease(*b, QStringLiteral("app-b"), 800));
    QTest::qWait(500);
    QVERIFY(tryLease(*a, QStringLiteral("app-a"), 800)); // extended by its holder
    QTest::qWait(500);
    QVERIFY(!tryLease(*b, QStringLiteral("app-b"), 800)); // still a's after 1 s thanks to the extension
    QTest::qWait(1000);
    QVERIFY(tryLease(*b, QStringLiteral("app-b"), 800)); // expired: taken over
    QVERIFY(!tryLease(*a, QStringLiteral("app-a"), 800));
    auto raw = rawConnection();
    QCOMPARE(call(*raw, {"GET", key(QStringLiteral("lease:ticker"))}), RedisReply::string("app-b"));
}

void TstRedisBackplane::members()
{
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    auto b = makeBackplane(QStringLiteral("app-b"));
    a->start();
    b->start();
    QVERIFY(waitUp(*a));
    QVERIFY(waitUp(*b));
    const Member m1 = member(QStringLiteral("s1"), QStringLiteral("alice"), QStringLiteral("app-a"));
    const Member m2 = member(QStringLiteral("s2"), QStringLiteral("bob"), QStringLiteral("app-a"));
    const Member m3 = member(QStringLiteral("s3"), QStringLiteral("carol"), QStringLiteral("app-b"));
    a->addMember(QStringLiteral("lobby"), m1);
    a->addMember(QStringLiteral("lobby"), m2);
    a->addMember(QStringLiteral("lobby"), m2); // twice is harmless
    b->addMember(QStringLiteral("lobby"), m3);
    a->addMember(QStringLiteral("dev"), m1);

    bool ok = false;
    QTRY_COMPARE(describe(membersOf(*b, QStringLiteral("lobby"), &ok)),
                 QStringLiteral("s1/alice/app-a s2/bob/app-a s3/carol/app-b"));
    QVERIFY(ok);
    const QList<Member> list = membersOf(*a, QStringLiteral("lobby"));
    QCOMPARE(list.at(0).clientId, QStringLiteral("client-alice"));

    a->removeMember(QStringLiteral("lobby"), QStringLiteral("s2"));
    QTRY_COMPARE(describe(membersOf(*b, QStringLiteral("lobby"))), QStringLiteral("s1/alice/app-a s3/carol/app-b"));
    QCOMPARE(describe(membersOf(*b, QStringLiteral("dev"))), QStringLiteral("s1/alice/app-a"));
    QCOMPARE(membersOf(*b, QStringLiteral("empty"), &ok).size(), 0);
    QVERIFY(ok);

    // The layout others (the console) rely on.
    auto raw = rawConnection();
    const RedisReply json = call(*raw, {"HGET", key(QStringLiteral("room:lobby:members")), "s1"});
    QVERIFY2(json.bytes().contains("\"user\":\"alice\""), qPrintable(json.toString()));
    QCOMPARE(call(*raw, {"SISMEMBER", key(QStringLiteral("instance-members:app-a")), "lobby|s1"}),
             RedisReply::integer(1));
    QCOMPARE(call(*raw, {"SISMEMBER", key(QStringLiteral("instance-members:app-a")), "lobby|s2"}),
             RedisReply::integer(0));
}

void TstRedisBackplane::memberPages()
{
    // Big rooms are listed a page at a time, in session id order, with their size.
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    auto b = makeBackplane(QStringLiteral("app-b"));
    a->start();
    b->start();
    QVERIFY(waitUp(*a));
    QVERIFY(waitUp(*b));
    const QString room = QStringLiteral("big");
    for (int i = 0; i < 25; ++i) {
        const QString sid = QStringLiteral("s%1").arg(i, 2, 10, QLatin1Char('0'));
        (i % 2 ? a : b)->addMember(room, member(sid, QStringLiteral("u%1").arg(i), i % 2 ? QStringLiteral("app-a")
                                                                                            : QStringLiteral("app-b")));
    }
    const auto page = [&](const QString &after, int limit) {
        std::optional<MemberPage> result;
        a->members(room, after, limit, [&](bool ok, const MemberPage &p) { result = ok ? p : MemberPage{{}, -1, false}; });
        if (!QTest::qWaitFor([&] { return result.has_value(); }, 10000))
            qWarning("members() never answered");
        return result.value_or(MemberPage{{}, -1, false});
    };
    QTRY_COMPARE(page({}, 1).count, 25);
    MemberPage first = page({}, 10);
    QCOMPARE(first.members.size(), 10);
    QCOMPARE(first.members.first().sessionId, QStringLiteral("s00"));
    QCOMPARE(first.members.last().sessionId, QStringLiteral("s09"));
    QVERIFY(first.more);
    MemberPage second = page(first.members.last().sessionId, 10);
    QCOMPARE(second.members.first().sessionId, QStringLiteral("s10"));
    QVERIFY(second.more);
    MemberPage last = page(second.members.last().sessionId, 10);
    QCOMPARE(last.members.size(), 5);
    QCOMPARE(last.members.last().sessionId, QStringLiteral("s24"));
    QVERIFY(!last.more);
    QCOMPARE(last.count, 25);
    QCOMPARE(page(QStringLiteral("s24"), 10).members.size(), 0);

    a->removeMember(room, QStringLiteral("s03"));
    QTRY_COMPARE(page({}, 1).count, 24);
    QCOMPARE(page(QStringLiteral("s02"), 1).members.first().sessionId, QStringLiteral("s04"));
    qint64 count = -1;
    b->memberCount(room, [&](bool ok, qint64 n) { count = ok ? n : -2; });
    QTRY_COMPARE(count, qint64(24));

}

void TstRedisBackplane::registryKeys()
{
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    auto b = makeBackplane(QStringLiteral("app-b"));
    a->start();
    b->start();
    QVERIFY(waitUp(*a));
    QVERIFY(waitUp(*b));
    auto raw = rawConnection();

    const Fields instance{{QStringLiteral("id"), QStringLiteral("app-a")},
                          {QStringLiteral("color"), QStringLiteral("blue")},
                          {QStringLiteral("host"), QStringLiteral("127.0.0.1")},
                          {QStringLiteral("port"), QStringLiteral("8080")},
                          {QStringLiteral("version"), QStringLiteral("0.1.0")},
                          {QStringLiteral("started_at"), QStringLiteral("1732236000123")},
                          {QStringLiteral("connections"), QStringLiteral("3")}};
    a->putInstance(instance);
    b->putInstance({{QStringLiteral("id"), QStringLiteral("app-b")}});
    QTRY_COMPARE(call(*raw, {"HGET", key(QStringLiteral("instance:app-a")), "connections"}), RedisReply::string("3"));
    const RedisReply all = call(*raw, {"HGETALL", key(QStringLiteral("instance:app-a"))});
    QCOMPARE(all.size(), std::size_t(2 * instance.size()));
    const qint64 pttl = call(*raw, {"PTTL", key(QStringLiteral("instance:app-a"))}).integer();
    QVERIFY2(pttl > 0 && pttl <= 1500, qPrintable(QString::number(pttl)));

    QStringList live;
    bool ok = false;
    b->liveInstances([&](bool success, const QStringList &ids) {
        ok = success;
        live = ids;
    });
    QTRY_VERIFY(ok);
    QCOMPARE(live, (QStringList{QStringLiteral("app-a"), QStringLiteral("app-b")}));

    a->putSession(QStringLiteral("s1"), {{QStringLiteral("session_id"), QStringLiteral("s1")},
                                         {QStringLiteral("rooms"), QStringLiteral("lobby,dev")},
                                         {QStringLiteral("sticky"), QStringLiteral("1")}});
    QTRY_COMPARE(call(*raw, {"HGET", key(QStringLiteral("session:s1")), "rooms"}), RedisReply::string("lobby,dev"));
    QCOMPARE(call(*raw, {"TTL", key(QStringLiteral("session:s1"))}), RedisReply::integer(-1));
    a->removeSession(QStringLiteral("s1"));
    QTRY_COMPARE(call(*raw, {"EXISTS", key(QStringLiteral("session:s1"))}), RedisReply::integer(0));

    for (int i = 1; i <= 55; ++i)
        a->recordClientInstance(QStringLiteral("c1"), QStringLiteral("app-a|%1").arg(i));
    QTRY_COMPARE(call(*raw, {"LINDEX", key(QStringLiteral("client:c1:instances")), "0"}), RedisReply::string("app-a|55"));
    QCOMPARE(call(*raw, {"LLEN", key(QStringLiteral("client:c1:instances"))}), RedisReply::integer(50));
    QCOMPARE(call(*raw, {"LINDEX", key(QStringLiteral("client:c1:instances")), "-1"}), RedisReply::string("app-a|6"));

    // A clean exit removes the instance at once, even when the backplane is
    // destroyed right after asking (as the server's destructor does).
    a->removeInstance();
    a.reset();
    QTRY_COMPARE(call(*raw, {"EXISTS", key(QStringLiteral("instance:app-a"))}), RedisReply::integer(0));
    QCOMPARE(call(*raw, {"SISMEMBER", key(QStringLiteral("instances:known")), "app-a"}), RedisReply::integer(0));
}

void TstRedisBackplane::instanceGone()
{
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    auto b = makeBackplane(QStringLiteral("app-b"));
    auto c = makeBackplane(QStringLiteral("app-c"));
    using Gone = QPair<QString, QList<QPair<QString, Member>>>;
    QList<Gone> goneAtA;
    QList<Gone> goneAtC;
    connect(a.get(), &Backplane::instanceGone, this,
            [&goneAtA](const QString &i, const QList<QPair<QString, Member>> &m) { goneAtA.append({i, m}); });
    connect(c.get(), &Backplane::instanceGone, this,
            [&goneAtC](const QString &i, const QList<QPair<QString, Member>> &m) { goneAtC.append({i, m}); });
    for (RedisBackplane *bp : {a.get(), b.get(), c.get()})
        bp->start();
    QVERIFY(waitUp(*a));
    QVERIFY(waitUp(*b));
    QVERIFY(waitUp(*c));

    // The servers' 1 s heartbeat, faster here to match the test's short expiry.
    QTimer heartbeat;
    connect(&heartbeat, &QTimer::timeout, this, [&] {
        for (RedisBackplane *bp : {a.get(), b.get(), c.get()}) {
            if (bp)
                bp->putInstance({{QStringLiteral("id"), bp->instanceId()}});
        }
    });
    heartbeat.start(300);

    const Member mb = member(QStringLiteral("sb1"), QStringLiteral("bob"), QStringLiteral("app-b"));
    const Member ma = member(QStringLiteral("sa1"), QStringLiteral("alice"), QStringLiteral("app-a"));
    b->addMember(QStringLiteral("lobby"), mb);
    b->putSession(QStringLiteral("sb1"), {{QStringLiteral("user"), QStringLiteral("bob")}});
    a->addMember(QStringLiteral("lobby"), ma);
    QTRY_COMPARE(membersOf(*a, QStringLiteral("lobby")).size(), 2);
    QTest::qWait(1000); // several cleanup passes: nobody alive is touched
    QVERIFY(goneAtA.isEmpty());
    QCOMPARE(membersOf(*a, QStringLiteral("lobby")).size(), 2);

    // b dies without a word (as with kill -9): its heartbeat stops, its keys stay.
    QElapsedTimer sinceDeath;
    sinceDeath.start();
    b.reset();
    QTRY_COMPARE_WITH_TIMEOUT(goneAtA.size(), 1, 10000);
    {
        // Its sessions are gone from the room's ordered ids as well.
        auto raw = rawConnection();
        QCOMPARE(call(*raw, {"ZRANGE", key(QStringLiteral("room:lobby:member-ids")), "0", "-1"}).size(), std::size_t(1));
    }
    QTRY_COMPARE_WITH_TIMEOUT(goneAtC.size(), 1, 5000);
    qInfo() << "instanceGone after" << sinceDeath.elapsed() << "ms (heartbeat expiry 1500 ms)";
    for (const QList<Gone> *gone : {&goneAtA, &goneAtC}) {
        QCOMPARE(gone->first().first, QStringLiteral("app-b"));
        QCOMPARE(gone->first().second.size(), 1);
        QCOMPARE(gone->first().second.first().first, QStringLiteral("lobby"));
        QCOMPARE(gone->first().second.first().second.sessionId, mb.sessionId);
        QCOMPARE(gone->first().second.first().second.user, mb.user);
    }
    QCOMPARE(describe(membersOf(*a, QStringLiteral("lobby"))), QStringLiteral("sa1/alice/app-a"));
    auto raw = rawConnection();
    QCOMPARE(call(*raw, {"EXISTS", key(QStringLiteral("session:sb1"))}), RedisReply::integer(0));
    QCOMPARE(call(*raw, {"SISMEMBER", key(QStringLiteral("instances:known")), "app-b"}), RedisReply::integer(0));

    // Only once, however many survivors look.
    QTest::qWait(1500);
    QCOMPARE(goneAtA.size(), 1);
    QCOMPARE(goneAtC.size(), 1);
}

void TstRedisBackplane::staleEntriesOfAnEarlierRun()
{
    SB_REQUIRE_REDIS();
    auto observer = makeBackplane(QStringLiteral("app-b"));
    QList<QPair<QString, QList<QPair<QString, Member>>>> gone;
    connect(observer.get(), &Backplane::instanceGone, this,
            [&gone](const QString &i, const QList<QPair<QString, Member>> &m) { gone.append({i, m}); });
    observer->start();
    QVERIFY(waitUp(*observer));

    auto first = makeBackplane(QStringLiteral("app-a"));
    first->start();
    QVERIFY(waitUp(*first));
    first->addMember(QStringLiteral("lobby"), member(QStringLiteral("old"), QStringLiteral("ann"), QStringLiteral("app-a")));
    QTRY_COMPARE(membersOf(*observer, QStringLiteral("lobby")).size(), 1);
    first.reset();

    // Restarted with the same id before its heartbeat expired: the old run's
    // memberships go, and the others hear of them.
    auto second = makeBackplane(QStringLiteral("app-a"));
    second->addMember(QStringLiteral("lobby"), member(QStringLiteral("new"), QStringLiteral("ann"), QStringLiteral("app-a")));
    second->start();
    QVERIFY(waitUp(*second));
    QTRY_COMPARE(gone.size(), 1);
    QCOMPARE(gone.first().first, QStringLiteral("app-a"));
    QCOMPARE(gone.first().second.size(), 1);
    QCOMPARE(gone.first().second.first().second.sessionId, QStringLiteral("old"));
    QCOMPARE(describe(membersOf(*observer, QStringLiteral("lobby"))), QStringLiteral("new/ann/app-a"));
}

void TstRedisBackplane::takenForDeadRewrites()
{
    SB_REQUIRE_REDIS();
    auto a = makeBackplane(QStringLiteral("app-a"));
    auto b = makeBackplane(QStringLiteral("app-b"));
    int goneAtB = 0;
    connect(b.get(), &Backplane::instanceGone, this, [&goneAtB] { ++goneAtB; });
    a->start();
    b->start();
    QVERIFY(waitUp(*a));
    QVERIFY(waitUp(*b));
    QTimer heartbeat;
    connect(&heartbeat, &QTimer::timeout, this, [&b] { b->putInstance({{QStringLiteral("id"), QStringLiteral("app-b")}}); });
    heartbeat.start(300);

    // a stays connected but misses its heartbeats (a stalled event loop):
    // b removes its entries...
    a->addMember(QStringLiteral("lobby"), member(QStringLiteral("s1"), QStringLiteral("ann"), QStringLiteral("app-a")));
    QTRY_COMPARE(membersOf(*b, QStringLiteral("lobby")).size(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(goneAtB, 1, 10000);
    QCOMPARE(membersOf(*b, QStringLiteral("lobby")).size(), 0);
    // ...and a's next heartbeat notices and writes them again.
    a->putInstance({{QStringLiteral("id"), QStringLiteral("app-a")}});
    QTRY_COMPARE(describe(membersOf(*b, QStringLiteral("lobby"))), QStringLiteral("s1/ann/app-a"));
}

void TstRedisBackplane::subscriberKilled()
{
    SB_REQUIRE_REDIS_SERVER();
    RedisProcess redis;
    QVERIFY(redis.start());
    auto x = makeBackplane(QStringLiteral("app-x"), redis.url());
    QList<bool> changes;
    connect(x.get(), &Backplane::upChanged, this, [&changes](bool up) { changes.append(up); });
    QByteArrayList received;
    connect(x.get(), &Backplane::message, this, [&received](const QString &, const QByteArray &p) { received.append(p); });
    x->subscribe(QStringLiteral("room:x"));
    x->start();
    QVERIFY(waitUp(*x));

    // Only the subscriber connection goes; it comes back with its channels.
    auto raw = rawConnection(redis.url());
    QCOMPARE(call(*raw, {"CLIENT", "KILL", "TYPE", "pubsub"}), RedisReply::integer(1));
    QTRY_COMPARE_WITH_TIMEOUT(changes, (QList<bool>{true, false, true}), 10000);
    QCOMPARE(call(*raw, {"PUBLISH", key(QStringLiteral("room:x")), "back"}), RedisReply::integer(1));
    QTRY_COMPARE(received, QByteArrayList{"back"});
}

void TstRedisBackplane::redisRestart()
{
    SB_REQUIRE_REDIS_SERVER();
    RedisProcess redis;
    QVERIFY(redis.start());
    auto x = makeBackplane(QStringLiteral("app-x"), redis.url());
    auto y = makeBackplane(QStringLiteral("app-y"), redis.url());
    QList<bool> changes;
    connect(x.get(), &Backplane::upChanged, this, [&changes](bool up) { changes.append(up); });
    QByteArrayList received;
    connect(x.get(), &Backplane::message, this, [&received](const QString &, const QByteArray &p) { received.append(p); });
    x->subscribe(QStringLiteral("room:x"));
    x->start();
    y->start();
    QVERIFY(waitUp(*x));
    QVERIFY(waitUp(*y));
    x->addMember(QStringLiteral("x"), member(QStringLiteral("s1"), QStringLiteral("xena"), QStringLiteral("app-x")));
    QTRY_COMPARE(membersOf(*y, QStringLiteral("x")).size(), 1);

    redis.kill();
    QTRY_COMPARE_WITH_TIMEOUT(changes, (QList<bool>{true, false}), 5000);
    QVERIFY(!x->isUp());

    // While down: prompt ok=false, never a hang or a silent drop.
    QElapsedTimer elapsed;
    elapsed.start();
    std::optional<bool> tokenOk;
    std::optional<bool> publishOk;
    x->takeToken(QStringLiteral("t"), [&tokenOk](bool ok, std::optional<TokenRecord>) { tokenOk = ok; });
    x->publish(QStringLiteral("room:x"), "lost", [&publishOk](bool ok) { publishOk = ok; });
    QTRY_VERIFY(tokenOk.has_value() && publishOk.has_value());
    QVERIFY(elapsed.elapsed() < 500);
    QVERIFY(!*tokenOk);
    QVERIFY(!*publishOk);
    // Registry writes while down are kept and written once back.
    x->addMember(QStringLiteral("x"), member(QStringLiteral("s2"), QStringLiteral("xavier"), QStringLiteral("app-x")));

    QTest::qWait(700); // a few failed reconnects
    QVERIFY(redis.start(redis.port()));
    QTRY_COMPARE_WITH_TIMEOUT(changes, (QList<bool>{true, false, true}), 10000);
    QVERIFY(waitUp(*y));

    // Resubscribed: y's publish reaches x again.
    const QByteArray payload = R"({"v":1,"origin":"app-y","id":"e2","ts":2,"target":{"room":"x"},"frame":{"type":"chat"}})";
    y->publish(QStringLiteral("room:x"), payload);
    QTRY_COMPARE(received, QByteArrayList{payload});
    // The restarted Redis lost everything; x wrote its members back.
    QTRY_COMPARE(describe(membersOf(*y, QStringLiteral("x"))), QStringLiteral("s1/xena/app-x s2/xavier/app-x"));
}

void TstRedisBackplane::redisHang()
{
    SB_REQUIRE_REDIS_SERVER();
    RedisProcess redis;
    QVERIFY(redis.start());
    auto x = makeBackplane(QStringLiteral("app-x"), redis.url());
    QList<bool> changes;
    connect(x.get(), &Backplane::upChanged, this, [&changes](bool up) { changes.append(up); });
    x->start();
    QVERIFY(waitUp(*x));

    // Redis stops answering but keeps the sockets open: calls fail after the
    // command timeout (1.5 s here) and the backplane reports itself down.
    redis.pause();
    QElapsedTimer elapsed;
    elapsed.start();
    std::optional<bool> ok;
    x->takeToken(QStringLiteral("t"), [&ok](bool success, std::optional<TokenRecord>) { ok = success; });
    QTRY_VERIFY_WITH_TIMEOUT(ok.has_value(), 5000);
    QVERIFY(!*ok);
    QVERIFY2(elapsed.elapsed() < 3000, qPrintable(QString::number(elapsed.elapsed())));
    QTRY_COMPARE_WITH_TIMEOUT(changes, (QList<bool>{true, false}), 5000);

    redis.resume();
    QTRY_COMPARE_WITH_TIMEOUT(changes, (QList<bool>{true, false, true}), 10000);
}

SB_SERVER_TEST_MAIN(TstRedisBackplane)
#include "tst_redisbackplane.moc"
