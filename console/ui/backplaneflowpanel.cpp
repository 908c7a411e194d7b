#include "backplaneflowpanel.h"

#include "models/backplaneflowmodel.h"

#include <QComboBox>
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
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>

namespace sb::console {

// Origin and type must match exactly; the text may appear in any column.
class EnvelopeFilterProxy final : public QSortFilterProxyModel
{
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;

    void setOrigin(const QString &origin)
    {
        m_origin = origin;
        invalidateFilter();
    }
    void setType(const QString &type)
    {
        m_type = type;
        invalidateFilter();
    }
    void setText(const QString &text)
    {
        m_text = text;
        invalidateFilter();
    }

protected:
    bool filterAcceptsRow(int row, const QModelIndex &parent) const override
    {
        const QModelIndex first = sourceModel()->index(row, 0, parent);
        if (!m_origin.isEmpty() && first.data(BackplaneFlowModel::OriginRole).toString() != m_origin)
            return false;
        if (!m_type.isEmpty() && first.data(BackplaneFlowModel::TypeRole).toString() != m_type)
            return false;
        if (m_text.isEmpty())
            return true;
        for (int c = 0; c < BackplaneFlowModel::ColumnCount; ++c) {
            if (sourceModel()->index(row, c, parent).data().toString().contains(m_text, Qt::CaseInsensitive))
                return true;
        }
        return false;
    }

private:
    QString m_origin;
    QString m_type;
    QString m_text;
};

BackplaneFlowPanel::BackplaneFlowPanel(BackplaneFlowModel &model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_proxy(new EnvelopeFilterProxy(this))
    , m_view(new QTableView(this))
    , m_notice(new QLabel(this))
    , m_pause(new QPushButton(tr("Pause"), this))
    , m_origin(new QComboBox(this))
    , m_type(new QComboBox(this))
    , m_filter(new QLineEdit(this))
    , m_search(new QLineEdit(this))
    , m_counters(new QLabel(this))
{
    m_proxy->setSourceModel(&model);
    m_view->setModel(m_proxy);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 4);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setWordWrap(false);
    m_view->setColumnWidth(BackplaneFlowModel::Time, 95);
    m_view->setColumnWidth(BackplaneFlowModel::Origin, 60);
    m_view->setColumnWidth(BackplaneFlowModel::Channel, 130);
    m_view->setColumnWidth(BackplaneFlowModel::Type, 80);
    m_view->setColumnWidth(BackplaneFlowModel::Size, 50);
    m_view->setColumnWidth(BackplaneFlowModel::Latency, 60);
    m_view->horizontalHeader()->setSectionResizeMode(BackplaneFlowModel::Target, QHeaderView::Stretch);
    m_view->setTextElideMode(Qt::ElideMiddle);

    m_notice->setWordWrap(true);
    m_notice->setStyleSheet(QStringLiteral("color: #8a5a00;"));
    m_notice->hide();
    m_pause->setCheckable(true);
    m_origin->addItem(tr("All origins"), QString());
    m_type->addItem(tr("All types"), QString());
    m_origin->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_type->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_filter->setPlaceholderText(tr("Filter (channel, target…)"));
    m_filter->setClearButtonEnabled(true);
    m_search->setPlaceholderText(tr("Search ⏎"));
    m_search->setClearButtonEnabled(true);
    m_search->setMaximumWidth(150);
    auto *previous = new QToolButton(this);
    previous->setArrowType(Qt::UpArrow);
    previous->setToolTip(tr("Previous match"));
    auto *next = new QToolButton(this);
    next->setArrowType(Qt::DownArrow);
    next->setToolTip(tr("Next match"));
    auto *exportButton = new QPushButton(tr("Export…"), this);
    exportButton->setToolTip(tr("Save the rows shown as JSON Lines"));
    auto *clear = new QPushButton(tr("Clear"), this);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_pause);
    bar->addWidget(m_origin);
    bar->addWidget(m_type);
    bar->addWidget(m_filter, 1);
    bar->addWidget(m_search);
    bar->addWidget(previous);
    bar->addWidget(next);
    bar->addWidget(exportButton);
    bar->addWidget(clear);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(m_notice);
    layout->addLayout(bar);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_counters);

    connect(m_pause, &QPushButton::toggled, this, [this](bool paused) {
        m_model.setPaused(paused);
        m_pause->setText(paused ? tr("Resume") : tr("Pause"));
    });
    connect(m_origin, &QComboBox::currentIndexChanged, this,
            [this] { m_proxy->setOrigin(m_origin->currentData().toString()); });
    connect(m_type, &QComboBox::currentIndexChanged, this, [this] { m_proxy->setType(m_type->currentData().toString()); });
    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString &text) { m_proxy->setText(text); });
    connect(m_search, &QLineEdit::returnPressed, this, [this] { search(m_search->text(), true); });
    connect(next, &QToolButton::clicked, this, [this] { search(m_search->text(), true); });
    connect(previous, &QToolButton::clicked, this, [this] { search(m_search->text(), false); });
    connect(exportButton, &QPushButton::clicked, this, &BackplaneFlowPanel::exportInteractive);
    connect(clear, &QPushButton::clicked, &m_model, &BackplaneFlowModel::clear);
    connect(&m_model, &BackplaneFlowModel::countersChanged, this, &BackplaneFlowPanel::updateCounters);
    connect(&m_model, &BackplaneFlowModel::vocabularyChanged, this, &BackplaneFlowPanel::updateVocabulary);
    // Follow the newest rows unless the user has scrolled up to read.
    connect(m_proxy, &QAbstractItemModel::rowsAboutToBeInserted, this, [this] {
        const QScrollBar *scroll = m_view->verticalScrollBar();
        m_follow = scroll->value() >= scroll->maximum() - 2;
    });
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, [this] {
        if (m_follow)
            m_view->scrollToBottom();
    });
    updateCounters();
}

