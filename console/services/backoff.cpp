#include "backoff.h"

#include <QRandomGenerator>

#include <algorithm>
#include <cmath>

namespace sb::console {

Backoff::Backoff(int firstMs, int capMs)
    : m_firstMs(firstMs)
    , m_capMs(capMs)
{
}

void Backoff::setLimits(int firstMs, int capMs)
{
    m_firstMs = firstMs;
    m_capMs = capMs;
}

int Backoff::next()
{
    const double base = std::min<double>(m_capMs, m_firstMs * std::pow(2.0, std::min(m_attempt, 20)));
    ++m_attempt;
    const double jitter = 0.8 + 0.4 * QRandomGenerator::global()->generateDouble();
    return std::clamp(static_cast<int>(base * jitter), 1, m_capMs);
}

} // namespace sb::console
