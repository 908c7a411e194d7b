// PostgreSQL failover for real: a primary and a streaming standby made with
// pg_basebackup -R, commits synchronous (synchronous_standby_names = '*',
// synchronous_commit = on, so an acknowledged chat is on both), and a
// switchboard-server on the multi-host URL with
// target_session_attrs=read-write. The primary is stopped with
// "pg_ctl stop -m immediate" and the standby promoted: chat works again
// within a bounded time, on the new primary, and every message acknowledged
// before the failover is in the history afterwards.
//
// Then the other way a primary stops being one: it is demoted in place
// (default_transaction_read_only turned on, as fencing does) and stays up.
// The store's writer gets SQLSTATE 25006 and must leave it; its reader must
// not stay behind reading the demoted server once the standby is promoted.

#include "cluster.h"
#include "testsupport.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using namespace sbtest;

namespace {

const QString kRoom = QStringLiteral("ledger");

// psql -Atc as the postgres role over TCP (trust on loopback).
QString psql(quint16 port, const QString &sql)
{
    QProcess process;
    process.start(Cluster::pgBin(QStringLiteral("psql")),
                  {QStringLiteral("-h"), QStringLiteral("127.0.0.1"), QStringLiteral("-p"), QString::number(port),
                   QStringLiteral("-U"), QStringLiteral("postgres"), QStringLiteral("-d"), QStringLiteral("postgres"),
                   QStringLiteral("-Atc"), sql});
    if (!process.waitForFinished(10000))
        return {};
    return QString::fromUtf8(process.readAllStandardOutput()).trimmed();
}

QString readyStatus(quint16 port)
{
    return httpGet(port, QStringLiteral("/readyz")).json().value(QStringLiteral("status")).toString();
}

// Two PostgreSQL servers in a temporary directory, stopped at the end.
class PgPair
{
public:
    PgPair()
        : m_ports{freePort(), freePort()}
    {
        QFile::setPermissions(m_dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner
                                                | QFileDevice::ReadGroup | QFileDevice::ExeGroup
                                                | QFileDevice::ReadOther | QFileDevice::ExeOther);
    }
    ~PgPair()
    {
        for (int i = 0; i < 2; ++i) {
            if (m_running[i])
                stop(i);
        }
    }

    quint16 port(int i) const { return m_ports[i]; }
    QString dataDir(int i) const { return m_dir.filePath(i == 0 ? QStringLiteral("pg/primary") : QStringLiteral("pg/standby")); }

    bool start(QString *error)
    {
        const QString pgDir = m_dir.filePath(QStringLiteral("pg"));
        QDir().mkpath(pgDir);
        if (::geteuid() == 0)
            QProcess::execute(QStringLiteral("chown"), {QStringLiteral("postgres"), pgDir});
        QByteArray output;
        if (!Cluster::runAsPostgres(Cluster::pgBin(QStringLiteral("initdb")),
                                    {QStringLiteral("-D"), dataDir(0), QStringLiteral("-A"), QStringLiteral("trust"),
                                     QStringLiteral("-U"), QStringLiteral("postgres"), QStringLiteral("--no-sync")},
                                    60000, &output))
            return fail(error, QStringLiteral("initdb failed: ") + QString::fromUtf8(output));
        // Only the primary waits for a synchronous standby: the standby,
        // once promoted, has none and must not wait for one.
        if (!pgCtlStart(0, QStringLiteral(" -c wal_level=replica -c max_wal_senders=4 -c synchronous_commit=on"
                                          " -c synchronous_standby_names='*'"),
                        error))
            return false;
        if (!Cluster::runAsPostgres(Cluster::pgBin(QStringLiteral("pg_basebackup")),
                                    {QStringLiteral("-h"), QStringLiteral("127.0.0.1"), QStringLiteral("-p"),
                                     QString::number(m_ports[0]), QStringLiteral("-U"), QStringLiteral("postgres"),
                                     QStringLiteral("-D"), dataDir(1), QStringLiteral("-R"), QStringLiteral("-X"),
                                     QStringLiteral("stream"), QStringLiteral("-c"), QStringLiteral("fast"),
                                     QStringLiteral("--no-sync")},
                                    60000, &output))
            return fail(error, QStringLiteral("pg_basebackup failed: ") + QString::fromUtf8(output));
        if (!pgCtlStart(1, QStringLiteral(" -c hot_standby=on"), error))
            return false;
        QDeadlineTimer deadline(30000);
        while (psql(m_ports[0], QStringLiteral("SELECT sync_state FROM pg_stat_replication")) != QLatin1StringView("sync")) {
            if (deadline.hasExpired())
                return fail(error, QStringLiteral("the standby never became a synchronous standby"));
            QTest::qWait(200);
        }
        return true;
    }

