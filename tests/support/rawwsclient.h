#pragma once

// A minimal WebSocket client written against RFC 6455 on a plain QTcpSocket,
// for what QWebSocket cannot do in a test: see the exact close code (Qt's
// client reports 1012 and 1013 as 1002, treating them as reserved), stop
// reading on purpose (slow consumer), or never answer pings (dead peer).

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QTcpSocket>

namespace sbtest {

// What a server sent over a WebSocket, read from raw bytes: its text frames
// (as JSON objects) and its close frame. Shared by the raw clients.
class ServerFrames
{
public:
    // Appends `bytes` and parses every complete frame.
    void feed(const QByteArray &bytes);

    const QList<QJsonObject> &texts() const { return m_texts; }
    int closeCode() const { return m_closeCode; } // -1: none received
    QString closeReason() const { return m_closeReason; }
    int textsAfterClose() const { return m_textsAfterClose; } // must stay 0

private:
    QByteArray m_buffer;
    QList<QJsonObject> m_texts;
    int m_closeCode = -1;
    QString m_closeReason;
    int m_textsAfterClose = 0;
};

class RawWsClient
{
public:
    // Connects, sends the upgrade for /ws?token=…, waits for the 101.
    bool open(quint16 port, const QString &token, const QByteArray &extraHeaders = {});
    void sendText(const QByteArray &utf8);
    void sendJson(const QJsonObject &frame);
    // A frame as a client sends it (masked, RFC 6455 5.3); `fin` false starts a fragmented message.
    static QByteArray clientFrame(int opcode, const QByteArray &payload, bool fin = true);
    // Writes bytes as they are (a frame header alone, part of a payload, garbage).
    void sendBytes(const QByteArray &bytes);
    // Answers or starts the closing handshake with a close frame of `code`.
    void sendClose(int code, const QByteArray &reason = {});
    // Ends the TCP connection with a reset (SO_LINGER 0), as a crashed peer or a
    // killed browser tab does, whatever is still unsent or unread.
    void resetConnection();
    // Reads whatever arrived and parses complete frames; answers nothing.
    void poll();
    // Waits (polling) until the server's close frame or the TCP close.
    bool waitClosed(int timeoutMs);
    QList<QJsonObject> textFrames() const { return m_frames.texts(); }
    int closeCode() const { return m_frames.closeCode(); } // -1: none received
    // Text frames that arrived after the server's close frame (there must be none).
    int textsAfterClose() const { return m_frames.textsAfterClose(); }
    QString closeReason() const { return m_frames.closeReason(); }
    QTcpSocket &socket() { return m_socket; }

private:
    QTcpSocket m_socket;
    QByteArray m_buffer; // the response head until the 101
    ServerFrames m_frames;
};

} // namespace sbtest
