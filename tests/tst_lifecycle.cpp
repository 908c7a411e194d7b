// The switchboard-server program from the outside (docs/protocol.md sections
// 3 "Closing" and 7): --help, refusing bad settings, SIGTERM draining and
// exit codes, the cleanup subcommand, JSON logs, and secrets kept out of the
// logs. Each case runs the real binary as a child process on a free port.

#include "rawwsclient.h"
#include "testsupport.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace sbtest;

namespace {

const QString instanceId = QStringLiteral("life-1");
const QString operatorKey = QStringLiteral("lifecycle-operator-key");

// The child's environment: ours without logging rules, so that its info
// lines are written, plus `extra` ("NAME=value").
QProcessEnvironment childEnvironment(const QStringList &extra = {})
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("QT_LOGGING_RULES"));
    for (const QString &entry : extra) {
        const qsizetype eq = entry.indexOf(QLatin1Char('='));
        env.insert(entry.left(eq), entry.mid(eq + 1));
    }
    return env;
}

// One switchboard-server child with its own port and data directory.
class ServerProcess
{
public:
    explicit ServerProcess(const QStringList &extraArgs = {}, const QStringList &extraEnv = {},
                           const QString &dataDir = {})
        : m_port(freePort())
        , m_dataDir(dataDir.isEmpty() ? m_tmp.path() : dataDir)
    {
        m_process.setProcessEnvironment(childEnvironment(extraEnv));
        m_process.start(QStringLiteral(SB_SERVER_BINARY),
                        QStringList{QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(m_port),
                                    QStringLiteral("--data"), m_dataDir,
                                    QStringLiteral("--instance-id"), instanceId,
                                    QStringLiteral("--operator-key"), operatorKey,
                                    QStringLiteral("--ticker"), QStringLiteral("off"),
                                    QStringLiteral("--connect-rate"), QStringLiteral("1000/60")}
                            + extraArgs);
    }
    ~ServerProcess()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.kill();
            m_process.waitForFinished(5000);
        }
    }

    quint16 port() const { return m_port; }
    QProcess &process() { return m_process; }

    // Waits until /readyz says ready.
    bool waitReady(int timeoutMs = 10000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired() && m_process.state() != QProcess::NotRunning) {
            if (httpGet(m_port, QStringLiteral("/readyz")).status == 200)
                return true;
            QTest::qWait(50);
        }
        return false;
    }
    void signal(int number) { ::kill(static_cast<pid_t>(m_process.processId()), number); }
    // Spins the event loop (for the test's own sockets) until the child exits.
    bool waitExited(int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired() && m_process.state() != QProcess::NotRunning)
            QTest::qWait(10);
        return m_process.state() == QProcess::NotRunning;
    }
    // Everything the child wrote so far, both streams.
    QByteArray output()
    {
        m_stdout += m_process.readAllStandardOutput();
        m_stderr += m_process.readAllStandardError();
        return m_stdout + m_stderr;
    }
    QByteArray standardError()
    {
        output();
        return m_stderr;
    }

private:
    QTemporaryDir m_tmp;
    quint16 m_port;
    QString m_dataDir;
    QProcess m_process;
    QByteArray m_stdout;
    QByteArray m_stderr;
};

struct Run
{
    int exitCode = -1;
    QProcess::ExitStatus exitStatus = QProcess::CrashExit;
    QByteArray out;
    QByteArray err;
    bool finished = false;
};

Run runToCompletion(const QStringList &args, const QStringList &extraEnv = {}, int timeoutMs = 20000)
{
    QProcess process;
    process.setProcessEnvironment(childEnvironment(extraEnv));
    process.start(QStringLiteral(SB_SERVER_BINARY), args);
    Run run;
    run.finished = process.waitForFinished(timeoutMs);
    if (!run.finished) {
        process.kill();
        process.waitForFinished(5000);
    }
    run.exitCode = process.exitCode();
    run.exitStatus = process.exitStatus();
    run.out = process.readAllStandardOutput();
    run.err = process.readAllStandardError();
    return run;
}

} // namespace

class TstLifecycle : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY(QFile::exists(QStringLiteral(SB_SERVER_BINARY))); }

    void helpListsEverySetting_data();
    void helpListsEverySetting();
    void badSettingStopsStartUp_data();
    void badSettingStopsStartUp();
    void sigtermDrainsParticipantsThenExitsZero();
    void sigtermWithoutConnectionsExitsAtOnce();
    void secondSignalExitsAtOnceWithFailure();
    void cleanupPrintsCounts_data();
    void cleanupPrintsCounts();
    void jsonLogLinesAreObjects();
    void secretsStayOutOfTheLog_data();
    void secretsStayOutOfTheLog();
};

