#include "handshake.h"

#include "http/httpmessage.h"

namespace sb {

namespace {

QList<QByteArray> tokens(const QByteArray &value)
{
    QList<QByteArray> out;
    for (const QByteArray &part : value.split(','))
        out.append(part.trimmed().toLower());
    return out;
}

} // namespace

QString upgradeProblem(const HttpRequest &request)
{
    if (request.method != "GET")
        return QStringLiteral("a WebSocket upgrade must be a GET");
    if (request.version != "HTTP/1.1")
        return QStringLiteral("a WebSocket upgrade needs HTTP/1.1");
    if (request.header("host").trimmed().isEmpty())
        return QStringLiteral("the Host header is missing");
    if (request.header("upgrade").trimmed().compare("websocket", Qt::CaseInsensitive) != 0)
        return QStringLiteral("Upgrade must be websocket");
    if (!tokens(request.header("connection")).contains("upgrade"))
        return QStringLiteral("Connection must include upgrade");
    const QByteArray key = request.header("sec-websocket-key").trimmed();
    const auto decoded = QByteArray::fromBase64Encoding(key, QByteArray::AbortOnBase64DecodingErrors);
    if (key.size() != 24 || !decoded || decoded.decoded.size() != 16)
        return QStringLiteral("Sec-WebSocket-Key must be 16 bytes in base64");
    bool offers13 = false;
    for (const QByteArray &version : tokens(request.header("sec-websocket-version"))) {
        bool numeric = false;
        const uint v = version.toUInt(&numeric);
        if (!numeric)
            return QStringLiteral("Sec-WebSocket-Version must be a list of numbers");
        offers13 = offers13 || v == 13;
    }
    if (!offers13)
        return QStringLiteral("Sec-WebSocket-Version 13 is the only one supported");
    return {};
}

} // namespace sb
