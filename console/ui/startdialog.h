#pragma once

// The start-up dialog: operator console (the default) or participant client,
// and what each needs — the instance URLs and/or the cluster's Redis, or the
// server URL and user name.
// Shown by main() when the command line did not already say.

#include <QDialog>
#include <QList>
#include <QUrl>

class QLineEdit;
class QRadioButton;
class QLabel;

namespace sb::console {

class StartDialog final : public QDialog
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StartDialog)
public:
    enum class Mode { Operator, Client };

    explicit StartDialog(QWidget *parent = nullptr);

    // Fixes the mode (only that mode's fields are shown).
    void lockMode(Mode mode);
    void setInstanceUrls(const QList<QUrl> &urls);
    void setRedisUrl(const QString &url);
    void setServer(const QUrl &url, const QString &user);

    Mode mode() const;
    QList<QUrl> instanceUrls() const;
    QString redisUrl() const;
    QUrl serverUrl() const;
    QString user() const;

    void accept() override;

private:
    void updateFields();

    QRadioButton *m_operator;
    QRadioButton *m_client;
    QWidget *m_operatorFields;
    QWidget *m_clientFields;
    QLineEdit *m_instances;
    QLineEdit *m_redis;
    QLineEdit *m_server;
    QLineEdit *m_user;
    QLabel *m_error;
};

} // namespace sb::console
