#pragma once

// Value types the participant service hands to models: the welcome, a chat
// message, a room member, a todo item and a broadcast. Parsed once from the
// wire JSON here.

#include <QJsonObject>
#include <QList>
#include <QString>

namespace sb::console {

struct WelcomeInfo
{
    QString sessionId;
    QString clientId;
    QString user;
    QString instance;
    QString color;
    bool sticky = true;
    int heartbeatMs = 25000;

    static WelcomeInfo fromJson(const QJsonObject &welcome);
};

struct ChatMessage
{
    QString room;
    qint64 seq = 0;
    QString from;
    QString clientId;
    QString text;
    qint64 ts = 0;
    QString origin;

    static ChatMessage fromJson(const QJsonObject &chat);
    QString toString() const;
};

struct RoomMember
{
    QString sessionId;
    QString user;
    QString clientId;
    QString instance;

    static RoomMember fromJson(const QJsonObject &member);
};

struct TodoItem
{
    qint64 id = 0;
    QString title;
    bool done = false;
    qint64 createdAt = 0;
    qint64 updatedAt = 0;

    static TodoItem fromJson(const QJsonObject &item);
    QString toString() const;
};

enum class TodoChange { Added, Updated, Deleted };

struct BroadcastMessage
{
    enum class Kind { Ticker, Announcement };
    Kind kind = Kind::Ticker;
    QString text;
    QString from;
    qint64 ts = 0;
    QString origin;

    static BroadcastMessage fromJson(const QJsonObject &broadcast);
};

// A chat typed by this user and not yet acknowledged by the server.
struct PendingMessage
{
    QString nonce;
    QString room;
    QString text;
    qint64 createdAt = 0;
};

} // namespace sb::console
