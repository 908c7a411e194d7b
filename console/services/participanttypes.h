#pragma once

// Value types the participant service hands to models: a broadcast and a
// message waiting to be sent, plus the shared welcome (shared/wire.h), chat,
// todo and member types. Parsed once from the wire JSON.

#include "messages.h"
#include "wire.h"

#include <QJsonObject>
#include <QList>
#include <QString>

namespace sb::console {

using sb::WelcomeInfo; // shared/wire.h

// Chat messages, todo items and room members are the shared library's types
// (shared/messages.h), named here for the console's signals and models.
using ChatMessage = sb::ChatMessage;
using TodoItem = sb::TodoItem;
using RoomMember = sb::Member;

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
