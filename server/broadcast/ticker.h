#pragma once

// Server broadcasts: the cluster's one ticker (the instance holding the
// "ticker" lease sends a random message to every connection every MIN-MAX
// seconds) and the local delivery of broadcast frames. Owned by the Server,
// given a ServiceContext.

#include "backplane/envelope.h"
#include "core/servicecontext.h"

#include <QTimer>

namespace sb {

class Ticker final
{
    Q_DISABLE_COPY_MOVE(Ticker)
public:
    explicit Ticker(const ServiceContext &context);

    void start();
    void setEnabled(bool enabled);
    bool isEnabled() const { return m_enabled; }
    bool holdsLease() const { return m_holder; }
    // An envelope of the "all" channel: a broadcast, or the ticker switched.
    void onEnvelope(const Envelope &envelope);
    // Sends a broadcast frame to every local connection; returns how many.
    int deliver(const Envelope &envelope);

    static constexpr int LeaseTtlMs = 6000;
    static constexpr int LeaseRenewMs = 2000;

private:
    void renewLease();
    void scheduleNext();
    void fire();

    ServiceContext m_ctx;
    QTimer m_leaseTimer;
    QTimer m_fireTimer;
    bool m_enabled;
    bool m_holder = false;
};

} // namespace sb