void TstLifecycle::helpListsEverySetting_data()
{
    QTest::addColumn<QString>("env");
    QTest::addColumn<QString>("flag");
    // docs/protocol.md section 7.
    for (const char *name : {"SB_INSTANCE_ID", "SB_LISTEN", "SB_COLOR", "SB_DATA", "SB_REDIS_URL", "SB_REDIS_PREFIX",
                             "SB_DATABASE_URL", "SB_OPERATOR_KEY", "SB_ALLOWED_ORIGINS", "SB_TRUSTED_PROXIES",
                             "SB_CONNECT_RATE", "SB_MSG_RATE", "SB_TOKEN_TTL", "SB_MAX_FRAME", "SB_MAX_QUEUE",
                             "SB_HEARTBEAT_MS", "SB_HISTORY", "SB_TICKER", "SB_DRAIN_S", "SB_LOG",
                             // section 8 and the implementation's own
                             "SB_PRESENCE_LIMIT", "SB_MAX_ROOMS", "SB_MAX_TODOS", "SB_LISTEN_BACKLOG"}) {
        QString flag = QString::fromLatin1(name).mid(3).toLower();
        flag.replace(QLatin1Char('_'), QLatin1Char('-'));
        QTest::addRow("%s", name) << QString::fromLatin1(name) << QStringLiteral("--") + flag;
    }
}

void TstLifecycle::helpListsEverySetting()
{
    QFETCH(QString, env);
    QFETCH(QString, flag);
    const Run run = runToCompletion({QStringLiteral("--help")});
    QVERIFY(run.finished);
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QCOMPARE(run.exitCode, 0);
    const QString help = QString::fromUtf8(run.out);
    QVERIFY2(help.contains(env), qPrintable(env + QStringLiteral(" is missing from --help")));
    QVERIFY2(help.contains(QRegularExpression(QRegularExpression::escape(flag) + QStringLiteral("\\b"))),
             qPrintable(flag + QStringLiteral(" is missing from --help")));
    // Each setting's line or the one after it shows its default.
    const QStringList lines = help.split(QLatin1Char('\n'));
    bool defaultShown = false;
    for (qsizetype i = 0; i < lines.size(); ++i) {
        if (lines[i].contains(env))
            defaultShown = lines[i].contains(QLatin1StringView("default"))
                           || (i + 1 < lines.size() && lines[i + 1].contains(QLatin1StringView("default")));
    }
    QVERIFY2(defaultShown, qPrintable(env + QStringLiteral(" is listed without its default")));
}

void TstLifecycle::badSettingStopsStartUp_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QString>("named"); // what the message must name

    QTest::addRow("--msg-rate abc") << QStringList{QStringLiteral("--msg-rate"), QStringLiteral("abc")} << QStringList{}
                                    << QStringLiteral("SB_MSG_RATE");
    QTest::addRow("SB_LISTEN=nonsense") << QStringList{} << QStringList{QStringLiteral("SB_LISTEN=nonsense")}
                                        << QStringLiteral("SB_LISTEN");
    QTest::addRow("SB_TOKEN_TTL=-1") << QStringList{} << QStringList{QStringLiteral("SB_TOKEN_TTL=-1")}
                                     << QStringLiteral("SB_TOKEN_TTL");
    QTest::addRow("--connect-rate 5") << QStringList{QStringLiteral("--connect-rate"), QStringLiteral("5")} << QStringList{}
                                      << QStringLiteral("SB_CONNECT_RATE");
    QTest::addRow("--ticker 9-3") << QStringList{QStringLiteral("--ticker"), QStringLiteral("9-3")} << QStringList{}
                                  << QStringLiteral("SB_TICKER");
    QTest::addRow("--log xml") << QStringList{QStringLiteral("--log"), QStringLiteral("xml")} << QStringList{}
                               << QStringLiteral("SB_LOG");
    QTest::addRow("--heartbeat-ms 0") << QStringList{QStringLiteral("--heartbeat-ms"), QStringLiteral("0")} << QStringList{}
                                      << QStringLiteral("SB_HEARTBEAT_MS");
    QTest::addRow("--trusted-proxies x") << QStringList{QStringLiteral("--trusted-proxies"), QStringLiteral("not-a-cidr")}
                                         << QStringList{} << QStringLiteral("SB_TRUSTED_PROXIES");
    QTest::addRow("--max-frame 10k") << QStringList{QStringLiteral("--max-frame"), QStringLiteral("10k")} << QStringList{}
                                     << QStringLiteral("SB_MAX_FRAME");
    QTest::addRow("unknown flag") << QStringList{QStringLiteral("--no-such-setting"), QStringLiteral("1")} << QStringList{}
                                  << QStringLiteral("--no-such-setting");
}

