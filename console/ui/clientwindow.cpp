#include "clientwindow.h"

#include "app/participantsession.h"
#include "colorswatch.h"
#include "messagedelegate.h"
#include "models/instancesmodel.h"
#include "services/consolesettings.h"

#include <QCloseEvent>
#include <QDateTime>
#include <QFrame>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QListView>
#include <QMenuBar>
#include <QPushButton>
#include <QScrollBar>
#include <QSplitter>
#include <QStatusBar>
#include <QVBoxLayout>

namespace sb::console {

namespace {

QLabel *heading(const QString &text, QWidget *parent)
{
    auto *label = new QLabel(text, parent);
    QFont f = label->font();
    f.setBold(true);
    label->setFont(f);
    return label;
}

} // namespace

ClientWindow::ClientWindow(ParticipantSession &session, QWidget *parent)
    : QMainWindow(parent)
    , m_session(session)
{
    setObjectName(QStringLiteral("ClientWindow"));
    setWindowTitle(tr("Switchboard — %1").arg(session.client().user()));

    auto *central = new QWidget(this);
    auto *layout = new QVBoxLayout(central);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(buildWhereBar());

    m_banner = new QFrame(central);
    m_banner->setObjectName(QStringLiteral("announcementBanner"));
    m_banner->setStyleSheet(QStringLiteral("#announcementBanner { background: #fff4c2; border-bottom: 1px solid #e0c860; }"));
    auto *bannerLayout = new QHBoxLayout(m_banner);
    bannerLayout->setContentsMargins(12, 6, 8, 6);
    m_bannerText = new QLabel(m_banner);
    m_bannerText->setWordWrap(true);
    m_bannerText->setTextFormat(Qt::PlainText);
    auto *dismiss = new QPushButton(tr("Dismiss"), m_banner);
    dismiss->setFlat(true);
    bannerLayout->addWidget(m_bannerText, 1);
    bannerLayout->addWidget(dismiss);
    m_banner->hide();
    layout->addWidget(m_banner);
    connect(dismiss, &QPushButton::clicked, m_banner, &QWidget::hide);

    auto *splitter = new QSplitter(Qt::Horizontal, central);
    splitter->addWidget(buildRoomsPane());
    splitter->addWidget(buildMessagesPane());
    splitter->addWidget(buildSidePane());
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    splitter->setStretchFactor(2, 0);
    splitter->setSizes({190, 620, 290});
    splitter->setChildrenCollapsible(false);
    layout->addWidget(splitter, 1);

    m_ticker = new QLabel(central);
    m_ticker->setObjectName(QStringLiteral("tickerBar"));
    m_ticker->setStyleSheet(QStringLiteral("#tickerBar { background: #eef2f7; color: #3d4b5c; padding: 4px 12px; "
                                           "border-top: 1px solid #d5dce5; }"));
    m_ticker->setText(tr("Ticker: nothing yet"));
    m_ticker->setTextFormat(Qt::PlainText);
    layout->addWidget(m_ticker);
    setCentralWidget(central);

    QMenu *menu = menuBar()->addMenu(tr("&Client"));
    menu->addAction(tr("&Reconnect now"), &session.client(), &ParticipantClient::reconnectNow);
    menu->addSeparator();
    menu->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    ParticipantClient &client = session.client();
    connect(&client, &ParticipantClient::welcomed, this, &ClientWindow::onWelcomed);
    connect(&client, &ParticipantClient::stateChanged, this, &ClientWindow::updateWhere);
    connect(&client, &ParticipantClient::stateChanged, this, &ClientWindow::updateState);
    connect(&client, &ParticipantClient::reconnectScheduled, this, [this](int delayMs) {
        m_reconnectAt = QDateTime::currentMSecsSinceEpoch() + delayMs;
        m_countdown.start();
        updateState();
    });
    connect(&client, &ParticipantClient::broadcastReceived, this, &ClientWindow::showBroadcast);
    // The state line counts unsent messages.
    connect(&client, &ParticipantClient::pendingQueued, this, &ClientWindow::updateState);
    connect(&client, &ParticipantClient::pendingSent, this, &ClientWindow::updateState);
    connect(&client, &ParticipantClient::pendingFailed, this, &ClientWindow::updateState);
    connect(&client, &ParticipantClient::errorText, this, [this](const QString &text) {
        statusBar()->showMessage(text, MessageMs);
    });
    connect(&session, &ParticipantSession::currentRoomChanged, this, &ClientWindow::onCurrentRoomChanged);
    connect(&session, &ParticipantSession::historyExhausted, this, [this](const QString &room, bool exhausted) {
        if (room != m_session.currentRoom())
            return;
        m_older->setEnabled(!exhausted);
        m_older->setText(exhausted ? tr("Beginning of #%1").arg(room) : tr("Load older messages"));
    });
    m_countdown.setInterval(1000);
    connect(&m_countdown, &QTimer::timeout, this, &ClientWindow::updateState);

    updateWhere();
    updateState();
    onCurrentRoomChanged(session.currentRoom());
}

ClientWindow::~ClientWindow() = default;

QWidget *ClientWindow::buildWhereBar()
{
    auto *bar = new QFrame(this);
    bar->setObjectName(QStringLiteral("whereBar"));
    bar->setStyleSheet(QStringLiteral("#whereBar { background: #f4f6f9; border-bottom: 1px solid #d5dce5; }"));
    auto *layout = new QHBoxLayout(bar);
    layout->setContentsMargins(12, 8, 12, 8);
    layout->setSpacing(10);
    m_swatch = new ColorSwatch(bar);
    m_where = new QLabel(bar);
    QFont big = m_where->font();
    big.setBold(true);
    big.setPointSizeF(big.pointSizeF() * 1.1);
    m_where->setFont(big);
    m_sticky = new QLabel(bar);
    m_state = new QLabel(bar);
    m_identity = new QLabel(bar);
    m_identity->setStyleSheet(QStringLiteral("color: #5a6675;"));
    auto *sep1 = new QLabel(QStringLiteral("|"), bar);
    auto *sep2 = new QLabel(QStringLiteral("|"), bar);
    sep1->setStyleSheet(QStringLiteral("color: #b0b8c4;"));
    sep2->setStyleSheet(QStringLiteral("color: #b0b8c4;"));
    layout->addWidget(m_swatch);
    layout->addWidget(m_where);
    layout->addWidget(sep1);
    layout->addWidget(m_sticky);
    layout->addWidget(sep2);
    layout->addWidget(m_state);
    layout->addStretch(1);
    layout->addWidget(m_identity);
    return bar;
}

QWidget *ClientWindow::buildRoomsPane()
{
    auto *pane = new QWidget(this);
    auto *layout = new QVBoxLayout(pane);
    layout->setContentsMargins(10, 10, 4, 10);
    layout->addWidget(heading(tr("Rooms"), pane));
    m_rooms = new QListView(pane);
    m_rooms->setObjectName(QStringLiteral("rooms"));
    m_rooms->setModel(&m_session.rooms());
    m_rooms->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_rooms->setSpacing(2);
    layout->addWidget(m_rooms, 1);
    m_joinEdit = new QLineEdit(pane);
    m_joinEdit->setObjectName(QStringLiteral("joinEdit"));
    m_joinEdit->setPlaceholderText(tr("room name"));
    auto *join = new QPushButton(tr("Join"), pane);
    join->setObjectName(QStringLiteral("joinButton"));
    auto *leave = new QPushButton(tr("Leave"), pane);
    leave->setObjectName(QStringLiteral("leaveButton"));
    auto *joinRow = new QHBoxLayout;
    joinRow->addWidget(m_joinEdit, 1);
    joinRow->addWidget(join);
    layout->addLayout(joinRow);
    layout->addWidget(leave);
    pane->setMinimumWidth(160);

    connect(join, &QPushButton::clicked, this, &ClientWindow::joinTyped);
    connect(m_joinEdit, &QLineEdit::returnPressed, this, &ClientWindow::joinTyped);
    connect(leave, &QPushButton::clicked, this, [this] {
        if (!m_session.currentRoom().isEmpty())
            m_session.leaveRoom(m_session.currentRoom());
    });
    connect(m_rooms->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex &current) {
        const QString room = current.data(RoomModel::NameRole).toString();
        if (!room.isEmpty() && room != m_session.currentRoom())
            m_session.setCurrentRoom(room);
    });
    return pane;
}

