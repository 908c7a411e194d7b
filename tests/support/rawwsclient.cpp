#include "rawwsclient.h"

#include "codec.h"

#include <QDeadlineTimer>
#include <QRandomGenerator>
#include <QTest>
#include <QtEndian>

#include <sys/socket.h>

namespace sbtest {

bool RawWsClient::open(quint16 port, const QString &token, const QByteArray &extraHeaders)
{
    m_socket.connectToHost(QHostAddress::LocalHost, port);
    if (!m_socket.waitForConnected(3000))
        return false;
    QByteArray nonce(16, Qt::Uninitialized);
    for (char &c : nonce)
        c = static_cast<char>(QRandomGenerator::global()->bounded(256));
    const QByteArray key = nonce.toBase64();
    m_socket.write("GET /ws?token=" + QUrl::toPercentEncoding(token) + " HTTP/1.1\r\nHost: 127.0.0.1:"
                   + QByteArray::number(port) + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
                   + "\r\nSec-WebSocket-Version: 13\r\n" + extraHeaders + "\r\n");
    QDeadlineTimer deadline(5000);
    while (!deadline.hasExpired()) {
        m_buffer += m_socket.readAll();
        const qsizetype end = m_buffer.indexOf("\r\n\r\n");
        if (end >= 0) {
            const bool upgraded = m_buffer.startsWith("HTTP/1.1 101");
            m_frames.feed(m_buffer.mid(end + 4)); // frames right behind the 101
            m_buffer.clear();
            return upgraded;
        }
        if (m_socket.state() != QAbstractSocket::ConnectedState)
            return false;
        QTest::qWait(5);
    }
    return false;
}

QByteArray RawWsClient::clientFrame(int opcode, const QByteArray &payload, bool fin)
{
    // Client frames are masked (RFC 6455 5.3).
    QByteArray frame;
    frame.append(char((fin ? 0x80 : 0x00) | (opcode & 0x0f)));
    const qsizetype n = payload.size();
    if (n < 126) {
        frame.append(char(0x80 | n));
    } else if (n < 65536) {
        frame.append(char(0x80 | 126));
        frame.append(char((n >> 8) & 0xff)).append(char(n & 0xff));
    } else {
        frame.append(char(0x80 | 127));
        for (int i = 7; i >= 0; --i)
            frame.append(char((quint64(n) >> (8 * i)) & 0xff));
    }
    const quint32 mask = QRandomGenerator::global()->generate();
    char maskBytes[4];
    qToBigEndian(mask, maskBytes);
    frame.append(maskBytes, 4);
    for (qsizetype i = 0; i < n; ++i)
        frame.append(char(payload[i] ^ maskBytes[i % 4]));
    return frame;
}

void RawWsClient::sendText(const QByteArray &utf8)
{
    sendBytes(clientFrame(0x1, utf8));
}

void RawWsClient::sendBytes(const QByteArray &bytes)
{
    m_socket.write(bytes);
    m_socket.flush();
}

void RawWsClient::sendClose(int code, const QByteArray &reason)
{
    QByteArray payload;
    payload.append(char((code >> 8) & 0xff)).append(char(code & 0xff)).append(reason);
    sendBytes(clientFrame(0x8, payload));
}

void RawWsClient::resetConnection()
{
    const qintptr fd = m_socket.socketDescriptor();
    if (fd >= 0) {
        const linger hard{1, 0};
        ::setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    m_socket.abort();
}

void RawWsClient::sendJson(const QJsonObject &frame)
{
    sendText(sb::encode(frame));
}

void RawWsClient::poll()
{
    m_frames.feed(m_socket.readAll());
}

void ServerFrames::feed(const QByteArray &bytes)
{
    m_buffer += bytes;
    for (;;) {
        if (m_buffer.size() < 2)
            return;
        const auto b0 = static_cast<quint8>(m_buffer[0]);
        const auto b1 = static_cast<quint8>(m_buffer[1]);
        quint64 length = b1 & 0x7f;
        qsizetype header = 2;
        if (length == 126) {
            if (m_buffer.size() < 4)
                return;
            length = qFromBigEndian<quint16>(m_buffer.constData() + 2);
            header = 4;
        } else if (length == 127) {
            if (m_buffer.size() < 10)
                return;
            length = qFromBigEndian<quint64>(m_buffer.constData() + 2);
            header = 10;
        }
        if (static_cast<quint64>(m_buffer.size()) < header + length)
            return;
        const QByteArray payload = m_buffer.mid(header, static_cast<qsizetype>(length));
        m_buffer.remove(0, header + static_cast<qsizetype>(length));
        const int opcode = b0 & 0x0f;
        if (opcode == 0x1) {
            if (m_closeCode >= 0)
                ++m_textsAfterClose;
            if (auto object = sb::decodeObject(payload))
                m_texts.append(*object);
        } else if (opcode == 0x8) {
            m_closeCode = payload.size() >= 2 ? qFromBigEndian<quint16>(payload.constData()) : 1005;
            m_closeReason = QString::fromUtf8(payload.mid(2));
        }
    }
}

bool RawWsClient::waitClosed(int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        poll();
        if (m_frames.closeCode() >= 0 || m_socket.state() != QAbstractSocket::ConnectedState)
            return true;
        QTest::qWait(5);
    }
    return false;
}

} // namespace sbtest
