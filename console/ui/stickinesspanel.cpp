#include "stickinesspanel.h"

#include "app/operatorsession.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDateTime>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QLocale>
#include <QScrollArea>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

namespace sb::console {

// Which rows to show (by StickinessModel::StatusRole), plus free text.
class StickinessFilterProxy final : public QSortFilterProxyModel
{
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;

    void setShow(StickinessPanel::Show show)
    {
        m_show = show;
        invalidateFilter();
    }

protected:
    bool filterAcceptsRow(int row, const QModelIndex &parent) const override
    {
        const auto status =
            static_cast<StickinessModel::Status>(sourceModel()->index(row, 0, parent).data(StickinessModel::StatusRole).toInt());
        switch (m_show) {
        case StickinessPanel::Show::All: break;
        case StickinessPanel::Show::StickyMisses:
            if (status != StickinessModel::Status::StickyMiss)
                return false;
            break;
        case StickinessPanel::Show::Moved:
            if (sourceModel()->index(row, StickinessModel::Moves, parent).data().toInt() == 0)
                return false;
            break;
        case StickinessPanel::Show::Offline:
            if (status != StickinessModel::Status::Offline)
                return false;
            break;
        }
        return QSortFilterProxyModel::filterAcceptsRow(row, parent);
    }

private:
    StickinessPanel::Show m_show = StickinessPanel::Show::All;
};

namespace {

QString clock(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("HH:mm:ss.zzz"));
}

} // namespace

StickinessPanel::StickinessPanel(OperatorSession &session, QWidget *parent)
    : QWidget(parent)
    , m_session(session)
    , m_proxy(new StickinessFilterProxy(this))
    , m_view(new QTableView(this))
    , m_summary(new QLabel(this))
    , m_show(new QComboBox(this))
    , m_filter(new QLineEdit(this))
    , m_detail(new QLabel(this))
    , m_chart(new QChart)
    , m_ratioLine(new QLineSeries(m_chart))
    , m_movesLine(new QLineSeries(m_chart))
    , m_x(new QValueAxis(m_chart))
    , m_ratioAxis(new QValueAxis(m_chart))
    , m_movesAxis(new QValueAxis(m_chart))
{
    StickinessModel &model = session.stickiness();
    m_proxy->setSourceModel(&model);
    m_proxy->setSortRole(StickinessModel::SortRole);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(StickinessModel::LastMove, Qt::DescendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 6);
    m_view->setWordWrap(false);
    m_view->setTextElideMode(Qt::ElideRight);
    m_view->setColumnWidth(StickinessModel::Client, 90);
    m_view->setColumnWidth(StickinessModel::User, 60);
    m_view->setColumnWidth(StickinessModel::NowOn, 60);
    m_view->setColumnWidth(StickinessModel::Sticky, 45);
    m_view->setColumnWidth(StickinessModel::Visits, 80);
    m_view->setColumnWidth(StickinessModel::Moves, 48);
    m_view->setColumnWidth(StickinessModel::LastMove, 210);
    m_view->horizontalHeader()->setStretchLastSection(true);

    m_show->addItem(tr("All clients"), static_cast<int>(Show::All));
    m_show->addItem(tr("Sticky misses"), static_cast<int>(Show::StickyMisses));
    m_show->addItem(tr("Clients that moved"), static_cast<int>(Show::Moved));
    m_show->addItem(tr("Offline"), static_cast<int>(Show::Offline));
    m_filter->setPlaceholderText(tr("Filter by client, user, instance…"));
    m_filter->setClearButtonEnabled(true);
    m_summary->setWordWrap(true);
    m_detail->setWordWrap(true);
    m_detail->setTextFormat(Qt::RichText);
    m_detail->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_detail->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_detail->setMargin(6);
    auto *detailScroll = new QScrollArea(this);
    detailScroll->setWidget(m_detail);
    detailScroll->setWidgetResizable(true);
    detailScroll->setMinimumWidth(200);

    // Ratio (left axis, %) and moves per minute (right axis).
    m_chart->setTitle(tr("Sticky connections % (solid, left) and moves in the last minute (dashed, right)"));
    QFont titleFont = m_chart->titleFont();
    titleFont.setBold(true);
    m_chart->setTitleFont(titleFont);
    m_chart->setMargins(QMargins(4, 2, 4, 2));
    m_chart->setBackgroundRoundness(0);
    m_chart->legend()->hide();
    m_ratioLine->setName(tr("sticky %"));
    m_ratioLine->setPen(QPen(QColor(0x1c, 0x5f, 0xb0), 2));
    QPen movesPen(QColor(0xb3, 0x6b, 0x00), 2);
    movesPen.setStyle(Qt::DashLine);
    m_movesLine->setName(tr("moves / min"));
    m_movesLine->setPen(movesPen);
    m_chart->addSeries(m_ratioLine);
    m_chart->addSeries(m_movesLine);
    m_x->setRange(-300, 0);
    m_x->setTickType(QValueAxis::TicksDynamic);
    m_x->setTickAnchor(0);
    m_x->setTickInterval(60);
    m_x->setLabelFormat(QStringLiteral("%ds"));
    m_ratioAxis->setRange(0, 100);
    m_ratioAxis->setLabelFormat(QStringLiteral("%d %%"));
    m_ratioAxis->setTickCount(3);
    m_movesAxis->setRange(0, 5);
    m_movesAxis->setLabelFormat(QStringLiteral("%d"));
    m_movesAxis->setTickCount(3);
    m_chart->addAxis(m_x, Qt::AlignBottom);
    m_chart->addAxis(m_ratioAxis, Qt::AlignLeft);
    m_chart->addAxis(m_movesAxis, Qt::AlignRight);
    m_ratioLine->attachAxis(m_x);
    m_ratioLine->attachAxis(m_ratioAxis);
    m_movesLine->attachAxis(m_x);
    m_movesLine->attachAxis(m_movesAxis);
    auto *chartView = new QChartView(m_chart, this);
    chartView->setRenderHint(QPainter::Antialiasing);
    chartView->setMinimumSize(300, 130);

    auto *top = new QHBoxLayout;
    top->addWidget(m_summary, 1);
    top->addWidget(m_show);
    top->addWidget(m_filter);
    // The table over the chart on the left; the selected client's story on the right.
    auto *left = new QSplitter(Qt::Vertical, this);
    left->addWidget(m_view);
    left->addWidget(chartView);
    left->setStretchFactor(0, 3);
    left->setStretchFactor(1, 2);
    auto *split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(left);
    split->addWidget(detailScroll);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    connect(m_show, &QComboBox::currentIndexChanged, this,
            [this] { m_proxy->setShow(static_cast<Show>(m_show->currentData().toInt())); });
    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        const QString client = selectedClient();
        if (client.isEmpty() || client == m_detailClient)
            return;
        m_detailClient = client;
        m_sessionRecords.clear();
        m_session.readClientDetails(client);
        updateDetail();
    });
    connect(&model, &StickinessModel::summaryChanged, this, &StickinessPanel::updateSummary);
    connect(&model, &QAbstractItemModel::dataChanged, this, [this](const QModelIndex &from, const QModelIndex &to) {
        const int row = m_session.stickiness().rowOf(m_detailClient);
        if (row >= from.row() && row <= to.row())
            updateDetail();
    });
    connect(&model, &QAbstractItemModel::rowsInserted, this, [this] {
        if (!m_detailClient.isEmpty() && m_detail->text().isEmpty())
            updateDetail();
    });
    connect(&session, &OperatorSession::sessionRecordRead, this, &StickinessPanel::onSessionRecord);
    m_chartTimer.setObjectName(QStringLiteral("StickinessPanel.chart"));
    m_chartTimer.setInterval(1000);
    connect(&m_chartTimer, &QTimer::timeout, this, &StickinessPanel::refreshChart);
    m_chartTimer.start();
    updateSummary();
    updateDetail();
}

