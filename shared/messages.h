#pragma once

// Value types carried in frames: a chat message, a todo item and a room
// member, with their JSON forms from docs/protocol.md. Shared by the server
// (store, backplane) and the console's client mode.

#include <QJsonObject>
#include <QString>

namespace sb {

struct ChatMessage
{
    QString room;
    qint64 seq = 0;
    QString from;
    QString clientId;
    QString text;
    qint64 ts = 0;
    QString origin;

    QJsonObject toFrame() const; // {"type":"chat",...}
    static ChatMessage fromFrame(const QJsonObject &frame);
};

struct TodoItem
{
    qint64 id = 0;
    QString title;
    bool done = false;
    qint64 createdAt = 0;
    qint64 updatedAt = 0;

    QJsonObject toJson() const;
    static TodoItem fromJson(const QJsonObject &o);
};

struct Member
{
    QString sessionId;
    QString user;
    QString clientId;
    QString instance;

    QJsonObject toJson() const;
    static Member fromJson(const QJsonObject &o);
};

} // namespace sb