QWidget *ClientWindow::buildMessagesPane()
{
    auto *pane = new QWidget(this);
    auto *layout = new QVBoxLayout(pane);
    layout->setContentsMargins(4, 10, 4, 10);
    auto *top = new QHBoxLayout;
    m_roomTitle = heading(QString(), pane);
    m_older = new QPushButton(tr("Load older messages"), pane);
    m_older->setObjectName(QStringLiteral("olderButton"));
    top->addWidget(m_roomTitle, 1);
    top->addWidget(m_older);
    layout->addLayout(top);

    m_messages = new QListView(pane);
    m_messages->setObjectName(QStringLiteral("messages"));
    m_messages->setModel(&m_session.messages());
    m_messages->setWordWrap(true);
    m_messages->setUniformItemSizes(false);
    m_messages->setSpacing(1);
    m_messages->setItemDelegate(new MessageDelegate(m_messages));
    m_messages->setSelectionMode(QAbstractItemView::NoSelection);
    m_messages->setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
    m_messages->setResizeMode(QListView::Adjust);
    layout->addWidget(m_messages, 1);

    m_composer = new QLineEdit(pane);
    m_composer->setObjectName(QStringLiteral("composer"));
    m_composer->setPlaceholderText(tr("Write a message; Enter sends. Messages typed offline are sent on reconnect."));
    auto *send = new QPushButton(tr("Send"), pane);
    send->setObjectName(QStringLiteral("sendButton"));
    auto *row = new QHBoxLayout;
    row->addWidget(m_composer, 1);
    row->addWidget(send);
    layout->addLayout(row);

    connect(send, &QPushButton::clicked, this, &ClientWindow::sendComposed);
    connect(m_composer, &QLineEdit::returnPressed, this, &ClientWindow::sendComposed);
    connect(m_older, &QPushButton::clicked, this, [this] {
        if (!m_session.currentRoom().isEmpty())
            m_session.client().loadOlder(m_session.currentRoom());
    });
    // Stay at the newest message while the user is at the bottom; leave the
    // view alone once they scroll up to read. The range grows after the list
    // has laid out the new rows, which is when to follow.
    QScrollBar *bar = m_messages->verticalScrollBar();
    connect(bar, &QScrollBar::valueChanged, this, [this, bar](int value) { m_follow = value >= bar->maximum() - 4; });
    connect(bar, &QScrollBar::rangeChanged, this, [this, bar] {
        if (m_follow) // after the view has finished adjusting its scroll bar
            QTimer::singleShot(0, bar, [bar] { bar->setValue(bar->maximum()); });
    });
    connect(&m_session.messages(), &QAbstractItemModel::modelReset, this, [this] {
        m_follow = true;
        m_messages->scrollToBottom();
    });
    return pane;
}

