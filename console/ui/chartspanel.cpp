#include "chartspanel.h"

#include "models/statshistory.h"

#include <QChart>
#include <QChartView>
#include <QDateTime>
#include <QLegendMarker>
#include <QLineSeries>
#include <QTimer>
#include <QGridLayout>
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
    m_framesChart = makeChart(tr("Frames/s (solid in, dashed out)"), &m_framesX, &m_framesY);
    m_rttChart = makeChart(tr("Backplane round trip (ms)"), &m_rttX, &m_rttY);
    m_latencyChart = makeChart(tr("Delivery latency, ms (p50, p99 dashed)"), &m_latencyX, &m_latencyY);
    // One legend names the colours; the titles say what solid and dashed mean.
    for (QChart *chart : {m_framesChart, m_rttChart, m_latencyChart})
        chart->legend()->hide();
    auto *layout = new QGridLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(2);
    const QList<QChart *> charts{m_connChart, m_framesChart, m_rttChart, m_latencyChart};
    for (qsizetype i = 0; i < charts.size(); ++i) {
        auto *view = new QChartView(charts[i], this);
        view->setRenderHint(QPainter::Antialiasing);
        view->setMinimumSize(220, 150);
        layout->addWidget(view, static_cast<int>(i / 2), static_cast<int>(i % 2));
    }
    connect(&history, &StatsHistory::changed, this, [this] { m_dirty = true; });
    auto *timer = new QTimer(this);
    timer->setObjectName(QStringLiteral("ChartsPanel.refresh"));
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
    (*x)->setTickInterval(30);
    (*x)->setLabelFormat(QStringLiteral("%ds"));
    *y = new QValueAxis(chart);
    (*y)->setLabelFormat(QStringLiteral("%d"));
    fitAxis(*y, 5);
    chart->addAxis(*x, Qt::AlignBottom);
    chart->addAxis(*y, Qt::AlignLeft);
    return chart;
}

QLineSeries *ChartsPanel::makeLine(QChart *chart, QValueAxis *x, QValueAxis *y, const QString &instance,
                                   const QString &name, Qt::PenStyle style)
{
    auto *series = new QLineSeries(chart);
    series->setName(name);
    QPen pen(m_history.color(instance), 2);
    pen.setStyle(style);
    series->setPen(pen);
    chart->addSeries(series);
    series->attachAxis(x);
    series->attachAxis(y);
    return series;
}

ChartsPanel::Lines &ChartsPanel::linesFor(const QString &instance)
{
    auto it = m_lines.find(instance);
    if (it == m_lines.end()) {
        Lines lines;
        lines.connections = makeLine(m_connChart, m_connX, m_connY, instance, instance, Qt::SolidLine);
        lines.framesIn = makeLine(m_framesChart, m_framesX, m_framesY, instance, tr("%1 in").arg(instance), Qt::SolidLine);
        lines.framesOut = makeLine(m_framesChart, m_framesX, m_framesY, instance, tr("%1 out").arg(instance), Qt::DashLine);
        it = m_lines.insert(instance, lines);
    }
    // These appear once their first sample does.
    if (!it->rtt && m_history.hasSeries(instance, StatsHistory::Series::BackplaneRtt))
        it->rtt = makeLine(m_rttChart, m_rttX, m_rttY, instance, instance, Qt::SolidLine);
    if (!it->deliveryP50 && m_history.hasSeries(instance, StatsHistory::Series::DeliveryP50)) {
        it->deliveryP50 = makeLine(m_latencyChart, m_latencyX, m_latencyY, instance, tr("%1 p50").arg(instance), Qt::SolidLine);
        it->deliveryP99 = makeLine(m_latencyChart, m_latencyX, m_latencyY, instance, tr("%1 p99").arg(instance), Qt::DashLine);
    }
    return *it;
}

int ChartsPanel::seriesCount() const
{
    return static_cast<int>(m_connChart->series().size() + m_framesChart->series().size() + m_rttChart->series().size()
                            + m_latencyChart->series().size());
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
    double rttMax = 0;
    double latencyMax = 0;
    const QStringList instances = m_history.instances();
    for (auto it = m_lines.begin(); it != m_lines.end();) {
        if (instances.contains(it.key())) {
            ++it;
            continue;
        }
        for (QLineSeries *s : {it->connections, it->framesIn, it->framesOut, it->rtt, it->deliveryP50, it->deliveryP99}) {
            if (!s)
                continue;
            s->chart()->removeSeries(s);
            delete s;
        }
        it = m_lines.erase(it);
    }
    const auto plot = [&](QLineSeries *line, const QString &instance, StatsHistory::Series series, double *max) {
        if (!line)
            return;
        const QList<QPointF> points = relative(m_history.points(instance, series));
        for (const QPointF &p : points)
            *max = std::max(*max, p.y());
        line->replace(points);
    };
    for (const QString &instance : instances) {
        Lines &lines = linesFor(instance);
        plot(lines.connections, instance, StatsHistory::Series::Connections, &connMax);
        plot(lines.framesIn, instance, StatsHistory::Series::FramesIn, &framesMax);
        plot(lines.framesOut, instance, StatsHistory::Series::FramesOut, &framesMax);
        plot(lines.rtt, instance, StatsHistory::Series::BackplaneRtt, &rttMax);
        plot(lines.deliveryP50, instance, StatsHistory::Series::DeliveryP50, &latencyMax);
        plot(lines.deliveryP99, instance, StatsHistory::Series::DeliveryP99, &latencyMax);
    }
    fitAxis(m_connY, connMax * 1.1);
    fitAxis(m_framesY, framesMax * 1.1);
    fitAxis(m_rttY, rttMax * 1.1);
    fitAxis(m_latencyY, latencyMax * 1.1);
}

} // namespace sb::console
