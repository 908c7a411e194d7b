#include "clustermappanel.h"

#include "app/operatorsession.h"
#include "clustermapview.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

namespace sb::console {

// The connections of one instance, optionally of one room.
class ConnectionFilterProxy final : public QSortFilterProxyModel
{
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;

    void setScope(const QString &instance, const QString &room)
    {
        m_instance = instance;
        m_room = room;
        invalidateFilter();
    }

protected:
    bool filterAcceptsRow(int row, const QModelIndex &parent) const override
    {
        const QModelIndex index = sourceModel()->index(row, 0, parent);
        if (m_instance.isEmpty() || index.data(ConnectionsModel::InstanceRole).toString() != m_instance)
            return false;
        return m_room.isEmpty() || index.data(ConnectionsModel::RoomsRole).toStringList().contains(m_room);
    }

private:
    QString m_instance;
    QString m_room;
};

ClusterMapPanel::ClusterMapPanel(OperatorSession &session, QWidget *parent)
    : QWidget(parent)
    , m_session(session)
    , m_map(new ClusterMapView(session.map(), this))
    , m_proxy(new ConnectionFilterProxy(this))
    , m_title(new QLabel(this))
    , m_detailView(new QTableView(this))
{
    // The proxy follows the connections only while its list is shown: with
    // nothing selected it would track 10 000 rows for nothing.
    m_proxy->setSortRole(ConnectionsModel::SortRole);
    m_proxy->setDynamicSortFilter(true);
    m_detailView->setModel(m_proxy);
    m_detailView->setSortingEnabled(true);
    m_detailView->sortByColumn(ConnectionsModel::ConnectedSince, Qt::DescendingOrder);
    m_detailView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_detailView->verticalHeader()->hide();
    m_detailView->verticalHeader()->setDefaultSectionSize(m_detailView->fontMetrics().height() + 4);
    m_detailView->setWordWrap(false);
    m_detailView->horizontalHeader()->setStretchLastSection(true);
    m_detailView->setToolTip(tr("Double-click a connection for its client's instance history."));
    m_title->setWordWrap(true);

    m_detail = new QWidget(this);
    auto *detail = m_detail;
    auto *close = new QToolButton(detail);
    close->setText(QStringLiteral("×"));
    close->setAutoRaise(true);
    close->setToolTip(tr("Hide the list"));
    auto *titleRow = new QHBoxLayout;
    titleRow->addWidget(m_title, 1);
    titleRow->addWidget(close, 0, Qt::AlignTop);
    auto *detailLayout = new QVBoxLayout(detail);
    detailLayout->setContentsMargins(0, 0, 0, 0);
    detailLayout->addLayout(titleRow);
    detailLayout->addWidget(m_detailView, 1);
    // Details on demand: the list shows once something on the map is clicked.
    detail->hide();
    connect(close, &QToolButton::clicked, this, [this] {
        m_detail->hide();
        m_map->setSelection({}, {});
        m_proxy->setSourceModel(nullptr);
        m_instance.clear();
        m_room.clear();
    });

    auto *split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(m_map);
    split->addWidget(detail);
    split->setStretchFactor(0, 4);
    split->setStretchFactor(1, 1);
    split->setChildrenCollapsible(false);
    detail->setMinimumWidth(220);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(split);

    connect(m_map, &ClusterMapView::instanceClicked, this, [this](const QString &instance) { showDetail(instance); });
    connect(m_map, &ClusterMapView::roomClicked, this, &ClusterMapPanel::showDetail);
    connect(m_detailView, &QTableView::doubleClicked, this, [this](const QModelIndex &index) {
        Q_EMIT clientHistoryRequested(index.data(ConnectionsModel::ClientIdRole).toString());
    });
    connect(&session.connections(), &ConnectionsModel::batchApplied, this, &ClusterMapPanel::updateTitle);
    updateTitle();
}

ClusterMapPanel::~ClusterMapPanel() = default;

void ClusterMapPanel::showDetail(const QString &instance, const QString &room)
{
    m_instance = instance;
    m_room = room;
    if (!m_proxy->sourceModel()) {
        m_proxy->setSourceModel(&m_session.connections());
        // Columns exist once there is a source: keep the few that matter here.
        for (int column : {int(ConnectionsModel::Role), int(ConnectionsModel::Instance), int(ConnectionsModel::Remote),
                           int(ConnectionsModel::FramesIn), int(ConnectionsModel::FramesOut), int(ConnectionsModel::Queue)})
            m_detailView->hideColumn(column);
        m_detailView->setColumnWidth(ConnectionsModel::User, 70);
        m_detailView->setColumnWidth(ConnectionsModel::ClientId, 90);
        m_detailView->setColumnWidth(ConnectionsModel::Rooms, 70);
        m_detailView->setColumnWidth(ConnectionsModel::ConnectedSince, 65);
    }
    m_proxy->setScope(instance, room);
    m_map->setSelection(instance, room);
    m_detail->show();
    updateTitle();
}

QString ClusterMapPanel::detailTitle() const
{
    return m_title->text();
}

void ClusterMapPanel::updateTitle()
{
    if (m_instance.isEmpty()) {
        m_title->setText(tr("<i>Click an instance or a room on the map to list its connections.</i>"));
        return;
    }
    const QString count = QLocale().toString(m_proxy->rowCount());
    m_title->setText(m_room.isEmpty() ? tr("<b>%1</b>: %2 connections").arg(m_instance.toHtmlEscaped(), count)
                                      : tr("<b>%1</b>, room <b>%2</b>: %3 connections")
                                            .arg(m_instance.toHtmlEscaped(), m_room.toHtmlEscaped(), count));
}

} // namespace sb::console
