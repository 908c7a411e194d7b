#include "config.h"

#include "redisurl.h"

#include <QHash>
#include <QHostInfo>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTextStream>

#include <algorithm>
#include <functional>

namespace sb {

const QList<SettingInfo> &settings()
{
    static const QList<SettingInfo> list{
        {"SB_INSTANCE_ID", "<host name>-<port>", "Instance id shown to clients and operators"},
        {"SB_LISTEN", "127.0.0.1:8080", "Address and port for HTTP and WebSocket (host:port, [v6]:port or :port)"},
        {"SB_COLOR", "blue", "Display colour of this instance (blue, green, …)"},
        {"SB_DATA", "<user data directory>", "Directory of the embedded store"},
        {"SB_REDIS_URL", "", "redis://[:password@]host:port[/db] or redis-sentinel://[:password@]host:port[,host:port…]/master; unset: in-process backplane, single instance"},
        {"SB_REDIS_PREFIX", "sb:", "Prefix of every Redis key and channel"},
        {"SB_DATABASE_URL", "", "a libpq connection string, e.g. postgresql://user:pass@h1:5432,h2:5432/db?target_session_attrs=read-write; unset: embedded store in SB_DATA"},
        {"SB_OPERATOR_KEY", "", "Bearer key required for operator tokens; empty: no operator tokens"},
        {"SB_ALLOWED_ORIGINS", "", "Comma list of exact Origins allowed to upgrade; empty: all"},
        {"SB_TRUSTED_PROXIES", "127.0.0.0/8,::1/128", "CIDR list of proxies whose X-Forwarded-For is believed"},
        {"SB_CONNECT_RATE", "20/60", "Connection attempts per client address: attempts/seconds"},
        {"SB_MSG_RATE", "50", "Messages per second per connection (bursts up to twice); 0 disables"},
        {"SB_TOKEN_TTL", "60", "Seconds a connection token stays valid"},
        {"SB_MAX_FRAME", "65536", "Largest WebSocket message in bytes; larger closes with 1009"},
        {"SB_MAX_QUEUE", "1048576", "Largest unsent outbound bytes per connection; more closes with 1013"},
        {"SB_HEARTBEAT_MS", "25000", "WebSocket ping interval; a peer silent for 2 intervals is dropped"},
        {"SB_HISTORY", "1000", "Chat messages retained per room (at least)"},
        {"SB_LISTEN_BACKLOG", "4096", "Kernel accept queue of the listening socket (capped by net.core.somaxconn)"},
        {"SB_PRESENCE_LIMIT", "200", "Rooms with more members get batched presence (one frame per second)"},
        {"SB_MAX_ROOMS", "100", "Rooms one session may be a member of; more gets limit_exceeded"},
        {"SB_MAX_TODOS", "1000", "Todos one client_id may hold; more gets limit_exceeded"},
        {"SB_TICKER", "5-20", "Ticker interval MIN-MAX seconds, or off"},
        {"SB_DRAIN_S", "30", "Seconds over which a drain spreads its closes"},
        {"SB_LOG", "text", "Log format: text or json"},
        {"SB_EVENT_LOOP", "epoll", "Event loop of the sockets: epoll, or poll (Qt's own dispatcher)"},
    };
    return list;
}

QString flagName(const char *env)
{
    QString name = QString::fromLatin1(env).mid(3).toLower();
    name.replace(QLatin1Char('_'), QLatin1Char('-'));
    return QStringLiteral("--") + name;
}

bool Config::isTrustedProxy(const QHostAddress &address) const
{
    QHostAddress plain = address;
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    if (isV4)
        plain = QHostAddress(v4); // ::ffff:a.b.c.d matches IPv4 ranges
    for (const Subnet &net : trustedProxies) {
        if (plain.isInSubnet(net.network, net.prefix))
            return true;
    }
    return false;
}

std::optional<QList<Subnet>> parseSubnets(const QString &text)
{
    QList<Subnet> result;
    const QStringList parts = text.split(QLatin1Char(','), Qt::SkipEmptyParts);
    for (const QString &raw : parts) {
        const QString part = raw.trimmed();
        if (part.isEmpty())
            continue;
        // QHostAddress reads "10<NUL>junk" as 0.0.0.10: only address characters pass.
        const bool plain = std::all_of(part.cbegin(), part.cend(), [](QChar c) {
            return c.isDigit() || (c >= u'a' && c <= u'f') || (c >= u'A' && c <= u'F') || c == u'.' || c == u':'
                   || c == u'/';
        });
        if (!plain)
            return std::nullopt;
        QPair<QHostAddress, int> subnet;
        if (part.contains(QLatin1Char('/'))) {
            subnet = QHostAddress::parseSubnet(part);
        } else {
            const QHostAddress single(part);
            subnet = {single, single.protocol() == QAbstractSocket::IPv6Protocol ? 128 : 32};
        }
        const int maxPrefix = subnet.first.protocol() == QAbstractSocket::IPv6Protocol ? 128 : 32;
        if (subnet.first.isNull() || subnet.second < 0 || subnet.second > maxPrefix)
            return std::nullopt;
        result.append({subnet.first, subnet.second});
    }
    return result;
}

std::optional<RateSpec> parseRate(const QString &text)
{
    const QStringList parts = text.split(QLatin1Char('/'));
    if (parts.size() != 2)
        return std::nullopt;
    bool ok1 = false;
    bool ok2 = false;
    const int count = parts[0].trimmed().toInt(&ok1);
    const int seconds = parts[1].trimmed().toInt(&ok2);
    if (!ok1 || !ok2 || count < 0 || seconds <= 0)
        return std::nullopt;
    return RateSpec{count, seconds};
}

namespace {

std::optional<int> parseInt(const QString &text, qint64 min, qint64 max)
{
    bool ok = false;
    const qint64 value = text.trimmed().toLongLong(&ok);
    if (!ok || value < min || value > max)
        return std::nullopt;
    return static_cast<int>(value);
}

bool parseListen(const QString &text, Config &config)
{
    const int colon = text.lastIndexOf(QLatin1Char(':'));
    if (colon < 0)
        return false;
    QString host = text.left(colon);
    bool ok = false;
    const int port = text.mid(colon + 1).toInt(&ok);
    if (!ok || port < 0 || port > 65535)
        return false;
    if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
        host = host.mid(1, host.size() - 2);
    QHostAddress address;
    if (host.isEmpty() || host == QLatin1StringView("*") || host == QLatin1StringView("0.0.0.0"))
        address = host.isEmpty() || host == QLatin1StringView("*") ? QHostAddress(QHostAddress::Any)
                                                                   : QHostAddress(QHostAddress::AnyIPv4);
    else if (host == QLatin1StringView("localhost"))
        address = QHostAddress(QHostAddress::LocalHost);
    else if (!address.setAddress(host))
        return false;
    config.listenAddress = address;
    config.listenPort = static_cast<quint16>(port);
    return true;
}

QString invalid(const char *env, const QString &value, const QString &expected)
{
    return QStringLiteral("invalid value \"%1\" for %2 (%3): expected %4")
        .arg(value, QString::fromLatin1(env), flagName(env), expected);
}

// What libpq takes as a connection string: a postgres(ql):// URI or
// keyword=value pairs. libpq itself judges the details when it connects.
bool isPostgresConnectionString(const QString &text)
{
    static const QRegularExpression keywordValue(QStringLiteral("^[a-z_]+\\s*="));
    return text.startsWith(QLatin1StringView("postgresql://")) || text.startsWith(QLatin1StringView("postgres://"))
           || keywordValue.match(text).hasMatch();
}

} // namespace

QString maskUrlPassword(const QString &url)
{
    // libpq ends the userinfo at the first '@' or '/': '?' and '#' belong to the password.
    static const QRegularExpression userinfoPassword(QStringLiteral("^([a-zA-Z][a-zA-Z0-9+.-]*://[^:@/]*):[^@/]*@"));
    static const QRegularExpression keywordPassword(QStringLiteral("(\\bpassword\\s*=\\s*)('(?:[^'\\\\]|\\\\.)*'|[^\\s&]*)"),
                                                    QRegularExpression::CaseInsensitiveOption);
    QString masked = url;
    masked.replace(userinfoPassword, QStringLiteral("\\1:***@"));
    masked.replace(keywordPassword, QStringLiteral("\\1***"));
    return masked;
}

ConfigResult parseConfig(const QStringList &args, const QStringList &environment)
{
    QHash<QString, QString> values;
    for (const SettingInfo &s : settings()) {
        const QString env = QString::fromLatin1(s.env);
        for (const QString &entry : environment) {
            if (entry.startsWith(env) && entry.size() > env.size() && entry[env.size()] == QLatin1Char('='))
                values.insert(env, entry.mid(env.size() + 1));
        }
    }

    for (int i = 0; i < args.size(); ++i) {
        QString arg = args[i];
        QString value;
        bool hasValue = false;
        const int eq = arg.indexOf(QLatin1Char('='));
        if (arg.startsWith(QLatin1StringView("--")) && eq > 0) {
            value = arg.mid(eq + 1);
            arg = arg.left(eq);
            hasValue = true;
        }
        const SettingInfo *match = nullptr;
        for (const SettingInfo &s : settings()) {
            if (flagName(s.env) == arg)
                match = &s;
        }
        if (!match)
            return {std::nullopt, QStringLiteral("unknown option \"%1\" (see --help)").arg(args[i])};
        if (!hasValue) {
            if (i + 1 >= args.size())
                return {std::nullopt, QStringLiteral("%1 needs a value").arg(arg)};
            value = args[++i];
        }
        values.insert(QString::fromLatin1(match->env), value);
    }

    Config c;
    const auto has = [&](const char *env) { return values.contains(QString::fromLatin1(env)); };
    const auto get = [&](const char *env) { return values.value(QString::fromLatin1(env)); };

    if (has("SB_LISTEN") && !parseListen(get("SB_LISTEN"), c))
        return {std::nullopt, invalid("SB_LISTEN", get("SB_LISTEN"), QStringLiteral("host:port"))};

    c.instanceId = get("SB_INSTANCE_ID").trimmed();
    if (has("SB_INSTANCE_ID") && (c.instanceId.isEmpty() || c.instanceId.contains(QLatin1Char('|'))
                                  || c.instanceId.size() > 64))
        return {std::nullopt, invalid("SB_INSTANCE_ID", get("SB_INSTANCE_ID"), QStringLiteral("1-64 characters without '|'"))};
    if (c.instanceId.isEmpty())
        c.instanceId = QHostInfo::localHostName() + QLatin1Char('-') + QString::number(c.listenPort);

    c.color = has("SB_COLOR") ? get("SB_COLOR").trimmed() : QStringLiteral("blue");
    if (c.color.isEmpty())
        return {std::nullopt, invalid("SB_COLOR", get("SB_COLOR"), QStringLiteral("a colour name"))};

    c.dataDir = get("SB_DATA");
    if (c.dataDir.isEmpty())
        c.dataDir = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation)
                    + QStringLiteral("/switchboard");

