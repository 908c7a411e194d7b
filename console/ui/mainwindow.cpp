#include "mainwindow.h"

#include "app/operatorsession.h"
#include "chartspanel.h"
#include "clustermappanel.h"
#include "colorswatch.h"
#include "connectionspanel.h"
#include "flowpanel.h"
#include "injectpanel.h"
#include "instancespanel.h"
#include "redistopologypanel.h"
#include "services/consolesettings.h"
#include "stickinesspanel.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>

namespace sb::console {

MainWindow::MainWindow(OperatorSession &session, QWidget *parent)
    : QMainWindow(parent)
    , m_session(session)
    , m_instancesPanel(new InstancesPanel(session, this))
    , m_connectionsPanel(new ConnectionsPanel(session, this))
    , m_flowPanel(new FlowPanel(session.flow(), this))
    , m_chartsPanel(new ChartsPanel(session.history(), this))
    , m_injectPanel(new InjectPanel(session, this))
    , m_mapPanel(new ClusterMapPanel(session, this))
    , m_stickinessPanel(new StickinessPanel(session, this))
    , m_backplaneFlowPanel(new FlowPanel(session.backplaneFlow(), this))
    , m_topologyPanel(new RedisTopologyPanel(session.topology(), this))
    , m_flowTabs(new QTabWidget(this))
    , m_linkSummary(new QLabel(this))
    , m_redisItem(new QWidget(this))
{
    setWindowTitle(tr("Switchboard Console — operator"));
    setObjectName(QStringLiteral("OperatorMainWindow"));
    setDockNestingEnabled(true);
    setCorner(Qt::TopLeftCorner, Qt::TopDockWidgetArea);
    setCorner(Qt::TopRightCorner, Qt::TopDockWidgetArea);
    setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
    setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);

    m_flowTabs->addTab(m_backplaneFlowPanel, tr("Backplane (Redis)"));
    m_flowTabs->addTab(m_flowPanel, tr("Instance samples"));
    m_flowTabs->setDocumentMode(true);
    m_instancesDock = addDock(tr("Instances"), QStringLiteral("InstancesDock"), m_instancesPanel, Qt::TopDockWidgetArea);
    m_mapDock = addDock(tr("Cluster map"), QStringLiteral("MapDock"), m_mapPanel, Qt::LeftDockWidgetArea);
    m_connectionsDock = addDock(tr("Connections"), QStringLiteral("ConnectionsDock"), m_connectionsPanel, Qt::LeftDockWidgetArea);
    m_stickinessDock = addDock(tr("Stickiness"), QStringLiteral("StickinessDock"), m_stickinessPanel, Qt::LeftDockWidgetArea);
    m_flowDock = addDock(tr("Message flow"), QStringLiteral("FlowDock"), m_flowTabs, Qt::LeftDockWidgetArea);
    m_topologyDock = addDock(tr("Redis topology"), QStringLiteral("TopologyDock"), m_topologyPanel, Qt::LeftDockWidgetArea);
    m_chartsDock = addDock(tr("Charts"), QStringLiteral("ChartsDock"), m_chartsPanel, Qt::RightDockWidgetArea);
    m_injectDock = addDock(tr("Inject"), QStringLiteral("InjectDock"), m_injectPanel, Qt::RightDockWidgetArea);
    defaultLayout();
    buildMenus();

    auto *redisLayout = new QHBoxLayout(m_redisItem);
    redisLayout->setContentsMargins(6, 0, 6, 0);
    redisLayout->setSpacing(4);
    redisLayout->addWidget(new ColorSwatch(m_redisItem));
    redisLayout->addWidget(new QLabel(m_redisItem));
    statusBar()->addPermanentWidget(m_redisItem);
    statusBar()->addPermanentWidget(m_linkSummary);
    statusBar()->setSizeGripEnabled(true);

    connect(m_connectionsPanel, &ConnectionsPanel::injectRequested, this, [this](const InjectTarget &target) {
        m_injectDock->show();
        m_injectDock->raise();
        m_injectPanel->setTarget(target);
    });
    connect(m_connectionsPanel, &ConnectionsPanel::historyRequested, this, &MainWindow::showClientHistory);
    connect(m_mapPanel, &ClusterMapPanel::clientHistoryRequested, this, &MainWindow::showClientHistory);
    connect(&session, &OperatorSession::redisStateChanged, this, &MainWindow::updateRedisStatus);
    connect(&session, &OperatorSession::linksChanged, this, &MainWindow::updateStatus);
    connect(&session.instances(), &QAbstractItemModel::dataChanged, this, &MainWindow::updateStatus);
    connect(&session.instances(), &QAbstractItemModel::rowsInserted, this, &MainWindow::updateStatus);
    connect(&session.instances(), &QAbstractItemModel::rowsRemoved, this, &MainWindow::updateStatus);
    connect(&session, &OperatorSession::statusMessage, this, [this](const QString &text) {
        statusBar()->showMessage(text, 15000);
    });
    connect(&session, &OperatorSession::keyRefused, this, [this] {
        statusBar()->showMessage(tr("The operator key was refused. Use Console → Change operator key…"));
    });
    updateStatus();
    updateRedisStatus();
    // Without Redis the instances' own samples are all there is to show.
    m_flowTabs->setCurrentWidget(session.hasRedis() ? static_cast<QWidget *>(m_backplaneFlowPanel) : m_flowPanel);
}

