#pragma once

// The backplane's channel names and the frame types that travel only between
// instances (docs/protocol.md section 5). Servers publish and route by these,
// and the console's Redis monitor reads them, so each name is spelled once.

#include <QLatin1StringView>
#include <QString>

#include <array>
#include <cstdint>
#include <optional>

namespace sb {

struct Channel
{
    enum class Kind : std::uint8_t {
        Room,    // room:R  a room's chats and presence
        Client,  // client:C  one client's todo changes, on every instance it is on
        Reply,   // reply:I  answers to instance I's cluster commands
        All,     // all  broadcasts and the ticker switch
        Cluster, // cluster  commands every instance runs
        Other,
    };

    Kind kind = Kind::Other;
    QString name; // R, C or I; empty for all and cluster

    static QString room(const QString &room) { return QLatin1StringView("room:") + room; }
    static QString client(const QString &clientId) { return QLatin1StringView("client:") + clientId; }
    static QString reply(const QString &instance) { return QLatin1StringView("reply:") + instance; }
    static QString all() { return QStringLiteral("all"); }
    static QString cluster() { return QStringLiteral("cluster"); }

    static Channel parse(const QString &channel);
    bool carriesClientFrames() const { return kind == Kind::Room || kind == Kind::Client; }
};

// The frame types of envelopes between instances; never sent to a client.
enum class InternalType : std::uint8_t {
    ClusterInject,
    ClusterDisconnect,
    ClusterDrain,
    ClusterReply,
    TickerSet,
    BackplaneProbe,
};

inline constexpr std::array<QLatin1StringView, 6> internalTypeNames{{
    QLatin1StringView("cluster.inject"),
    QLatin1StringView("cluster.disconnect"),
    QLatin1StringView("cluster.drain"),
    QLatin1StringView("cluster.reply"),
    QLatin1StringView("ticker.set"),
    QLatin1StringView("backplane.probe"),
}};

constexpr QLatin1StringView name(InternalType type)
{
    return internalTypeNames[static_cast<std::size_t>(type)];
}

std::optional<InternalType> internalTypeFromName(QStringView name);

} // namespace sb
