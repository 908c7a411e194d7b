#include "codec.h"

#include <QJsonDocument>
#include <QJsonParseError>
#include <QJsonValue>

#include <cmath>

namespace sb {

namespace {

ProtocolError badRequest(QString message)
{
    return {ErrorCode::BadRequest, std::move(message)};
}

QString quoted(QLatin1StringView key)
{
    return QLatin1Char('"') + key + QLatin1Char('"');
}

std::optional<ProtocolError> checkStorable(QLatin1StringView key, const QString &value)
{
    if (isStorableText(value))
        return std::nullopt;
    return badRequest(quoted(key) + QStringLiteral(" must not contain U+0000 or unpaired surrogates"));
}

} // namespace

DecodeResult decodeRequest(const QByteArray &utf8)
{
    DecodeResult result;
    result.typeName = QStringLiteral("invalid");

    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(utf8, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        result.error = {ErrorCode::BadJson, QStringLiteral("not JSON: ") + parseError.errorString()};
        return result;
    }
    if (!doc.isObject()) {
        result.error = {ErrorCode::BadJson, QStringLiteral("a frame must be a JSON object")};
        return result;
    }
    QJsonObject body = doc.object();

    const QJsonValue ref = body.value(QLatin1StringView("ref"));
    if (!ref.isUndefined()) {
        if (!ref.isString() || codePointLength(ref.toString()) > Limits::MaxRef || !isStorableText(ref.toString())) {
            result.error = badRequest(QStringLiteral("\"ref\" must be a string of at most 64 characters"));
            return result;
        }
        result.ref = ref.toString();
    }

    const QJsonValue type = body.value(QLatin1StringView("type"));
    if (!type.isString()) {
        result.error = badRequest(QStringLiteral("\"type\" is missing or not a string"));
        return result;
    }
    const QString typeName = type.toString();
    result.sentType = typeName.left(64);
    const std::optional<MessageType> known = messageTypeFromName(typeName, Direction::ToServer);
    if (!known) {
        result.error = {ErrorCode::UnknownType, QStringLiteral("unknown type \"%1\"").arg(typeName.left(64))};
        return result;
    }
    result.typeName = typeName;
    result.request = Request{*known, std::move(body), result.ref};
    return result;
}

std::optional<QJsonObject> decodeObject(const QByteArray &utf8)
{
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(utf8, &parseError);
    if (parseError.error != QJsonParseError::NoError || !doc.isObject())
        return std::nullopt;
    return doc.object();
}

QByteArray encode(const QJsonObject &frame)
{
    return QJsonDocument(frame).toJson(QJsonDocument::Compact);
}

QByteArray encodeWith(const QJsonObject &frame, QLatin1StringView key, const QByteArray &json)
{
    QByteArray out = encode(frame);
    out.chop(1); // the closing brace
    out.reserve(out.size() + key.size() + json.size() + 6);
    if (!frame.isEmpty())
        out += ',';
    out += '"';
    out += QByteArrayView(key.data(), key.size());
    out += "\":";
    out += json;
    out += '}';
    return out;
}

QJsonObject makeFrame(MessageType type, QJsonObject fields)
{
    fields.insert(QLatin1StringView("type"), QString(name(type)));
    return fields;
}

QJsonObject makeAck(const QString &ref, QJsonObject fields)
{
    if (!ref.isEmpty())
        fields.insert(QLatin1StringView("ref"), ref);
    return makeFrame(MessageType::Ack, std::move(fields));
}

QJsonObject makeError(const QString &ref, ErrorCode code, const QString &message)
{
    QJsonObject frame{{QLatin1StringView("code"), QString(name(code))},
                      {QLatin1StringView("message"), message}};
    if (!ref.isEmpty())
        frame.insert(QLatin1StringView("ref"), ref);
    return makeFrame(MessageType::Error, std::move(frame));
}

namespace fields {

std::optional<ProtocolError> requiredString(const QJsonObject &o, QLatin1StringView key, QString *out)
{
    const QJsonValue v = o.value(key);
    if (v.isUndefined())
        return badRequest(quoted(key) + QStringLiteral(" is required"));
    if (!v.isString())
        return badRequest(quoted(key) + QStringLiteral(" must be a string"));
    if (auto error = checkStorable(key, v.toString()))
        return error;
    *out = v.toString();
    return std::nullopt;
}

std::optional<ProtocolError> optionalString(const QJsonObject &o, QLatin1StringView key, std::optional<QString> *out)
{
    const QJsonValue v = o.value(key);
    if (v.isUndefined() || v.isNull())
        return std::nullopt;
    if (!v.isString())
        return badRequest(quoted(key) + QStringLiteral(" must be a string"));
    if (auto error = checkStorable(key, v.toString()))
        return error;
    *out = v.toString();
    return std::nullopt;
}

std::optional<ProtocolError> optionalInt(const QJsonObject &o, QLatin1StringView key, std::optional<qint64> *out)
{
    const QJsonValue v = o.value(key);
    if (v.isUndefined() || v.isNull())
        return std::nullopt;
    const double d = v.toDouble();
    if (!v.isDouble() || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
        return badRequest(quoted(key) + QStringLiteral(" must be an integer"));
    *out = static_cast<qint64>(d);
    return std::nullopt;
}

std::optional<ProtocolError> requiredInt(const QJsonObject &o, QLatin1StringView key, qint64 *out)
{
    std::optional<qint64> value;
    if (auto error = optionalInt(o, key, &value))
        return error;
    if (!value)
        return badRequest(quoted(key) + QStringLiteral(" is required"));
    *out = *value;
    return std::nullopt;
}

std::optional<ProtocolError> optionalBool(const QJsonObject &o, QLatin1StringView key, std::optional<bool> *out)
{
    const QJsonValue v = o.value(key);
    if (v.isUndefined() || v.isNull())
        return std::nullopt;
    if (!v.isBool())
        return badRequest(quoted(key) + QStringLiteral(" must be true or false"));
    *out = v.toBool();
    return std::nullopt;
}

std::optional<ProtocolError> requiredBool(const QJsonObject &o, QLatin1StringView key, bool *out)
{
    std::optional<bool> value;
    if (auto error = optionalBool(o, key, &value))
        return error;
    if (!value)
        return badRequest(quoted(key) + QStringLiteral(" is required"));
    *out = *value;
    return std::nullopt;
}

std::optional<ProtocolError> room(const QJsonObject &o, QString *out)
{
    const QJsonValue v = o.value(QLatin1StringView("room"));
    if (v.isUndefined() || v.isNull())
        return badRequest(QStringLiteral("\"room\" is required"));
    if (v.isString()) {
        if (auto error = checkStorable(QLatin1StringView("room"), v.toString()))
            return error;
    }
    if (!v.isString() || !isValidRoom(v.toString()))
        return ProtocolError{ErrorCode::InvalidRoom,
                             QStringLiteral("a room is 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit")};
    *out = v.toString();
    return std::nullopt;
}

std::optional<ProtocolError> optionalText(const QJsonObject &o, QLatin1StringView key, int maxChars,
                                          std::optional<QString> *out)
{
    std::optional<QString> value;
    if (auto error = optionalString(o, key, &value))
        return error;
    if (!value)
        return std::nullopt;
    if (value->isEmpty())
        return badRequest(quoted(key) + QStringLiteral(" must not be empty"));
    if (codePointLength(*value) > maxChars)
        return ProtocolError{ErrorCode::TooLarge,
                             quoted(key) + QStringLiteral(" is longer than %1 characters").arg(maxChars)};
    *out = std::move(value);
    return std::nullopt;
}

std::optional<ProtocolError> text(const QJsonObject &o, QLatin1StringView key, int maxChars, QString *out)
{
    std::optional<QString> value;
    if (auto error = optionalText(o, key, maxChars, &value))
        return error;
    if (!value)
        return badRequest(quoted(key) + QStringLiteral(" is required"));
    *out = std::move(*value);
    return std::nullopt;
}

} // namespace fields

} // namespace sb
