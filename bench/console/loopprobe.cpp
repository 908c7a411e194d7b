#include "loopprobe.h"

#include <algorithm>

#include <sys/resource.h>

namespace sbconsolebench {

LoopProbe::LoopProbe(int intervalMs, QObject *parent)
    : QObject(parent)
    , m_intervalMs(intervalMs)
{
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &LoopProbe::fire);
    m_latenessUs.reserve(100000);
}

void LoopProbe::start()
{
    m_clock.start();
    m_dueNs = m_clock.nsecsElapsed() + qint64(m_intervalMs) * 1000000;
    m_timer.start(m_intervalMs);
}

void LoopProbe::reset()
{
    m_latenessUs.clear();
}

void LoopProbe::fire()
{
    const qint64 now = m_clock.nsecsElapsed();
    m_latenessUs.push_back(std::max<qint64>(0, (now - m_dueNs) / 1000));
    m_dueNs = now + qint64(m_intervalMs) * 1000000;
    m_timer.start(m_intervalMs);
}

Percentiles LoopProbe::lateness() const
{
    Percentiles p;
    if (m_latenessUs.empty())
        return p;
    std::vector<qint64> sorted = m_latenessUs;
    std::sort(sorted.begin(), sorted.end());
    const auto at = [&sorted](double q) {
        const auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1));
        return static_cast<double>(sorted[rank]) / 1000.0;
    };
    p.p50 = at(0.50);
    p.p99 = at(0.99);
    p.max = static_cast<double>(sorted.back()) / 1000.0;
    p.samples = sorted.size();
    return p;
}

double LoopProbe::cpuSeconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval &t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

} // namespace sbconsolebench
