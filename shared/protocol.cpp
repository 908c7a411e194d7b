#include "protocol.h"

namespace sb {

static_assert(messageTypes.size() == static_cast<std::size_t>(MessageType::AdminFlow) + 1);

consteval bool tableMatchesEnum()
{
    for (std::size_t i = 0; i < messageTypes.size(); ++i) {
        if (static_cast<std::size_t>(messageTypes[i].type) != i)
            return false;
    }
    return true;
}
static_assert(tableMatchesEnum(), "messageTypes must be listed in enum order");

std::optional<MessageType> messageTypeFromName(QStringView name, Direction direction)
{
    for (const auto &entry : messageTypes) {
        if (entry.direction == direction && entry.name == name)
            return entry.type;
    }
    return std::nullopt;
}

std::optional<ErrorCode> errorCodeFromName(QStringView name)
{
    for (std::size_t i = 0; i < errorCodeNames.size(); ++i) {
        if (errorCodeNames[i] == name)
            return static_cast<ErrorCode>(i);
    }
    return std::nullopt;
}

bool isValidRoom(QStringView room)
{
    // ^[a-z0-9][a-z0-9_-]{0,63}$ without a regex engine on the hot path.
    if (room.isEmpty() || room.size() > 64)
        return false;
    for (qsizetype i = 0; i < room.size(); ++i) {
        const char16_t c = room[i].unicode();
        const bool alnum = (c >= u'a' && c <= u'z') || (c >= u'0' && c <= u'9');
        if (alnum)
            continue;
        if (i > 0 && (c == u'_' || c == u'-'))
            continue;
        return false;
    }
    return true;
}

bool isValidUser(QStringView user)
{
    if (user.isEmpty() || user.size() > Limits::MaxUser)
        return false;
    for (const QChar ch : user) {
        const char16_t c = ch.unicode();
        const bool ok = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9')
                        || c == u'_' || c == u'.' || c == u'-';
        if (!ok)
            return false;
    }
    return true;
}

qsizetype codePointLength(QStringView text)
{
    qsizetype n = 0;
    for (qsizetype i = 0; i < text.size(); ++i) {
        if (text[i].isHighSurrogate() && i + 1 < text.size() && text[i + 1].isLowSurrogate())
            ++i;
        ++n;
    }
    return n;
}

bool isStorableText(QStringView text)
{
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text[i];
        if (c.isNull())
            return false;
        if (c.isHighSurrogate() && i + 1 < text.size() && text[i + 1].isLowSurrogate())
            ++i;
        else if (c.isSurrogate())
            return false;
    }
    return true;
}

} // namespace sb
