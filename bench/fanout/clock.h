#pragma once

// One monotonic clock for the whole load generator. Every thread reads the
// same steady clock, so a send time taken on one thread and a receive time
// taken on another subtract to a true latency.

#include <QtGlobal>

#include <chrono>

namespace sbbench {

inline qint64 nowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

} // namespace sbbench
