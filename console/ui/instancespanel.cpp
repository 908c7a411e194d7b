#include "instancespanel.h"

#include "app/operatorsession.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

namespace sb::console {

InstancesPanel::InstancesPanel(OperatorSession &session, QWidget *parent)
    : QWidget(parent)
    , m_session(session)
    , m_view(new QTableView(this))
    , m_detail(new QLabel(this))
    , m_result(new QLabel(this))
    , m_drain(new QPushButton(tr("Drain…"), this))
    , m_undrain(new QPushButton(tr("Undrain"), this))
    , m_reconnect(new QPushButton(tr("Reconnect"), this))
{
    m_view->setModel(&session.instances());
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->verticalHeader()->hide();
    m_view->setAlternatingRowColors(true);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->setColumnWidth(InstancesModel::Id, 120);
    m_view->setColumnWidth(InstancesModel::Health, 110);
    m_view->setColumnWidth(InstancesModel::Connections, 95);
    m_view->setColumnWidth(InstancesModel::FramesPerS, 130);
    m_view->setColumnWidth(InstancesModel::Rtt, 110);
    m_view->setColumnWidth(InstancesModel::Backplane, 85);
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 8);

    m_drain->setToolTip(tr("Ask this instance's participants to reconnect elsewhere and stop accepting new ones"));
    m_undrain->setToolTip(tr("Accept participants again"));
    auto *tickerOn = new QPushButton(tr("Ticker on"), this);
    auto *tickerOff = new QPushButton(tr("Ticker off"), this);
    tickerOn->setToolTip(tr("Start the cluster-wide ticker broadcasts"));
    tickerOff->setToolTip(tr("Stop the cluster-wide ticker broadcasts"));

    m_detail->setWordWrap(true);
    m_detail->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_detail->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_detail->setMinimumWidth(260);
    m_result->setWordWrap(true);

    auto *buttons = new QVBoxLayout;
    buttons->addWidget(m_drain);
    buttons->addWidget(m_undrain);
    buttons->addSpacing(6);
    buttons->addWidget(tickerOn);
    buttons->addWidget(tickerOff);
    buttons->addSpacing(6);
    buttons->addWidget(m_reconnect);
    buttons->addStretch();

    auto *side = new QVBoxLayout;
    side->addWidget(m_detail, 1);
    side->addWidget(m_result);

    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(m_view, 3);
    layout->addLayout(buttons);
    layout->addLayout(side, 2);

    connect(m_drain, &QPushButton::clicked, this, &InstancesPanel::drainSelected);
    connect(m_undrain, &QPushButton::clicked, this, &InstancesPanel::undrainSelected);
    connect(tickerOn, &QPushButton::clicked, this, [this] { setTicker(true); });
    connect(tickerOff, &QPushButton::clicked, this, [this] { setTicker(false); });
    connect(m_reconnect, &QPushButton::clicked, this, [this] {
        if (InstanceClient *c = m_session.hub().clientForUrl(selectedUrl()))
            c->restart();
    });
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &InstancesPanel::updateDetail);
    connect(&session.instances(), &QAbstractItemModel::dataChanged, this, &InstancesPanel::updateDetail);
    connect(&session.instances(), &QAbstractItemModel::rowsInserted, this, [this] {
        if (!m_view->currentIndex().isValid())
            selectRow(0);
    });
    if (session.instances().rowCount() > 0)
        selectRow(0);
    updateDetail();
}

void InstancesPanel::selectRow(int row)
{
    m_view->selectRow(row);
    m_view->setCurrentIndex(m_session.instances().index(row, 0));
}

QUrl InstancesPanel::selectedUrl() const
{
    return m_session.instances().urlAt(m_view->currentIndex().row());
}

void InstancesPanel::updateDetail()
{
    const int row = m_view->currentIndex().row();
    const bool have = row >= 0;
    m_detail->setText(have ? m_session.instances().detailAt(row) : tr("No instance selected."));
    const QString health = m_session.instances().healthAt(row);
    m_drain->setEnabled(have && health == tr("ready"));
    m_undrain->setEnabled(have && health == tr("draining"));
    m_reconnect->setEnabled(have);
}

void InstancesPanel::showResult(const QString &text, bool ok)
{
    m_result->setStyleSheet(ok ? QStringLiteral("color: #1b7f3b;") : QStringLiteral("color: #c01c28;"));
    m_result->setText(text);
}

void InstancesPanel::drainSelected()
{
    const int row = m_view->currentIndex().row();
    const QUrl url = selectedUrl();
    const QString id = m_session.instances().instanceIdAt(row);
    if (url.isEmpty() || id.isEmpty())
        return;
    const int connections = m_session.instances().data(m_session.instances().index(row, InstancesModel::Connections)).toInt();
    const auto answer = QMessageBox::question(
        this, tr("Drain %1?").arg(id),
        tr("Drain %1?\n\nIts readiness turns to 503, new participants are refused, and each of its "
           "connections (%2 now) is asked to reconnect elsewhere, spread over the drain period. "
           "The instance stays up until you undrain it.")
            .arg(id)
            .arg(connections),
        QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
    if (answer != QMessageBox::Yes)
        return;
    m_session.drain(url, this, [this, id](const Reply &reply) {
        showResult(reply.ok ? tr("%1 is draining.").arg(id) : tr("Drain failed: %1").arg(reply.text), reply.ok);
    });
}

void InstancesPanel::undrainSelected()
{
    const QString id = m_session.instances().instanceIdAt(m_view->currentIndex().row());
    m_session.undrain(selectedUrl(), this, [this, id](const Reply &reply) {
        showResult(reply.ok ? tr("%1 accepts participants again.").arg(id) : tr("Undrain failed: %1").arg(reply.text),
                   reply.ok);
    });
}

void InstancesPanel::setTicker(bool enabled)
{
    m_session.setTicker(enabled, this, [this, enabled](const Reply &reply) {
        if (reply.ok)
            showResult(enabled ? tr("Ticker started.") : tr("Ticker stopped."), true);
        else
            showResult(tr("Ticker change failed: %1").arg(reply.text), false);
    });
}

} // namespace sb::console
