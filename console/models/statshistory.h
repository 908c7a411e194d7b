#pragma once

// The charts' data: per instance, one ring buffer per series (connections,
// frames in/s, frames out/s) of the last 120 one-second samples. Fed by the
// operator services' statistics; read by the charts panel. Owned by
// OperatorSession.

#include "ringbuffer.h"
#include "services/operatortypes.h"

#include <QColor>
#include <QHash>
#include <QObject>
#include <QPointF>
#include <QStringList>

namespace sb::console {

class StatsHistory final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StatsHistory)
public:
    enum class Series { Connections, FramesIn, FramesOut };

    explicit StatsHistory(int windowSeconds = 120, QObject *parent = nullptr);

    void add(const InstanceStats &stats);
    void setColor(const QString &instance, const QColor &color);
    void removeInstance(const QString &instance);

    QStringList instances() const { return m_order; }
    QColor color(const QString &instance) const { return m_colors.value(instance, QColor(Qt::gray)); }
    // x: ms since the epoch; y: the value.
    QList<QPointF> points(const QString &instance, Series series) const;
    int windowSeconds() const { return m_window; }
    qint64 latestTimestamp() const { return m_latest; }

Q_SIGNALS:
    void changed();

private:
    struct Buffers
    {
        RingBuffer<QPointF> connections;
        RingBuffer<QPointF> framesIn;
        RingBuffer<QPointF> framesOut;
    };
    QHash<QString, Buffers> m_buffers;
    QHash<QString, QColor> m_colors;
    QStringList m_order;
    int m_window;
    qint64 m_latest = 0;
};

} // namespace sb::console
