#include "redisurl.h"

#include <QStringList>
#include <QUrl>

namespace sb {

namespace {

constexpr quint16 kRedisPort = 6379;
constexpr quint16 kSentinelPort = 26379;

// Sets `*error` and yields nullopt of whatever the caller returns.
struct Failure
{
    template<typename T>
    operator std::optional<T>() const { return std::nullopt; }
};

Failure failWith(QString *error, const QString &message)
{
    if (error)
        *error = message;
    return {};
}

QString bracketed(const QString &host)
{
    return host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host;
}

// redis://…: QUrl does the hard parts ([v6] hosts, percent-encoded passwords).
std::optional<RedisUrl> parseSingle(const QString &text, QString *error)
{
    const QUrl parsed(text, QUrl::StrictMode);
    if (!parsed.isValid())
        return failWith(error, QStringLiteral("not a valid URL"));
    if (parsed.host().isEmpty())
        return failWith(error, QStringLiteral("no host"));
    if (parsed.hasQuery() || parsed.hasFragment())
        return failWith(error, QStringLiteral("query and fragment are not supported"));

    RedisUrl url;
    const int port = parsed.port(kRedisPort);
    if (port <= 0 || port > 65535)
        return failWith(error, QStringLiteral("bad port"));
    url.nodes.append({parsed.host(), static_cast<quint16>(port)});
    url.username = parsed.userName(QUrl::FullyDecoded).toUtf8();
    url.password = parsed.password(QUrl::FullyDecoded).toUtf8();
    if (!url.username.isEmpty() && url.password.isEmpty())
        return failWith(error, QStringLiteral("a user name needs a password (redis://user:password@host)"));

    QString path = parsed.path();
    if (path.startsWith(QLatin1Char('/')))
        path.remove(0, 1);
    if (!path.isEmpty()) {
        bool ok = false;
        const int db = path.toInt(&ok);
        if (!ok || db < 0)
            return failWith(error, QStringLiteral("the path must be a database number"));
        url.db = db;
    }
    return url;
}

// One "host[:port]" of a comma-separated list; QUrl checks the host name.
std::optional<RedisNode> parseNode(const QString &entry, quint16 defaultPort, QString *error)
{
    const QString where = entry.isEmpty() ? QStringLiteral("an empty host") : QStringLiteral("\"%1\"").arg(entry);
    const QUrl parsed(QStringLiteral("redis://") + entry, QUrl::StrictMode);
    if (entry.isEmpty() || !parsed.isValid() || parsed.host().isEmpty() || !parsed.userInfo().isEmpty()
        || !parsed.path().isEmpty())
        return failWith(error, QStringLiteral("%1 is not host:port").arg(where));
    const int port = parsed.port(defaultPort);
    if (port <= 0 || port > 65535)
        return failWith(error, QStringLiteral("bad port in %1").arg(where));
    return RedisNode{parsed.host(), static_cast<quint16>(port)};
}

// redis-sentinel:// and redis-cluster://: several hosts, which QUrl refuses.
std::optional<RedisUrl> parseMulti(RedisUrl::Kind kind, const QString &rest, QString *error)
{
    if (rest.contains(QLatin1Char('?')) || rest.contains(QLatin1Char('#')))
        return failWith(error, QStringLiteral("query and fragment are not supported"));
    const qsizetype slash = rest.indexOf(QLatin1Char('/'));
    QString authority = slash < 0 ? rest : rest.left(slash);
    const QString path = slash < 0 ? QString() : rest.mid(slash + 1);

    RedisUrl url;
    url.kind = kind;
    const qsizetype at = authority.lastIndexOf(QLatin1Char('@'));
    if (at >= 0) {
        const QString userinfo = authority.left(at);
        authority = authority.mid(at + 1);
        const qsizetype colon = userinfo.indexOf(QLatin1Char(':'));
        url.username = QUrl::fromPercentEncoding(userinfo.left(colon < 0 ? userinfo.size() : colon).toUtf8()).toUtf8();
        if (colon >= 0)
            url.password = QUrl::fromPercentEncoding(userinfo.mid(colon + 1).toUtf8()).toUtf8();
        if (!url.username.isEmpty() && url.password.isEmpty())
            return failWith(error, QStringLiteral("a user name needs a password (user:password@host)"));
    }
    if (authority.isEmpty())
        return failWith(error, QStringLiteral("no host"));
    const quint16 defaultPort = kind == RedisUrl::Kind::Sentinel ? kSentinelPort : kRedisPort;
    for (const QString &entry : authority.split(QLatin1Char(','))) {
        QString why;
        const std::optional<RedisNode> node = parseNode(entry.trimmed(), defaultPort, &why);
        if (!node)
            return failWith(error, why);
        if (!url.nodes.contains(*node))
            url.nodes.append(*node);
    }

    if (kind == RedisUrl::Kind::Sentinel) {
        url.masterName = QUrl::fromPercentEncoding(path.toUtf8());
        if (url.masterName.isEmpty())
            return failWith(error, QStringLiteral("the path must name the master (redis-sentinel://host:26379/mymaster)"));
        if (url.masterName.contains(QLatin1Char('/')) || url.masterName.contains(QLatin1Char(' ')))
            return failWith(error, QStringLiteral("a master name has no '/' or space"));
    } else if (!path.isEmpty()) {
        return failWith(error, QStringLiteral("a cluster URL has no path (Redis Cluster has only database 0)"));
    }
    return url;
}

} // namespace

QString RedisNode::toString() const
{
    return bracketed(host) + QLatin1Char(':') + QString::number(port);
}

std::optional<RedisUrl> RedisUrl::parse(const QString &input, QString *error)
{
    const QString text = input.trimmed();
    const qsizetype schemeEnd = text.indexOf(QLatin1StringView("://"));
    const QString scheme = schemeEnd < 0 ? QString() : text.left(schemeEnd).toLower();
    if (scheme == QLatin1StringView("redis"))
        return parseSingle(text, error);
    if (scheme == QLatin1StringView("redis-sentinel"))
        return parseMulti(Kind::Sentinel, text.mid(schemeEnd + 3), error);
    if (scheme == QLatin1StringView("redis-cluster"))
        return parseMulti(Kind::Cluster, text.mid(schemeEnd + 3), error);
    return failWith(error, QStringLiteral("the scheme must be redis://, redis-sentinel:// or redis-cluster://"));
}

QString RedisUrl::kindName() const
{
    switch (kind) {
    case Kind::Single: return QStringLiteral("redis");
    case Kind::Sentinel: return QStringLiteral("sentinel");
    case Kind::Cluster: return QStringLiteral("cluster");
    }
    return QStringLiteral("redis");
}

QString RedisUrl::toString() const
{
    QString text = kind == Kind::Single     ? QStringLiteral("redis://")
                   : kind == Kind::Sentinel ? QStringLiteral("redis-sentinel://")
                                            : QStringLiteral("redis-cluster://");
    if (!password.isEmpty()) {
        if (!username.isEmpty())
            text += QString::fromUtf8(username);
        text += QStringLiteral(":***@");
    }
    QStringList hosts;
    for (const RedisNode &node : nodes)
        hosts.append(node.toString());
    text += hosts.join(QLatin1Char(','));
    if (kind == Kind::Sentinel)
        text += QLatin1Char('/') + QString::fromLatin1(QUrl::toPercentEncoding(masterName));
    else if (kind == Kind::Single && db != 0)
        text += QLatin1Char('/') + QString::number(db);
    return text;
}

} // namespace sb
