#pragma once

// The Message flow dock: the sampled frames as they pass, newest at the
// bottom (followed unless the user scrolls up), with pause, a text filter,
// clear and export to JSON Lines. Owned by MainWindow.

#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace sb::console {

class FlowModel;

class FlowPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FlowPanel)
public:
    explicit FlowPanel(FlowModel &model, QWidget *parent = nullptr);

    // Writes the rows the filter shows; false (with `error`) when it cannot.
    bool exportTo(const QString &fileName, QString *error) const;

private:
    void exportInteractive();
    void updateCounters();

    FlowModel &m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_view;
    QLineEdit *m_filter;
    QPushButton *m_pause;
    QLabel *m_counters;
    bool m_follow = true;
};

} // namespace sb::console
