#include "session.h"

#include "closehandshake.h"
#include "codec.h"
#include "config.h"
#include "metrics/metrics.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QLoggingCategory>
#include <QTimer>

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

Q_LOGGING_CATEGORY(lcWs, "sb.ws")

namespace sb {

namespace {
// Sessions sent to since the last flush (queueFlush); an entry is null once
// its session is gone. Sessions live on the main thread only.
std::vector<Session *> s_unflushed;

void deleteSocketLater(QWebSocket *socket)
{
    if (socket)
        socket->deleteLater();
}
} // namespace

Session::Session(QWebSocket *socket, QTcpSocket *tcp, SessionInfo info, const Config &config, Metrics *metrics,
                 QObject *parent)
    : QObject(parent)
    , m_socket(socket, &deleteSocketLater)
    , m_tcp(tcp)
    , m_info(std::move(info))
    , m_metrics(metrics)
    , m_maxQueue(config.maxQueue)
    , m_rate(config.msgRate)
    , m_tokens(2.0 * config.msgRate)
{
    socket->setParent(nullptr);
    socket->setMaxAllowedIncomingMessageSize(static_cast<quint64>(config.maxFrame));
    socket->setMaxAllowedIncomingFrameSize(static_cast<quint64>(config.maxFrame));
    socket->setOutgoingFrameSize(static_cast<quint64>(qMax<qint64>(config.maxFrame, 1 << 20)));
    m_tokenClock.start();
    m_sinceAlive.start();

    connect(socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
        ++m_framesIn;
        m_bytesIn += static_cast<quint64>(text.size());
        m_metrics->bytesIn->inc({}, static_cast<double>(text.size()));
        m_sinceAlive.restart();
        if (!m_closing)
            Q_EMIT textReceived(this, text);
    });
    connect(socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &data) {
        ++m_framesIn;
        m_bytesIn += static_cast<quint64>(data.size());
        m_sinceAlive.restart();
        if (!m_closing)
            Q_EMIT binaryReceived(this);
    });
    connect(socket, &QWebSocket::pong, this, [this](quint64, const QByteArray &) { m_sinceAlive.restart(); });
    connect(socket, &QWebSocket::disconnected, this, &Session::onDisconnected);
    // Too large, bad UTF-8, bad framing: closed by us, with the handshake.
    CloseHandshake::interceptProtocolErrors(socket, this, [this](int code) {
        close(code, code == QWebSocketProtocol::CloseCodeTooMuchData ? QStringLiteral("message too large")
                                                                    : QStringLiteral("protocol error"));
    });
}

Session::~Session()
{
    if (m_flushQueued)
        std::replace(s_unflushed.begin(), s_unflushed.end(), this, static_cast<Session *>(nullptr));
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
    }
}

void Session::onDisconnected()
{
    if (m_closing)
        return;
    m_closing = true;
    // Only a close the peer started gets here (ours hands the socket over to
    // the handshake): the peer's code (Qt reports 1000 when it sent none).
    m_closeCode = m_socket->closeCode();
    // A write error inside send() can get here synchronously.
    emitClosedLater();
}

void Session::emitClosedLater()
{
    // In a turn of its own: see closed().
    QMetaObject::invokeMethod(this, [this] { Q_EMIT closed(this); }, Qt::QueuedConnection);
}

void Session::queueFlush()
{
    if (m_flushQueued)
        return;
    m_flushQueued = true;
    if (s_unflushed.empty())
        QMetaObject::invokeMethod(QCoreApplication::instance(), &Session::flushQueued, Qt::QueuedConnection);
    s_unflushed.push_back(this);
}

void Session::flushQueued()
{
    // By index: a flush may end a connection, and sessions sent to meanwhile
    // are appended and flushed in this same pass.
    for (std::size_t i = 0; i < s_unflushed.size(); ++i) {
        Session *session = std::exchange(s_unflushed[i], nullptr);
        if (!session)
            continue;
        session->m_flushQueued = false;
        session->flushPending();
    }
    s_unflushed.clear();
}

bool Session::isBacklogged()
{
    if (m_socket->bytesToWrite() <= m_maxQueue)
        return false;
    m_socket->flush();
    return m_socket->bytesToWrite() > m_maxQueue;
}

void Session::flushPending()
{
    const QList<QByteArray> frames = std::exchange(m_pending, QList<QByteArray>());
    // Like QWebSocket: nothing once a close frame went either way.
    if (frames.isEmpty() || !m_socket || !m_tcp || m_socket->state() != QAbstractSocket::ConnectedState)
        return;
    // Straight to the kernel in one sendmsg(2) while Qt holds nothing older
    // for this socket. What the kernel does not take (or everything, behind
    // older bytes) goes to Qt's write buffer, which its write notifier drains;
    // an error leaves the bytes to Qt too, which then reports it.
    qsizetype done = 0; // frames written whole
    qsizetype partly = 0; // bytes written of frames[done]
    if (m_tcp->bytesToWrite() == 0) {
        std::array<iovec, 64> iov;
        while (done < frames.size() && partly == 0) {
            const qsizetype count = std::min<qsizetype>(qsizetype(iov.size()), frames.size() - done);
            for (qsizetype i = 0; i < count; ++i) {
                const QByteArray &frame = frames[done + i];
                iov[std::size_t(i)] = {const_cast<char *>(frame.constData()), std::size_t(frame.size())};
            }
            msghdr message{};
            message.msg_iov = iov.data();
            message.msg_iovlen = std::size_t(count);
            ssize_t n = ::sendmsg(int(m_tcp->socketDescriptor()), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n <= 0)
                break;
            for (; n > 0; ++done) {
                if (n < frames[done].size()) {
                    partly = n;
                    break;
                }
                n -= frames[done].size();
            }
        }
    }
    for (qsizetype i = done; i < frames.size(); ++i) {
        const qsizetype skip = i == done ? partly : 0;
        m_tcp->write(frames[i].constData() + skip, frames[i].size() - skip);
    }
}