    bool stopImmediately(int i)
    {
        return stop(i);
    }

    bool promote(int i, QString *error)
    {
        QByteArray output;
        if (!Cluster::runAsPostgres(Cluster::pgBin(QStringLiteral("pg_ctl")),
                                    {QStringLiteral("-D"), dataDir(i), QStringLiteral("-w"), QStringLiteral("promote")},
                                    60000, &output))
            return fail(error, QStringLiteral("pg_ctl promote failed: ") + QString::fromUtf8(output));
        return true;
    }

    QString url() const
    {
        return QStringLiteral("postgresql://postgres@127.0.0.1:%1,127.0.0.1:%2/postgres?target_session_attrs=read-write")
            .arg(m_ports[0])
            .arg(m_ports[1]);
    }

private:
    static bool fail(QString *error, const QString &why)
    {
        *error = why;
        return false;
    }
    bool pgCtlStart(int i, const QString &extra, QString *error)
    {
        const QString options = QStringLiteral("-p %1 -k %2 -c listen_addresses=127.0.0.1")
                                    .arg(m_ports[i])
                                    .arg(m_dir.filePath(QStringLiteral("pg")))
                                + extra;
        QByteArray output;
        if (!Cluster::runAsPostgres(Cluster::pgBin(QStringLiteral("pg_ctl")),
                                    {QStringLiteral("-D"), dataDir(i), QStringLiteral("-l"),
                                     dataDir(i) + QStringLiteral(".log"), QStringLiteral("-w"), QStringLiteral("-o"),
                                     options, QStringLiteral("start")},
                                    60000, &output))
            return fail(error, QStringLiteral("PostgreSQL %1 did not start: %2").arg(i).arg(QString::fromUtf8(output)));
        m_running[i] = true;
        return true;
    }
    bool stop(int i)
    {
        m_running[i] = false;
        return Cluster::runAsPostgres(Cluster::pgBin(QStringLiteral("pg_ctl")),
                                      {QStringLiteral("-D"), dataDir(i), QStringLiteral("-m"),
                                       QStringLiteral("immediate"), QStringLiteral("-w"), QStringLiteral("stop")},
                                      30000);
    }

    QTemporaryDir m_dir;
    quint16 m_ports[2];
    bool m_running[2]{false, false};
};

} // namespace

class TstPgFailover : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void promotedStandbyHasEveryAckedMessage();
    void demotedPrimaryIsLeftForTheNewOne();
};

void TstPgFailover::initTestCase()
{
    SB_REQUIRE_SERVICE(QFile::exists(Cluster::pgBin(QStringLiteral("initdb")))
                           && QFile::exists(Cluster::pgBin(QStringLiteral("pg_basebackup"))),
                       "PostgreSQL server tools (initdb, pg_basebackup) are not installed (apt-get install postgresql)");
    SB_REQUIRE_SERVICE(!QStandardPaths::findExecutable(QStringLiteral("redis-server")).isEmpty(),
                       "redis-server is not installed (apt-get install redis-server)");
}

