#pragma once

// One Redis reply as a plain value: a deep copy of hiredis' reply tree (type,
// integer, string, array elements), so callbacks never hold a pointer into
// memory hiredis frees as soon as the callback returns. Errors made up by the
// adapter itself (timeout, connection lost) are Error replies too.

#include <QByteArray>
#include <QString>

#include <vector>

struct redisReply;

namespace sb {

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
