#include "redisaddress.h"

#include <QUrl>

namespace sb {

namespace {

std::optional<RedisAddress> failWith(QString *error, const QString &message)
{
    if (error)
        *error = message;
    return std::nullopt;
}

} // namespace

std::optional<RedisAddress> RedisAddress::fromUrl(const QString &url, QString *error)
{
    // QUrl does the hard parts: [v6] hosts, percent-encoded passwords.
    const QUrl parsed(url.trimmed(), QUrl::StrictMode);
    if (!parsed.isValid())
        return failWith(error, QStringLiteral("not a valid URL"));
    if (parsed.scheme() != QLatin1StringView("redis"))
        return failWith(error, QStringLiteral("the scheme must be redis://"));
    if (parsed.host().isEmpty())
        return failWith(error, QStringLiteral("no host"));
    if (parsed.hasQuery() || parsed.hasFragment())
        return failWith(error, QStringLiteral("query and fragment are not supported"));

    RedisAddress address;
    address.host = parsed.host();
    const int port = parsed.port(6379);
    if (port <= 0 || port > 65535)
        return failWith(error, QStringLiteral("bad port"));
    address.port = static_cast<quint16>(port);
    address.username = parsed.userName(QUrl::FullyDecoded).toUtf8();
    address.password = parsed.password(QUrl::FullyDecoded).toUtf8();
    if (!address.username.isEmpty() && address.password.isEmpty())
        return failWith(error, QStringLiteral("a user name needs a password (redis://user:password@host)"));

    QString path = parsed.path();
    if (path.startsWith(QLatin1Char('/')))
        path.remove(0, 1);
    if (!path.isEmpty()) {
        bool ok = false;
        const int db = path.toInt(&ok);
        if (!ok || db < 0)
            return failWith(error, QStringLiteral("the path must be a database number"));
        address.db = db;
    }
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
    text += host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host;
    text += QLatin1Char(':') + QString::number(port);
    if (db != 0)
        text += QLatin1Char('/') + QString::number(db);
    return text;
}

} // namespace sb
