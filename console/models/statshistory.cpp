#include "statshistory.h"

#include <algorithm>

namespace sb::console {

namespace {

double percentile(std::vector<qint64> &sorted, double q)
{
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
    return static_cast<double>(sorted[std::min(rank, sorted.size() - 1)]);
}

} // namespace

StatsHistory::StatsHistory(int windowSeconds, QObject *parent)
    : QObject(parent)
    , m_window(windowSeconds)
{
}

RingBuffer<QPointF> &StatsHistory::buffer(const QString &instance, Series series)
{
    auto it = m_buffers.find(instance);
    if (it == m_buffers.end()) {
        it = m_buffers.insert(instance, {});
        m_order.insert(std::lower_bound(m_order.begin(), m_order.end(), instance), instance);
    }
    auto b = it->find(static_cast<int>(series));
    if (b == it->end())
        b = it->insert(static_cast<int>(series), RingBuffer<QPointF>(m_window));
    return *b;
}

void StatsHistory::add(const InstanceStats &stats, bool sharedBackplane)
{
    if (stats.instance.isEmpty())
        return;
    const double x = static_cast<double>(stats.timestamp);
    buffer(stats.instance, Series::Connections).append(QPointF(x, stats.connections));
    buffer(stats.instance, Series::FramesIn).append(QPointF(x, stats.framesInPerS));
    buffer(stats.instance, Series::FramesOut).append(QPointF(x, stats.framesOutPerS));
    if (sharedBackplane)
        buffer(stats.instance, Series::BackplaneRtt).append(QPointF(x, stats.backplaneRttMs));
    m_latest = qMax(m_latest, stats.timestamp);
    Q_EMIT changed();
}

void StatsHistory::addDeliveryLatency(const QString &origin, qint64 latencyMs)
{
    if (!origin.isEmpty())
        m_openLatencies[origin].push_back(std::max<qint64>(0, latencyMs));
}

void StatsHistory::closeDeliverySecond(qint64 timestamp)
{
    if (m_openLatencies.isEmpty())
        return;
    const double x = static_cast<double>(timestamp);
    for (auto it = m_openLatencies.begin(); it != m_openLatencies.end(); ++it) {
        std::vector<qint64> &samples = it.value();
        if (samples.empty())
            continue;
        std::sort(samples.begin(), samples.end());
        buffer(it.key(), Series::DeliveryP50).append(QPointF(x, percentile(samples, 0.50)));
        buffer(it.key(), Series::DeliveryP99).append(QPointF(x, percentile(samples, 0.99)));
    }
    m_openLatencies.clear();
    m_latest = qMax(m_latest, timestamp);
    Q_EMIT changed();
}

void StatsHistory::setColor(const QString &instance, const QColor &color)
{
    m_colors.insert(instance, color);
}

void StatsHistory::removeInstance(const QString &instance)
{
    m_buffers.remove(instance);
    m_openLatencies.remove(instance);
    m_order.removeAll(instance);
    Q_EMIT changed();
}

bool StatsHistory::hasSeries(const QString &instance, Series series) const
{
    const auto it = m_buffers.constFind(instance);
    return it != m_buffers.cend() && it->contains(static_cast<int>(series));
}

QList<QPointF> StatsHistory::points(const QString &instance, Series series) const
{
    const auto it = m_buffers.constFind(instance);
    if (it == m_buffers.cend())
        return {};
    const auto b = it->constFind(static_cast<int>(series));
    return b == it->cend() ? QList<QPointF>{} : b->toList();
}

} // namespace sb::console
