#include "mainwindow.h"

#include "app/operatorsession.h"
#include "chartspanel.h"
#include "colorswatch.h"
#include "connectionspanel.h"
#include "flowpanel.h"
#include "injectpanel.h"
#include "instancespanel.h"
#include "services/consolesettings.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
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
    , m_linkSummary(new QLabel(this))
{
    setWindowTitle(tr("Switchboard Console — operator"));
    setObjectName(QStringLiteral("OperatorMainWindow"));
    setDockNestingEnabled(true);
    setCorner(Qt::TopLeftCorner, Qt::TopDockWidgetArea);
    setCorner(Qt::TopRightCorner, Qt::TopDockWidgetArea);
    setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
    setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);

    m_instancesDock = addDock(tr("Instances"), QStringLiteral("InstancesDock"), m_instancesPanel, Qt::TopDockWidgetArea);
    m_connectionsDock = addDock(tr("Connections"), QStringLiteral("ConnectionsDock"), m_connectionsPanel, Qt::LeftDockWidgetArea);
    m_flowDock = addDock(tr("Message flow"), QStringLiteral("FlowDock"), m_flowPanel, Qt::LeftDockWidgetArea);
    m_chartsDock = addDock(tr("Charts"), QStringLiteral("ChartsDock"), m_chartsPanel, Qt::RightDockWidgetArea);
    m_injectDock = addDock(tr("Inject"), QStringLiteral("InjectDock"), m_injectPanel, Qt::RightDockWidgetArea);
    defaultLayout();
    buildMenus();

    statusBar()->addPermanentWidget(m_linkSummary);
    statusBar()->setSizeGripEnabled(true);

    connect(m_connectionsPanel, &ConnectionsPanel::injectRequested, this, [this](const InjectTarget &target) {
        m_injectDock->show();
        m_injectDock->raise();
        m_injectPanel->setTarget(target);
    });
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
}

MainWindow::~MainWindow() = default;

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
    for (QDockWidget *dock : {m_instancesDock, m_connectionsDock, m_flowDock, m_chartsDock, m_injectDock}) {
        dock->setFloating(false);
        dock->show();
    }
    addDockWidget(Qt::TopDockWidgetArea, m_instancesDock);
    addDockWidget(Qt::LeftDockWidgetArea, m_connectionsDock);
    splitDockWidget(m_connectionsDock, m_flowDock, Qt::Vertical);
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
    resizeDocks({m_connectionsDock, m_chartsDock}, {w * 56 / 100, w * 44 / 100}, Qt::Horizontal);
    resizeDocks({m_instancesDock}, {qMax(130, h * 15 / 100)}, Qt::Vertical);
    resizeDocks({m_connectionsDock, m_flowDock}, {h * 45 / 100, h * 37 / 100}, Qt::Vertical);
    resizeDocks({m_chartsDock, m_injectDock}, {h * 60 / 100, h * 22 / 100}, Qt::Vertical);
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
    const QByteArray geometry = settings.geometry(QStringLiteral("operator"));
    if (!geometry.isEmpty())
        restoreGeometry(geometry);
    const QByteArray state = settings.windowState(QStringLiteral("operator"));
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
    for (QDockWidget *dock : {m_instancesDock, m_connectionsDock, m_flowDock, m_chartsDock, m_injectDock})
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
    Q_EMIT instancesChanged(m_session.hub().instanceUrls());
}

void MainWindow::removeSelectedInstance()
{
    const QUrl url = m_session.instances().urlAt(m_instancesPanel->view()->currentIndex().row());
    if (url.isEmpty())
        return;
    m_session.removeInstance(url);
    Q_EMIT instancesChanged(m_session.hub().instanceUrls());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    ConsoleSettings().saveWindow(QStringLiteral("operator"), saveGeometry(), saveState());
    QMainWindow::closeEvent(event);
}

} // namespace sb::console
