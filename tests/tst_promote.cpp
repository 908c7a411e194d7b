// Blue/green with the real packaging/promote.sh on a real cluster (Redis,
// PostgreSQL, HAProxy with its runtime API): clients chat through HAProxy
// while the script starts the idle colour, smoke-tests it, switches HAProxy
// to it and drains the old colour. Every message a client saw acknowledged
// is in the room's history afterwards (gap-free), and every client ends on
// the new colour. Then --rollback goes back the same way, and a colour that
// never becomes ready is rolled back with the reason, the live one untouched.

#include "cluster.h"
#include "codec.h"
#include "testsupport.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QNetworkCookie>
#include <QNetworkCookieJar>
#include <QProcess>
#include <QStandardPaths>
#include <QTest>

#include <csignal>
#include <sys/types.h>

#ifndef SB_PROMOTE_SCRIPT
#error "SB_PROMOTE_SCRIPT must name packaging/promote.sh"
#endif

using namespace sbtest;

namespace {

const QString kRoom = QStringLiteral("promo");


// A participant that keeps chatting through the load balancer: each message
// has a nonce; one not acknowledged (closed, refused, timed out) is sent
// again with the same nonce after reconnecting, which the server answers
// with the original seq if it had stored it.
struct Chatter
{
    QString clientId;
    Browser browser;
    std::unique_ptr<TestClient> ws;
    qint64 lastSeq = 0;
    QHash<QString, qint64> acked; // nonce -> seq
    QStringList pending;          // nonces not acknowledged yet, oldest first
    QStringList instances;        // every instance it was welcomed on
    int sent = 0;
    int toldToReconnect = 0; // sockets closed after a "reconnect" frame (a drain, not a cut)

    bool connected() const { return ws && !ws->isClosed(); }

    bool reconnect(quint16 lbPort)
    {
        if (ws && !ws->framesOfType(QStringLiteral("reconnect")).isEmpty())
            ++toldToReconnect;
        ws.reset();
        const Token t = browser.token(lbPort, QStringLiteral("user-") + clientId, clientId);
        if (t.token.isEmpty())
            return false;
        auto candidate = std::make_unique<TestClient>();
        if (!candidate->open(lbPort, t.token, {{QByteArrayLiteral("Cookie"), browser.cookieHeader(lbPort)}}))
            return false;
        const QJsonObject ack = candidate->join(kRoom, lastSeq);
        if (ack.value(QStringLiteral("type")).toString() != QStringLiteral("ack"))
            return false;
        for (const QJsonValue &m : ack.value(QStringLiteral("missed")).toArray())
            lastSeq = std::max(lastSeq, m.toObject().value(QStringLiteral("seq")).toInteger());
        instances.append(candidate->welcome().value(QStringLiteral("instance")).toString());
        ws = std::move(candidate);
        return true;
    }

    // One step: reconnect if needed, else send the oldest pending message or a new one.
    void step(quint16 lbPort)
    {
        if (!connected()) {
            if (!reconnect(lbPort))
                return;
        }
        if (pending.isEmpty())
            pending.append(QStringLiteral("%1-%2").arg(clientId).arg(++sent));
        const QString nonce = pending.first();
        const QJsonObject answer = ws->chat(kRoom, nonce, nonce);
        if (answer.value(QStringLiteral("type")).toString() == QStringLiteral("ack")) {
            const qint64 seq = answer.value(QStringLiteral("seq")).toInteger();
            acked.insert(nonce, seq);
            lastSeq = std::max(lastSeq, seq);
            pending.removeFirst();
        }
    }

    QString instance() const { return instances.isEmpty() ? QString() : instances.last(); }
};

} // namespace

class TstPromote : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void promoteAndRollBackWhileClientsChat();
    void aColourThatNeverGetsReadyIsRolledBack();

private:
    // Runs promote.sh with `args` while the chatters keep chatting; returns its exit code.
    int runPromote(const QStringList &args, std::vector<Chatter> &chatters, QByteArray *output);
    void writeConfig(const QString &bin, int readyTimeoutS = 30);
    QString run() const { return m_cluster->dir() + QStringLiteral("/promote"); }

    std::unique_ptr<Cluster> m_cluster;
    quint16 m_green[2] = {0, 0};
    QString m_config;
};

void TstPromote::initTestCase()
{
    SB_REQUIRE_SERVICE(QFile::exists(QStringLiteral("/usr/sbin/haproxy")), "HAProxy (haproxy) is not installed");
    SB_REQUIRE_SERVICE(!QStandardPaths::findExecutable(QStringLiteral("curl")).isEmpty(), "curl is not installed");
}

