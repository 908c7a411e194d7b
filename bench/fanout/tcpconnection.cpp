#include "tcpconnection.h"

#include "clock.h"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sbbench {

namespace {

QString systemError(int error)
{
    return QString::fromLocal8Bit(std::strerror(error));
}

} // namespace

TcpConnection::TcpConnection(Poller &poller)
    : m_poller(poller)
{
}

TcpConnection::~TcpConnection()
{
    closeSocket();
}

void TcpConnection::connectTo(const QHostAddress &address, quint16 port)
{
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (address.protocol() == QAbstractSocket::IPv6Protocol) {
        auto *in6 = reinterpret_cast<sockaddr_in6 *>(&storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        const Q_IPV6ADDR bytes = address.toIPv6Address();
        std::memcpy(&in6->sin6_addr, &bytes, sizeof bytes);
        length = sizeof *in6;
    } else {
        auto *in4 = reinterpret_cast<sockaddr_in *>(&storage);
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        in4->sin_addr.s_addr = htonl(address.toIPv4Address());
        length = sizeof *in4;
    }
    m_fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m_fd < 0)
        return drop(QStringLiteral("socket: ") + systemError(errno));
    const int one = 1;
    setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // the send time is in the text: send now
    m_connecting = true;
    if (::connect(m_fd, reinterpret_cast<sockaddr *>(&storage), length) != 0 && errno != EINPROGRESS)
        return drop(QStringLiteral("connect: ") + systemError(errno));
    m_poller.add(m_fd, this, EPOLLOUT);
}

void TcpConnection::watch()
{
    m_poller.modify(m_fd, this, EPOLLIN | (m_pending.isEmpty() ? 0u : quint32(EPOLLOUT)));
}

void TcpConnection::write(QByteArrayView bytes)
{
    if (m_fd < 0 || m_connecting)
        return;
    if (!m_pending.isEmpty()) {
        m_pending.append(bytes);
        return;
    }
    const ssize_t sent = ::send(m_fd, bytes.data(), static_cast<size_t>(bytes.size()), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return drop(QStringLiteral("send: ") + systemError(errno));
    const qsizetype done = qMax<qsizetype>(0, sent);
    if (done < bytes.size()) {
        m_pending = bytes.sliced(done).toByteArray();
        watch();
    }
}

void TcpConnection::flush()
{
    const ssize_t sent = ::send(m_fd, m_pending.constData(), static_cast<size_t>(m_pending.size()), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return drop(QStringLiteral("send: ") + systemError(errno));
    m_pending.remove(0, qMax<qsizetype>(0, sent));
    if (m_pending.isEmpty())
        watch();
}

void TcpConnection::onEvents(quint32 events)
{
    if (m_fd < 0)
        return; // closed earlier in the same batch of events
    if (m_connecting) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(m_fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0)
            return drop(QStringLiteral("connect: ") + systemError(error));
        m_connecting = false;
        watch();
        onConnected();
        return;
    }
    if (events & EPOLLOUT) {
        flush();
        if (m_fd < 0)
            return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        // One buffer per thread: every connection's data is consumed during onData().
        thread_local char buffer[256 * 1024];
        const ssize_t got = ::read(m_fd, buffer, sizeof buffer);
        if (got > 0)
            onData(buffer, got, nowNs());
        else if (got == 0)
            drop(QStringLiteral("the server closed the TCP connection"));
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            drop(QStringLiteral("read: ") + systemError(errno));
    }
}

void TcpConnection::closeSocket()
{
    if (m_fd < 0)
        return;
    m_poller.remove(m_fd);
    ::close(m_fd);
    m_fd = -1;
    m_pending.clear();
}

void TcpConnection::drop(const QString &reason)
{
    closeSocket();
    onDisconnected(reason);
}

} // namespace sbbench