    c.redisUrl = get("SB_REDIS_URL").trimmed();
    if (!c.redisUrl.isEmpty()) {
        QString why;
        const std::optional<RedisUrl> redis = RedisUrl::parse(c.redisUrl, &why);
        if (!redis)
            return {std::nullopt, invalid("SB_REDIS_URL", maskUrlPassword(c.redisUrl),
                                          why + QStringLiteral("; expected redis://[:password@]host:port[/db], "
                                                               "redis-sentinel://[:password@]host:port[,host:port…]/master "
                                                               "or redis-cluster://[:password@]host:port[,host:port…]"))};
    }
    if (has("SB_REDIS_PREFIX"))
        c.redisPrefix = get("SB_REDIS_PREFIX");
    c.databaseUrl = get("SB_DATABASE_URL").trimmed();
    if (!c.databaseUrl.isEmpty() && !isPostgresConnectionString(c.databaseUrl))
        return {std::nullopt, invalid("SB_DATABASE_URL", maskUrlPassword(c.databaseUrl),
                                      QStringLiteral("a libpq connection string: postgresql://[user[:password]@]host[:port]"
                                                     "[,host[:port]…][/db][?param=value…] or host=… dbname=…"))};
    c.operatorKey = get("SB_OPERATOR_KEY");

    for (const QString &origin : get("SB_ALLOWED_ORIGINS").split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        if (!origin.trimmed().isEmpty())
            c.allowedOrigins.append(origin.trimmed());
    }

