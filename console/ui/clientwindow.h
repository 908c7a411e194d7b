#pragma once

// The participant client window: an always-visible "where am I" bar
// (instance and its colour, sticky or not, connection state), rooms with
// unread counts, the room's messages with scroll-back and pending messages,
// its members, the todo list, and broadcasts (ticker line vs. announcement
// banner). Borrows a ParticipantSession; owned by main() or a test.

#include "services/participanttypes.h"

#include <QMainWindow>
#include <QTimer>

class QLabel;
class QLineEdit;
class QListView;
class QPushButton;
class QFrame;

namespace sb::console {

class ColorSwatch;
class ParticipantSession;

class ClientWindow final : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ClientWindow)
public:
    explicit ClientWindow(ParticipantSession &session, QWidget *parent = nullptr);
    ~ClientWindow() override;

    QString whereText() const;
    QString stateText() const;
    // The status bar's current message: errors in plain words, reconnects.
    QString statusText() const;
    QString announcementText() const;
    QString tickerText() const;
    QListView *messagesView() const { return m_messages; }
    void restoreLayout();

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    QWidget *buildWhereBar();
    QWidget *buildRoomsPane();
    QWidget *buildMessagesPane();
    QWidget *buildSidePane();
    void onWelcomed(const WelcomeInfo &welcome);
    void updateWhere();
    void updateState();
    void showBroadcast(const BroadcastMessage &broadcast);
    void sendComposed();
    void joinTyped();
    void addTodo();
    void onCurrentRoomChanged(const QString &room);
    void updateMembersTitle();

    ParticipantSession &m_session;
    ColorSwatch *m_swatch = nullptr;
    QLabel *m_where = nullptr;
    QLabel *m_sticky = nullptr;
    QLabel *m_state = nullptr;
    QLabel *m_identity = nullptr;
    QFrame *m_banner = nullptr;
    QLabel *m_bannerText = nullptr;
    QLabel *m_ticker = nullptr;
    QListView *m_rooms = nullptr;
    QLineEdit *m_joinEdit = nullptr;
    QLabel *m_roomTitle = nullptr;
    QPushButton *m_older = nullptr;
    QListView *m_messages = nullptr;
    QLineEdit *m_composer = nullptr;
    QListView *m_members = nullptr;
    QLabel *m_membersTitle = nullptr;
    QPushButton *m_moreMembers = nullptr;
    QListView *m_todos = nullptr;
    QLineEdit *m_todoEdit = nullptr;
    static constexpr int MessageMs = 12000;

    QTimer m_countdown;
    QString m_lastInstance;
    qint64 m_reconnectAt = 0;
    bool m_follow = true;
};

} // namespace sb::console
