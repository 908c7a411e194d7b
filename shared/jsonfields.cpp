#include "jsonfields.h"

namespace sb::json {

QString str(const QJsonObject &o, const char *key)
{
    return o.value(QLatin1StringView(key)).toString();
}

qint64 integer(const QJsonObject &o, const char *key)
{
    return o.value(QLatin1StringView(key)).toInteger();
}

double number(const QJsonObject &o, const char *key)
{
    return o.value(QLatin1StringView(key)).toDouble();
}

bool boolean(const QJsonObject &o, const char *key)
{
    return o.value(QLatin1StringView(key)).toBool();
}

} // namespace sb::json
