#pragma once

// The charts' data: per instance, one ring buffer per series of the last
// `windowSeconds` one-second samples: connections and frames in/out per
// second and the backplane round trip (from admin.stats), and the delivery
// latency p50/p99 of the envelopes it published (measured by the Redis
// monitor, closed once a second). A series exists only once it has data, so
// an instance on the local backplane has no round-trip line. Read by the
// charts panel. Owned by OperatorSession.

#include "ringbuffer.h"
#include "services/operatortypes.h"

#include <QColor>
#include <QHash>
#include <QList>
#include <QObject>
#include <QPointF>
#include <QStringList>

#include <vector>

namespace sb::console {

class StatsHistory final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StatsHistory)
public:
    enum class Series { Connections, FramesIn, FramesOut, BackplaneRtt, DeliveryP50, DeliveryP99 };

    explicit StatsHistory(int windowSeconds = 120, QObject *parent = nullptr);

    // Connections and frames; the round trip too when `sharedBackplane`.
    void add(const InstanceStats &stats, bool sharedBackplane = false);
    // One envelope from `origin` took `latencyMs` from publish to the console.
    void addDeliveryLatency(const QString &origin, qint64 latencyMs);
    // Turns the latencies gathered since the last call into one p50/p99 point
    // per origin at `timestamp` (the session calls this once a second).
    void closeDeliverySecond(qint64 timestamp);
    void setColor(const QString &instance, const QColor &color);
    void removeInstance(const QString &instance);

    QStringList instances() const { return m_order; }
    QColor color(const QString &instance) const { return m_colors.value(instance, QColor(Qt::gray)); }
    bool hasSeries(const QString &instance, Series series) const;
    // x: ms since the epoch; y: the value.
    QList<QPointF> points(const QString &instance, Series series) const;
    int windowSeconds() const { return m_window; }
    qint64 latestTimestamp() const { return m_latest; }

Q_SIGNALS:
    void changed();

private:
    RingBuffer<QPointF> &buffer(const QString &instance, Series series);

    QHash<QString, QHash<int, RingBuffer<QPointF>>> m_buffers;
    QHash<QString, std::vector<qint64>> m_openLatencies; // per origin, this second
    QHash<QString, QColor> m_colors;
    QStringList m_order;
    int m_window;
    qint64 m_latest = 0;
};

} // namespace sb::console
