#include "redisreply.h"

#include <hiredis/hiredis.h>

#include <QStringList>

namespace sb {

namespace {

redisReplyObjectFunctions hiredisFunctions{}; // hiredis' defaults, copied from the first reader
redisReplyObjectFunctions limitedFunctions{};

void *createLimitedArray(const redisReadTask *task, int elements)
{
    if (elements > MaxReplyElements)
        return nullptr; // the reader fails with "Out of memory"
    return hiredisFunctions.createArray(task, elements);
}

} // namespace

void limitReplySize(redisReader *reader)
{
    // Only hiredis' own functions are wrapped: their reply objects are what
    // freeReplyObject() and fromHiredis() expect.
    if (!reader || !reader->fn || reader->fn == &limitedFunctions || reader->fn->freeObject != &freeReplyObject)
        return;
    static const bool copied = [reader] {
        hiredisFunctions = *reader->fn;
        limitedFunctions = hiredisFunctions;
        limitedFunctions.createArray = &createLimitedArray;
        return true;
    }();
    Q_UNUSED(copied);
    reader->fn = &limitedFunctions;
}

RedisReply RedisReply::fromHiredis(const redisReply *reply)
{
    RedisReply out;
    if (!reply)
        return out;
    switch (reply->type) {
    case REDIS_REPLY_STRING:
        out.m_type = Type::String;
        out.m_bytes = QByteArray(reply->str, static_cast<qsizetype>(reply->len));
        break;
    case REDIS_REPLY_STATUS:
        out.m_type = Type::Status;
        out.m_bytes = QByteArray(reply->str, static_cast<qsizetype>(reply->len));
        break;
    case REDIS_REPLY_ERROR:
        out.m_type = Type::Error;
        out.m_bytes = QByteArray(reply->str, static_cast<qsizetype>(reply->len));
        break;
    case REDIS_REPLY_INTEGER:
        out.m_type = Type::Integer;
        out.m_integer = reply->integer;
        break;
    case REDIS_REPLY_ARRAY:
        out.m_type = Type::Array;
        out.m_elements.reserve(reply->elements);
        for (size_t i = 0; i < reply->elements; ++i)
            out.m_elements.push_back(fromHiredis(reply->element[i]));
        break;
    case REDIS_REPLY_NIL:
    default:
        break;
    }
    return out;
}

RedisReply RedisReply::error(const QByteArray &message)
{
    RedisReply out;
    out.m_type = Type::Error;
    out.m_bytes = message;
    return out;
}

RedisReply RedisReply::status(const QByteArray &text)
{
    RedisReply out;
    out.m_type = Type::Status;
    out.m_bytes = text;
    return out;
}

RedisReply RedisReply::string(const QByteArray &bytes)
{
    RedisReply out;
    out.m_type = Type::String;
    out.m_bytes = bytes;
    return out;
}

RedisReply RedisReply::integer(qint64 value)
{
    RedisReply out;
    out.m_type = Type::Integer;
    out.m_integer = value;
    return out;
}

RedisReply RedisReply::array(std::vector<RedisReply> elements)
{
    RedisReply out;
    out.m_type = Type::Array;
    out.m_elements = std::move(elements);
    return out;
}

const RedisReply &RedisReply::at(std::size_t i) const
{
    static const RedisReply nil;
    return i < m_elements.size() ? m_elements[i] : nil;
}

QString RedisReply::toString() const
{
    switch (m_type) {
    case Type::Nil:
        return QStringLiteral("(nil)");
    case Type::Status:
        return QStringLiteral("+") + text();
    case Type::Error:
        return QStringLiteral("(error) ") + text();
    case Type::Integer:
        return QStringLiteral("(integer) ") + QString::number(m_integer);
    case Type::String:
        return QLatin1Char('"') + text() + QLatin1Char('"');
    case Type::Array: {
        QStringList parts;
        for (const RedisReply &e : m_elements)
            parts.append(e.toString());
        return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
    }
    }
    return {};
}

} // namespace sb