void TstPgFailover::promotedStandbyHasEveryAckedMessage()
{
    PgPair pg;
    QString error;
    QVERIFY2(pg.start(&error), qPrintable(error));

    Cluster cluster(Cluster::Options{1, false, {}});
    cluster.useDatabase(pg.url());
    QVERIFY2(cluster.start(), qPrintable(cluster.error()));
    const quint16 port = cluster.port(0);

    TestClient alice;
    QVERIFY(alice.connectAs(port, QStringLiteral("alice")));
    QCOMPARE(alice.join(kRoom).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QStringList ackedTexts;
    for (int i = 0; i < 5; ++i) {
        const QString text = QStringLiteral("before %1").arg(i);
        const QJsonObject ack = alice.chat(kRoom, text, QStringLiteral("before-%1").arg(i));
        QCOMPARE(ack.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        QCOMPARE(ack.value(QStringLiteral("seq")).toInteger(), i + 1);
        ackedTexts.append(text);
    }

    // The primary dies without a checkpoint; the standby takes over.
    QVERIFY(pg.stopImmediately(0));
    QElapsedTimer sinceStop;
    sinceStop.start();
    QVERIFY2(pg.promote(1, &error), qPrintable(error));

    // A client resends with the same nonce while the store is unavailable.
    QJsonObject answer;
    QDeadlineTimer deadline(30000);
    for (;;) {
        answer = alice.chat(kRoom, QStringLiteral("after"), QStringLiteral("after-1"));
        if (answer.value(QStringLiteral("type")).toString() == QStringLiteral("ack") || deadline.hasExpired())
            break;
        QCOMPARE(answer.value(QStringLiteral("code")).toString(), QStringLiteral("store_unavailable"));
        QTest::qWait(200);
    }
    QVERIFY2(answer.value(QStringLiteral("type")).toString() == QStringLiteral("ack"),
             qPrintable(QString::fromUtf8(cluster.instanceLog(0))));
    qInfo("chat acknowledged again %lld ms after the primary stopped", sinceStop.elapsed());
    QVERIFY(sinceStop.elapsed() < 20000);
    QCOMPARE(answer.value(QStringLiteral("seq")).toInteger(), 6);
    ackedTexts.append(QStringLiteral("after"));
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(port), QStringLiteral("ready"), 15000);

    // The store writes to the promoted standby now.
    QVERIFY(psql(pg.port(1), QStringLiteral("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'switchboard'"))
                .toInt() >= 1);

    const QJsonObject history = alice.request({{QStringLiteral("type"), QStringLiteral("history")}, {QStringLiteral("room"), kRoom}});
    QStringList texts;
    for (const QJsonValue &m : history.value(QStringLiteral("messages")).toArray())
        texts.append(m.toObject().value(QStringLiteral("text")).toString());
    QCOMPARE(texts, ackedTexts);
}

// The primary turns read-only under the store (SQLSTATE 25006 on the next
// write) and the standby is promoted: chat is refused meanwhile, never acked
// and lost; the resend is acked on the new primary; the store keeps no
// connection to the demoted server (the reader follows the writer), so a
// rejoin with `since` and the history list every acked message.
void TstPgFailover::demotedPrimaryIsLeftForTheNewOne()
{
    PgPair pg;
    QString error;
    QVERIFY2(pg.start(&error), qPrintable(error));
    Cluster cluster(Cluster::Options{1, false, {}});
    cluster.useDatabase(pg.url());
    QVERIFY2(cluster.start(), qPrintable(cluster.error()));
    const quint16 port = cluster.port(0);

    TestClient alice;
    QVERIFY(alice.connectAs(port, QStringLiteral("alice")));
    QCOMPARE(alice.join(kRoom).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QStringList acked;
    const auto chat = [&alice](const QString &text) { return alice.chat(kRoom, text, text); };
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(chat(QStringLiteral("before %1").arg(i)).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
        acked << QStringLiteral("before %1").arg(i);
    }
    // The store reads the history from its reader connection: both are open on the primary.
    const auto storeSessions = [](quint16 pgPort) {
        return psql(pgPort, QStringLiteral("SELECT count(*) FROM pg_stat_activity WHERE application_name IN "
                                           "('switchboard', 'switchboard-reader')"))
            .toInt();
    };
    QCOMPARE(storeSessions(pg.port(0)), 2);

    // Demoted in place: every new transaction there is read-only.
    psql(pg.port(0), QStringLiteral("ALTER SYSTEM SET default_transaction_read_only = on"));
    psql(pg.port(0), QStringLiteral("SELECT pg_reload_conf()"));
    QTRY_COMPARE(psql(pg.port(0), QStringLiteral("SHOW default_transaction_read_only")), QStringLiteral("on"));

    // The next write meets SQLSTATE 25006: refused as the store being down
    // (the backends may take a moment to reload; what is acked meanwhile counts).
    QJsonObject answer;
    int n = 0;
    QDeadlineTimer refusedBy(15000);
    for (;;) {
        const QString text = QStringLiteral("while demoted %1").arg(n++);
        answer = chat(text);
        if (answer.value(QStringLiteral("type")).toString() != QStringLiteral("ack") || refusedBy.hasExpired())
            break;
        acked << text;
        QTest::qWait(100);
    }
    QCOMPARE(answer.value(QStringLiteral("code")).toString(), QStringLiteral("store_unavailable"));
    const QString refused = QStringLiteral("while demoted %1").arg(n - 1);
    QVERIFY(cluster.instanceLog(0).contains("25006") || cluster.instanceLog(0).contains("read-only transaction"));
    // No read-write host: the store stays down and the chat stays refused.
    QTRY_COMPARE(readyStatus(port), QStringLiteral("store_down"));

    QVERIFY2(pg.promote(1, &error), qPrintable(error));
    QDeadlineTimer deadline(30000);
    for (;;) {
        answer = chat(refused); // the same nonce: stored once
        if (answer.value(QStringLiteral("type")).toString() == QStringLiteral("ack") || deadline.hasExpired())
            break;
        QCOMPARE(answer.value(QStringLiteral("code")).toString(), QStringLiteral("store_unavailable"));
        QTest::qWait(200);
    }
    QVERIFY2(answer.value(QStringLiteral("type")).toString() == QStringLiteral("ack"),
             qPrintable(QString::fromUtf8(cluster.instanceLog(0))));
    QCOMPARE(answer.value(QStringLiteral("seq")).toInteger(), acked.size() + 1);
    acked << refused;
    QCOMPARE(chat(QStringLiteral("after")).value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    acked << QStringLiteral("after");
    QTRY_COMPARE_WITH_TIMEOUT(readyStatus(port), QStringLiteral("ready"), 15000);

    // Writer and reader both left the demoted server for the new primary.
    QTRY_COMPARE_WITH_TIMEOUT(storeSessions(pg.port(1)), 2, 10000);
    QCOMPARE(storeSessions(pg.port(0)), 0);

    // Reads come from the new primary: a rejoin with since and the history see everything.
    TestClient bob;
    QVERIFY(bob.connectAs(port, QStringLiteral("bob")));
    const QJsonObject rejoin = bob.join(kRoom, 1);
    QCOMPARE(rejoin.value(QStringLiteral("type")).toString(), QStringLiteral("ack"));
    QCOMPARE(rejoin.value(QStringLiteral("missed")).toArray().size(), acked.size() - 1);
    const QJsonObject history = alice.request({{QStringLiteral("type"), QStringLiteral("history")}, {QStringLiteral("room"), kRoom}});
    QStringList texts;
    for (const QJsonValue &m : history.value(QStringLiteral("messages")).toArray())
        texts.append(m.toObject().value(QStringLiteral("text")).toString());
    QCOMPARE(texts, acked);
}

SB_SERVER_TEST_MAIN(TstPgFailover)
#include "tst_pgfailover.moc"
