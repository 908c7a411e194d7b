#pragma once

// The Instances dock: one row per watched instance with its health, load and
// the operator's actions on it (drain after a confirmation, undrain, ticker
// on/off, reconnect), plus the selected instance's health and readiness text.
// Calls OperatorSession; owned by MainWindow.

#include <QWidget>

class QLabel;
class QPushButton;
class QTableView;

namespace sb::console {

class OperatorSession;

class InstancesPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(InstancesPanel)
public:
    explicit InstancesPanel(OperatorSession &session, QWidget *parent = nullptr);

    QTableView *view() const { return m_view; }
    void selectRow(int row);

private:
    QUrl selectedUrl() const;
    void updateDetail();
    void drainSelected();
    void undrainSelected();
    void setTicker(bool enabled);
    void showResult(const QString &text, bool ok);

    OperatorSession &m_session;
    QTableView *m_view;
    QLabel *m_detail;
    QLabel *m_result;
    QPushButton *m_drain;
    QPushButton *m_undrain;
    QPushButton *m_reconnect;
};

} // namespace sb::console
