#include "clientaddress.h"

#include "config.h"
#include "httpmessage.h"

#include <QTcpSocket>

namespace sb {

namespace {
QString addressText(const QHostAddress &address)
{
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    return isV4 ? QHostAddress(v4).toString() : address.toString();
}
} // namespace

QString clientAddress(const Config &config, QTcpSocket *socket, const HttpRequest &request)
{
    const QHostAddress peer = socket->peerAddress();
    const QString peerText = addressText(peer);
    if (!config.isTrustedProxy(peer))
        return peerText;
    const QByteArray forwarded = request.header("x-forwarded-for");
    if (forwarded.isEmpty())
        return peerText;
    const QList<QByteArray> hops = forwarded.split(',');
    for (auto it = hops.crbegin(); it != hops.crend(); ++it) {
        QString hop = QString::fromLatin1(it->trimmed());
        if (hop.startsWith(QLatin1Char('[')) && hop.contains(QLatin1Char(']')))
            hop = hop.mid(1, hop.indexOf(QLatin1Char(']')) - 1);
        const QHostAddress address(hop);
        if (address.isNull())
            return peerText; // unparseable hop: do not trust anything left of it
        if (!config.isTrustedProxy(address))
            return addressText(address);
    }
    return peerText;
}

} // namespace sb
