// Settings: defaults, environment, flags winning over the environment, and a
// clear error naming the setting for every bad value.

#include "config.h"
#include "redisurl.h"

#include <QTest>

using namespace sb;

class TstConfig : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void defaults();
    void flagsWinOverEnvironment();
    void everySettingHasAFlag();
    void badValuesNameTheSetting_data();
    void badValuesNameTheSetting();
    void trustedProxies();
    void ticker();
    void redisUrls_data();
    void redisUrls();
    void refusedRedisUrlHidesItsPassword();
    void databaseUrls_data();
    void databaseUrls();
};

void TstConfig::defaults()
{
    const ConfigResult r = parseConfig({}, {});
    QVERIFY2(r.config, qPrintable(r.error));
    const Config &c = *r.config;
    QCOMPARE(c.listenAddress, QHostAddress(QHostAddress::LocalHost));
    QCOMPARE(c.listenPort, 8080);
    QVERIFY(c.instanceId.endsWith(QStringLiteral("-8080")));
    QCOMPARE(c.redisPrefix, QStringLiteral("sb:"));
    QCOMPARE(c.connectRate.count, 20);
    QCOMPARE(c.connectRate.seconds, 60);
    QCOMPARE(c.msgRate, 50);
    QCOMPARE(c.tokenTtlS, 60);
    QCOMPARE(c.maxFrame, 65536);
    QCOMPARE(c.maxQueue, 1048576);
    QCOMPARE(c.heartbeatMs, 25000);
    QCOMPARE(c.history, 1000);
    QVERIFY(c.tickerEnabled);
    QCOMPARE(c.tickerMinS, 5);
    QCOMPARE(c.tickerMaxS, 20);
    QCOMPARE(c.drainS, 30);
    QVERIFY(!c.jsonLog);
    QVERIFY(c.epollEventLoop);
    QVERIFY(c.redisUrl.isEmpty());
    QVERIFY(c.databaseUrl.isEmpty());
    QVERIFY(!c.dataDir.isEmpty());
}

void TstConfig::flagsWinOverEnvironment()
{
    const ConfigResult r = parseConfig({QStringLiteral("--msg-rate"), QStringLiteral("7"), QStringLiteral("--color=green")},
                                       {QStringLiteral("SB_MSG_RATE=9"), QStringLiteral("SB_HISTORY=5"),
                                        QStringLiteral("SB_LISTEN=0.0.0.0:9000")});
    QVERIFY2(r.config, qPrintable(r.error));
    QCOMPARE(r.config->msgRate, 7);
    QCOMPARE(r.config->history, 5);
    QCOMPARE(r.config->color, QStringLiteral("green"));
    QCOMPARE(r.config->listenPort, 9000);
}

void TstConfig::everySettingHasAFlag()
{
    const QString help = helpText(QStringLiteral("switchboard-server"));
    for (const char *env : {"SB_INSTANCE_ID", "SB_LISTEN", "SB_COLOR", "SB_DATA", "SB_REDIS_URL", "SB_REDIS_PREFIX",
                            "SB_DATABASE_URL", "SB_OPERATOR_KEY", "SB_ALLOWED_ORIGINS", "SB_TRUSTED_PROXIES",
                            "SB_CONNECT_RATE", "SB_MSG_RATE", "SB_TOKEN_TTL", "SB_MAX_FRAME", "SB_MAX_QUEUE",
                            "SB_HEARTBEAT_MS", "SB_HISTORY", "SB_TICKER", "SB_DRAIN_S", "SB_LOG", "SB_EVENT_LOOP"}) {
        QVERIFY2(help.contains(QString::fromLatin1(env)), env);
        QVERIFY2(help.contains(flagName(env)), env);
    }
    QCOMPARE(flagName("SB_MAX_FRAME"), QStringLiteral("--max-frame"));
}

