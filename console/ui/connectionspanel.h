#pragma once

// The Connections dock: the sortable, filterable table of live connections
// and the row actions (disconnect; inject to the session or to the client,
// which hands over to the Inject dock; show the client's instance history,
// which hands over to the Stickiness dock). Owned by MainWindow.

#include "services/operatortypes.h"

#include <QTimer>
#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace sb::console {

class OperatorSession;

class ConnectionsPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConnectionsPanel)
public:
    explicit ConnectionsPanel(OperatorSession &session, QWidget *parent = nullptr);

    QTableView *view() const { return m_view; }
    QSortFilterProxyModel *proxy() const { return m_proxy; }
    void setFilterText(const QString &text);
    QString countText() const;

Q_SIGNALS:
    void injectRequested(const sb::console::InjectTarget &target);
    void historyRequested(const QString &clientId);

private:
    QString selectedSession() const;
    QString selectedClient() const;
    void disconnectSelected();
    void updateCount();
    void updateButtons();
    void showResult(const QString &text, bool ok);

    OperatorSession &m_session;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_view;
    QLineEdit *m_filter;
    QLabel *m_count;
    QLabel *m_result;
    QPushButton *m_disconnect;
    QPushButton *m_injectSession;
    QPushButton *m_injectClient;
    QPushButton *m_history;
    QTimer m_countTimer;
};

} // namespace sb::console
