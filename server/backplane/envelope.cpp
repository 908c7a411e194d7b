#include "envelope.h"

#include "codec.h"

#include <QDateTime>
#include <QUuid>

namespace sb {

QString newId()
{
    return QUuid::createUuid().toString(QUuid::WithoutBraces);
}

Envelope Envelope::make(const QString &origin, QJsonValue target, QJsonObject frame)
{
    return {origin, newId(), QDateTime::currentMSecsSinceEpoch(), std::move(target), std::move(frame)};
}

QByteArray Envelope::encode() const
{
    return sb::encode({{QLatin1StringView("v"), 1},
                       {QLatin1StringView("origin"), origin},
                       {QLatin1StringView("id"), id},
                       {QLatin1StringView("ts"), ts},
                       {QLatin1StringView("target"), target},
                       {QLatin1StringView("frame"), frame}});
}

std::optional<Envelope> Envelope::decode(const QByteArray &payload)
{
    const auto object = decodeObject(payload);
    if (!object || object->value(QLatin1StringView("v")).toInt() != 1)
        return std::nullopt;
    const QJsonValue frame = object->value(QLatin1StringView("frame"));
    if (!frame.isObject())
        return std::nullopt;
    return Envelope{object->value(QLatin1StringView("origin")).toString(),
                    object->value(QLatin1StringView("id")).toString(),
                    object->value(QLatin1StringView("ts")).toInteger(),
                    object->value(QLatin1StringView("target")),
                    frame.toObject(),
                    payload.size()};
}

} // namespace sb
