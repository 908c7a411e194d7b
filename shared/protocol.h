#pragma once

// The one table of Switchboard's wire vocabulary (docs/protocol.md section 3):
// message types, error codes and close codes. The server's dispatcher, the
// codec and the console's handlers all look names up here, so adding a type is
// one edit.

#include <QLatin1StringView>
#include <QString>

#include <array>
#include <cstdint>
#include <optional>

namespace sb {

enum class MessageType : std::uint8_t {
    // client -> server
    Ping,
    Join,
    Leave,
    Chat,
    History,
    Members,
    TodoList,
    TodoAdd,
    TodoUpdate,
    TodoDelete,
    AdminSubscribe,
    AdminInject,
    AdminDisconnect,
    AdminDrain,
    AdminUndrain,
    AdminTicker,
    // server -> client
    Welcome,
    Ack,
    Error,
    Pong,
    Presence,
    TodoChanged,
    Broadcast,
    Reconnect,
    AdminConnOpen,
    AdminConnClose,
    AdminStats,
    AdminFlow,
};

enum class Direction : std::uint8_t { ToServer, ToClient };

struct MessageTypeInfo
{
    MessageType type;
    QLatin1StringView name;
    Direction direction;
    bool operatorOnly;
};

inline constexpr std::array<MessageTypeInfo, 28> messageTypes{{
    {MessageType::Ping, QLatin1StringView("ping"), Direction::ToServer, false},
    {MessageType::Join, QLatin1StringView("join"), Direction::ToServer, false},
    {MessageType::Leave, QLatin1StringView("leave"), Direction::ToServer, false},
    {MessageType::Chat, QLatin1StringView("chat"), Direction::ToServer, false},
    {MessageType::History, QLatin1StringView("history"), Direction::ToServer, false},
    {MessageType::Members, QLatin1StringView("members"), Direction::ToServer, false},
    {MessageType::TodoList, QLatin1StringView("todo.list"), Direction::ToServer, false},
    {MessageType::TodoAdd, QLatin1StringView("todo.add"), Direction::ToServer, false},
    {MessageType::TodoUpdate, QLatin1StringView("todo.update"), Direction::ToServer, false},
    {MessageType::TodoDelete, QLatin1StringView("todo.delete"), Direction::ToServer, false},
    {MessageType::AdminSubscribe, QLatin1StringView("admin.subscribe"), Direction::ToServer, true},
    {MessageType::AdminInject, QLatin1StringView("admin.inject"), Direction::ToServer, true},
    {MessageType::AdminDisconnect, QLatin1StringView("admin.disconnect"), Direction::ToServer, true},
    {MessageType::AdminDrain, QLatin1StringView("admin.drain"), Direction::ToServer, true},
    {MessageType::AdminUndrain, QLatin1StringView("admin.undrain"), Direction::ToServer, true},
    {MessageType::AdminTicker, QLatin1StringView("admin.ticker"), Direction::ToServer, true},
    {MessageType::Welcome, QLatin1StringView("welcome"), Direction::ToClient, false},
    {MessageType::Ack, QLatin1StringView("ack"), Direction::ToClient, false},
    {MessageType::Error, QLatin1StringView("error"), Direction::ToClient, false},
    {MessageType::Pong, QLatin1StringView("pong"), Direction::ToClient, false},
    {MessageType::Presence, QLatin1StringView("presence"), Direction::ToClient, false},
    {MessageType::TodoChanged, QLatin1StringView("todo.changed"), Direction::ToClient, false},
    {MessageType::Broadcast, QLatin1StringView("broadcast"), Direction::ToClient, false},
    {MessageType::Reconnect, QLatin1StringView("reconnect"), Direction::ToClient, false},
    {MessageType::AdminConnOpen, QLatin1StringView("admin.conn.open"), Direction::ToClient, true},
    {MessageType::AdminConnClose, QLatin1StringView("admin.conn.close"), Direction::ToClient, true},
    {MessageType::AdminStats, QLatin1StringView("admin.stats"), Direction::ToClient, true},
    {MessageType::AdminFlow, QLatin1StringView("admin.flow"), Direction::ToClient, true},
}};

constexpr const MessageTypeInfo &info(MessageType type)
{
    return messageTypes[static_cast<std::size_t>(type)];
}

constexpr QLatin1StringView name(MessageType type)
{
    return info(type).name;
}

// Looks a wire name up; only types a client may send when `direction` is ToServer.
std::optional<MessageType> messageTypeFromName(QStringView name, Direction direction);

enum class ErrorCode : std::uint8_t {
    BadJson,
    BadRequest,
    UnknownType,
    InvalidRoom,
    TooLarge,
    RateLimited,
    NotMember,
    NotFound,
    Forbidden,
    BackplaneUnavailable,
    StoreUnavailable,
    Internal,
    LimitExceeded,
};

inline constexpr std::array<QLatin1StringView, 13> errorCodeNames{{
    QLatin1StringView("bad_json"),
    QLatin1StringView("bad_request"),
    QLatin1StringView("unknown_type"),
    QLatin1StringView("invalid_room"),
    QLatin1StringView("too_large"),
    QLatin1StringView("rate_limited"),
    QLatin1StringView("not_member"),
    QLatin1StringView("not_found"),
    QLatin1StringView("forbidden"),
    QLatin1StringView("backplane_unavailable"),
    QLatin1StringView("store_unavailable"),
    QLatin1StringView("internal"),
    QLatin1StringView("limit_exceeded"),
}};

constexpr QLatin1StringView name(ErrorCode code)
{
    return errorCodeNames[static_cast<std::size_t>(code)];
}

std::optional<ErrorCode> errorCodeFromName(QStringView name);

// WebSocket close codes the contract names.
namespace CloseCode {
inline constexpr int Normal = 1000;
inline constexpr int PolicyViolation = 1008; // ten errors in 10 s
inline constexpr int TooLarge = 1009;
inline constexpr int ServiceRestart = 1012; // drain
inline constexpr int TryAgainLater = 1013;  // slow consumer
inline constexpr int DisconnectedByOperator = 4000;
inline constexpr int Unauthorized = 4401;
} // namespace CloseCode

// Limits fixed by the contract (the configurable ones live in Config).
namespace Limits {
inline constexpr int MaxRef = 64;
inline constexpr int MaxNonce = 64;
inline constexpr int MaxChatText = 4000;
inline constexpr int MaxTodoTitle = 500;
inline constexpr int MaxUser = 32;
inline constexpr int HistoryDefault = 50;
inline constexpr int HistoryMax = 200;
inline constexpr int MembersListed = 200;   // in a join ack; the default page of `members`
inline constexpr int MembersPageMax = 1000; // the largest page of `members`
inline constexpr int PresenceBatchMax = 100; // members listed per batch in `joined` and in `left`
inline constexpr int ErrorsBeforeClose = 10;
inline constexpr int ErrorWindowMs = 10000;
inline constexpr qint64 NonceWindowMs = 10 * 60 * 1000;
} // namespace Limits

bool isValidRoom(QStringView room);
bool isValidUser(QStringView user);
// Length in Unicode code points, as the contract counts characters.
qsizetype codePointLength(QStringView text);
// False when `text` holds U+0000 or a surrogate that is not half of a pair:
// such strings are refused with bad_request (contract section 8), so what is
// stored is exactly what was acknowledged.
bool isStorableText(QStringView text);

} // namespace sb
