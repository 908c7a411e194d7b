#include "closehandshake.h"

#include "http/closingtimeout.h"

#include <QLoggingCategory>
#include <QTcpSocket>
#include <QWebSocket>
#include <QWebSocketProtocol>

#include <functional>
#include <utility>

Q_LOGGING_CATEGORY(lcClose, "sb.ws.close")

namespace sb {

namespace {

// QWebSocket parses frames in a private child object; its errorEncountered()
// signal is what makes QWebSocket close on a protocol error.
const char *const ErrorSignal = SIGNAL(errorEncountered(QWebSocketProtocol::CloseCode,QString));

QObject *frameProcessor(QWebSocket *socket)
{
    const auto children = socket->findChildren<QObject *>(QString(), Qt::FindDirectChildrenOnly);
    for (QObject *child : children) {
        if (qstrcmp(child->metaObject()->className(), "QWebSocketDataProcessor") == 0)
            return child;
    }
    return nullptr;
}

int handshakesInProgress = 0;

} // namespace

// Receives errorEncountered() from the frame processor (a string connection:
// the processor's class is private to Qt).
class ProtocolErrorRelay final : public QObject
{
    Q_OBJECT
public:
    ProtocolErrorRelay(std::function<void(int)> onError, QObject *parent)
        : QObject(parent)
        , m_onError(std::move(onError))
    {
    }

public Q_SLOTS:
    void relay(QWebSocketProtocol::CloseCode code, const QString &description)
    {
        qCInfo(lcClose).noquote() << "protocol error from peer:" << description;
        m_onError(static_cast<int>(code));
    }

private:
    std::function<void(int)> m_onError;
};

void CloseHandshake::interceptProtocolErrors(QWebSocket *socket, QObject *context, std::function<void(int)> onError)
{
    QObject *processor = frameProcessor(socket);
    if (!processor) {
        qCWarning(lcClose) << "QWebSocket's frame processor not found; protocol errors close without a handshake";
        return;
    }
    QObject::disconnect(processor, ErrorSignal, socket, nullptr);
    auto *relay = new ProtocolErrorRelay(std::move(onError), context);
    QObject::connect(processor, ErrorSignal, relay, SLOT(relay(QWebSocketProtocol::CloseCode,QString)));
}

QByteArray CloseHandshake::closeFrame(int code, const QString &reason)
{
    QByteArray text = reason.toUtf8();
    if (text.size() > 123) {
        qsizetype cut = 123;
        while (cut > 0 && (static_cast<uchar>(text[cut]) & 0xC0) == 0x80)
            --cut; // never split a UTF-8 sequence
        text.truncate(cut);
    }
    QByteArray frame;
    frame.reserve(4 + text.size());
    frame.append(char(0x88)); // FIN | close
    frame.append(char(2 + text.size()));
    frame.append(char((code >> 8) & 0xFF));
    frame.append(char(code & 0xFF));
    frame.append(text);
    return frame;
}

void CloseHandshake::start(QWebSocket *socket, QTcpSocket *tcp, int code, const QString &reason)
{
    if (!tcp || tcp->state() != QAbstractSocket::ConnectedState) {
        socket->close(static_cast<QWebSocketProtocol::CloseCode>(code), reason);
        return;
    }
    // From here on the socket neither parses nor answers anything; what the
    // peer still sends is read by the handshake, and only to find its close.
    QObject::disconnect(tcp, &QIODevice::readyRead, socket, nullptr);
    if (QObject *processor = frameProcessor(socket))
        QObject::disconnect(processor, nullptr, socket, nullptr);
    // QWebSocket reads whole frames, so what is still unread starts at a frame
    // boundary — except after a frame it refused on its header (1009, 1002):
    // then the rest of that frame is still on its way.
    const bool midFrame = code == QWebSocketProtocol::CloseCodeTooMuchData
                          || code == QWebSocketProtocol::CloseCodeProtocolError;
    auto *handshake = new CloseHandshake(tcp, /*inSync=*/!midFrame);
    tcp->write(closeFrame(code, reason));
    connect(tcp, &QIODevice::readyRead, handshake, &CloseHandshake::consume);
    if (tcp->bytesAvailable() > 0)
        handshake->consume();
}

CloseHandshake::CloseHandshake(QTcpSocket *tcp, bool inSync)
    : QObject(tcp)
    , m_tcp(tcp)
    , m_inSync(inSync)
{
    m_timeout.setSingleShot(true);
    connect(&m_timeout, &QTimer::timeout, this, &CloseHandshake::finish);
    m_timeout.start(TimeoutMs);
    ++handshakesInProgress;
}

CloseHandshake::~CloseHandshake()
{
    if (!m_finishing)
        --handshakesInProgress;
}

int CloseHandshake::inProgress()
{
    return handshakesInProgress;
}

void CloseHandshake::consume()
{
    m_buffer += m_tcp->readAll();
    if (m_peerClosed) {
        m_buffer.clear(); // finish() is on its way
        return;
    }
    while (m_inSync) {
        if (m_skip > 0) {
            // Payloads are skipped, never kept: the peer cannot make us buffer.
            const qsizetype n = static_cast<qsizetype>(qMin<quint64>(m_skip, static_cast<quint64>(m_buffer.size())));
            m_buffer.remove(0, n);
            m_skip -= static_cast<quint64>(n);
            if (m_skip > 0)
                return;
        }
        const auto size = m_buffer.size();
        if (size < 2)
            return;
        const auto b0 = static_cast<uchar>(m_buffer[0]);
        const auto b1 = static_cast<uchar>(m_buffer[1]);
        const int opcode = b0 & 0x0F;
        const bool knownOpcode = opcode <= 2 || (opcode >= 8 && opcode <= 10);
        if ((b0 & 0x70) != 0 || !knownOpcode || (b1 & 0x80) == 0) {
            m_inSync = false; // not a client frame: look for the close at the end (below)
            break;
        }
        qsizetype header = 2;
        quint64 length = b1 & 0x7F;
        if (length == 126 || length == 127) {
            const int extra = length == 126 ? 2 : 8;
            if (size < 2 + extra)
                return;
            length = 0;
            for (int i = 0; i < extra; ++i)
                length = (length << 8) | static_cast<uchar>(m_buffer[2 + i]);
            header += extra;
        }
        header += 4; // masking key
        if (opcode == 8)
            return peerClosed();
        if (size < header)
            return;
        m_buffer.remove(0, header);
        m_skip = length;
    }
    // Lost track of the frames: the peer's close is the last thing it sends,
    // so look for one at the very end of what arrived.
    if (endsWithClientClose(m_buffer))
        return peerClosed();
    if (m_buffer.size() > MaxCloseFrame)
        m_buffer.remove(0, m_buffer.size() - MaxCloseFrame);
}

void CloseHandshake::peerClosed()
{
    // The handshake is complete; close from a turn of our own.
    m_peerClosed = true;
    m_buffer.clear();
    QTimer::singleShot(0, this, &CloseHandshake::finish);
}

bool CloseHandshake::endsWithClientClose(const QByteArray &data)
{
    // A client close frame: 0x88, 0x80|n (n <= 125), 4 mask bytes, n payload bytes.
    for (qsizetype n = 0; n <= 125; ++n) {
        const qsizetype start = data.size() - 6 - n;
        if (start < 0)
            return false;
        if (static_cast<uchar>(data[start]) != 0x88 || static_cast<uchar>(data[start + 1]) != (0x80 | n))
            continue;
        if (n == 1)
            continue; // a close payload is empty or starts with a 2-byte code
        if (n >= 2) {
            const int code = ((static_cast<uchar>(data[start + 6]) ^ static_cast<uchar>(data[start + 2])) << 8)
                             | (static_cast<uchar>(data[start + 7]) ^ static_cast<uchar>(data[start + 3]));
            if (code < 1000 || code >= 5000)
                continue;
        }
        return true;
    }
    return false;
}

void CloseHandshake::finish()
{
    if (std::exchange(m_finishing, true))
        return;
    --handshakesInProgress;
    m_timeout.stop();
    disconnect(m_tcp, &QIODevice::readyRead, this, nullptr);
    m_tcp->readAll();
    // Sends what is still queued, then FIN. A peer that reads nothing at all
    // does not get to hold the socket: abort after one more timeout.
    m_tcp->disconnectFromHost();
    if (m_tcp->state() != QAbstractSocket::UnconnectedState)
        abortIfOpenAfter(m_tcp, TimeoutMs);
}

} // namespace sb

#include "closehandshake.moc"