void TstLifecycle::badSettingStopsStartUp()
{
    QFETCH(QStringList, args);
    QFETCH(QStringList, env);
    QFETCH(QString, named);

    QTemporaryDir dataDir;
    const quint16 port = freePort();
    // No --listen unless the row's environment does not set it: flags win over the environment.
    QStringList allArgs{QStringLiteral("--data"), dataDir.path()};
    if (!env.join(QLatin1Char(' ')).contains(QLatin1StringView("SB_LISTEN")))
        allArgs += {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(port)};
    const Run run = runToCompletion(allArgs + args, env, 10000);
    QVERIFY2(run.finished, "the server started despite a bad setting");
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QVERIFY(run.exitCode != 0);
    QVERIFY2(QString::fromUtf8(run.err).contains(named), run.err.constData());
}

void TstLifecycle::sigtermDrainsParticipantsThenExitsZero()
{
    ServerProcess server({QStringLiteral("--drain-s"), QStringLiteral("1")});
    QVERIFY(server.waitReady());
    // A raw client: Qt 6.4's QWebSocket reports a received 1012 as 1002.
    RawWsClient participant;
    QVERIFY(participant.open(server.port(), issueToken(server.port(), QStringLiteral("stayer")).token));
    participant.sendJson({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), QStringLiteral("lobby")}});

    QElapsedTimer clock;
    clock.start();
    server.signal(SIGTERM);
    // Load balancers see the drain at once.
    QTRY_COMPARE_WITH_TIMEOUT(httpGet(server.port(), QStringLiteral("/readyz")).json().value(QStringLiteral("status")).toString(),
                              QStringLiteral("draining"), 1000);
    QVERIFY(participant.waitClosed(4000));
    participant.socket().disconnectFromHost();
    QCOMPARE(participant.closeCode(), 1012);
    QVERIFY(!participant.textFrames().isEmpty());
    const QJsonObject reconnect = participant.textFrames().last();
    QCOMPARE(reconnect.value(QStringLiteral("type")).toString(), QStringLiteral("reconnect"));
    QCOMPARE(reconnect.value(QStringLiteral("reason")).toString(), QStringLiteral("draining"));
    QVERIFY(reconnect.value(QStringLiteral("after_ms")).isDouble());

    QVERIFY2(server.waitExited(5000), "the server did not exit after draining");
    QCOMPARE(server.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.process().exitCode(), 0);
    QVERIFY(clock.elapsed() < 5000);
}

void TstLifecycle::sigtermWithoutConnectionsExitsAtOnce()
{
    ServerProcess server({QStringLiteral("--drain-s"), QStringLiteral("30")});
    QVERIFY(server.waitReady());
    QElapsedTimer clock;
    clock.start();
    server.signal(SIGTERM);
    QVERIFY2(server.waitExited(3000), "an idle server did not exit after SIGTERM");
    QCOMPARE(server.process().exitStatus(), QProcess::NormalExit);
    QCOMPARE(server.process().exitCode(), 0);
    QVERIFY2(clock.elapsed() < 1500, qPrintable(QStringLiteral("took %1 ms").arg(clock.elapsed())));
}

void TstLifecycle::secondSignalExitsAtOnceWithFailure()
{
    ServerProcess server({QStringLiteral("--drain-s"), QStringLiteral("30")});
    QVERIFY(server.waitReady());
    TestClient participant; // keeps the 30 s drain busy
    QVERIFY(participant.connectAs(server.port(), QStringLiteral("stayer")));

    server.signal(SIGTERM);
    QTest::qWait(500);
    QCOMPARE(server.process().state(), QProcess::Running); // still draining
    QElapsedTimer clock;
    clock.start();
    server.signal(SIGTERM);
    QVERIFY2(server.waitExited(2000), "a second signal did not end the process");
    QVERIFY(clock.elapsed() < 1000);
    QCOMPARE(server.process().exitStatus(), QProcess::NormalExit);
    QVERIFY(server.process().exitCode() != 0);
}

void TstLifecycle::cleanupPrintsCounts_data()
{
    QTest::addColumn<bool>("afterARun");
    QTest::addRow("fresh data directory") << false;
    QTest::addRow("after a run") << true;
}

