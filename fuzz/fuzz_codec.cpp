// Fuzzes what the server does first with a client's WebSocket text frame
// (Server::onText: the frame as QString, back to UTF-8, decodeRequest) and
// then the field readers each handler runs for its type, plus the client-side
// decodeObject and the value types the console builds from frames.
//
// Besides crashes, UB and leaks it checks the codec's promises:
// - the metrics label is "invalid" or a known client type (bounded cardinality);
// - a decode error is one of the three frame-level codes, with a message;
// - every string a field reader accepted (and the ref) survives encode() and
//   decodeObject() unchanged: what is acknowledged is what is stored and sent.

#include "codec.h"
#include "messages.h"
#include "protocol.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

using namespace sb;

namespace {

[[noreturn]] void fail(const char *what, const QString &detail = {})
{
    std::fprintf(stderr, "fuzz_codec invariant broken: %s %s\n", what, qPrintable(detail));
    std::abort();
}

// An accepted string must come back from the wire form exactly.
void checkRoundTrip(QLatin1StringView key, const QString &value)
{
    const QJsonObject frame = makeFrame(MessageType::Ack, {{key, value}});
    const std::optional<QJsonObject> back = decodeObject(encode(frame));
    if (!back)
        fail("an encoded ack does not decode");
    if (back->value(key).toString() != value)
        fail("an accepted string changed on the wire:", QString(key));
}

void checkError(const std::optional<ProtocolError> &error)
{
    if (error && error->message.isEmpty())
        fail("a field error without a message");
}

// What the handlers of server/chat, server/todo and server/admin read, in
// their order; stops at the first error as they do.
void readFields(const Request &r)
{
    const QJsonObject &o = r.body;
    QString room;
    QString text;
    std::optional<QString> optText;
    std::optional<qint64> optInt;
    std::optional<bool> optBool;
    qint64 id = 0;
    bool flag = false;
    QString string;

    const auto roomOk = [&] {
        const auto e = fields::room(o, &room);
        checkError(e);
        if (!e) {
            if (!isValidRoom(room))
                fail("fields::room accepted an invalid room", room);
            checkRoundTrip(QLatin1StringView("room"), room);
        }
        return !e;
    };

    switch (r.type) {
    case MessageType::Ping:
        break;
    case MessageType::Join:
        if (roomOk())
            checkError(fields::optionalInt(o, QLatin1StringView("since"), &optInt));
        break;
    case MessageType::Leave:
        roomOk();
        break;
    case MessageType::Chat:
        if (!roomOk())
            break;
        if (const auto e = fields::text(o, QLatin1StringView("text"), Limits::MaxChatText, &text)) {
            checkError(e);
            break;
        }
        if (text.isEmpty() || codePointLength(text) > Limits::MaxChatText)
            fail("fields::text accepted a text outside 1..4000", text.left(64));
        checkRoundTrip(QLatin1StringView("text"), text);
        if (const auto e = fields::optionalString(o, QLatin1StringView("nonce"), &optText); !e && optText)
            checkRoundTrip(QLatin1StringView("nonce"), *optText);
        break;
    case MessageType::History:
        if (!roomOk())
            break;
        checkError(fields::optionalInt(o, QLatin1StringView("before"), &optInt));
        checkError(fields::optionalInt(o, QLatin1StringView("limit"), &optInt));
        break;
    case MessageType::Members:
        if (!roomOk())
            break;
        if (const auto e = fields::optionalString(o, QLatin1StringView("after"), &optText); !e && optText)
            checkRoundTrip(QLatin1StringView("after"), *optText);
        checkError(fields::optionalInt(o, QLatin1StringView("limit"), &optInt));
        break;
    case MessageType::TodoList:
        break;
    case MessageType::TodoAdd:
        if (const auto e = fields::text(o, QLatin1StringView("title"), Limits::MaxTodoTitle, &text); !e)
            checkRoundTrip(QLatin1StringView("title"), text);
        break;
    case MessageType::TodoUpdate:
        if (fields::requiredInt(o, QLatin1StringView("id"), &id))
            break;
        if (const auto e = fields::optionalText(o, QLatin1StringView("title"), Limits::MaxTodoTitle, &optText);
            !e && optText)
            checkRoundTrip(QLatin1StringView("title"), *optText);
        checkError(fields::optionalBool(o, QLatin1StringView("done"), &optBool));
        break;
    case MessageType::TodoDelete:
        checkError(fields::requiredInt(o, QLatin1StringView("id"), &id));
        break;
    case MessageType::AdminSubscribe:
        checkError(fields::optionalBool(o, QLatin1StringView("flow"), &optBool));
        break;
    case MessageType::AdminInject:
        if (const auto e = fields::text(o, QLatin1StringView("text"), Limits::MaxChatText, &text); !e)
            checkRoundTrip(QLatin1StringView("text"), text);
        break;
    case MessageType::AdminDisconnect:
        if (!fields::requiredString(o, QLatin1StringView("session_id"), &string))
            checkRoundTrip(QLatin1StringView("session_id"), string);
        break;
    case MessageType::AdminDrain:
    case MessageType::AdminUndrain:
        if (!fields::requiredString(o, QLatin1StringView("instance"), &string))
            checkRoundTrip(QLatin1StringView("instance"), string);
        break;
    case MessageType::AdminTicker:
        checkError(fields::requiredBool(o, QLatin1StringView("enabled"), &flag));
        break;
    default:
        fail("decodeRequest returned a server-to-client type", QString(name(r.type)));
    }
}

void decodeAsServer(const QByteArray &utf8)
{
    const DecodeResult d = decodeRequest(utf8);
    if (d.ok()) {
        const Request &r = *d.request;
        if (info(r.type).direction != Direction::ToServer)
            fail("a server-to-client type decoded as a request");
        if (d.typeName != name(r.type))
            fail("the metrics label is not the type's name", d.typeName);
        if (r.ref != d.ref || codePointLength(r.ref) > Limits::MaxRef)
            fail("a ref over 64 characters was accepted", r.ref.left(80));
        if (!r.ref.isEmpty())
            checkRoundTrip(QLatin1StringView("ref"), r.ref);
        readFields(r);
        return;
    }
    if (d.typeName != QLatin1StringView("invalid"))
        fail("an undecodable frame has a metrics label other than invalid", d.typeName);
    if (d.error.code != ErrorCode::BadJson && d.error.code != ErrorCode::BadRequest
        && d.error.code != ErrorCode::UnknownType)
        fail("unexpected decode error code", QString(name(d.error.code)));
    if (d.error.message.isEmpty())
        fail("a decode error without a message");
    if (d.sentType.size() > 64)
        fail("sentType is longer than 64 UTF-16 units");
    // The error frame the server sends back must itself be a valid frame.
    const QByteArray wire = encode(makeError(d.ref, d.error.code, d.error.message));
    const std::optional<QJsonObject> back = decodeObject(wire);
    if (!back || back->value(QLatin1StringView("type")).toString() != QLatin1StringView("error"))
        fail("an error frame does not decode");
    if (!d.ref.isEmpty() && back->value(QLatin1StringView("ref")).toString() != d.ref)
        fail("the echoed ref changed on the wire", d.ref);
}

// What a client (the console) makes of any frame.
void decodeAsClient(const QByteArray &bytes)
{
    const std::optional<QJsonObject> object = decodeObject(bytes);
    if (!object)
        return;
    const QString type = object->value(QLatin1StringView("type")).toString();
    (void)messageTypeFromName(type, Direction::ToClient);
    (void)ChatMessage::fromFrame(*object).toFrame();
    (void)TodoItem::fromJson(object->value(QLatin1StringView("item")).toObject()).toJson();
    for (const QJsonValue &m : object->value(QLatin1StringView("members")).toArray())
        (void)Member::fromJson(m.toObject()).toJson();
    for (const QJsonValue &m : object->value(QLatin1StringView("missed")).toArray())
        (void)ChatMessage::fromFrame(m.toObject());
    if (const auto code = errorCodeFromName(object->value(QLatin1StringView("code")).toString()))
        (void)name(*code);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // A copy, like every QByteArray the server passes on (NUL-terminated).
    const QByteArray raw(reinterpret_cast<const char *>(data), static_cast<qsizetype>(size));
    // QWebSocket hands the server a QString; Server::onText turns it back into UTF-8.
    decodeAsServer(QString::fromUtf8(raw).toUtf8());
    // The raw bytes too: decodeRequest is public API and must cope with invalid UTF-8.
    decodeAsServer(raw);
    decodeAsClient(raw);
    return 0;
}