    const QString proxies = has("SB_TRUSTED_PROXIES") ? get("SB_TRUSTED_PROXIES") : QStringLiteral("127.0.0.0/8,::1/128");
    const auto subnets = parseSubnets(proxies);
    if (!subnets)
        return {std::nullopt, invalid("SB_TRUSTED_PROXIES", proxies, QStringLiteral("a comma list of CIDR ranges"))};
    c.trustedProxies = *subnets;

    if (has("SB_CONNECT_RATE")) {
        const auto rate = parseRate(get("SB_CONNECT_RATE"));
        if (!rate)
            return {std::nullopt, invalid("SB_CONNECT_RATE", get("SB_CONNECT_RATE"), QStringLiteral("attempts/seconds, e.g. 20/60"))};
        c.connectRate = *rate;
    }

    struct IntSetting
    {
        const char *env;
        qint64 min;
        qint64 max;
        std::function<void(int)> assign;
    };
    const QList<IntSetting> ints{
        {"SB_MSG_RATE", 0, 1000000, [&](int v) { c.msgRate = v; }},
        {"SB_TOKEN_TTL", 1, 86400, [&](int v) { c.tokenTtlS = v; }},
        {"SB_MAX_FRAME", 128, 64 * 1024 * 1024, [&](int v) { c.maxFrame = v; }},
        {"SB_MAX_QUEUE", 1024, 1024 * 1024 * 1024, [&](int v) { c.maxQueue = v; }},
        {"SB_HEARTBEAT_MS", 100, 3600000, [&](int v) { c.heartbeatMs = v; }},
        {"SB_HISTORY", 1, 10000000, [&](int v) { c.history = v; }},
        {"SB_LISTEN_BACKLOG", 1, 65535, [&](int v) { c.listenBacklog = v; }},
        {"SB_PRESENCE_LIMIT", 1, 1000000, [&](int v) { c.presenceLimit = v; }},
        {"SB_MAX_ROOMS", 1, 100000, [&](int v) { c.maxRooms = v; }},
        {"SB_MAX_TODOS", 1, 10000000, [&](int v) { c.maxTodos = v; }},
        {"SB_DRAIN_S", 0, 3600, [&](int v) { c.drainS = v; }},
    };
    for (const IntSetting &s : ints) {
        if (!has(s.env))
            continue;
        const auto value = parseInt(get(s.env), s.min, s.max);
        if (!value)
            return {std::nullopt, invalid(s.env, get(s.env),
                                          QStringLiteral("an integer from %1 to %2").arg(s.min).arg(s.max))};
        s.assign(*value);
    }

