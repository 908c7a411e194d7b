#pragma once

// Server settings: every SB_* environment variable and its --flag twin
// (docs/protocol.md section 7). Flags win over the environment; a bad value
// stops start-up with a message naming the setting.

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

#include <optional>

namespace sb {

struct RateSpec
{
    int count = 0;
    int seconds = 1;
};

struct Subnet
{
    QHostAddress network;
    int prefix = 0;
};

struct Config
{
    QString instanceId;
    QHostAddress listenAddress{QHostAddress::LocalHost};
    quint16 listenPort = 8080;
    QString color;
    QString dataDir;
    QString redisUrl;
    QString redisPrefix{QStringLiteral("sb:")};
    QString databaseUrl;
    QString operatorKey;
    QStringList allowedOrigins;
    QList<Subnet> trustedProxies;
    RateSpec connectRate{20, 60};
    int msgRate = 50;
    int tokenTtlS = 60;
    qint64 maxFrame = 65536;
    qint64 maxQueue = 1048576;
    int heartbeatMs = 25000;
    int history = 1000;
    int listenBacklog = 4096;
    int presenceLimit = 200;
    int maxRooms = 100;
    int maxTodos = 1000;
    bool tickerEnabled = true;
    int tickerMinS = 5;
    int tickerMaxS = 20;
    int drainS = 30;
    bool jsonLog = false;
    bool epollEventLoop = true; // SB_EVENT_LOOP: the server's main thread on epoll

    bool isTrustedProxy(const QHostAddress &address) const;
};

struct SettingInfo
{
    const char *env;      // SB_FOO_BAR
    const char *defaultValue; // as shown by --help
    const char *help;
};

// Every setting, in --help order.
const QList<SettingInfo> &settings();

// "--foo-bar" for "SB_FOO_BAR".
QString flagName(const char *env);

struct ConfigResult
{
    std::optional<Config> config;
    QString error; // names the setting
};

// Parses `args` (without the program name and subcommand) over `environment`.
// Unknown flags are errors. `--help` is handled by the caller.
ConfigResult parseConfig(const QStringList &args, const QStringList &environment);

QString helpText(const QString &program);

// `url` with any password replaced by "***" (URL userinfo, password=
// keyword): what logs and error messages show of SB_REDIS_URL and SB_DATABASE_URL.
QString maskUrlPassword(const QString &url);

// Parsing helpers, shared with the console.
std::optional<QList<Subnet>> parseSubnets(const QString &text);
std::optional<RateSpec> parseRate(const QString &text);

} // namespace sb
