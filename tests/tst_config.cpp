// Settings: defaults, environment, flags winning over the environment, and a
// clear error naming the setting for every bad value.

#include "config.h"

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
                            "SB_HEARTBEAT_MS", "SB_HISTORY", "SB_TICKER", "SB_DRAIN_S", "SB_LOG"}) {
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
    QTest::addRow("log") << "SB_LOG" << "xml";
    QTest::addRow("proxies") << "SB_TRUSTED_PROXIES" << "10.0.0.0/99";
    QTest::addRow("redis") << "SB_REDIS_URL" << "http://x";
    QTest::addRow("database") << "SB_DATABASE_URL" << "mysql://x";
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

QTEST_GUILESS_MAIN(TstConfig)
#include "tst_config.moc"
