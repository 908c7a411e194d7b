#pragma once

// WsClient: a minimal RFC 6455 client for the load generator. It does the
// upgrade handshake, sends masked text frames, answers pings and closes, and
// hands each received text message to a callback as raw UTF-8 bytes — parsed
// in place from the read buffer, never copied into a QString or parsed as
// JSON — so a thousand of them cost less CPU than the server they measure.
// Owned by a BenchClient, on its worker thread.

#include "tcpconnection.h"

#include <functional>

namespace sbbench {

class WsClient final : public TcpConnection
{
    Q_DISABLE_COPY_MOVE(WsClient)
public:
    struct Handlers
    {
        std::function<void()> opened;
        // One complete text message; `receivedNs` is when its bytes were read.
        std::function<void(QByteArrayView text, qint64 receivedNs)> text;
        // Called once, when the connection is gone or could not be opened.
        std::function<void(const QString &reason)> closed;
    };

    WsClient(Poller &poller, Handlers handlers);

    // `target` is the request target of the upgrade, e.g. "/ws?token=…".
    void open(const QHostAddress &address, quint16 port, const QByteArray &hostHeader, const QByteArray &target);
    void sendText(QByteArrayView utf8);
    void close();
    bool isOpen() const { return m_state == State::Open; }

private:
    enum class State { Idle, Connecting, Handshake, Open, Closed };

    void onConnected() override;
    void onData(const char *data, qsizetype size, qint64 receivedNs) override;
    void onDisconnected(const QString &reason) override;

    bool readHandshake();
    // Handles every complete frame in `bytes`; returns how many bytes were used.
    qsizetype readFrames(QByteArrayView bytes, qint64 receivedNs);
    void sendFrame(quint8 opcode, QByteArrayView payload);
    void finish(const QString &reason);

    Handlers m_handlers;
    State m_state = State::Idle;
    QByteArray m_request;
    QByteArray m_key;
    QByteArray m_input;     // the start of a frame (or handshake) that is not complete yet
    QByteArray m_fragments; // a text message split over continuation frames
    QByteArray m_frame;     // reused for outgoing frames
    quint32 m_maskState;
};

} // namespace sbbench