    if (has("SB_TICKER")) {
        const QString ticker = get("SB_TICKER").trimmed();
        if (ticker == QLatin1StringView("off")) {
            c.tickerEnabled = false;
        } else {
            const QStringList parts = ticker.split(QLatin1Char('-'));
            const auto lo = parts.size() == 2 ? parseInt(parts[0], 1, 86400) : std::nullopt;
            const auto hi = parts.size() == 2 ? parseInt(parts[1], 1, 86400) : std::nullopt;
            if (!lo || !hi || *lo > *hi)
                return {std::nullopt, invalid("SB_TICKER", ticker, QStringLiteral("MIN-MAX seconds or off"))};
            c.tickerMinS = *lo;
            c.tickerMaxS = *hi;
        }
    }

    if (has("SB_LOG")) {
        const QString log = get("SB_LOG").trimmed();
        if (log != QLatin1StringView("text") && log != QLatin1StringView("json"))
            return {std::nullopt, invalid("SB_LOG", log, QStringLiteral("text or json"))};
        c.jsonLog = log == QLatin1StringView("json");
    }

    if (has("SB_EVENT_LOOP")) {
        const QString loop = get("SB_EVENT_LOOP").trimmed();
        if (loop != QLatin1StringView("epoll") && loop != QLatin1StringView("poll"))
            return {std::nullopt, invalid("SB_EVENT_LOOP", loop, QStringLiteral("epoll or poll"))};
        c.epollEventLoop = loop == QLatin1StringView("epoll");
    }

    return {c, {}};
}

QString helpText(const QString &program)
{
    QString text;
    QTextStream out(&text);
    out << "Usage: " << program << " [serve|cleanup] [options]\n\n"
        << "  serve     run the server (the default)\n"
        << "  cleanup   delete old disconnected sessions, expired tokens and rate-limit entries, then exit\n\n"
        << "Every option is also an environment variable; options win.\n\n";
    for (const SettingInfo &s : settings()) {
        out << "  " << flagName(s.env) << " / " << s.env << '\n'
            << "      " << QString::fromUtf8(s.help) << " (default: "
            << (*s.defaultValue ? QString::fromUtf8(s.defaultValue) : QStringLiteral("unset")) << ")\n";
    }
    out << "  --help    show this text\n";
    return text;
}

} // namespace sb
