#include "redistopologypanel.h"

#include "models/redistopologymodel.h"

#include <QHeaderView>
#include <QLabel>
#include <QTreeView>
#include <QVBoxLayout>

namespace sb::console {

RedisTopologyPanel::RedisTopologyPanel(RedisTopologyModel &model, QWidget *parent)
    : QWidget(parent)
    , m_model(model)
    , m_summary(new QLabel(this))
    , m_view(new QTreeView(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_summary);
    layout->addWidget(m_view, 1);

    m_view->setModel(&model);
    m_view->setUniformRowHeights(true);
    m_view->setAlternatingRowColors(true);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->header()->setStretchLastSection(true);
    m_view->header()->setSectionResizeMode(QHeaderView::Interactive);
    m_view->setColumnWidth(RedisTopologyModel::Address, 170);
    m_view->setColumnWidth(RedisTopologyModel::Role, 90);
    m_view->setColumnWidth(RedisTopologyModel::Slots, 150);
    m_view->setColumnWidth(RedisTopologyModel::State, 180);

    // A master's replicas are what the tree is for: keep them in sight.
    connect(&model, &QAbstractItemModel::modelReset, m_view, &QTreeView::expandAll);
    connect(&model, &RedisTopologyModel::summaryChanged, this, &RedisTopologyPanel::updateSummary);
    m_view->expandAll();
    updateSummary();
}

QString RedisTopologyPanel::summaryText() const
{
    return m_summary->text();
}

void RedisTopologyPanel::updateSummary()
{
    m_summary->setText(m_model.summary());
}

} // namespace sb::console
