#pragma once

// JSON codec for WebSocket frames: turns a text frame into a typed request or
// a contract error, and builds the server's answers. Stateless; used by the
// server's dispatcher, the console and the tests.

#include "protocol.h"

#include <QByteArray>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace sb {

struct ProtocolError
{
    ErrorCode code;
    QString message;
};

struct Request
{
    MessageType type = MessageType::Ping;
    QJsonObject body;
    QString ref; // empty when the client sent none
};

struct DecodeResult
{
    std::optional<Request> request; // set on success
    ProtocolError error{ErrorCode::Internal, {}};
    QString ref; // echoed on errors too, when it could be read
    QString typeName; // as sent, for metrics ("invalid" when unusable)
    QString sentType; // the "type" string as sent, even when unknown

    bool ok() const { return request.has_value(); }
};

// Decodes a client's text frame. `isOperator` decides nothing here; the
// dispatcher checks roles.
DecodeResult decodeRequest(const QByteArray &utf8);

// Decodes any frame (used by clients): no direction check, type kept as text.
std::optional<QJsonObject> decodeObject(const QByteArray &utf8);

QByteArray encode(const QJsonObject &frame);
// The frame encoded with one more member whose value is JSON text already
// (a cached array, say): `{…,"key":json}`. `key` must not be in `frame`.
QByteArray encodeWith(const QJsonObject &frame, QLatin1StringView key, const QByteArray &json);
QJsonObject makeAck(const QString &ref, QJsonObject fields = {});
QJsonObject makeError(const QString &ref, ErrorCode code, const QString &message);
QJsonObject makeFrame(MessageType type, QJsonObject fields = {});

// Field readers. Each returns an error when the field is missing or of the
// wrong type, following the contract's choice between bad_request and the
// field-specific codes.
namespace fields {
std::optional<ProtocolError> requiredString(const QJsonObject &o, QLatin1StringView key, QString *out);
std::optional<ProtocolError> optionalString(const QJsonObject &o, QLatin1StringView key, std::optional<QString> *out);
std::optional<ProtocolError> optionalInt(const QJsonObject &o, QLatin1StringView key, std::optional<qint64> *out);
std::optional<ProtocolError> requiredInt(const QJsonObject &o, QLatin1StringView key, qint64 *out);
std::optional<ProtocolError> optionalBool(const QJsonObject &o, QLatin1StringView key, std::optional<bool> *out);
std::optional<ProtocolError> requiredBool(const QJsonObject &o, QLatin1StringView key, bool *out);
// "room": missing -> bad_request; present but not a valid name -> invalid_room.
std::optional<ProtocolError> room(const QJsonObject &o, QString *out);
// A text of 1..maxChars code points: empty -> bad_request, longer -> too_large.
std::optional<ProtocolError> text(const QJsonObject &o, QLatin1StringView key, int maxChars, QString *out);
std::optional<ProtocolError> optionalText(const QJsonObject &o, QLatin1StringView key, int maxChars,
                                          std::optional<QString> *out);
} // namespace fields

} // namespace sb