BackplaneFlowPanel::~BackplaneFlowPanel() = default;

void BackplaneFlowPanel::setNotice(const QString &text)
{
    m_notice->setText(text);
    m_notice->setVisible(!text.isEmpty());
}

void BackplaneFlowPanel::setFilterText(const QString &text)
{
    m_filter->setText(text);
}

void BackplaneFlowPanel::setTypeFilter(const QString &type)
{
    updateVocabulary();
    const int index = m_type->findData(type);
    m_type->setCurrentIndex(index >= 0 ? index : 0);
}

void BackplaneFlowPanel::updateVocabulary()
{
    const auto refill = [](QComboBox *box, const QStringList &values) {
        const QString current = box->currentData().toString();
        for (const QString &v : values) {
            if (box->findData(v) < 0)
                box->addItem(v, v);
        }
        box->setCurrentIndex(std::max(0, box->findData(current)));
    };
    refill(m_origin, m_model.origins());
    refill(m_type, m_model.types());
}

QString BackplaneFlowPanel::countersText() const
{
    return m_counters->text();
}

void BackplaneFlowPanel::updateCounters()
{
    const QLocale locale;
    QString text = tr("%1 rows kept (last %2, at most %3/s) · %4 envelopes seen")
                       .arg(locale.toString(m_model.rowCount()), locale.toString(m_model.capacity()),
                            locale.toString(m_model.rowsPerSecond()), locale.toString(m_model.totalReceived()));
    if (m_model.sampledOut() > 0)
        text += tr(" · %1 sampled out").arg(locale.toString(m_model.sampledOut()));
    if (m_model.isPaused() || m_model.skippedWhilePaused() > 0)
        text += tr(" · %1 skipped while paused").arg(locale.toString(m_model.skippedWhilePaused()));
    m_counters->setText(text);
}

bool BackplaneFlowPanel::search(const QString &text, bool forward)
{
    const int rows = m_proxy->rowCount();
    if (text.isEmpty() || rows == 0)
        return false;
    const int current = m_view->currentIndex().isValid() ? m_view->currentIndex().row() : (forward ? -1 : rows);
    for (int step = 1; step <= rows; ++step) {
        const int row = ((forward ? current + step : current - step) % rows + rows) % rows;
        for (int c = 0; c < BackplaneFlowModel::ColumnCount; ++c) {
            if (m_proxy->index(row, c).data().toString().contains(text, Qt::CaseInsensitive)) {
                m_follow = false;
                m_view->setCurrentIndex(m_proxy->index(row, c));
                m_view->selectRow(row);
                m_view->scrollTo(m_proxy->index(row, c));
                m_search->setStyleSheet(QString());
                return true;
            }
        }
    }
    m_search->setStyleSheet(QStringLiteral("background: #fde2e1;"));
    return false;
}

bool BackplaneFlowPanel::exportTo(const QString &fileName, QString *error) const
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
    if (!rows.isEmpty()) // toJsonLines({}) would mean "all rows"
        file.write(m_model.toJsonLines(rows));
    if (!file.commit()) {
        *error = file.errorString();
        return false;
    }
    return true;
}

void BackplaneFlowPanel::exportInteractive()
{
    const QString fileName = QFileDialog::getSaveFileName(this, tr("Export backplane envelopes"),
                                                          QStringLiteral("backplane.jsonl"),
                                                          tr("JSON Lines (*.jsonl);;All files (*)"));
    if (fileName.isEmpty())
        return;
    QString error;
    if (!exportTo(fileName, &error))
        QMessageBox::warning(this, tr("Export failed"), tr("Could not write %1: %2").arg(fileName, error));
}

} // namespace sb::console
