#include "statshistory.h"

namespace sb::console {

StatsHistory::StatsHistory(int windowSeconds, QObject *parent)
    : QObject(parent)
    , m_window(windowSeconds)
{
}

void StatsHistory::add(const InstanceStats &stats)
{
    if (stats.instance.isEmpty())
        return;
    auto it = m_buffers.find(stats.instance);
    if (it == m_buffers.end()) {
        it = m_buffers.insert(stats.instance, Buffers{RingBuffer<QPointF>(m_window), RingBuffer<QPointF>(m_window),
                                                      RingBuffer<QPointF>(m_window)});
        m_order.append(stats.instance);
    }
    const double x = static_cast<double>(stats.timestamp);
    it->connections.append(QPointF(x, stats.connections));
    it->framesIn.append(QPointF(x, stats.framesInPerS));
    it->framesOut.append(QPointF(x, stats.framesOutPerS));
    m_latest = qMax(m_latest, stats.timestamp);
    Q_EMIT changed();
}

void StatsHistory::setColor(const QString &instance, const QColor &color)
{
    m_colors.insert(instance, color);
}

void StatsHistory::removeInstance(const QString &instance)
{
    m_buffers.remove(instance);
    m_order.removeAll(instance);
    Q_EMIT changed();
}

QList<QPointF> StatsHistory::points(const QString &instance, Series series) const
{
    const auto it = m_buffers.constFind(instance);
    if (it == m_buffers.cend())
        return {};
    switch (series) {
    case Series::Connections: return it->connections.toList();
    case Series::FramesIn: return it->framesIn.toList();
    case Series::FramesOut: return it->framesOut.toList();
    }
    return {};
}

} // namespace sb::console
