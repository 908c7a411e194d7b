#pragma once

// One Redis reply as a plain value: a deep copy of hiredis' reply tree (type,
// integer, string, array elements), so callbacks never hold a pointer into
// memory hiredis frees as soon as the callback returns. Errors made up by the
// adapter itself (timeout, connection lost) are Error replies too.

#include <QByteArray>
#include <QString>

#include <vector>

struct redisReply;
struct redisReader;

namespace sb {

// The most elements one multi-bulk reply may claim. The backplane's largest
// replies (HGETALL of a room's members, SCAN batches) stay far below it.
inline constexpr int MaxReplyElements = 1 << 20;

// Makes a hiredis reader (one using hiredis' own reply objects) refuse a
// multi-bulk reply that claims more than MaxReplyElements elements: hiredis
// 0.14 callocs count x 8 bytes as soon as it has read the header, so the 13
// bytes "*2147483647\r\n" alone would ask for 16 GiB. The refusal is a reader
// error ("Out of memory"), which drops the connection like any protocol error.
void limitReplySize(redisReader *reader);

class RedisReply
{
public:
    enum class Type { Nil, Status, Error, Integer, String, Array };

    RedisReply() = default; // Nil

    static RedisReply fromHiredis(const redisReply *reply); // nullptr gives Nil
    static RedisReply error(const QByteArray &message);
    static RedisReply status(const QByteArray &text);
    static RedisReply string(const QByteArray &bytes);
    static RedisReply integer(qint64 value);
    static RedisReply array(std::vector<RedisReply> elements);

    Type type() const { return m_type; }
    bool isNil() const { return m_type == Type::Nil; }
    bool isError() const { return m_type == Type::Error; }
    bool isStatus() const { return m_type == Type::Status; }
    bool isString() const { return m_type == Type::String; }
    bool isInteger() const { return m_type == Type::Integer; }
    bool isArray() const { return m_type == Type::Array; }
    // True for a +OK status reply.
    bool isOk() const { return m_type == Type::Status && m_bytes == "OK"; }

    qint64 integer() const { return m_integer; }
    // The bytes of a String, Status or Error reply.
    const QByteArray &bytes() const { return m_bytes; }
    QString text() const { return QString::fromUtf8(m_bytes); }
    const std::vector<RedisReply> &elements() const { return m_elements; }
    // Element `i`, or Nil when out of range.
    const RedisReply &at(std::size_t i) const;
    std::size_t size() const { return m_elements.size(); }

    // Readable form for logs and QCOMPARE failures.
    QString toString() const;

    friend bool operator==(const RedisReply &, const RedisReply &) = default;

private:
    Type m_type = Type::Nil;
    qint64 m_integer = 0;
    QByteArray m_bytes;
    std::vector<RedisReply> m_elements;
};

} // namespace sb
