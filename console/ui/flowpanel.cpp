#include "flowpanel.h"

#include "models/flowmodel.h"

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
#include <utility>

namespace sb::console {

// What a flow tab looks like for one source of rows.
struct FlowPanelStyle
{
    QList<std::pair<FlowModel::Field, int>> widths;
    QList<FlowModel::Field> stretch;
    bool vocabularyFilters = false; // the origin and type boxes
    bool search = false;            // the search box and its arrows
    bool compactRows = false;       // one selected row, no wrapping, elided in the middle
    const char *filterHint;
    const char *exportTitle;
    const char *exportFile;
};

namespace {

const FlowPanelStyle &styleFor(FlowModel::Source source)
{
    using F = FlowModel::Field;
    static const FlowPanelStyle samples{
        {{F::Time, 100}, {F::Direction, 60}, {F::Session, 90}, {F::Origin, 80}, {F::Size, 70}},
        {F::Type, F::Room},
        false,
        false,
        false,
        QT_TRANSLATE_NOOP("sb::console::FlowPanel", "Filter (type, room, session, origin…)"),
        QT_TRANSLATE_NOOP("sb::console::FlowPanel", "Export message flow"),
        "flow.jsonl",
    };
    static const FlowPanelStyle envelopes{
        {{F::Time, 95}, {F::Origin, 60}, {F::Channel, 130}, {F::Type, 80}, {F::Size, 50}, {F::Latency, 60}},
        {F::Target},
        true,
        true,
        true,
        QT_TRANSLATE_NOOP("sb::console::FlowPanel", "Filter (channel, target…)"),
        QT_TRANSLATE_NOOP("sb::console::FlowPanel", "Export backplane envelopes"),
        "backplane.jsonl",
    };
    return source == FlowModel::Source::InstanceSamples ? samples : envelopes;
}

} // namespace

// Origin and type must match exactly; the text may appear in any column.
class FlowFilterProxy final : public QSortFilterProxyModel
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
        if (!m_origin.isEmpty() && first.data(FlowModel::OriginRole).toString() != m_origin)
            return false;
        if (!m_type.isEmpty() && first.data(FlowModel::TypeRole).toString() != m_type)
            return false;
        if (m_text.isEmpty())
            return true;
        for (int c = 0; c < sourceModel()->columnCount(parent); ++c) {
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

FlowPanel::FlowPanel(FlowModel &model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_style(styleFor(model.source()))
    , m_proxy(new FlowFilterProxy(this))
    , m_view(new QTableView(this))
    , m_notice(new QLabel(this))
    , m_pause(new QPushButton(tr("Pause"), this))
    , m_filter(new QLineEdit(this))
    , m_counters(new QLabel(this))
{
    m_proxy->setSourceModel(&model);
    m_view->setModel(m_proxy);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 4);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    if (m_style.compactRows) {
        m_view->setSelectionMode(QAbstractItemView::SingleSelection);
        m_view->setWordWrap(false);
        m_view->setTextElideMode(Qt::ElideMiddle);
    }
    for (const auto &[field, width] : m_style.widths)
        m_view->setColumnWidth(model.columnOf(field), width);
    for (const FlowModel::Field field : m_style.stretch)
        m_view->horizontalHeader()->setSectionResizeMode(model.columnOf(field), QHeaderView::Stretch);

    m_notice->setWordWrap(true);
    m_notice->setStyleSheet(QStringLiteral("color: #8a5a00;"));
    m_notice->hide();
    m_pause->setCheckable(true);
    m_filter->setPlaceholderText(tr(m_style.filterHint));
    m_filter->setClearButtonEnabled(true);
    auto *exportButton = new QPushButton(tr("Export…"), this);
    exportButton->setToolTip(tr("Save the rows shown as JSON Lines"));
    auto *clear = new QPushButton(tr("Clear"), this);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_pause);
    if (m_style.vocabularyFilters) {
        m_origin = new QComboBox(this);
        m_type = new QComboBox(this);
        m_origin->addItem(tr("All origins"), QString());
        m_type->addItem(tr("All types"), QString());
        m_origin->setSizeAdjustPolicy(QComboBox::AdjustToContents);
        m_type->setSizeAdjustPolicy(QComboBox::AdjustToContents);
        bar->addWidget(m_origin);
        bar->addWidget(m_type);
        connect(m_origin, &QComboBox::currentIndexChanged, this,
                [this] { m_proxy->setOrigin(m_origin->currentData().toString()); });
        connect(m_type, &QComboBox::currentIndexChanged, this,
                [this] { m_proxy->setType(m_type->currentData().toString()); });
        connect(&m_model, &FlowModel::vocabularyChanged, this, &FlowPanel::updateVocabulary);
    }
    bar->addWidget(m_filter, 1);
    if (m_style.search) {
        m_search = new QLineEdit(this);
        m_search->setPlaceholderText(tr("Search ⏎"));
        m_search->setClearButtonEnabled(true);
        m_search->setMaximumWidth(150);
        auto *previous = new QToolButton(this);
        previous->setArrowType(Qt::UpArrow);
        previous->setToolTip(tr("Previous match"));
        auto *next = new QToolButton(this);
        next->setArrowType(Qt::DownArrow);
        next->setToolTip(tr("Next match"));
        bar->addWidget(m_search);
        bar->addWidget(previous);
        bar->addWidget(next);
        connect(m_search, &QLineEdit::returnPressed, this, [this] { search(m_search->text(), true); });
        connect(next, &QToolButton::clicked, this, [this] { search(m_search->text(), true); });
        connect(previous, &QToolButton::clicked, this, [this] { search(m_search->text(), false); });
    }
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
    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString &text) { m_proxy->setText(text); });
    connect(exportButton, &QPushButton::clicked, this, &FlowPanel::exportInteractive);
    connect(clear, &QPushButton::clicked, &m_model, &FlowModel::clear);
    connect(&m_model, &FlowModel::countersChanged, this, &FlowPanel::updateCounters);
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

