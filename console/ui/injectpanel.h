#pragma once

// The Inject dock: sends an announcement to everyone, a room, an instance, a
// client or a session and shows how many sockets received it (from the ack),
// or why it failed. Calls OperatorSession; owned by MainWindow.

#include "services/operatortypes.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;

namespace sb::console {

class OperatorSession;

class InjectPanel final : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(InjectPanel)
public:
    explicit InjectPanel(OperatorSession &session, QWidget *parent = nullptr);

    // Pre-fills the target (from a connection's row actions) and focuses the text.
    void setTarget(const InjectTarget &target);
    InjectTarget target() const;
    void setText(const QString &text);
    void send();
    QString resultText() const;

Q_SIGNALS:
    void finished(bool ok, qint64 recipients);

private:
    void updateSuggestions();
    void showResult(const QString &text, bool ok);

    OperatorSession &m_session;
    QComboBox *m_kind;
    QComboBox *m_value;
    QPlainTextEdit *m_text;
    QPushButton *m_send;
    QLabel *m_result;
};

} // namespace sb::console