void TstPromote::init()
{
    m_green[0] = freePort();
    m_green[1] = freePort();
    // A history long enough for one join to return every message of the test.
    m_cluster = std::make_unique<Cluster>(Cluster::Options{
        2, true, {QStringLiteral("--drain-s"), QStringLiteral("2"), QStringLiteral("--history"), QStringLiteral("20000")}});
    m_cluster->setStandbyServers({{QStringLiteral("app-3"), m_green[0]}, {QStringLiteral("app-4"), m_green[1]}});
    QVERIFY2(m_cluster->start(), qPrintable(m_cluster->error()));
    QVERIFY(QDir().mkpath(run()));
    // The blue instances are the cluster's; promote.sh finds them by pid file.
    for (int i = 0; i < 2; ++i) {
        QFile pid(run() + QStringLiteral("/app-%1.pid").arg(i + 1));
        QVERIFY(pid.open(QIODevice::WriteOnly));
        pid.write(QByteArray::number(m_cluster->instancePid(i)) + '\n');
    }
    writeConfig(QStringLiteral(SB_SERVER_BINARY));
}

void TstPromote::cleanup()
{
    // Whatever promote.sh started and left running.
    if (m_cluster) {
        const QStringList pids = QDir(run()).entryList({QStringLiteral("*.pid")});
        for (const QString &name : pids) {
            QFile f(run() + QLatin1Char('/') + name);
            if (f.open(QIODevice::ReadOnly)) {
                const qint64 pid = f.readAll().trimmed().toLongLong();
                bool ours = false;
                for (int i = 0; i < 2; ++i)
                    ours = ours || pid == m_cluster->instancePid(i);
                if (pid > 0 && !ours)
                    ::kill(static_cast<pid_t>(pid), SIGKILL);
            }
        }
    }
    m_cluster.reset();
}

void TstPromote::writeConfig(const QString &bin, int readyTimeoutS)
{
    m_config = run() + QStringLiteral("/promote.env");
    QFile f(m_config);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QString text;
    text += QStringLiteral("PROMOTE_SOCKET=%1\n").arg(m_cluster->haproxySocket());
    text += QStringLiteral("PROMOTE_BACKEND=instances\n");
    text += QStringLiteral("PROMOTE_LB=http://127.0.0.1:%1\n").arg(m_cluster->lbPort());
    text += QStringLiteral("PROMOTE_BIN=%1\n").arg(bin);
    text += QStringLiteral("PROMOTE_RUN=%1\n").arg(run());
    text += QStringLiteral("PROMOTE_BLUE=\"app-1:%1 app-2:%2\"\n").arg(m_cluster->port(0)).arg(m_cluster->port(1));
    text += QStringLiteral("PROMOTE_GREEN=\"app-3:%1 app-4:%2\"\n").arg(m_green[0]).arg(m_green[1]);
    text += QStringLiteral("PROMOTE_READY_TIMEOUT=%1\n").arg(readyTimeoutS);
    // The same settings as the cluster's own instances.
    text += QStringLiteral("SB_REDIS_URL=%1\nSB_DATABASE_URL=%2\nSB_OPERATOR_KEY=%3\n")
                .arg(m_cluster->redisUrl(), m_cluster->databaseUrl(), Cluster::operatorKey());
    text += QStringLiteral("SB_CONNECT_RATE=100000/60\nSB_MSG_RATE=0\nSB_TICKER=off\nSB_DRAIN_S=2\nSB_HISTORY=20000\n");
    f.write(text.toUtf8());
}

int TstPromote::runPromote(const QStringList &args, std::vector<Chatter> &chatters, QByteArray *output)
{
    QProcess promote;
    promote.setProcessChannelMode(QProcess::MergedChannels);
    promote.start(QStringLiteral("bash"), QStringList{QStringLiteral(SB_PROMOTE_SCRIPT), QStringLiteral("--config"), m_config} + args);
    if (!promote.waitForStarted(5000))
        return -1;
    QDeadlineTimer deadline(180000);
    while (promote.state() != QProcess::NotRunning && !deadline.hasExpired()) {
        for (Chatter &c : chatters)
            c.step(m_cluster->lbPort());
        QTest::qWait(20);
    }
    if (promote.state() != QProcess::NotRunning) {
        promote.kill();
        promote.waitForFinished(5000);
    }
    *output = promote.readAll();
    qInfo().noquote() << "promote.sh" << args.join(QLatin1Char(' ')) << QStringLiteral("said:\n") + QString::fromUtf8(*output);
    return promote.exitStatus() == QProcess::NormalExit ? promote.exitCode() : -1;
}

