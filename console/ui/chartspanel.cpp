#include "chartspanel.h"

#include "models/statshistory.h"

#include <QChart>
#include <QChartView>
#include <QDateTime>
#include <QLegendMarker>
#include <QLineSeries>
#include <QTimer>
#include <QVBoxLayout>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

namespace sb::console {

namespace {

// Fits `axis` to 0..value with about five ticks on round numbers.
void fitAxis(QValueAxis *axis, double value)
{
    const double rough = std::max(value, 5.0) / 5.0;
    const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
    double step = 10 * magnitude;
    for (double m : {1.0, 2.0, 5.0}) {
        if (rough <= m * magnitude) {
            step = m * magnitude;
            break;
        }
    }
    axis->setTickType(QValueAxis::TicksDynamic);
    axis->setTickAnchor(0);
    axis->setTickInterval(step);
    axis->setRange(0, std::ceil(std::max(value, 5.0) / step) * step);
}

} // namespace

ChartsPanel::ChartsPanel(StatsHistory &history, QWidget *parent)
    : QWidget(parent)
    , m_history(history)
{
    // Built here, not in the initializer list: makeChart() sets the axis members.
    m_connChart = makeChart(tr("Connections per instance"), &m_connX, &m_connY);
    m_framesChart = makeChart(tr("Frames per second (solid: in, dashed: out)"), &m_framesX, &m_framesY);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(2);
    for (QChart *chart : {m_connChart, m_framesChart}) {
        auto *view = new QChartView(chart, this);
        view->setRenderHint(QPainter::Antialiasing);
        view->setMinimumHeight(150);
        layout->addWidget(view, 1);
    }
    connect(&history, &StatsHistory::changed, this, [this] { m_dirty = true; });
    auto *timer = new QTimer(this);
    timer->setInterval(1000);
    connect(timer, &QTimer::timeout, this, [this] {
        if (m_dirty)
            refresh();
    });
    timer->start();
}

QChart *ChartsPanel::makeChart(const QString &title, QValueAxis **x, QValueAxis **y)
{
    auto *chart = new QChart;
    chart->setTitle(title);
    QFont titleFont = chart->titleFont();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 0.95);
    titleFont.setBold(true);
    chart->setTitleFont(titleFont);
    chart->setMargins(QMargins(4, 2, 4, 2));
    chart->setBackgroundRoundness(0);
    chart->legend()->setAlignment(Qt::AlignBottom);
    chart->legend()->setShowToolTips(true);
    *x = new QValueAxis(chart);
    (*x)->setRange(-m_history.windowSeconds(), 0);
    (*x)->setTickType(QValueAxis::TicksDynamic);
    (*x)->setTickAnchor(0);
    (*x)->setTickInterval(20);
    (*x)->setLabelFormat(QStringLiteral("%d s"));
    *y = new QValueAxis(chart);
    (*y)->setLabelFormat(QStringLiteral("%d"));
    fitAxis(*y, 5);
    chart->addAxis(*x, Qt::AlignBottom);
    chart->addAxis(*y, Qt::AlignLeft);
    return chart;
}

ChartsPanel::Lines &ChartsPanel::linesFor(const QString &instance)
{
    auto it = m_lines.find(instance);
    if (it != m_lines.end())
        return *it;
    const QColor color = m_history.color(instance);
    const auto make = [&](QChart *chart, QValueAxis *x, QValueAxis *y, const QString &name, Qt::PenStyle style) {
        auto *series = new QLineSeries(chart);
        series->setName(name);
        QPen pen(color, 2);
        pen.setStyle(style);
        series->setPen(pen);
        chart->addSeries(series);
        series->attachAxis(x);
        series->attachAxis(y);
        return series;
    };
    Lines lines;
    lines.connections = make(m_connChart, m_connX, m_connY, instance, Qt::SolidLine);
    lines.framesIn = make(m_framesChart, m_framesX, m_framesY, tr("%1 in").arg(instance), Qt::SolidLine);
    lines.framesOut = make(m_framesChart, m_framesX, m_framesY, tr("%1 out").arg(instance), Qt::DashLine);
    return *m_lines.insert(instance, lines);
}

int ChartsPanel::seriesCount() const
{
    return static_cast<int>(m_connChart->series().size() + m_framesChart->series().size());
}

void ChartsPanel::refresh()
{
    m_dirty = false;
    const qint64 now = std::max(m_history.latestTimestamp(), QDateTime::currentMSecsSinceEpoch());
    // Plot against "seconds ago" so the window scrolls without moving the axis.
    const auto relative = [now](const QList<QPointF> &points) {
        QList<QPointF> out;
        out.reserve(points.size());
        for (const QPointF &p : points)
            out.append(QPointF((p.x() - static_cast<double>(now)) / 1000.0, p.y()));
        return out;
    };
    double connMax = 0;
    double framesMax = 0;
    const QStringList instances = m_history.instances();
    for (auto it = m_lines.begin(); it != m_lines.end();) {
        if (instances.contains(it.key())) {
            ++it;
            continue;
        }
        for (QLineSeries *s : {it->connections, it->framesIn, it->framesOut}) {
            s->chart()->removeSeries(s);
            delete s;
        }
        it = m_lines.erase(it);
    }
    for (const QString &instance : instances) {
        Lines &lines = linesFor(instance);
        const QList<QPointF> conns = relative(m_history.points(instance, StatsHistory::Series::Connections));
        const QList<QPointF> in = relative(m_history.points(instance, StatsHistory::Series::FramesIn));
        const QList<QPointF> out = relative(m_history.points(instance, StatsHistory::Series::FramesOut));
        for (const QPointF &p : conns)
            connMax = std::max(connMax, p.y());
        for (const QPointF &p : in)
            framesMax = std::max(framesMax, p.y());
        for (const QPointF &p : out)
            framesMax = std::max(framesMax, p.y());
        lines.connections->replace(conns);
        lines.framesIn->replace(in);
        lines.framesOut->replace(out);
    }
    fitAxis(m_connY, connMax * 1.1);
    fitAxis(m_framesY, framesMax * 1.1);
}

} // namespace sb::console
