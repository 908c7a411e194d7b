#pragma once

// The Charts dock: connections per instance and frames in/out per second over
// a rolling 120 s window, drawn from StatsHistory's ring buffers (one line
// per series, in the instance's colour). Owned by MainWindow.

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
    };
    QChart *makeChart(const QString &title, QValueAxis **x, QValueAxis **y);
    Lines &linesFor(const QString &instance);

    StatsHistory &m_history;
    QChart *m_connChart = nullptr;
    QChart *m_framesChart = nullptr;
    QValueAxis *m_connX = nullptr;
    QValueAxis *m_connY = nullptr;
    QValueAxis *m_framesX = nullptr;
    QValueAxis *m_framesY = nullptr;
    QHash<QString, Lines> m_lines;
    bool m_dirty = false;
};

} // namespace sb::console