void TstPromote::promoteAndRollBackWhileClientsChat()
{
    std::vector<Chatter> chatters(6);
    for (std::size_t i = 0; i < chatters.size(); ++i) {
        chatters[i].clientId = QStringLiteral("c%1").arg(i);
        QVERIFY(chatters[i].reconnect(m_cluster->lbPort()));
    }
    const QStringList blue{QStringLiteral("app-1"), QStringLiteral("app-2")};
    const QStringList green{QStringLiteral("app-3"), QStringLiteral("app-4")};
    for (Chatter &c : chatters)
        QVERIFY2(blue.contains(c.instance()), qPrintable(c.instance()));
    for (int round = 0; round < 5; ++round) {
        for (Chatter &c : chatters)
            c.step(m_cluster->lbPort());
    }

    const auto finish = [&](const QStringList &colour) {
        // Keep chatting until every client has reconnected and sent everything.
        QDeadlineTimer deadline(30000);
        const auto done = [&] {
            for (const Chatter &c : chatters) {
                if (!c.connected() || !c.pending.isEmpty() || !colour.contains(c.instance()))
                    return false;
            }
            return true;
        };
        while (!done() && !deadline.hasExpired()) {
            for (Chatter &c : chatters)
                c.step(m_cluster->lbPort());
            QTest::qWait(20);
        }
        for (const Chatter &c : chatters) {
            QVERIFY2(c.connected(), qPrintable(c.clientId + QStringLiteral(" is not connected")));
            QVERIFY2(c.pending.isEmpty(), qPrintable(c.clientId + QStringLiteral(" has unacknowledged messages")));
            QVERIFY2(colour.contains(c.instance()),
                     qPrintable(QStringLiteral("%1 is on %2").arg(c.clientId, c.instance())));
        }
    };

    QByteArray out;
    QCOMPARE(runPromote({}, chatters, &out), 0);
    QVERIFY(out.contains("done: green is live, blue is stopped"));
    finish(green);
    if (QTest::currentTestFailed())
        return;
    // Each client moved once, told to by its draining instance: HAProxy kept
    // the old colour's WebSockets open until the instance closed them.
    for (const Chatter &c : chatters) {
        QCOMPARE(c.instances.size(), 2);
        QCOMPARE(c.toldToReconnect, 1);
    }
    // The blue instances drained and exited 0.
    for (int i = 0; i < 2; ++i) {
        int code = -1;
        QVERIFY(m_cluster->waitInstanceExit(i, 5000, &code));
        QCOMPARE(code, 0);
    }

    QCOMPARE(runPromote({QStringLiteral("--rollback")}, chatters, &out), 0);
    QVERIFY(out.contains("rolling back from green to blue (on demand)"));
    QVERIFY(out.contains("done: blue is live, green is stopped"));
    finish(blue);
    if (QTest::currentTestFailed())
        return;

    // No acknowledged message lost: each is in the history with its seq,
    // and the room's sequence has no gap.
    QHash<qint64, QString> history;
    TestClient reader;
    Browser browser;
    const Token t = browser.token(m_cluster->lbPort(), QStringLiteral("reader"), QStringLiteral("reader"));
    QVERIFY(reader.open(m_cluster->lbPort(), t.token, {{QByteArrayLiteral("Cookie"), browser.cookieHeader(m_cluster->lbPort())}}));
    const QJsonObject ack = reader.join(kRoom, 0);
    QVERIFY2(ack.value(QStringLiteral("recovered")).toBool(),
             qPrintable(QStringLiteral("history not recovered: last_seq %1, %2 missed")
                            .arg(ack.value(QStringLiteral("last_seq")).toInteger())
                            .arg(ack.value(QStringLiteral("missed")).toArray().size())));
    for (const QJsonValue &m : ack.value(QStringLiteral("missed")).toArray())
        history.insert(m.toObject().value(QStringLiteral("seq")).toInteger(), m.toObject().value(QStringLiteral("text")).toString());
    const qint64 lastSeq = ack.value(QStringLiteral("last_seq")).toInteger();
    QCOMPARE(history.size(), lastSeq);
    int total = 0;
    for (const Chatter &c : chatters) {
        for (auto it = c.acked.begin(); it != c.acked.end(); ++it) {
            QCOMPARE(history.value(it.value()), it.key());
            ++total;
        }
    }
    qInfo("%d acknowledged messages from %d clients, all in the history (last seq %lld)", total,
          int(chatters.size()), lastSeq);
    QVERIFY(total > 30);
}

void TstPromote::aColourThatNeverGetsReadyIsRolledBack()
{
    // /bin/false starts and exits: green never answers /readyz.
    writeConfig(QStringLiteral("/bin/false"), 3);
    std::vector<Chatter> chatters(2);
    for (std::size_t i = 0; i < chatters.size(); ++i) {
        chatters[i].clientId = QStringLiteral("r%1").arg(i);
        QVERIFY(chatters[i].reconnect(m_cluster->lbPort()));
    }
    QByteArray out;
    QCOMPARE(runPromote({}, chatters, &out), 1);
    QVERIFY(out.contains("ROLLBACK: app-3 did not answer /readyz with 200 within 3 s"));
    QVERIFY(out.contains("blue stays live"));
    // Nobody moved and the blue instances still serve.
    for (const Chatter &c : chatters) {
        QVERIFY(c.connected());
        QCOMPARE(c.instances.size(), 1);
        QVERIFY(c.pending.isEmpty());
    }
    for (int i = 0; i < 2; ++i)
        QCOMPARE(httpGet(m_cluster->port(i), QStringLiteral("/readyz")).status, 200);
}

SB_SERVER_TEST_MAIN(TstPromote)
#include "tst_promote.moc"
