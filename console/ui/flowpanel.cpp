#include "flowpanel.h"

#include "models/flowmodel.h"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollBar>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace sb::console {

FlowPanel::FlowPanel(FlowModel &model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_proxy(new QSortFilterProxyModel(this))
    , m_view(new QTableView(this))
    , m_filter(new QLineEdit(this))
    , m_pause(new QPushButton(tr("Pause"), this))
    , m_counters(new QLabel(this))
{
    m_proxy->setSourceModel(&model);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_view->setModel(m_proxy);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 4);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setColumnWidth(FlowModel::Time, 100);
    m_view->setColumnWidth(FlowModel::Direction, 60);
    m_view->setColumnWidth(FlowModel::Session, 90);
    m_view->setColumnWidth(FlowModel::Origin, 80);
    m_view->setColumnWidth(FlowModel::Size, 70);
    m_view->horizontalHeader()->setSectionResizeMode(FlowModel::Type, QHeaderView::Stretch);
    m_view->horizontalHeader()->setSectionResizeMode(FlowModel::Room, QHeaderView::Stretch);

    m_pause->setCheckable(true);
    m_filter->setPlaceholderText(tr("Filter (type, room, session, origin…)"));
    m_filter->setClearButtonEnabled(true);
    auto *exportButton = new QPushButton(tr("Export…"), this);
    exportButton->setToolTip(tr("Save the rows shown as JSON Lines"));
    auto *clear = new QPushButton(tr("Clear"), this);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_pause);
    bar->addWidget(m_filter, 1);
    bar->addWidget(exportButton);
    bar->addWidget(clear);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addLayout(bar);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_counters);

    connect(m_pause, &QPushButton::toggled, this, [this](bool paused) {
        m_model.setPaused(paused);
        m_pause->setText(paused ? tr("Resume") : tr("Pause"));
    });
    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);
    connect(exportButton, &QPushButton::clicked, this, &FlowPanel::exportInteractive);
    connect(clear, &QPushButton::clicked, &m_model, &FlowModel::clear);
    connect(&m_model, &FlowModel::countersChanged, this, &FlowPanel::updateCounters);
    // Follow the newest rows unless the user has scrolled up to read.
    connect(m_proxy, &QAbstractItemModel::rowsAboutToBeInserted, this, [this] {
        const QScrollBar *bar = m_view->verticalScrollBar();
        m_follow = bar->value() >= bar->maximum() - 2;
    });
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, [this] {
        if (m_follow)
            m_view->scrollToBottom();
    });
    updateCounters();
}

void FlowPanel::updateCounters()
{
    const QLocale locale;
    QString text = tr("%1 rows kept (last %2) · %3 samples received")
                       .arg(locale.toString(m_model.rowCount()), locale.toString(m_model.capacity()),
                            locale.toString(m_model.totalReceived()));
    if (m_model.isPaused() || m_model.droppedWhilePaused() > 0)
        text += tr(" · %1 skipped while paused").arg(locale.toString(m_model.droppedWhilePaused()));
    m_counters->setText(text);
}

bool FlowPanel::exportTo(const QString &fileName, QString *error) const
{
    QList<int> rows;
    rows.reserve(m_proxy->rowCount());
    for (int r = 0; r < m_proxy->rowCount(); ++r)
        rows.append(m_proxy->mapToSource(m_proxy->index(r, 0)).row());
    QSaveFile file(fileName);
    if (!file.open(QIODevice::WriteOnly)) {
        *error = file.errorString();
        return false;
    }
    if (!rows.isEmpty()) // toJsonLines({}) would mean "all rows"; a filter that shows none exports none
        file.write(m_model.toJsonLines(rows));
    if (!file.commit()) {
        *error = file.errorString();
        return false;
    }
    return true;
}

void FlowPanel::exportInteractive()
{
    const QString fileName = QFileDialog::getSaveFileName(this, tr("Export message flow"), QStringLiteral("flow.jsonl"),
                                                          tr("JSON Lines (*.jsonl);;All files (*)"));
    if (fileName.isEmpty())
        return;
    QString error;
    if (!exportTo(fileName, &error))
        QMessageBox::warning(this, tr("Export failed"), tr("Could not write %1: %2").arg(fileName, error));
}

} // namespace sb::console
