#pragma once

// SB_REDIS_URL as a plain value (docs/protocol.md section 8, "Beyond one
// Redis"): which topology, which nodes, which master, how to log in. Parsed
// here, in the shared library, so the settings check at start-up and the
// backplane read the URL the same way. toString() never shows the password.
//
//   redis://[[user]:password@]host[:port][/db]                       one server
//   redis-sentinel://[[user]:password@]host[:port][,host[:port]…]/master   Sentinels
//   redis-cluster://[[user]:password@]host[:port][,host[:port]…]      cluster seeds
//
// Default ports: 6379, 26379 for Sentinels. A password must be
// percent-encoded where it contains '@', '/', ',' or '%'.

#include <QByteArray>
#include <QList>
#include <QString>

#include <optional>

namespace sb {

struct RedisNode
{
    QString host;
    quint16 port = 6379;

    // "host:port", IPv6 hosts in brackets.
    QString toString() const;

    friend bool operator==(const RedisNode &, const RedisNode &) = default;
};

struct RedisUrl
{
    enum class Kind { Single, Sentinel, Cluster };

    Kind kind = Kind::Single;
    QList<RedisNode> nodes; // the server, the Sentinels or the cluster's seed nodes
    QString masterName;     // Sentinel: the name the Sentinels monitor the master by
    QByteArray username;    // Redis 6 ACL user; empty: AUTH with the password only
    QByteArray password;    // empty: no AUTH
    int db = 0;             // redis:// only

    // nullopt and `*error` set (without the password) when `url` is not usable.
    static std::optional<RedisUrl> parse(const QString &url, QString *error = nullptr);

    // "redis", "sentinel" or "cluster": what /api/instance calls the topology.
    QString kindName() const;
    // The URL again, with "***" standing in for a password.
    QString toString() const;

    friend bool operator==(const RedisUrl &, const RedisUrl &) = default;
};

} // namespace sb
