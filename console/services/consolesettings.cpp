#include "consolesettings.h"

#include <QUuid>

namespace sb::console {

QList<QUrl> ConsoleSettings::instanceUrls() const
{
    QList<QUrl> urls;
    const QStringList list = m_settings.value(QStringLiteral("operator/instances")).toStringList();
    for (const QString &s : list) {
        const QUrl url(s);
        if (url.isValid() && !url.host().isEmpty())
            urls.append(url);
    }
    return urls;
}

void ConsoleSettings::setInstanceUrls(const QList<QUrl> &urls)
{
    QStringList list;
    for (const QUrl &u : urls)
        list.append(u.toString());
    m_settings.setValue(QStringLiteral("operator/instances"), list);
}

QString ConsoleSettings::redisUrl() const
{
    return m_settings.value(QStringLiteral("operator/redis")).toString();
}

void ConsoleSettings::setRedisUrl(const QString &url)
{
    m_settings.setValue(QStringLiteral("operator/redis"), url);
}

QString ConsoleSettings::clientId()
{
    QString id = m_settings.value(QStringLiteral("client/client_id")).toString();
    if (id.isEmpty()) {
        id = QUuid::createUuid().toString(QUuid::WithoutBraces);
        m_settings.setValue(QStringLiteral("client/client_id"), id);
    }
    return id;
}

void ConsoleSettings::setClientId(const QString &clientId)
{
    m_settings.setValue(QStringLiteral("client/client_id"), clientId);
}

QUrl ConsoleSettings::serverUrl() const
{
    return m_settings.value(QStringLiteral("client/server"), QStringLiteral("http://127.0.0.1:8080")).toUrl();
}

void ConsoleSettings::setServerUrl(const QUrl &url)
{
    m_settings.setValue(QStringLiteral("client/server"), url);
}

QString ConsoleSettings::userName() const
{
    return m_settings.value(QStringLiteral("client/user")).toString();
}

void ConsoleSettings::setUserName(const QString &user)
{
    m_settings.setValue(QStringLiteral("client/user"), user);
}

QStringList ConsoleSettings::rooms() const
{
    return m_settings.value(QStringLiteral("client/rooms"), QStringList{QStringLiteral("lobby")}).toStringList();
}

void ConsoleSettings::setRooms(const QStringList &rooms)
{
    m_settings.setValue(QStringLiteral("client/rooms"), rooms);
}

QByteArray ConsoleSettings::geometry(const QString &window) const
{
    return m_settings.value(window + QStringLiteral("/geometry")).toByteArray();
}

QByteArray ConsoleSettings::windowState(const QString &window) const
{
    return m_settings.value(window + QStringLiteral("/state")).toByteArray();
}

void ConsoleSettings::saveWindow(const QString &window, const QByteArray &geometry, const QByteArray &state)
{
    m_settings.setValue(window + QStringLiteral("/geometry"), geometry);
    m_settings.setValue(window + QStringLiteral("/state"), state);
}

} // namespace sb::console