void TstLifecycle::cleanupPrintsCounts()
{
    QFETCH(bool, afterARun);

    QTemporaryDir dataDir;
    if (afterARun) {
        ServerProcess server({}, {}, dataDir.path());
        QVERIFY(server.waitReady());
        TestClient participant;
        QVERIFY(participant.connectAs(server.port(), QStringLiteral("alice")));
        participant.request({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), QStringLiteral("lobby")}});
        participant.request({{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), QStringLiteral("lobby")},
                             {QStringLiteral("text"), QStringLiteral("before cleanup")}, {QStringLiteral("nonce"), QStringLiteral("n1")}});
        participant.socket().close();
        QVERIFY(participant.waitClosed());
        server.signal(SIGTERM);
        QVERIFY(server.waitExited(5000));
        QCOMPARE(server.process().exitCode(), 0);
    }

    const Run run = runToCompletion({QStringLiteral("cleanup"), QStringLiteral("--data"), dataDir.path()});
    QVERIFY(run.finished);
    QCOMPARE(run.exitStatus, QProcess::NormalExit);
    QVERIFY2(run.exitCode == 0, run.err.constData());
    const QString printed = QString::fromUtf8(run.out);
    QVERIFY2(printed.count(QRegularExpression(QStringLiteral("\\b\\d+\\b"))) >= 3, qPrintable(printed));
    QVERIFY2(printed.contains(QLatin1StringView("session")), qPrintable(printed));
    QVERIFY(QFile::exists(dataDir.filePath(QStringLiteral("switchboard.db"))));
}

void TstLifecycle::jsonLogLinesAreObjects()
{
    ServerProcess server({}, {QStringLiteral("SB_LOG=json")});
    QVERIFY(server.waitReady());
    {
        TestClient participant;
        QVERIFY(participant.connectAs(server.port(), QStringLiteral("alice")));
        participant.request({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), QStringLiteral("lobby")}});
        participant.socket().close();
        QVERIFY(participant.waitClosed());
    }
    server.signal(SIGTERM);
    QVERIFY(server.waitExited(5000));
    QCOMPARE(server.process().exitCode(), 0);

    const QList<QByteArray> lines = server.standardError().split('\n');
    int objects = 0;
    for (const QByteArray &line : lines) {
        if (line.trimmed().isEmpty())
            continue;
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(line, &error);
        QVERIFY2(error.error == QJsonParseError::NoError && doc.isObject(), line.constData());
        const QJsonObject entry = doc.object();
        QCOMPARE(entry.value(QStringLiteral("instance")).toString(), instanceId);
        QVERIFY2(entry.value(QStringLiteral("msg")).isString() || entry.value(QStringLiteral("message")).isString(),
                 line.constData());
        ++objects;
    }
    QVERIFY2(objects >= 3, qPrintable(QStringLiteral("only %1 log lines").arg(objects)));
    // The open-files limit (one descriptor per connection) is raised and said at start.
    QVERIFY2(server.standardError().contains("file descriptor limit"), "the open-files limit is not logged");
}

void TstLifecycle::secretsStayOutOfTheLog_data()
{
    QTest::addColumn<QString>("format");
    QTest::addRow("text") << QStringLiteral("text");
    QTest::addRow("json") << QStringLiteral("json");
}

void TstLifecycle::secretsStayOutOfTheLog()
{
    QFETCH(QString, format);

    ServerProcess server({QStringLiteral("--log"), format});
    QVERIFY(server.waitReady());
    const quint16 port = server.port();
    // A token used once, then again (refused), and one that never existed.
    const Token used = issueToken(port, QStringLiteral("alice"));
    QVERIFY(!used.token.isEmpty());
    {
        TestClient first;
        QVERIFY(first.open(port, used.token));
        TestClient reuse;
        QVERIFY(!reuse.open(port, used.token));
        TestClient forged;
        QVERIFY(!forged.open(port, QStringLiteral("forged-token-0123456789abcdef")));
        TestClient op;
        QVERIFY(op.connectAs(port, QStringLiteral("opal"), {}, QStringLiteral("operator"), operatorKey));
        // A wrong operator key is refused and must not be logged either.
        const HttpResult refused = httpPost(port, QStringLiteral("/api/token"), R"({"user":"eve","role":"operator"})",
                                            {{QByteArrayLiteral("Authorization"), QByteArrayLiteral("Bearer guessed-key-42")}});
        QCOMPARE(refused.status, 403);
    }
    server.signal(SIGTERM);
    QVERIFY(server.waitExited(5000));

    const QByteArray log = server.output();
    QVERIFY2(!log.isEmpty(), "the server logged nothing at all");
    QVERIFY2(!log.contains(used.token.toUtf8()), "a token was written to the log");
    QVERIFY2(!log.contains("forged-token-0123456789abcdef"), "a presented token was written to the log");
    QVERIFY2(!log.contains(operatorKey.toUtf8()), "the operator key was written to the log");
    QVERIFY2(!log.contains("guessed-key-42"), "a presented operator key was written to the log");
}

SB_SERVER_TEST_MAIN(TstLifecycle)
#include "tst_lifecycle.moc"
