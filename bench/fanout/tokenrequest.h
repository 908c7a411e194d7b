#pragma once

// TokenRequest: one `POST /api/token` (docs/protocol.md section 2) on its own
// TCP connection, for the switchboard protocol. The server answers with
// `Connection: close`, so the whole answer is there when the peer closes.
// Owned by the BenchClient that asked, on its worker thread.

#include "tcpconnection.h"

#include <functional>

namespace sbbench {

class TokenRequest final : public TcpConnection
{
    Q_DISABLE_COPY_MOVE(TokenRequest)
public:
    // `done(token, error)`: token empty on failure, with the reason in `error`.
    using Done = std::function<void(const QByteArray &token, const QString &error)>;

    TokenRequest(Poller &poller, Done done);
    void start(const QHostAddress &address, quint16 port, const QByteArray &hostHeader, const QByteArray &body);

private:
    void onConnected() override;
    void onData(const char *data, qsizetype size, qint64 receivedNs) override;
    void onDisconnected(const QString &reason) override;

    Done m_done;
    QByteArray m_request;
    QByteArray m_answer;
};

} // namespace sbbench
