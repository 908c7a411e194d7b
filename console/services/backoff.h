#pragma once

// Reconnect delays: exponential (about 1, 2, 4, 8, 16 s, then capped) with
// +/-20 % jitter so that many clients dropped at once do not come back in
// step. A plain value type owned by each client service.

#include <QtGlobal>

namespace sb::console {

class Backoff final
{
public:
    explicit Backoff(int firstMs = 1000, int capMs = 30000);

    // The delay before the next attempt; each call doubles the base.
    int next();
    void reset() { m_attempt = 0; }
    int attempts() const { return m_attempt; }

    void setLimits(int firstMs, int capMs);

private:
    int m_firstMs;
    int m_capMs;
    int m_attempt = 0;
};

} // namespace sb::console
