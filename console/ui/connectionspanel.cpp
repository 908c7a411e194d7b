#include "connectionspanel.h"

#include "app/operatorsession.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace sb::console {

ConnectionsPanel::ConnectionsPanel(OperatorSession &session, QWidget *parent)
    : QWidget(parent)
    , m_session(session)
    , m_proxy(new QSortFilterProxyModel(this))
    , m_view(new QTableView(this))
    , m_filter(new QLineEdit(this))
    , m_count(new QLabel(this))
    , m_result(new QLabel(this))
    , m_disconnect(new QPushButton(tr("Disconnect…"), this))
    , m_injectSession(new QPushButton(tr("Inject to session…"), this))
    , m_injectClient(new QPushButton(tr("Inject to client…"), this))
    , m_history(new QPushButton(tr("Instance history"), this))
{
    m_proxy->setSourceModel(&session.connections());
    m_proxy->setSortRole(ConnectionsModel::SortRole);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_proxy->setDynamicSortFilter(true);

    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(ConnectionsModel::ConnectedSince, Qt::AscendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setAlternatingRowColors(true);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 6);
    m_view->horizontalHeader()->setSectionResizeMode(ConnectionsModel::Rooms, QHeaderView::Stretch);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    m_view->setColumnWidth(ConnectionsModel::User, 80);
    m_view->setColumnWidth(ConnectionsModel::Role, 75);
    m_view->setColumnWidth(ConnectionsModel::ClientId, 85);
    m_view->setColumnWidth(ConnectionsModel::Instance, 65);
    m_view->setColumnWidth(ConnectionsModel::Rooms, 100);
    m_view->setColumnWidth(ConnectionsModel::Remote, 75);
    m_view->setColumnWidth(ConnectionsModel::ConnectedSince, 75);
    m_view->setColumnWidth(ConnectionsModel::FramesIn, 45);
    m_view->setColumnWidth(ConnectionsModel::FramesOut, 45);
    m_view->setColumnWidth(ConnectionsModel::Queue, 60);
    m_view->setColumnWidth(ConnectionsModel::Sticky, 70);
    m_view->setTextElideMode(Qt::ElideMiddle);

    m_filter->setPlaceholderText(tr("Filter by user, client, room, instance, address…"));
    m_filter->setClearButtonEnabled(true);
    m_result->setWordWrap(true);

    auto *top = new QHBoxLayout;
    top->addWidget(m_filter, 1);
    top->addWidget(m_count);
    auto *actions = new QHBoxLayout;
    actions->addWidget(m_disconnect);
    actions->addWidget(m_injectSession);
    actions->addWidget(m_injectClient);
    actions->addWidget(m_history);
    actions->addWidget(m_result, 1);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addLayout(top);
    layout->addWidget(m_view, 1);
    layout->addLayout(actions);

    connect(m_filter, &QLineEdit::textChanged, this, &ConnectionsPanel::setFilterText);
    connect(m_disconnect, &QPushButton::clicked, this, &ConnectionsPanel::disconnectSelected);
    connect(m_injectSession, &QPushButton::clicked, this, [this] {
        if (!selectedSession().isEmpty())
            Q_EMIT injectRequested({InjectTarget::Kind::SessionId, selectedSession()});
    });
    connect(m_injectClient, &QPushButton::clicked, this, [this] {
        if (!selectedClient().isEmpty())
            Q_EMIT injectRequested({InjectTarget::Kind::ClientId, selectedClient()});
    });
    m_history->setToolTip(tr("Every instance this client connected to, newest first (Stickiness dock)"));
    connect(m_history, &QPushButton::clicked, this, [this] {
        if (!selectedClient().isEmpty())
            Q_EMIT historyRequested(selectedClient());
    });
    connect(m_view, &QTableView::doubleClicked, this, [this](const QModelIndex &index) {
        Q_EMIT historyRequested(index.data(ConnectionsModel::ClientIdRole).toString());
    });
    connect(m_view, &QWidget::customContextMenuRequested, this, [this](const QPoint &pos) {
        if (!m_view->indexAt(pos).isValid())
            return;
        QMenu menu(this);
        menu.addAction(tr("Disconnect…"), this, &ConnectionsPanel::disconnectSelected);
        menu.addAction(tr("Inject to this session…"), m_injectSession, &QPushButton::click);
        menu.addAction(tr("Inject to this client…"), m_injectClient, &QPushButton::click);
        menu.addSeparator();
        menu.addAction(tr("Show its instance history"), m_history, &QPushButton::click);
        menu.exec(m_view->viewport()->mapToGlobal(pos));
    });
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ConnectionsPanel::updateButtons);
    // Count once the batch has settled in both the model and the proxy.
    m_countTimer.setSingleShot(true);
    m_countTimer.setInterval(0);
    connect(&m_countTimer, &QTimer::timeout, this, &ConnectionsPanel::updateCount);
    connect(&session.connections(), &ConnectionsModel::batchApplied, &m_countTimer, qOverload<>(&QTimer::start));
    connect(m_proxy, &QAbstractItemModel::modelReset, &m_countTimer, qOverload<>(&QTimer::start));
    updateCount();
    updateButtons();
}

void ConnectionsPanel::setFilterText(const QString &text)
{
    if (m_filter->text() != text)
        m_filter->setText(text);
    m_proxy->setFilterFixedString(text);
    updateCount();
}

QString ConnectionsPanel::countText() const
{
    return m_count->text();
}

void ConnectionsPanel::updateCount()
{
    const int total = m_session.connections().rowCount();
    const int shown = m_proxy->rowCount();
    const QLocale locale;
    const QString connections = total == 1 ? tr("1 connection") : tr("%1 connections").arg(locale.toString(total));
    m_count->setText(shown == total ? connections : tr("%1 of %2").arg(locale.toString(shown), connections));
    updateButtons();
}

void ConnectionsPanel::updateButtons()
{
    const bool have = !selectedSession().isEmpty();
    m_disconnect->setEnabled(have);
    m_injectSession->setEnabled(have);
    m_injectClient->setEnabled(have);
    m_history->setEnabled(have);
}

QString ConnectionsPanel::selectedSession() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.first().data(ConnectionsModel::SessionIdRole).toString();
}

QString ConnectionsPanel::selectedClient() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    return rows.isEmpty() ? QString() : rows.first().data(ConnectionsModel::ClientIdRole).toString();
}

void ConnectionsPanel::showResult(const QString &text, bool ok)
{
    m_result->setStyleSheet(ok ? QStringLiteral("color: #1b7f3b;") : QStringLiteral("color: #c01c28;"));
    m_result->setText(text);
}

void ConnectionsPanel::disconnectSelected()
{
    const QString sessionId = selectedSession();
    const std::optional<ConnectionInfo> conn = m_session.connections().connection(sessionId);
    if (!conn)
        return;
    const auto answer = QMessageBox::question(
        this, tr("Disconnect %1?").arg(conn->user),
        tr("Close %1's session on %2 (code 4000, \"disconnected by operator\")? Their client may reconnect.")
            .arg(conn->user, conn->instance),
        QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
    if (answer != QMessageBox::Yes)
        return;
    m_session.disconnectSession(sessionId, this, [this, user = conn->user](const Reply &reply) {
        showResult(reply.ok ? tr("%1 was disconnected.").arg(user) : tr("Disconnect failed: %1").arg(reply.text), reply.ok);
    });
}

} // namespace sb::console