FlowPanel::~FlowPanel() = default;

void FlowPanel::setNotice(const QString &text)
{
    m_notice->setText(text);
    m_notice->setVisible(!text.isEmpty());
}

void FlowPanel::setFilterText(const QString &text)
{
    m_filter->setText(text);
}

void FlowPanel::setTypeFilter(const QString &type)
{
    if (!m_type) {
        m_proxy->setType(type);
        return;
    }
    updateVocabulary();
    const int index = m_type->findData(type);
    m_type->setCurrentIndex(index >= 0 ? index : 0);
}

void FlowPanel::updateVocabulary()
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

QString FlowPanel::countersText() const
{
    return m_counters->text();
}

void FlowPanel::updateCounters()
{
    const QLocale locale;
    const QString rows = locale.toString(m_model.rowCount());
    const QString capacity = locale.toString(m_model.capacity());
    const QString received = locale.toString(m_model.totalReceived());
    QString text = m_model.source() == FlowModel::Source::InstanceSamples
                       ? tr("%1 rows kept (last %2) · %3 samples received").arg(rows, capacity, received)
                       : tr("%1 rows kept (last %2, at most %3/s) · %4 envelopes seen")
                             .arg(rows, capacity, locale.toString(m_model.rowsPerSecond()), received);
    if (m_model.sampledOut() > 0)
        text += tr(" · %1 sampled out").arg(locale.toString(m_model.sampledOut()));
    if (m_model.isPaused() || m_model.skippedWhilePaused() > 0)
        text += tr(" · %1 skipped while paused").arg(locale.toString(m_model.skippedWhilePaused()));
    m_counters->setText(text);
}

bool FlowPanel::search(const QString &text, bool forward)
{
    const int rows = m_proxy->rowCount();
    if (text.isEmpty() || rows == 0)
        return false;
    const int current = m_view->currentIndex().isValid() ? m_view->currentIndex().row() : (forward ? -1 : rows);
    for (int step = 1; step <= rows; ++step) {
        const int row = ((forward ? current + step : current - step) % rows + rows) % rows;
        for (int c = 0; c < m_proxy->columnCount(); ++c) {
            if (m_proxy->index(row, c).data().toString().contains(text, Qt::CaseInsensitive)) {
                m_follow = false;
                m_view->setCurrentIndex(m_proxy->index(row, c));
                m_view->selectRow(row);
                m_view->scrollTo(m_proxy->index(row, c));
                if (m_search)
                    m_search->setStyleSheet(QString());
                return true;
            }
        }
    }
    if (m_search)
        m_search->setStyleSheet(QStringLiteral("background: #fde2e1;"));
    return false;
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
    const QString fileName = QFileDialog::getSaveFileName(this, tr(m_style.exportTitle),
                                                          QString::fromLatin1(m_style.exportFile),
                                                          tr("JSON Lines (*.jsonl);;All files (*)"));
    if (fileName.isEmpty())
        return;
    QString error;
    if (!exportTo(fileName, &error))
        QMessageBox::warning(this, tr("Export failed"), tr("Could not write %1: %2").arg(fileName, error));
}

} // namespace sb::console