void TstConfig::badValuesNameTheSetting_data()
{
    QTest::addColumn<QString>("env");
    QTest::addColumn<QString>("value");
    QTest::addRow("listen") << "SB_LISTEN" << "nonsense";
    QTest::addRow("port") << "SB_LISTEN" << "127.0.0.1:99999";
    QTest::addRow("msg rate") << "SB_MSG_RATE" << "abc";
    QTest::addRow("negative rate") << "SB_MSG_RATE" << "-1";
    QTest::addRow("connect rate") << "SB_CONNECT_RATE" << "20";
    QTest::addRow("connect rate zero window") << "SB_CONNECT_RATE" << "20/0";
    QTest::addRow("ttl") << "SB_TOKEN_TTL" << "0";
    QTest::addRow("frame") << "SB_MAX_FRAME" << "big";
    QTest::addRow("queue") << "SB_MAX_QUEUE" << "1";
    QTest::addRow("heartbeat") << "SB_HEARTBEAT_MS" << "x";
    QTest::addRow("history") << "SB_HISTORY" << "0";
    QTest::addRow("ticker") << "SB_TICKER" << "20-5";
    QTest::addRow("ticker words") << "SB_TICKER" << "sometimes";
    QTest::addRow("drain") << "SB_DRAIN_S" << "-3";
    QTest::addRow("listen backlog") << "SB_LISTEN_BACKLOG" << "0";
    QTest::addRow("listen backlog too big") << "SB_LISTEN_BACKLOG" << "70000";
    QTest::addRow("presence limit") << "SB_PRESENCE_LIMIT" << "none";
    QTest::addRow("log") << "SB_LOG" << "xml";
    QTest::addRow("event loop") << "SB_EVENT_LOOP" << "select";
    QTest::addRow("proxies") << "SB_TRUSTED_PROXIES" << "10.0.0.0/99";
    // QHostAddress alone reads this as 0.0.0.10 (fuzz_config found it).
    QTest::addRow("proxies with junk") << "SB_TRUSTED_PROXIES" << "10.0.0.1,10\x1a" "BEAT";
    QTest::addRow("redis") << "SB_REDIS_URL" << "http://x";
    QTest::addRow("redis bad port") << "SB_REDIS_URL" << "redis://h:99999";
    QTest::addRow("sentinel without master") << "SB_REDIS_URL" << "redis-sentinel://h1:26379,h2:26380";
    QTest::addRow("sentinel empty master") << "SB_REDIS_URL" << "redis-sentinel://h1:26379/";
    QTest::addRow("sentinel empty host") << "SB_REDIS_URL" << "redis-sentinel://h1:26379,,h2/m";
    QTest::addRow("sentinel bad port") << "SB_REDIS_URL" << "redis-sentinel://h1:26379,h2:0/m";
    QTest::addRow("sentinel port not a number") << "SB_REDIS_URL" << "redis-sentinel://h1:x/m";
    QTest::addRow("sentinel no host") << "SB_REDIS_URL" << "redis-sentinel:///m";
    QTest::addRow("sentinel query") << "SB_REDIS_URL" << "redis-sentinel://h1/m?db=1";
    QTest::addRow("sentinel user without password") << "SB_REDIS_URL" << "redis-sentinel://app@h1/m";
    QTest::addRow("sentinel bare ipv6") << "SB_REDIS_URL" << "redis-sentinel://::1:26379/m";
    QTest::addRow("cluster with a database") << "SB_REDIS_URL" << "redis-cluster://h1:7000,h2:7001/1";
    QTest::addRow("cluster empty host") << "SB_REDIS_URL" << "redis-cluster://h1:7000,,h2:7001";
    QTest::addRow("database") << "SB_DATABASE_URL" << "mysql://x";
    QTest::addRow("database words") << "SB_DATABASE_URL" << "the primary";
}

void TstConfig::badValuesNameTheSetting()
{
    QFETCH(QString, env);
    QFETCH(QString, value);
    const ConfigResult fromEnv = parseConfig({}, {env + QLatin1Char('=') + value});
    QVERIFY(!fromEnv.config);
    QVERIFY2(fromEnv.error.contains(env), qPrintable(fromEnv.error));
    const ConfigResult fromFlag = parseConfig({flagName(env.toLatin1().constData()), value}, {});
    QVERIFY(!fromFlag.config);
    QVERIFY2(fromFlag.error.contains(env), qPrintable(fromFlag.error));
}

void TstConfig::trustedProxies()
{
    const ConfigResult r = parseConfig({QStringLiteral("--trusted-proxies"), QStringLiteral("10.1.0.0/16, 192.168.5.5")}, {});
    QVERIFY2(r.config, qPrintable(r.error));
    QVERIFY(r.config->isTrustedProxy(QHostAddress(QStringLiteral("10.1.2.3"))));
    QVERIFY(r.config->isTrustedProxy(QHostAddress(QStringLiteral("::ffff:10.1.2.3"))));
    QVERIFY(r.config->isTrustedProxy(QHostAddress(QStringLiteral("192.168.5.5"))));
    QVERIFY(!r.config->isTrustedProxy(QHostAddress(QStringLiteral("10.2.0.1"))));
    const ConfigResult d = parseConfig({}, {});
    QVERIFY(d.config->isTrustedProxy(QHostAddress(QStringLiteral("127.0.0.1"))));
    QVERIFY(d.config->isTrustedProxy(QHostAddress(QStringLiteral("::1"))));
    QVERIFY(!d.config->isTrustedProxy(QHostAddress(QStringLiteral("8.8.8.8"))));
    QVERIFY(!parseConfig({QStringLiteral("--unknown-flag"), QStringLiteral("1")}, {}).config);
}

void TstConfig::ticker()
{
    const ConfigResult off = parseConfig({QStringLiteral("--ticker"), QStringLiteral("off")}, {});
    QVERIFY(off.config && !off.config->tickerEnabled);
    const ConfigResult range = parseConfig({}, {QStringLiteral("SB_TICKER=1-3")});
    QVERIFY(range.config && range.config->tickerEnabled);
    QCOMPARE(range.config->tickerMinS, 1);
    QCOMPARE(range.config->tickerMaxS, 3);
}

