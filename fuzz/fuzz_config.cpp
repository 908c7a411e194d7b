// Fuzzes settings and URL parsing: sb::parseConfig over an environment and a
// command line (shared/config.cpp), its helpers parseSubnets/parseRate,
// RedisUrl::parse (shared/redisurl.cpp: every SB_REDIS_URL form, one server,
// Sentinels or cluster seeds), RedisAddress::fromUrl
// (shared/redis/redisaddress.cpp, what the console parses --redis with) and libpq's
// PQconninfoParse on the database URL (what PostgresConnection hands the URL
// to with expand_dbname).
//
// Input: lines. A line starting with "SB_" is an environment entry
// (SB_FOO=value); any other line is one command-line argument. Every line is
// also tried on its own as a Redis URL, a database URL, a CIDR list and a rate.
//
// Invariants besides crashes, UB and leaks:
// - an accepted Config has its values inside the documented ranges;
// - parsing is deterministic and flags win: the same input parses the same way twice;
// - a RedisAddress without a password survives toString() and fromUrl()
//   unchanged, and toString() shows a password as *** only;
// - an accepted RedisUrl has at least one node, no port 0, a master name
//   when it is a Sentinel URL, survives toString()/parse() when it has no
//   password, and shows a password as *** only;
// - an accepted Config's SB_REDIS_URL parses, and is not a cluster URL.

#include "config.h"
#include "redisaddress.h"
#include "redisurl.h"

#include <libpq-fe.h>

#include <QHostAddress>
#include <QStringList>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

using namespace sb;

