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

class RawWsClient
{
public:
    // Connects, sends the upgrade for /ws?token=…, waits for the 101.
    bool open(quint16 port, const QString &token, const QByteArray &extraHeaders = {});
    void sendText(const QByteArray &utf8);
    void sendJson(const QJsonObject &frame);
    // Reads whatever arrived and parses complete frames; answers nothing.
    void poll();
    // Waits (polling) until the server's close frame or the TCP close.
    bool waitClosed(int timeoutMs);
    QList<QJsonObject> textFrames() const { return m_texts; }
    int closeCode() const { return m_closeCode; } // -1: none received
    QString closeReason() const { return m_closeReason; }
    QTcpSocket &socket() { return m_socket; }

private:
    QTcpSocket m_socket;
    QByteArray m_buffer;
    QList<QJsonObject> m_texts;
    int m_closeCode = -1;
    QString m_closeReason;
};

} // namespace sbtest
