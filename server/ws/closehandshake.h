#pragma once

// The server's side of the WebSocket closing handshake (RFC 6455 section 7,
// contract section 8 "Refusals"). QWebSocket::close() writes the close frame
// and closes the TCP connection at once; when the peer still has frames in
// flight, the kernel answers them with a reset, and the reset makes the peer's
// kernel throw away what the peer had not read yet — the answers and the close
// code. A CloseHandshake takes the connection over from the QWebSocket
// instead: frames already queued go first, then the close frame; it reads and
// discards until the peer's close frame (or end of stream, or the timeout)
// and only then closes the TCP connection. The QWebSocket then reports
// disconnected() as usual.
//
// Made by start(); a child of the QTcpSocket, so it dies with the connection.

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <functional>

class QTcpSocket;
class QWebSocket;

namespace sb {

class CloseHandshake final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CloseHandshake)
public:
    static constexpr int TimeoutMs = 2000;

    // Closes `socket`, whose TCP connection is `tcp`, with `code`. Without
    // `tcp` it falls back to QWebSocket::close().
    static void start(QWebSocket *socket, QTcpSocket *tcp, int code, const QString &reason);

    // Stops `socket` from closing the connection on its own when it finds a
    // protocol error (too large, bad UTF-8, bad framing): `onError(code)` runs
    // instead, so that the close goes through start() too.
    static void interceptProtocolErrors(QWebSocket *socket, QObject *context, std::function<void(int)> onError);

    // Close frame of a server (unmasked): code and at most 123 bytes of reason.
    static QByteArray closeFrame(int code, const QString &reason);

    // Handshakes still waiting for their peer (a process about to exit gives
    // them up to TimeoutMs).
    static int inProgress();

private:
    CloseHandshake(QTcpSocket *tcp, bool inSync);
    ~CloseHandshake() override;

    void consume();
    void peerClosed();
    static bool endsWithClientClose(const QByteArray &data);
    static constexpr qsizetype MaxCloseFrame = 2 + 4 + 125;
    void finish();

    QTcpSocket *m_tcp;
    QByteArray m_buffer; // in sync: at most one frame header; else the last MaxCloseFrame bytes
    quint64 m_skip = 0;  // payload bytes still to discard
    bool m_inSync;       // m_buffer starts at a frame boundary
    bool m_peerClosed = false;
    bool m_finishing = false;
    QTimer m_timeout;
};

} // namespace sb
