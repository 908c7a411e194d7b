#include "tokenrequest.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace sbbench {

TokenRequest::TokenRequest(Poller &poller, Done done)
    : TcpConnection(poller)
    , m_done(std::move(done))
{
}

void TokenRequest::start(const QHostAddress &address, quint16 port, const QByteArray &hostHeader,
                         const QByteArray &body)
{
    m_request = "POST /api/token HTTP/1.1\r\nHost: " + hostHeader
                + "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size())
                + "\r\nConnection: close\r\n\r\n" + body;
    connectTo(address, port);
}

void TokenRequest::onConnected()
{
    write(m_request);
}

void TokenRequest::onData(const char *data, qsizetype size, qint64)
{
    m_answer.append(data, size);
}

void TokenRequest::onDisconnected(const QString &reason)
{
    const qsizetype bodyAt = m_answer.indexOf("\r\n\r\n");
    QByteArray token;
    QString error;
    if (m_answer.isEmpty()) {
        error = QStringLiteral("token request failed: ") + reason;
    } else if (!m_answer.startsWith("HTTP/1.1 200") || bodyAt < 0) {
        error = QStringLiteral("token request refused: ") + QString::fromUtf8(m_answer.left(m_answer.indexOf('\r')));
    } else {
        token = QJsonDocument::fromJson(m_answer.mid(bodyAt + 4))
                    .object()
                    .value(QLatin1StringView("token"))
                    .toString()
                    .toUtf8();
        if (token.isEmpty())
            error = QStringLiteral("token answer has no token");
    }
    // `done` may destroy this request: call it last, from a local copy.
    const Done done = std::move(m_done);
    done(token, error);
}

} // namespace sbbench
