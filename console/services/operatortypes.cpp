#include "operatortypes.h"

namespace sb::console {

QString InjectTarget::kindName(Kind kind)
{
    switch (kind) {
    case Kind::All: return QStringLiteral("all");
    case Kind::Room: return QStringLiteral("room");
    case Kind::Instance: return QStringLiteral("instance");
    case Kind::ClientId: return QStringLiteral("client_id");
    case Kind::SessionId: return QStringLiteral("session_id");
    }
    return {};
}

QJsonObject InjectTarget::toJson() const
{
    if (kind == Kind::All)
        return {{QLatin1StringView("all"), true}};
    return {{kindName(kind), value}};
}

QString InjectTarget::toString() const
{
    return kind == Kind::All ? QStringLiteral("everyone") : kindName(kind) + QLatin1Char(' ') + value;
}

} // namespace sb::console
