#include "redisaddress.h"

#include "redisurl.h"

namespace sb {

std::optional<RedisAddress> RedisAddress::fromUrl(const QString &url, QString *error)
{
    QString why;
    const std::optional<RedisUrl> parsed = RedisUrl::parse(url, &why);
    if (parsed && parsed->kind != RedisUrl::Kind::Single)
        why = QStringLiteral("the scheme must be redis:// (a %1 URL names several nodes, not one server)")
                  .arg(parsed->kindName());
    else if (parsed)
        return fromNode(*parsed, 0);
    if (error)
        *error = why;
    return std::nullopt;
}

RedisAddress RedisAddress::fromNode(const RedisUrl &url, qsizetype node)
{
    RedisAddress address;
    if (node >= 0 && node < url.nodes.size()) {
        address.host = url.nodes.at(node).host;
        address.port = url.nodes.at(node).port;
    }
    address.username = url.username;
    address.password = url.password;
    address.db = url.db;
    return address;
}

QString RedisAddress::toString() const
{
    QString text = QStringLiteral("redis://");
    if (!password.isEmpty()) {
        if (!username.isEmpty())
            text += QString::fromUtf8(username);
        text += QStringLiteral(":***@");
    }
    text += hostPort();
    if (db != 0)
        text += QLatin1Char('/') + QString::number(db);
    return text;
}

QString RedisAddress::hostPort() const
{
    return RedisNode{host, port}.toString();
}

} // namespace sb