QWidget *ClientWindow::buildSidePane()
{
    auto *splitter = new QSplitter(Qt::Vertical, this);
    auto *membersPane = new QWidget(splitter);
    auto *membersLayout = new QVBoxLayout(membersPane);
    membersLayout->setContentsMargins(4, 10, 10, 4);
    m_membersTitle = heading(tr("Members"), membersPane);
    membersLayout->addWidget(m_membersTitle);
    m_members = new QListView(membersPane);
    m_members->setObjectName(QStringLiteral("members"));
    m_members->setModel(&m_session.members());
    m_members->setSelectionMode(QAbstractItemView::NoSelection);
    m_members->setSpacing(2);
    membersLayout->addWidget(m_members, 1);
    m_moreMembers = new QPushButton(tr("Load more members"), membersPane);
    m_moreMembers->setObjectName(QStringLiteral("moreMembersButton"));
    m_moreMembers->setVisible(false);
    membersLayout->addWidget(m_moreMembers);
    connect(m_moreMembers, &QPushButton::clicked, &m_session, &ParticipantSession::loadMoreMembers);
    connect(&m_session.members(), &MembersModel::countChanged, this, [this](const QString &room) {
        if (room == m_session.currentRoom())
            updateMembersTitle();
    });

    auto *todoPane = new QWidget(splitter);
    auto *todoLayout = new QVBoxLayout(todoPane);
    todoLayout->setContentsMargins(4, 4, 10, 10);
    todoLayout->addWidget(heading(tr("My todos"), todoPane));
    m_todos = new QListView(todoPane);
    m_todos->setObjectName(QStringLiteral("todos"));
    m_todos->setModel(&m_session.todos());
    m_todos->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
    m_todos->setToolTip(tr("Tick to complete; double-click to edit the title"));
    m_todos->setSpacing(2);
    todoLayout->addWidget(m_todos, 1);
    m_todoEdit = new QLineEdit(todoPane);
    m_todoEdit->setObjectName(QStringLiteral("todoEdit"));
    m_todoEdit->setPlaceholderText(tr("New todo"));
    auto *add = new QPushButton(tr("Add"), todoPane);
    add->setObjectName(QStringLiteral("addTodoButton"));
    auto *remove = new QPushButton(tr("Delete"), todoPane);
    remove->setObjectName(QStringLiteral("deleteTodoButton"));
    auto *row = new QHBoxLayout;
    row->addWidget(m_todoEdit, 1);
    row->addWidget(add);
    row->addWidget(remove);
    todoLayout->addLayout(row);

    splitter->addWidget(membersPane);
    splitter->addWidget(todoPane);
    splitter->setSizes({220, 320});
    splitter->setMinimumWidth(240);

    connect(add, &QPushButton::clicked, this, &ClientWindow::addTodo);
    connect(m_todoEdit, &QLineEdit::returnPressed, this, &ClientWindow::addTodo);
    connect(remove, &QPushButton::clicked, this, [this] {
        const qint64 id = m_todos->currentIndex().data(TodoModel::IdRole).toLongLong();
        if (m_todos->currentIndex().isValid())
            m_session.client().deleteTodo(id);
    });
    return splitter;
}

