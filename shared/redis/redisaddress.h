#pragma once

// Where a Redis server is and how to log in: parsed from
// redis://[[user]:password@]host[:port][/db] (RedisUrl, shared/redisurl.h,
// reads every SB_REDIS_URL form). A plain value; toString() never shows the
// password, so it is what log lines print.

#include <QByteArray>
#include <QString>

#include <optional>

namespace sb {

struct RedisUrl;

struct RedisAddress
{
    QString host{QStringLiteral("127.0.0.1")};
    quint16 port = 6379;
    QByteArray username; // Redis 6 ACL user; empty: AUTH with the password only
    QByteArray password; // empty: no AUTH
    int db = 0;

    // nullopt and `*error` set when `url` is not a redis:// URL we can use.
    static std::optional<RedisAddress> fromUrl(const QString &url, QString *error = nullptr);

    // Node `node` of a parsed URL (a Sentinel's, say) with the URL's login and db.
    static RedisAddress fromNode(const RedisUrl &url, qsizetype node);

    // "redis://host:port/db", with "***" standing in for a password.
    QString toString() const;
    // "host:port", IPv6 hosts in brackets.
    QString hostPort() const;

    friend bool operator==(const RedisAddress &, const RedisAddress &) = default;
};

} // namespace sb
