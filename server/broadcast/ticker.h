#pragma once

// Server broadcasts: the cluster's one ticker (the instance holding the
// "ticker" lease sends a random message to every connection every MIN-MAX
// seconds) and the local delivery of broadcast frames. Owned by the Server.

#include "backplane/envelope.h"

#include <QTimer>

namespace sb {

class Server;

class Ticker final
{
    Q_DISABLE_COPY_MOVE(Ticker)
public:
    explicit Ticker(Server *server);

    void start();
    void setEnabled(bool enabled);
    bool isEnabled() const { return m_enabled; }
    bool holdsLease() const { return m_holder; }
    // Sends a broadcast frame to every local connection; returns how many.
    int deliver(const Envelope &envelope);

    static constexpr int LeaseTtlMs = 6000;
    static constexpr int LeaseRenewMs = 2000;

private:
    void renewLease();
    void scheduleNext();
    void fire();

    Server *m_server;
    QTimer m_leaseTimer;
    QTimer m_fireTimer;
    bool m_enabled;
    bool m_holder = false;
};

} // namespace sb
