#pragma once

// The operator console window: docks for the Cluster map, Instances,
// Connections, Stickiness, Message flow (backplane envelopes and instance
// samples), Redis topology, Charts and Inject over one OperatorSession, a
// status bar with Redis' and each instance's link state, and menus to add
// instances, change the operator key and restore the layout. Saves its geometry and dock layout
// in QSettings. Borrows the session; owned by main(), a test or a benchmark.

#include "services/operatortypes.h"

#include <QHash>
#include <QMainWindow>
#include <QUrl>

class QDockWidget;
class QLabel;
class QTabWidget;

namespace sb::console {

class ChartsPanel;
class ClusterMapPanel;
class ColorSwatch;
class ConnectionsPanel;
class FlowPanel;
class InjectPanel;
class InstancesPanel;
class OperatorSession;
class RedisTopologyPanel;
class StickinessPanel;

class MainWindow final : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)
public:
    explicit MainWindow(OperatorSession &session, QWidget *parent = nullptr);
    ~MainWindow() override;

    InstancesPanel *instancesPanel() const { return m_instancesPanel; }
    ConnectionsPanel *connectionsPanel() const { return m_connectionsPanel; }
    FlowPanel *flowPanel() const { return m_flowPanel; }
    ChartsPanel *chartsPanel() const { return m_chartsPanel; }
    InjectPanel *injectPanel() const { return m_injectPanel; }
    ClusterMapPanel *mapPanel() const { return m_mapPanel; }
    StickinessPanel *stickinessPanel() const { return m_stickinessPanel; }
    FlowPanel *backplaneFlowPanel() const { return m_backplaneFlowPanel; }
    RedisTopologyPanel *topologyPanel() const { return m_topologyPanel; }
    // Raises the Redis topology dock.
    void showTopology();
    QString redisStatusText() const;
    // Raises the Stickiness dock on `clientId`'s instance history.
    void showClientHistory(const QString &clientId);
    QString statusSummary() const;
    void restoreLayout();

Q_SIGNALS:
    // The user asked for a different operator key (the caller prompts and stores it).
    void changeKeyRequested();
    void instancesChanged(const QList<QUrl> &urls);

protected:
    void closeEvent(QCloseEvent *event) override;
    void showEvent(QShowEvent *event) override;

private:
    QDockWidget *addDock(const QString &title, const QString &objectName, QWidget *widget, Qt::DockWidgetArea area);
    QList<QDockWidget *> docks() const;
    void defaultLayout();
    void defaultSizes();
    void buildMenus();
    void updateStatus();
    void updateRedisStatus();
    void addInstanceInteractive();
    void removeSelectedInstance();

    OperatorSession &m_session;
    InstancesPanel *m_instancesPanel;
    ConnectionsPanel *m_connectionsPanel;
    FlowPanel *m_flowPanel;
    ChartsPanel *m_chartsPanel;
    InjectPanel *m_injectPanel;
    ClusterMapPanel *m_mapPanel;
    StickinessPanel *m_stickinessPanel;
    FlowPanel *m_backplaneFlowPanel;
    RedisTopologyPanel *m_topologyPanel;
    QTabWidget *m_flowTabs;
    QDockWidget *m_instancesDock = nullptr;
    QDockWidget *m_connectionsDock = nullptr;
    QDockWidget *m_flowDock = nullptr;
    QDockWidget *m_topologyDock = nullptr;
    QDockWidget *m_chartsDock = nullptr;
    QDockWidget *m_injectDock = nullptr;
    QDockWidget *m_mapDock = nullptr;
    QDockWidget *m_stickinessDock = nullptr;
    QLabel *m_linkSummary;
    QWidget *m_redisItem;
    bool m_layoutRestored = false;
    bool m_shown = false;
    QHash<QUrl, QWidget *> m_statusItems;
};

} // namespace sb::console
