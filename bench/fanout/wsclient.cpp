#include "wsclient.h"

#include <QCryptographicHash>
#include <QRandomGenerator>

namespace sbbench {

namespace {

enum Opcode : quint8 { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

// Servers here never send more than SB_MAX_FRAME (64 KiB); anything this big is a broken stream.
constexpr quint64 kMaxPayload = 16u << 20;

QByteArray acceptFor(const QByteArray &key)
{
    return QCryptographicHash::hash(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", QCryptographicHash::Sha1).toBase64();
}

QByteArray headerValue(const QByteArray &head, const QByteArray &name)
{
    for (const QByteArray &line : head.split('\n')) {
        const qsizetype colon = line.indexOf(':');
        if (colon > 0 && line.left(colon).trimmed().compare(name, Qt::CaseInsensitive) == 0)
            return line.mid(colon + 1).trimmed();
    }
    return {};
}

} // namespace

WsClient::WsClient(Poller &poller, Handlers handlers)
    : TcpConnection(poller)
    , m_handlers(std::move(handlers))
    , m_maskState(QRandomGenerator::global()->generate() | 1u)
{
}

void WsClient::open(const QHostAddress &address, quint16 port, const QByteArray &hostHeader, const QByteArray &target)
{
    QByteArray nonce(16, Qt::Uninitialized);
    for (char &c : nonce)
        c = static_cast<char>(QRandomGenerator::global()->bounded(256));
    m_key = nonce.toBase64();
    m_request = "GET " + target + " HTTP/1.1\r\nHost: " + hostHeader
                + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + m_key
                + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    m_state = State::Connecting;
    connectTo(address, port);
}

void WsClient::onConnected()
{
    m_state = State::Handshake;
    write(m_request);
}

void WsClient::onData(const char *data, qsizetype size, qint64 receivedNs)
{
    if (m_state == State::Handshake) {
        m_input.append(data, size);
        if (!readHandshake())
            return;
        const qsizetype used = readFrames(m_input, receivedNs);
        m_input.remove(0, used);
        return;
    }
    if (m_state != State::Open)
        return;
    if (m_input.isEmpty()) {
        // The usual case: whole frames straight from the read buffer.
        const qsizetype used = readFrames(QByteArrayView(data, size), receivedNs);
        if (used < size && m_state == State::Open)
            m_input.append(data + used, size - used);
        return;
    }
    m_input.append(data, size);
    const qsizetype used = readFrames(m_input, receivedNs);
    m_input.remove(0, used);
}

bool WsClient::readHandshake()
{
    const qsizetype end = m_input.indexOf("\r\n\r\n");
    if (end < 0) {
        if (m_input.size() > 16384)
            finish(QStringLiteral("upgrade answer too long"));
        return false;
    }
    const QByteArray head = m_input.left(end);
    m_input.remove(0, end + 4);
    if (!head.startsWith("HTTP/1.1 101")) {
        finish(QStringLiteral("upgrade refused: ") + QString::fromUtf8(head.left(head.indexOf('\r'))));
        return false;
    }
    if (headerValue(head, "sec-websocket-accept") != acceptFor(m_key)) {
        finish(QStringLiteral("upgrade answer has a wrong Sec-WebSocket-Accept"));
        return false;
    }
    m_state = State::Open;
    if (m_handlers.opened)
        m_handlers.opened();
    return m_state == State::Open;
}

qsizetype WsClient::readFrames(QByteArrayView bytes, qint64 receivedNs)
{
    const auto *data = reinterpret_cast<const uchar *>(bytes.data());
    const qsizetype size = bytes.size();
    qsizetype pos = 0;
    while (m_state == State::Open && size - pos >= 2) {
        const bool fin = data[pos] & 0x80;
        const quint8 opcode = data[pos] & 0x0f;
        const bool masked = data[pos + 1] & 0x80;
        quint64 length = data[pos + 1] & 0x7f;
        qsizetype header = 2;
        if (length == 126) {
            if (size - pos < 4)
                break;
            length = (quint64(data[pos + 2]) << 8) | data[pos + 3];
            header = 4;
        } else if (length == 127) {
            if (size - pos < 10)
                break;
            length = 0;
            for (int i = 0; i < 8; ++i)
                length = (length << 8) | data[pos + 2 + i];
            header = 10;
        }
        if (length > kMaxPayload) {
            finish(QStringLiteral("frame of %1 bytes is too large").arg(length));
            return size;
        }
        const qsizetype maskAt = pos + header;
        if (masked)
            header += 4;
        if (quint64(size - pos - header) < length)
            break;
        QByteArrayView payload = bytes.sliced(pos + header, qsizetype(length));
        QByteArray unmasked;
        if (masked) { // servers must not mask, but be lenient
            unmasked = payload.toByteArray();
            for (qsizetype i = 0; i < unmasked.size(); ++i)
                unmasked[i] = static_cast<char>(unmasked[i] ^ data[maskAt + (i % 4)]);
            payload = unmasked;
        }
        pos += header + qsizetype(length);

        switch (opcode) {
        case Text:
            if (fin)
                m_handlers.text(payload, receivedNs);
            else
                m_fragments = payload.toByteArray();
            break;
        case Continuation:
            m_fragments.append(payload);
            if (fin) {
                m_handlers.text(m_fragments, receivedNs);
                m_fragments.clear();
            }
            break;
        case Ping:
            sendFrame(Pong, payload);
            break;
        case Close: {
            const int code = payload.size() >= 2 ? (quint8(payload[0]) << 8) | quint8(payload[1]) : 1005;
            const QString reason = QString::fromUtf8(payload.size() > 2 ? payload.sliced(2) : QByteArrayView());
            sendFrame(Close, payload.first(qMin<qsizetype>(payload.size(), 2)));
            finish(QStringLiteral("closed by the server with %1 %2").arg(code).arg(reason));
            return size;
        }
        default: // binary, pong
            break;
        }
    }
    return pos;
}

void WsClient::sendText(QByteArrayView utf8)
{
    if (m_state == State::Open)
        sendFrame(Text, utf8);
}

void WsClient::sendFrame(quint8 opcode, QByteArrayView payload)
{
    const qsizetype length = payload.size();
    m_frame.clear();
    m_frame.reserve(length + 14);
    m_frame.append(static_cast<char>(0x80 | opcode));
    if (length < 126) {
        m_frame.append(static_cast<char>(0x80 | length));
    } else if (length < 65536) {
        m_frame.append(static_cast<char>(0x80 | 126));
        m_frame.append(static_cast<char>(length >> 8));
        m_frame.append(static_cast<char>(length & 0xff));
    } else {
        m_frame.append(static_cast<char>(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            m_frame.append(static_cast<char>((quint64(length) >> shift) & 0xff));
    }
    // xorshift32: masks need not be cryptographic for a load generator.
    m_maskState ^= m_maskState << 13;
    m_maskState ^= m_maskState >> 17;
    m_maskState ^= m_maskState << 5;
    char mask[4];
    for (int i = 0; i < 4; ++i)
        mask[i] = static_cast<char>((m_maskState >> (8 * i)) & 0xff);
    m_frame.append(mask, 4);
    for (qsizetype i = 0; i < length; ++i)
        m_frame.append(static_cast<char>(payload[i] ^ mask[i % 4]));
    write(m_frame);
}

void WsClient::close()
{
    if (m_state == State::Open)
        sendFrame(Close, QByteArrayView("\x03\xe8", 2)); // 1000
    m_state = State::Closed;
    closeSocket();
}

void WsClient::onDisconnected(const QString &reason)
{
    finish(reason);
}

void WsClient::finish(const QString &reason)
{
    if (m_state == State::Closed)
        return;
    m_state = State::Closed;
    closeSocket();
    if (m_handlers.closed)
        m_handlers.closed(reason);
}

} // namespace sbbench