void TstConfig::redisUrls_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("nodes"); // host:port,…
    QTest::addColumn<QString>("master");
    QTest::addColumn<QByteArray>("password");
    QTest::addColumn<QString>("shown");

    QTest::addRow("one server") << "redis://127.0.0.1:6380/2" << "redis" << "127.0.0.1:6380" << ""
                                << QByteArray() << "redis://127.0.0.1:6380/2";
    QTest::addRow("one sentinel, default port") << "redis-sentinel://s1/mymaster" << "sentinel"
                                                << "s1:26379" << "mymaster" << QByteArray()
                                                << "redis-sentinel://s1:26379/mymaster";
    QTest::addRow("three sentinels") << "redis-sentinel://10.0.0.1:26379,10.0.0.2:26380,s3/sb-main" << "sentinel"
                                     << "10.0.0.1:26379,10.0.0.2:26380,s3:26379" << "sb-main"
                                     << QByteArray() << "redis-sentinel://10.0.0.1:26379,10.0.0.2:26380,s3:26379/sb-main";
    QTest::addRow("password") << "redis-sentinel://:s3cret@h1:1,h2:2/m" << "sentinel" << "h1:1,h2:2"
                              << "m" << QByteArray("s3cret") << "redis-sentinel://:***@h1:1,h2:2/m";
    QTest::addRow("percent-encoded password") << "redis-sentinel://:p%40ss%2Cw@h1/m" << "sentinel"
                                              << "h1:26379" << "m" << QByteArray("p@ss,w")
                                              << "redis-sentinel://:***@h1:26379/m";
    QTest::addRow("ipv6 and spaces") << "redis-sentinel://[::1]:26379, [::1]:26380/m" << "sentinel"
                                     << "[::1]:26379,[::1]:26380" << "m" << QByteArray()
                                     << "redis-sentinel://[::1]:26379,[::1]:26380/m";
    QTest::addRow("duplicate host once") << "redis-sentinel://h:1,h:1/m" << "sentinel" << "h:1" << "m"
                                         << QByteArray() << "redis-sentinel://h:1/m";
    QTest::addRow("cluster seeds") << "redis-cluster://h1:7000,h2" << "cluster" << "h1:7000,h2:6379"
                                   << "" << QByteArray() << "redis-cluster://h1:7000,h2:6379";
}

void TstConfig::redisUrls()
{
    QFETCH(QString, url);
    QFETCH(QString, kind);
    QFETCH(QString, nodes);
    QFETCH(QString, master);
    QFETCH(QByteArray, password);
    QFETCH(QString, shown);
    QString error;
    const std::optional<RedisUrl> parsed = RedisUrl::parse(url, &error);
    QVERIFY2(parsed, qPrintable(error));
    QCOMPARE(parsed->kindName(), kind);
    QStringList got;
    for (const RedisNode &node : parsed->nodes)
        got.append(node.toString());
    QCOMPARE(got.join(QLatin1Char(',')), nodes);
    QCOMPARE(parsed->masterName, master);
    QCOMPARE(parsed->password, password);
    QCOMPARE(parsed->toString(), shown);
    QCOMPARE(RedisUrl::parse(parsed->toString())->nodes, parsed->nodes);
    const ConfigResult r = parseConfig({QStringLiteral("--redis-url"), url}, {});
    QVERIFY2(r.config, qPrintable(r.error));
    QCOMPARE(r.config->redisUrl, url);
}

void TstConfig::refusedRedisUrlHidesItsPassword()
{
    // Every form is accepted at start-up, Redis Cluster included.
    const ConfigResult r = parseConfig({}, {QStringLiteral("SB_REDIS_URL=redis-cluster://h1:7000,h2:7001")});
    QVERIFY2(r.config, qPrintable(r.error));
    // A refused URL's password is not repeated in the message.
    const ConfigResult bad = parseConfig({}, {QStringLiteral("SB_REDIS_URL=redis-sentinel://:hunter2@h1:26379")});
    QVERIFY(!bad.config);
    QVERIFY2(!bad.error.contains(QLatin1StringView("hunter2")), qPrintable(bad.error));
    QVERIFY2(bad.error.contains(QLatin1StringView("master")), qPrintable(bad.error));
}

void TstConfig::databaseUrls_data()
{
    QTest::addColumn<QString>("url");
    QTest::addRow("url") << "postgresql://sb:pw@127.0.0.1:5432/sb";
    QTest::addRow("short scheme") << "postgres://db/sb";
    QTest::addRow("several hosts") << "postgresql://sb@h1:5432,h2:5433/sb?target_session_attrs=read-write";
    QTest::addRow("several hosts, ipv6") << "postgresql://[::1]:5432,[::1]:5433/sb?target_session_attrs=primary";
    QTest::addRow("keywords") << "host=h1,h2 port=5432,5433 dbname=sb target_session_attrs=read-write";
}

void TstConfig::databaseUrls()
{
    QFETCH(QString, url);
    const ConfigResult r = parseConfig({}, {QStringLiteral("SB_DATABASE_URL=") + url});
    QVERIFY2(r.config, qPrintable(r.error));
    QCOMPARE(r.config->databaseUrl, url);
}

QTEST_GUILESS_MAIN(TstConfig)
#include "tst_config.moc"
