#include "backplane.h"

namespace sb {

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