MainWindow::~MainWindow() = default;

QList<QDockWidget *> MainWindow::docks() const
{
    return {m_instancesDock, m_mapDock,      m_connectionsDock, m_stickinessDock,
            m_flowDock,      m_topologyDock, m_chartsDock,      m_injectDock};
}

void MainWindow::showTopology()
{
    m_topologyDock->show();
    m_topologyDock->raise();
}

void MainWindow::showClientHistory(const QString &clientId)
{
    if (clientId.isEmpty())
        return;
    m_stickinessDock->show();
    m_stickinessDock->raise();
    m_stickinessPanel->showClient(clientId);
}

QString MainWindow::redisStatusText() const
{
    return m_redisItem->findChild<QLabel *>()->text();
}

void MainWindow::updateRedisStatus()
{
    const RedisMonitor &redis = m_session.redis();
    m_redisItem->setVisible(m_session.hasRedis());
    QColor color(Qt::gray);
    QString text;
    switch (redis.state()) {
    case RedisMonitor::State::Idle: text = tr("Redis: not watched"); break;
    case RedisMonitor::State::Connecting: text = tr("Redis: connecting…"); color = QColor(0xb3, 0x6b, 0x00); break;
    case RedisMonitor::State::Connected: text = tr("Redis: connected"); color = QColor(0x1b, 0x7f, 0x3b); break;
    case RedisMonitor::State::Retrying: text = tr("Redis: unreachable"); color = QColor(0xc0, 0x1c, 0x28); break;
    }
    m_redisItem->findChild<ColorSwatch *>()->setColor(color);
    m_redisItem->findChild<QLabel *>()->setText(text);
    m_redisItem->setToolTip(redis.statusText());
    if (!m_session.hasRedis())
        m_backplaneFlowPanel->setNotice(tr("Not watching Redis, so no backplane envelopes: start the console with "
                                           "--redis redis://host:port to see every message between instances. "
                                           "The \"Instance samples\" tab shows what the instances sample."));
    else if (redis.state() == RedisMonitor::State::Retrying)
        m_backplaneFlowPanel->setNotice(redis.lastError());
    else
        m_backplaneFlowPanel->setNotice(QString());
}

QDockWidget *MainWindow::addDock(const QString &title, const QString &objectName, QWidget *widget, Qt::DockWidgetArea area)
{
    auto *dock = new QDockWidget(title, this);
    dock->setObjectName(objectName);
    dock->setWidget(widget);
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable | QDockWidget::DockWidgetClosable);
    addDockWidget(area, dock);
    return dock;
}

void MainWindow::defaultLayout()
{
    for (QDockWidget *dock : docks()) {
        dock->setFloating(false);
        dock->show();
    }
    addDockWidget(Qt::TopDockWidgetArea, m_instancesDock);
    addDockWidget(Qt::LeftDockWidgetArea, m_mapDock);
    splitDockWidget(m_mapDock, m_connectionsDock, Qt::Vertical);
    tabifyDockWidget(m_connectionsDock, m_stickinessDock);
    tabifyDockWidget(m_stickinessDock, m_flowDock);
    tabifyDockWidget(m_flowDock, m_topologyDock);
    m_connectionsDock->raise();
    addDockWidget(Qt::RightDockWidgetArea, m_chartsDock);
    splitDockWidget(m_chartsDock, m_injectDock, Qt::Vertical);
    if (m_shown)
        defaultSizes();
}

void MainWindow::defaultSizes()
{
    // Proportions only make sense once the window has its size.
    const int w = width();
    const int h = height();
    resizeDocks({m_mapDock, m_chartsDock}, {w * 60 / 100, w * 40 / 100}, Qt::Horizontal);
    resizeDocks({m_instancesDock}, {qMax(100, h * 11 / 100)}, Qt::Vertical);
    resizeDocks({m_mapDock, m_connectionsDock}, {h * 45 / 100, h * 40 / 100}, Qt::Vertical);
    resizeDocks({m_chartsDock, m_injectDock}, {h * 64 / 100, h * 18 / 100}, Qt::Vertical);
}