namespace {

[[noreturn]] void fail(const char *what, const QString &detail = {})
{
    std::fprintf(stderr, "fuzz_config invariant broken: %s %s\n", what, qPrintable(detail.left(200)));
    std::abort();
}

void checkConfig(const Config &c)
{
    if (c.instanceId.isEmpty() || c.instanceId.contains(QLatin1Char('|')))
        fail("bad instance id accepted", c.instanceId);
    if (c.color.isEmpty())
        fail("empty colour accepted");
    if (c.connectRate.count < 0 || c.connectRate.seconds <= 0)
        fail("bad connect rate accepted");
    if (c.msgRate < 0 || c.tokenTtlS < 1 || c.maxFrame < 128 || c.maxQueue < 1024 || c.heartbeatMs < 100
        || c.history < 1 || c.presenceLimit < 1 || c.maxRooms < 1 || c.maxTodos < 1 || c.drainS < 0)
        fail("an integer setting outside its range was accepted");
    if (c.tickerEnabled && (c.tickerMinS < 1 || c.tickerMinS > c.tickerMaxS))
        fail("bad ticker range accepted");
    if (!c.redisUrl.isEmpty()) {
        const std::optional<RedisUrl> redis = RedisUrl::parse(c.redisUrl);
        if (!redis)
            fail("an unparsable Redis URL was accepted", c.redisUrl);
        if (redis->kind == RedisUrl::Kind::Cluster && (redis->nodes.isEmpty() || redis->db != 0))
            fail("a redis-cluster:// URL without seeds or with a database was accepted", c.redisUrl);
    }
    for (const Subnet &net : c.trustedProxies) {
        const int max = net.network.protocol() == QAbstractSocket::IPv6Protocol ? 128 : 32;
        if (net.network.isNull() || net.prefix < 0 || net.prefix > max)
            fail("a bad trusted proxy range was accepted", net.network.toString());
    }
    for (const char *address : {"127.0.0.1", "::1", "::ffff:10.1.2.3", "192.168.1.1", "fe80::1"})
        (void)c.isTrustedProxy(QHostAddress(QString::fromLatin1(address)));
}

void checkRedisUrl(const QString &url)
{
    QString error;
    const std::optional<RedisAddress> address = RedisAddress::fromUrl(url, &error);
    if (!address) {
        if (error.isEmpty())
            fail("a refused Redis URL without a reason", url);
        return;
    }
    if (address->host.isEmpty() || address->port == 0 || address->db < 0)
        fail("a Redis address without host, port or db", url);
    const QString shown = address->toString();
    if (!address->password.isEmpty()) {
        // The password appears as *** and nowhere else (it may of course be
        // a substring of the user or host name).
        const QString masked = QStringLiteral("redis://") + QString::fromUtf8(address->username) + QStringLiteral(":***@");
        if (!shown.startsWith(masked))
            fail("RedisAddress::toString() does not hide the password", url);
        return;
    }
    const std::optional<RedisAddress> again = RedisAddress::fromUrl(shown);
    if (!again || !(*again == *address))
        fail("a Redis address does not survive toString()/fromUrl()", url + QStringLiteral(" -> ") + shown);
}

void checkRedisUrlForms(const QString &url)
{
    QString error;
    const std::optional<RedisUrl> parsed = RedisUrl::parse(url, &error);
    if (!parsed) {
        if (error.isEmpty())
            fail("a refused RedisUrl without a reason", url);
        return;
    }
    if (parsed->nodes.isEmpty())
        fail("a RedisUrl without nodes", url);
    for (const RedisNode &node : parsed->nodes) {
        if (node.host.isEmpty() || node.port == 0)
            fail("a RedisUrl node without host or port", url);
    }
    if (parsed->kind == RedisUrl::Kind::Sentinel && parsed->masterName.isEmpty())
        fail("a Sentinel URL without a master name", url);
    const QString shown = parsed->toString();
    if (!parsed->password.isEmpty()) {
        if (!shown.contains(QString::fromUtf8(parsed->username) + QStringLiteral(":***@")))
            fail("RedisUrl::toString() does not hide the password", url);
        return;
    }
    const std::optional<RedisUrl> again = RedisUrl::parse(shown);
    if (!again || !(*again == *parsed))
        fail("a RedisUrl does not survive toString()/parse()", url + QStringLiteral(" -> ") + shown);
}

void checkDatabaseUrl(const QByteArray &url)
{
    char *error = nullptr;
    PQconninfoOption *options = PQconninfoParse(url.constData(), &error);
    if (options)
        PQconninfoFree(options);
    PQfreemem(error);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QString text = QString::fromUtf8(reinterpret_cast<const char *>(data), static_cast<qsizetype>(size));
    const QStringList lines = text.split(QLatin1Char('\n'));

    QStringList environment;
    QStringList args;
    for (const QString &line : lines) {
        if (line.startsWith(QLatin1StringView("SB_")))
            environment.append(line);
        else
            args.append(line);
        checkRedisUrl(line);
        checkRedisUrlForms(line);
        checkDatabaseUrl(line.toUtf8());
        if (const auto subnets = parseSubnets(line)) {
            for (const Subnet &net : *subnets)
                (void)QHostAddress(QHostAddress::LocalHost).isInSubnet(net.network, net.prefix);
        }
        if (const auto rate = parseRate(line); rate && (rate->count < 0 || rate->seconds <= 0))
            fail("parseRate accepted a bad rate", line);
    }
    // Keep QStandardPaths out of it (it would read the real HOME); SB_DATA wins anyway.
    environment.prepend(QStringLiteral("SB_DATA=/nonexistent"));

    const ConfigResult first = parseConfig(args, environment);
    const ConfigResult second = parseConfig(args, environment);
    if (first.config.has_value() != second.config.has_value() || first.error != second.error)
        fail("parseConfig is not deterministic");
    if (first.config) {
        checkConfig(*first.config);
        if (!first.config->databaseUrl.isEmpty())
            checkDatabaseUrl(first.config->databaseUrl.toUtf8());
        if (!first.config->redisUrl.isEmpty())
            checkRedisUrl(first.config->redisUrl);
    } else if (first.error.isEmpty()) {
        fail("parseConfig refused without a message");
    }
    return 0;
}
