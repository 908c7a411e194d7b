#include "channel.h"

namespace sb {

Channel Channel::parse(const QString &channel)
{
    static constexpr std::array<std::pair<QLatin1StringView, Kind>, 3> prefixed{{
        {QLatin1StringView("room:"), Kind::Room},
        {QLatin1StringView("client:"), Kind::Client},
        {QLatin1StringView("reply:"), Kind::Reply},
    }};
    for (const auto &[prefix, kind] : prefixed) {
        if (channel.startsWith(prefix))
            return {kind, channel.mid(prefix.size())};
    }
    if (channel == QLatin1StringView("all"))
        return {Kind::All, {}};
    if (channel == QLatin1StringView("cluster"))
        return {Kind::Cluster, {}};
    return {Kind::Other, channel};
}

std::optional<InternalType> internalTypeFromName(QStringView name)
{
    for (std::size_t i = 0; i < internalTypeNames.size(); ++i) {
        if (name == internalTypeNames[i])
            return static_cast<InternalType>(i);
    }
    return std::nullopt;
}

} // namespace sb
