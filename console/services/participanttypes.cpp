#include "participanttypes.h"

namespace sb::console {

namespace {

QString str(const QJsonObject &o, const char *key)
{
    return o.value(QLatin1StringView(key)).toString();
}

qint64 integer(const QJsonObject &o, const char *key)
{
    return o.value(QLatin1StringView(key)).toInteger();
}

} // namespace

WelcomeInfo WelcomeInfo::fromJson(const QJsonObject &welcome)
{
    WelcomeInfo w;
    w.sessionId = str(welcome, "session_id");
    w.clientId = str(welcome, "client_id");
    w.user = str(welcome, "user");
    w.instance = str(welcome, "instance");
    w.color = str(welcome, "color");
    w.sticky = welcome.value(QLatin1StringView("sticky")).toBool(true);
    w.heartbeatMs = static_cast<int>(integer(welcome, "heartbeat_ms"));
    if (w.heartbeatMs <= 0)
        w.heartbeatMs = 25000;
    return w;
}

ChatMessage ChatMessage::fromJson(const QJsonObject &chat)
{
    ChatMessage m;
    m.room = str(chat, "room");
    m.seq = integer(chat, "seq");
    m.from = str(chat, "from");
    m.clientId = str(chat, "client_id");
    m.text = str(chat, "text");
    m.ts = integer(chat, "ts");
    m.origin = str(chat, "origin");
    return m;
}

QString ChatMessage::toString() const
{
    return QStringLiteral("chat(%1#%2 %3: %4)").arg(room).arg(seq).arg(from, text);
}

RoomMember RoomMember::fromJson(const QJsonObject &member)
{
    return {str(member, "session_id"), str(member, "user"), str(member, "client_id"), str(member, "instance")};
}

TodoItem TodoItem::fromJson(const QJsonObject &item)
{
    TodoItem t;
    t.id = integer(item, "id");
    t.title = str(item, "title");
    t.done = item.value(QLatin1StringView("done")).toBool();
    t.createdAt = integer(item, "created_at");
    t.updatedAt = integer(item, "updated_at");
    return t;
}

QString TodoItem::toString() const
{
    return QStringLiteral("todo(%1 \"%2\" %3)").arg(id).arg(title, done ? QStringLiteral("done") : QStringLiteral("open"));
}

BroadcastMessage BroadcastMessage::fromJson(const QJsonObject &broadcast)
{
    BroadcastMessage b;
    b.kind = str(broadcast, "kind") == QLatin1StringView("announcement") ? Kind::Announcement : Kind::Ticker;
    b.text = str(broadcast, "text");
    b.from = str(broadcast, "from");
    b.ts = integer(broadcast, "ts");
    b.origin = str(broadcast, "origin");
    return b;
}

} // namespace sb::console
