#pragma once

// TcpConnection: a non-blocking TCP client socket driven by a Poller. It
// connects, writes at once (keeping what the kernel did not take until the
// socket is writable again), and hands each read to the subclass. The subclass
// speaks the protocol (WsClient, TokenRequest). Used on one worker thread.

#include "poller.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHostAddress>
#include <QString>

namespace sbbench {

class TcpConnection : public Poller::Handler
{
    Q_DISABLE_COPY_MOVE(TcpConnection)
public:
    explicit TcpConnection(Poller &poller);
    ~TcpConnection() override;

    // Starts connecting; onConnected() or onDisconnected() follows.
    void connectTo(const QHostAddress &address, quint16 port);
    void write(QByteArrayView bytes);
    // Closes the socket without calling onDisconnected().
    void closeSocket();
    bool isConnected() const { return m_fd >= 0 && !m_connecting; }

protected:
    virtual void onConnected() = 0;
    // `data` is only valid during the call; `receivedNs` is when it was read.
    virtual void onData(const char *data, qsizetype size, qint64 receivedNs) = 0;
    // The connection failed or ended; the socket is already closed.
    virtual void onDisconnected(const QString &reason) = 0;

private:
    void onEvents(quint32 events) override;
    void flush();
    void drop(const QString &reason);
    void watch();

    Poller &m_poller;
    int m_fd = -1;
    bool m_connecting = false;
    QByteArray m_pending; // written but not yet accepted by the kernel
};

} // namespace sbbench