QString ClientWindow::whereText() const
{
    return m_where->text() + QLatin1Char(' ') + m_sticky->text();
}

QString ClientWindow::stateText() const
{
    return m_state->text();
}

QString ClientWindow::statusText() const
{
    return statusBar()->currentMessage();
}

QString ClientWindow::announcementText() const
{
    return m_banner->isVisibleTo(this) ? m_bannerText->text() : QString();
}

QString ClientWindow::tickerText() const
{
    return m_ticker->text();
}

void ClientWindow::onWelcomed(const WelcomeInfo &welcome)
{
    // Say where the client came back, above all when a drain or a failure moved it.
    if (!m_lastInstance.isEmpty() && m_lastInstance != welcome.instance)
        statusBar()->showMessage(tr("Reconnected on %1 (was on %2); catching up on missed messages.")
                                     .arg(welcome.instance, m_lastInstance),
                                 MessageMs);
    else if (!m_lastInstance.isEmpty())
        statusBar()->showMessage(tr("Reconnected on %1.").arg(welcome.instance), MessageMs);
    m_lastInstance = welcome.instance;
    updateWhere();
}

void ClientWindow::updateWhere()
{
    const ParticipantClient &client = m_session.client();
    const WelcomeInfo &w = client.welcome();
    if (w.instance.isEmpty()) {
        m_swatch->setColor(Qt::gray);
        m_where->setText(tr("Not connected yet"));
        m_sticky->setText(tr("sticky: –"));
        m_sticky->setStyleSheet(QString());
    } else if (!client.isConnected()) {
        // The socket is gone: name the last instance, but not as the current one.
        m_swatch->setColor(Qt::gray);
        m_where->setText(tr("Not connected (last on %1)").arg(w.instance));
        m_sticky->setText(tr("sticky: –"));
        m_sticky->setStyleSheet(QString());
    } else {
        m_swatch->setColor(InstancesModel::colorFor(w.color));
        m_where->setText(tr("On %1 (%2)").arg(w.instance, w.color.isEmpty() ? tr("no colour") : w.color));
        m_sticky->setText(w.sticky ? tr("sticky: yes") : tr("sticky: no (token from another instance)"));
        m_sticky->setStyleSheet(w.sticky ? QString() : QStringLiteral("color: #b36b00;"));
    }
    const QString clientId = client.clientId();
    m_identity->setText(tr("%1 · client %2").arg(client.user(),
                                                  clientId.size() > 9 ? clientId.left(8) + QStringLiteral("…") : clientId));
    m_identity->setToolTip(tr("client_id %1").arg(clientId));
    setWindowTitle(tr("Switchboard — %1").arg(client.user()));
}

