#pragma once

// Small helpers shared by redisbackplane.cpp and redisbackplanecluster.cpp
// (one class, two files: the Redis Cluster variants live apart).

#include "backplane.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace sb::redisdetail {

// Where an instance that cleaned up after a dead one tells the others.
inline const QString kGoneChannel = QStringLiteral("backplane:gone");

inline QByteArray toJson(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

inline std::optional<QJsonObject> parseObject(const QByteArray &json)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return std::nullopt;
    return doc.object();
}

inline QByteArray bytes(const QString &s)
{
    return s.toUtf8();
}

inline QByteArray number(qint64 n)
{
    return QByteArray::number(n);
}

// MATCH treats these as glob syntax; a prefix must match literally.
inline QByteArray globEscape(const QByteArray &text)
{
    QByteArray out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
            out.append('\\');
        out.append(c);
    }
    return out;
}

inline QList<QByteArray> fieldArgs(const Fields &fields)
{
    QList<QByteArray> args;
    args.reserve(fields.size() * 2);
    for (auto it = fields.cbegin(); it != fields.cend(); ++it) {
        args.append(bytes(it.key()));
        args.append(bytes(it.value()));
    }
    return args;
}

} // namespace sb::redisdetail
