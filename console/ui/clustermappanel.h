#pragma once

// The Cluster map dock: the painted map and, beside it, the details on
// demand — the connections of the instance or room last clicked on the map
// (a filtered view of the connections table, so the map itself never lists
// individual clients). Owned by MainWindow.

#include <QWidget>

class QLabel;
class QTableView;

namespace sb::console {

class ClusterMapView;
class ConnectionFilterProxy;
class OperatorSession;

class ClusterMapPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ClusterMapPanel)
public:
    explicit ClusterMapPanel(OperatorSession &session, QWidget *parent = nullptr);
    ~ClusterMapPanel() override;

    ClusterMapView *map() const { return m_map; }
    QTableView *detailView() const { return m_detailView; }
    // Shows the connections of `instance` (and `room`, when not empty).
    void showDetail(const QString &instance, const QString &room = {});
    QString detailTitle() const;

Q_SIGNALS:
    // A row of the detail list was double-clicked: its client's history.
    void clientHistoryRequested(const QString &clientId);

private:
    void updateTitle();

    OperatorSession &m_session;
    ClusterMapView *m_map;
    ConnectionFilterProxy *m_proxy;
    QLabel *m_title;
    QTableView *m_detailView;
    QWidget *m_detail = nullptr;
    QString m_instance;
    QString m_room;
};

} // namespace sb::console
