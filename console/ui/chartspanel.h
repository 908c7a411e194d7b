#pragma once

// The Charts dock: over a rolling 120 s window, per instance and in its
// colour, connections, frames in/out per second, the backplane round trip
// (admin.stats) and the delivery latency of the envelopes it published (p50
// solid, p99 dashed; measured by the Redis monitor). Drawn from
// StatsHistory's ring buffers once a second. Owned by MainWindow.

#include <QHash>
#include <QWidget>

class QChart;
class QChartView;
class QLineSeries;
class QValueAxis;

namespace sb::console {

class StatsHistory;

class ChartsPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ChartsPanel)
public:
    explicit ChartsPanel(StatsHistory &history, QWidget *parent = nullptr);

    // Redraws from the history now (the panel also does so once a second).
    void refresh();
    int seriesCount() const;

private:
    struct Lines
    {
        QLineSeries *connections = nullptr;
        QLineSeries *framesIn = nullptr;
        QLineSeries *framesOut = nullptr;
        QLineSeries *rtt = nullptr;        // only on a shared backplane
        QLineSeries *deliveryP50 = nullptr; // only with the Redis monitor
        QLineSeries *deliveryP99 = nullptr;
    };
    QChart *makeChart(const QString &title, QValueAxis **x, QValueAxis **y);
    Lines &linesFor(const QString &instance);
    QLineSeries *makeLine(QChart *chart, QValueAxis *x, QValueAxis *y, const QString &instance, const QString &name,
                          Qt::PenStyle style);

    StatsHistory &m_history;
    QChart *m_connChart = nullptr;
    QChart *m_framesChart = nullptr;
    QValueAxis *m_connX = nullptr;
    QValueAxis *m_connY = nullptr;
    QValueAxis *m_framesX = nullptr;
    QValueAxis *m_framesY = nullptr;
    QChart *m_rttChart = nullptr;
    QChart *m_latencyChart = nullptr;
    QValueAxis *m_rttX = nullptr;
    QValueAxis *m_rttY = nullptr;
    QValueAxis *m_latencyX = nullptr;
    QValueAxis *m_latencyY = nullptr;
    QHash<QString, Lines> m_lines;
    bool m_dirty = false;
};

} // namespace sb::console