void Session::closeSlowConsumer(qint64 backlog)
{
    qCWarning(lcWs).noquote() << "session" << m_info.sessionId << "is a slow consumer:" << backlog
                              << "bytes unsent; closing with 1013";
    m_metrics->slowConsumerDisconnects->inc();
    // The close frame queues behind what the peer does not read; the
    // handshake's timeout then drops the connection rather than hold the memory.
    close(CloseCode::TryAgainLater, QStringLiteral("slow consumer"));
}

void Session::checkBacklog()
{
    if (m_closing || !m_socket)
        return;
    if (isBacklogged())
        closeSlowConsumer(m_socket->bytesToWrite());
}

bool Session::send(const TextFrame &frame)
{
    if (m_closing || !m_socket)
        return false;
    // The rule looks at what the peer left unread before this turn of the
    // event loop: what is queued in this turn has not been offered to the
    // kernel yet. When the backlog looks too big, the socket is flushed and
    // asked again.
    if (!m_flushQueued && isBacklogged()) {
        closeSlowConsumer(m_socket->bytesToWrite());
        return false;
    }
    // QWebSocket takes a QString and converts it to UTF-8 for every socket; a
    // fan-out has its frame encoded once. The frames of one turn leave
    // together (flushPending); QWebSocket's own frames (pongs, pings) are
    // whole and may go between them.
    m_pending.append(frame.wire());
    queueFlush();
    ++m_framesOut;
    m_bytesOut += static_cast<quint64>(frame.payloadSize());
    m_metrics->framesOut->inc();
    m_metrics->bytesOut->inc({}, static_cast<double>(frame.payloadSize()));
    return true;
}

void Session::sendFrame(const QJsonObject &frame)
{
    send(TextFrame(encode(frame)));
}

void Session::close(int code, const QString &reason)
{
    if (m_closing || !m_socket)
        return;
    flushPending(); // what was sent before the close frame goes before it
    m_closing = true;
    m_closeCode = code;
    // The handshake outlives the session: the session leaves its rooms and
    // tables now, the connection goes when the peer answered (or the timeout).
    QWebSocket *socket = m_socket.release();
    socket->disconnect(this);
    connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
    if (m_tcp)
        connect(m_tcp, &QObject::destroyed, socket, &QObject::deleteLater);
    CloseHandshake::start(socket, m_tcp, code, reason);
    emitClosedLater();
}

bool Session::takeRateToken()
{
    if (m_rate <= 0)
        return true;
    const double elapsedS = static_cast<double>(m_tokenClock.restart()) / 1000.0;
    m_tokens = qMin(2.0 * m_rate, m_tokens + elapsedS * m_rate);
    if (m_tokens < 1.0)
        return false;
    m_tokens -= 1.0;
    return true;
}

bool Session::countError()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    m_errorTimes.removeIf([now](qint64 t) { return t <= now - Limits::ErrorWindowMs; });
    m_errorTimes.append(now);
    return m_errorTimes.size() >= Limits::ErrorsBeforeClose;
}

qint64 Session::queueBytes() const
{
    qint64 pending = 0;
    for (const QByteArray &frame : m_pending)
        pending += frame.size();
    return m_socket ? m_socket->bytesToWrite() + pending : 0;
}

bool Session::heartbeat(qint64 intervalMs, bool judge)
{
    if (m_closing || !m_socket)
        return true;
    // Alive means a pong or any frame within the last two intervals.
    if (judge && m_sinceAlive.elapsed() > 2 * intervalMs)
        return false;
    if (!m_sincePing.isValid() || m_sincePing.elapsed() >= intervalMs - intervalMs / 4) {
        m_socket->ping();
        m_sincePing.restart();
    }
    return true;
}

void Session::reply(const QString &ref, QJsonObject fields)
{
    sendFrame(makeAck(ref, std::move(fields)));
}

void Session::reply(const QString &ref, QJsonObject fields, QLatin1StringView key, const QByteArray &json)
{
    send(TextFrame(encodeWith(makeAck(ref, std::move(fields)), key, json)));
}

void Session::fail(const QString &ref, ErrorCode code, const QString &message)
{
    m_metrics->errors->inc({QString(name(code))});
    sendFrame(makeError(ref, code, message));
    // Only what the client caused counts toward 1008: an outage of a
    // dependency must not disconnect well-behaved clients.
    const bool clientsFault = code != ErrorCode::BackplaneUnavailable && code != ErrorCode::StoreUnavailable
                              && code != ErrorCode::Internal;
    if (clientsFault && countError()) {
        qCInfo(lcWs).noquote() << "session" << id() << "sent too many bad frames; closing with 1008";
        close(CloseCode::PolicyViolation, QStringLiteral("too many errors"));
    }
}

ConnectionInfo Session::connection() const
{
    ConnectionInfo conn = m_info;
    conn.rooms = m_rooms.values();
    conn.framesIn = static_cast<qint64>(m_framesIn);
    conn.framesOut = static_cast<qint64>(m_framesOut);
    conn.queueBytes = queueBytes();
    return conn;
}

} // namespace sb