void MainWindow::showEvent(QShowEvent *event)
{
    QMainWindow::showEvent(event);
    if (m_shown)
        return;
    m_shown = true;
    if (!m_layoutRestored)
        QTimer::singleShot(0, this, &MainWindow::defaultSizes);
}

void MainWindow::restoreLayout()
{
    ConsoleSettings settings;
    const QByteArray geometry = settings.geometry(QStringLiteral("operator-v2"));
    if (!geometry.isEmpty())
        restoreGeometry(geometry);
    const QByteArray state = settings.windowState(QStringLiteral("operator-v2"));
    if (!state.isEmpty())
        m_layoutRestored = restoreState(state);
}

void MainWindow::buildMenus()
{
    QMenu *console = menuBar()->addMenu(tr("&Console"));
    console->addAction(tr("&Add instance…"), this, &MainWindow::addInstanceInteractive);
    console->addAction(tr("&Remove selected instance"), this, &MainWindow::removeSelectedInstance);
    console->addAction(tr("Reconnect &all"), this, [this] { m_session.reconnectAll(); });
    console->addSeparator();
    console->addAction(tr("Change operator &key…"), this, &MainWindow::changeKeyRequested);
    console->addSeparator();
    console->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget *dock : docks())
        view->addAction(dock->toggleViewAction());
    view->addSeparator();
    view->addAction(tr("&Reset layout"), this, &MainWindow::defaultLayout);
}

QString MainWindow::statusSummary() const
{
    return m_linkSummary->text();
}

void MainWindow::updateStatus()
{
    const InstancesModel &model = m_session.instances();
    // One "● app-1: ready" item per instance, in the instance's colour.
    QList<QUrl> urls;
    for (int row = 0; row < model.rowCount(); ++row)
        urls.append(model.urlAt(row));
    for (auto it = m_statusItems.begin(); it != m_statusItems.end();) {
        if (urls.contains(it.key())) {
            ++it;
            continue;
        }
        statusBar()->removeWidget(it.value());
        it.value()->deleteLater();
        it = m_statusItems.erase(it);
    }
    for (int row = 0; row < model.rowCount(); ++row) {
        const QUrl url = model.urlAt(row);
        QWidget *item = m_statusItems.value(url);
        if (!item) {
            item = new QWidget(this);
            auto *layout = new QHBoxLayout(item);
            layout->setContentsMargins(6, 0, 6, 0);
            layout->setSpacing(4);
            layout->addWidget(new ColorSwatch(item));
            layout->addWidget(new QLabel(item));
            statusBar()->insertPermanentWidget(static_cast<int>(m_statusItems.size()), item);
            m_statusItems.insert(url, item);
        }
        const QModelIndex idx = model.index(row, 0);
        item->findChild<ColorSwatch *>()->setColor(idx.data(InstancesModel::ColorRole).value<QColor>());
        const QString id = model.instanceIdAt(row).isEmpty() ? url.authority() : model.instanceIdAt(row);
        item->findChild<QLabel *>()->setText(QStringLiteral("%1: %2").arg(id, model.healthAt(row)));
        item->setToolTip(model.detailAt(row));
    }
    const int total = model.rowCount();
    m_linkSummary->setText(total == 1 ? tr("%1 of 1 instance connected").arg(m_session.liveCount())
                                      : tr("%1 of %2 instances connected").arg(m_session.liveCount()).arg(total));
}

void MainWindow::addInstanceInteractive()
{
    bool ok = false;
    const QString text = QInputDialog::getText(this, tr("Add instance"), tr("Instance URL (http://host:port):"),
                                               QLineEdit::Normal, QStringLiteral("http://127.0.0.1:8080"), &ok);
    if (!ok)
        return;
    const QUrl url = OperatorHub::normalizeUrl(text);
    if (url.isEmpty()) {
        QMessageBox::warning(this, tr("Add instance"), tr("\"%1\" is not an http:// or https:// URL.").arg(text));
        return;
    }
    m_session.addInstance(url);
    Q_EMIT instancesChanged(m_session.hub().pinnedUrls());
}

void MainWindow::removeSelectedInstance()
{
    const QUrl url = m_session.instances().urlAt(m_instancesPanel->view()->currentIndex().row());
    if (url.isEmpty())
        return;
    m_session.removeInstance(url);
    Q_EMIT instancesChanged(m_session.hub().pinnedUrls());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    ConsoleSettings().saveWindow(QStringLiteral("operator-v2"), saveGeometry(), saveState());
    QMainWindow::closeEvent(event);
}

} // namespace sb::console