void ClientWindow::updateState()
{
    const ParticipantClient &client = m_session.client();
    QString text = ParticipantClient::stateName(client.state());
    QString color = QStringLiteral("#5a6675");
    switch (client.state()) {
    case ParticipantClient::State::Connected:
        m_countdown.stop();
        color = QStringLiteral("#1b7f3b");
        break;
    case ParticipantClient::State::Reconnecting: {
        const qint64 left = qMax<qint64>(0, m_reconnectAt - QDateTime::currentMSecsSinceEpoch());
        text = tr("reconnecting in %1 s").arg((left + 999) / 1000);
        color = QStringLiteral("#b36b00");
        break;
    }
    case ParticipantClient::State::Failed:
        m_countdown.stop();
        color = QStringLiteral("#c01c28");
        break;
    default:
        break;
    }
    const int pending = static_cast<int>(client.pendingMessages().size());
    if (pending > 0)
        text += tr(" · %1 unsent").arg(pending);
    m_state->setText(text);
    m_state->setStyleSheet(QStringLiteral("color: %1; font-weight: bold;").arg(color));
}

void ClientWindow::showBroadcast(const BroadcastMessage &broadcast)
{
    const QString time = QDateTime::fromMSecsSinceEpoch(broadcast.ts).toString(QStringLiteral("HH:mm"));
    if (broadcast.kind == BroadcastMessage::Kind::Ticker) {
        m_ticker->setText(tr("Ticker %1 · %2").arg(time, broadcast.text));
        return;
    }
    m_bannerText->setText(tr("Announcement from %1 at %2: %3").arg(broadcast.from, time, broadcast.text));
    m_banner->show();
}

void ClientWindow::sendComposed()
{
    const QString text = m_composer->text();
    if (text.trimmed().isEmpty())
        return;
    if (!m_session.sendToCurrentRoom(text).isEmpty())
        m_composer->clear();
    m_follow = true;
    updateState();
}

void ClientWindow::joinTyped()
{
    const QString room = m_joinEdit->text().trimmed().toLower();
    if (room.isEmpty())
        return;
    m_session.joinRoom(room);
    m_session.setCurrentRoom(room);
    m_joinEdit->clear();
}

void ClientWindow::addTodo()
{
    const QString title = m_todoEdit->text().trimmed();
    if (title.isEmpty())
        return;
    m_session.client().addTodo(title);
    m_todoEdit->clear();
}

void ClientWindow::onCurrentRoomChanged(const QString &room)
{
    m_roomTitle->setText(room.isEmpty() ? tr("No room") : QStringLiteral("#") + room);
    updateMembersTitle();
    m_older->setEnabled(!room.isEmpty());
    m_older->setText(tr("Load older messages"));
    const int row = m_session.rooms().rowOf(room);
    if (row >= 0 && m_rooms->currentIndex().row() != row)
        m_rooms->setCurrentIndex(m_session.rooms().index(row));
    m_follow = true;
    QTimer::singleShot(0, m_messages, &QListView::scrollToBottom);
}

void ClientWindow::updateMembersTitle()
{
    const QString room = m_session.currentRoom();
    const MembersModel &members = m_session.members();
    if (room.isEmpty())
        m_membersTitle->setText(tr("Members"));
    else
        m_membersTitle->setText(tr("Members of #%1 (%2)").arg(room, QLocale().toString(members.memberCount(room))));
    m_moreMembers->setVisible(!room.isEmpty() && members.hasMore(room));
}

void ClientWindow::restoreLayout()
{
    ConsoleSettings settings;
    const QByteArray geometry = settings.geometry(QStringLiteral("client"));
    if (!geometry.isEmpty())
        restoreGeometry(geometry);
}

void ClientWindow::closeEvent(QCloseEvent *event)
{
    ConsoleSettings settings;
    settings.saveWindow(QStringLiteral("client"), saveGeometry(), saveState());
    settings.setRooms(m_session.rooms().rooms());
    QMainWindow::closeEvent(event);
}

} // namespace sb::console
