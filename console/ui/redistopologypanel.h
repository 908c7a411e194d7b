#pragma once

// The Redis topology dock (next to Message flow): a line that sums the
// deployment up (masters, replicas, Sentinels, slots served, nodes failing)
// over a tree of masters and their replicas with slots, link state and the
// instances that use each master. Shows RedisTopologyModel; owned by
// MainWindow.

#include <QWidget>

class QLabel;
class QTreeView;

namespace sb::console {

class RedisTopologyModel;

class RedisTopologyPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RedisTopologyPanel)
public:
    explicit RedisTopologyPanel(RedisTopologyModel &model, QWidget *parent = nullptr);

    QTreeView *view() const { return m_view; }
    QString summaryText() const;

private:
    void updateSummary();

    RedisTopologyModel &m_model;
    QLabel *m_summary;
    QTreeView *m_view;
};

} // namespace sb::console
