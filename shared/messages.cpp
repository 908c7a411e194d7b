#include "messages.h"

#include "codec.h"

namespace sb {

QJsonObject ChatMessage::toFrame() const
{
    return makeFrame(MessageType::Chat, {{QLatin1StringView("room"), room},
                                         {QLatin1StringView("seq"), seq},
                                         {QLatin1StringView("from"), from},
                                         {QLatin1StringView("client_id"), clientId},
                                         {QLatin1StringView("text"), text},
                                         {QLatin1StringView("ts"), ts},
                                         {QLatin1StringView("origin"), origin}});
}

ChatMessage ChatMessage::fromFrame(const QJsonObject &f)
{
    return {f.value(QLatin1StringView("room")).toString(),
            f.value(QLatin1StringView("seq")).toInteger(),
            f.value(QLatin1StringView("from")).toString(),
            f.value(QLatin1StringView("client_id")).toString(),
            f.value(QLatin1StringView("text")).toString(),
            f.value(QLatin1StringView("ts")).toInteger(),
            f.value(QLatin1StringView("origin")).toString()};
}

QJsonObject TodoItem::toJson() const
{
    return {{QLatin1StringView("id"), id},
            {QLatin1StringView("title"), title},
            {QLatin1StringView("done"), done},
            {QLatin1StringView("created_at"), createdAt},
            {QLatin1StringView("updated_at"), updatedAt}};
}

TodoItem TodoItem::fromJson(const QJsonObject &o)
{
    return {o.value(QLatin1StringView("id")).toInteger(),
            o.value(QLatin1StringView("title")).toString(),
            o.value(QLatin1StringView("done")).toBool(),
            o.value(QLatin1StringView("created_at")).toInteger(),
            o.value(QLatin1StringView("updated_at")).toInteger()};
}

QJsonObject Member::toJson() const
{
    return {{QLatin1StringView("session_id"), sessionId},
            {QLatin1StringView("user"), user},
            {QLatin1StringView("client_id"), clientId},
            {QLatin1StringView("instance"), instance}};
}

Member Member::fromJson(const QJsonObject &o)
{
    return {o.value(QLatin1StringView("session_id")).toString(), o.value(QLatin1StringView("user")).toString(),
            o.value(QLatin1StringView("client_id")).toString(), o.value(QLatin1StringView("instance")).toString()};
}

} // namespace sb
