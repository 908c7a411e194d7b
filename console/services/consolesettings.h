#pragma once

// What the console remembers between runs, in QSettings: the operator's
// instance URLs and Redis URL, the participant's server, user name, rooms and persistent
// client_id, and window geometry/state. Never the operator key (that goes to
// the keychain, see OperatorKeyStore). A thin value-less facade; create one
// where needed.

#include <QByteArray>
#include <QList>
#include <QSettings>
#include <QStringList>
#include <QUrl>

namespace sb::console {

class ConsoleSettings final
{
public:
    ConsoleSettings() = default;

    QList<QUrl> instanceUrls() const;
    void setInstanceUrls(const QList<QUrl> &urls);
    // The cluster's Redis (redis://…); empty when none.
    QString redisUrl() const;
    void setRedisUrl(const QString &url);

    // Created and stored on first use, so it survives restarts.
    QString clientId();
    void setClientId(const QString &clientId);

    QUrl serverUrl() const;
    void setServerUrl(const QUrl &url);
    QString userName() const;
    void setUserName(const QString &user);
    QStringList rooms() const;
    void setRooms(const QStringList &rooms);

    QByteArray geometry(const QString &window) const;
    QByteArray windowState(const QString &window) const;
    void saveWindow(const QString &window, const QByteArray &geometry, const QByteArray &state);

private:
    QSettings m_settings;
};

} // namespace sb::console