StickinessPanel::~StickinessPanel() = default;

void StickinessPanel::setShow(Show show)
{
    m_show->setCurrentIndex(m_show->findData(static_cast<int>(show)));
}

void StickinessPanel::setFilterText(const QString &text)
{
    m_filter->setText(text);
}

QString StickinessPanel::selectedClient() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.first().data(StickinessModel::ClientIdRole).toString();
}

QString StickinessPanel::summaryText() const
{
    return m_summary->text();
}

QString StickinessPanel::detailText() const
{
    return m_detail->text();
}

void StickinessPanel::showClient(const QString &clientId)
{
    m_detailClient = clientId;
    m_sessionRecords.clear();
    m_session.readClientDetails(clientId);
    const int sourceRow = m_session.stickiness().rowOf(clientId);
    if (sourceRow >= 0) {
        QModelIndex index = m_proxy->mapFromSource(m_session.stickiness().index(sourceRow, 0));
        if (!index.isValid()) { // filtered out: show everything again
            setShow(Show::All);
            setFilterText(QString());
            index = m_proxy->mapFromSource(m_session.stickiness().index(sourceRow, 0));
        }
        m_view->selectRow(index.row());
        m_view->scrollTo(index);
    }
    updateDetail();
}

void StickinessPanel::updateSummary()
{
    const StickinessModel::Summary s = m_session.stickiness().summary();
    const QLocale locale;
    const int misses = s.liveSessions - s.stickySessions;
    m_summary->setText(
        tr("<b>Stickiness %1 %</b> — %2 of %3 live connections went to the instance that issued their token "
           "(<span style='color:#c01c28'>sticky misses: %4</span>) · "
           "<span style='color:#8a5a00'>clients that moved: %5</span>, moves in the last minute: %6")
            .arg(locale.toString(s.ratio() * 100.0, 'f', 1), locale.toString(s.stickySessions),
                 locale.toString(s.liveSessions), locale.toString(misses), locale.toString(s.movedClients),
                 locale.toString(s.recentMoves)));
}

void StickinessPanel::onSessionRecord(const QString &sessionId, bool found, const ConnectionInfo &record)
{
    if (!found) {
        m_sessionRecords.insert(sessionId, tr("%1: no record (closed)").arg(sessionId.left(8)));
    } else {
        if (record.clientId != m_detailClient)
            return;
        m_sessionRecords.insert(
            sessionId, tr("%1 on <b>%2</b>, rooms %3, sticky %4, since %5, frames %6 in / %7 out")
                           .arg(sessionId.left(8), record.instance.toHtmlEscaped(),
                                record.rooms.isEmpty() ? tr("none") : record.rooms.join(QStringLiteral(", ")).toHtmlEscaped(),
                                record.sticky ? tr("yes") : tr("<span style='color:#c01c28'>no (miss)</span>"),
                                clock(record.connectedAt))
                           .arg(record.framesIn)
                           .arg(record.framesOut));
    }
    updateDetail();
}

void StickinessPanel::updateDetail()
{
    if (m_detailClient.isEmpty()) {
        m_detail->setText(tr("<i>Select a client to see every instance it connected to, and why it moved.</i>"));
        return;
    }
    const StickinessModel &model = m_session.stickiness();
    const int row = model.rowOf(m_detailClient);
    QString html = tr("<b>Client %1</b>").arg(m_detailClient.toHtmlEscaped());
    if (row < 0) {
        m_detail->setText(html + tr("<br>Nothing known yet."));
        return;
    }
    html += tr(" (%1)<br>Now on: %2 · sticky: %3")
                .arg(model.index(row, StickinessModel::User).data().toString().toHtmlEscaped(),
                     model.index(row, StickinessModel::NowOn).data().toString().toHtmlEscaped(),
                     model.index(row, StickinessModel::Sticky).data().toString());
    const QList<ClientVisit> visits = model.visits(m_detailClient);
    const QList<StickinessModel::Move> moves = model.moves(m_detailClient);
    html += tr("<br><br><b>Connections, newest first</b> (%1):<br>").arg(visits.size());
    for (qsizetype i = 0; i < visits.size(); ++i) {
        const ClientVisit &v = visits.at(i);
        QString line = QStringLiteral("%1 &nbsp;<b>%2</b>").arg(clock(v.at), v.instance.toHtmlEscaped());
        if (i + 1 < visits.size() && visits.at(i + 1).instance != v.instance) {
            const auto move = std::find_if(moves.cbegin(), moves.cend(), [&](const StickinessModel::Move &m) {
                return m.at == v.at && m.to == v.instance;
            });
            const QString reason = move != moves.cend() ? StickinessModel::reasonName(move->reason) : QString();
            line += tr(" &nbsp;<span style='color:#8a5a00'>← moved from %1 (%2)</span>")
                        .arg(visits.at(i + 1).instance.toHtmlEscaped(), reason);
        }
        html += line + QStringLiteral("<br>");
    }
    if (!m_sessionRecords.isEmpty()) {
        html += tr("<br><b>Live sessions in Redis</b> (sb:session:…):<br>");
        for (const QString &text : std::as_const(m_sessionRecords))
            html += text + QStringLiteral("<br>");
    }
    m_detail->setText(html);
}

void StickinessPanel::refreshChart()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const auto relative = [now](const QList<QPointF> &points, double *max) {
        QList<QPointF> out;
        out.reserve(points.size());
        for (const QPointF &p : points) {
            out.append(QPointF((p.x() - static_cast<double>(now)) / 1000.0, p.y()));
            *max = std::max(*max, p.y());
        }
        return out;
    };
    double ratioMax = 0;
    double movesMax = 0;
    const QList<QPointF> ratio = relative(m_session.stickiness().ratioPoints(), &ratioMax);
    const QList<QPointF> moves = relative(m_session.stickiness().movePoints(), &movesMax);
    m_ratioLine->replace(ratio);
    m_movesLine->replace(moves);
    // The ratio lives near 100 %: zoom in when it stays high.
    double low = 100;
    for (const QPointF &p : ratio)
        low = std::min(low, p.y());
    m_ratioAxis->setRange(low >= 90 ? 90 : (low >= 50 ? 50 : 0), 100);
    const double top = std::max(4.0, std::ceil(movesMax * 1.2 / 2.0) * 2.0);
    m_movesAxis->setRange(0, top);
}

} // namespace sb::console
