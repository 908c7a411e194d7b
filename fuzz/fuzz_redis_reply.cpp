// Fuzzes what happens to bytes a Redis server sends: hiredis' own reply
// reader (redisReaderCreate/Feed/GetReply, the reader RedisConnection's async
// context uses, with the same limitReplySize() on it), then our conversion of each reply tree into RedisReply
// (shared/redis/redisreply.cpp), its toString() (log lines), the subscriber
// connection's classification of pub/sub pushes ("message", "pmessage",
// "subscribe" …, as RedisConnection::routePubSubReply does), the backplane
// envelope decoder on message payloads, and the backplane's walks over
// HGETALL/EXEC/SCAN-shaped replies (pairs of name and JSON value).
//
// Input: byte 0 picks how the rest is cut into segments (1 to 32 of them),
// as TCP would; the rest is the reply stream.
//
// Invariants besides crashes, UB and leaks:
// - RedisReply::fromHiredis is an exact deep copy (type, bytes, integer,
//   element count, recursively);
// - the replies and the protocol error do not depend on the segmentation.

#include "backplane/envelope.h"
#include "codec.h"
#include "messages.h"
#include "redisreply.h"

#include <hiredis/hiredis.h>

#include <QByteArray>
#include <QList>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace sb;

namespace {

[[noreturn]] void fail(const char *what)
{
    std::fprintf(stderr, "fuzz_redis_reply invariant broken: %s\n", what);
    std::abort();
}

void checkCopy(const redisReply *r, const RedisReply &copy)
{
    const QByteArray bytes = r->str ? QByteArray(r->str, static_cast<qsizetype>(r->len)) : QByteArray();
    switch (r->type) {
    case REDIS_REPLY_STRING:
        if (!copy.isString() || copy.bytes() != bytes)
            fail("a bulk string was not copied exactly");
        break;
    case REDIS_REPLY_STATUS:
        if (!copy.isStatus() || copy.bytes() != bytes)
            fail("a status was not copied exactly");
        break;
    case REDIS_REPLY_ERROR:
        if (!copy.isError() || copy.bytes() != bytes)
            fail("an error was not copied exactly");
        break;
    case REDIS_REPLY_INTEGER:
        if (!copy.isInteger() || copy.integer() != r->integer)
            fail("an integer was not copied exactly");
        break;
    case REDIS_REPLY_NIL:
        if (!copy.isNil())
            fail("nil did not stay nil");
        break;
    case REDIS_REPLY_ARRAY:
        if (!copy.isArray() || copy.size() != r->elements)
            fail("an array was not copied with all its elements");
        for (size_t i = 0; i < r->elements; ++i)
            checkCopy(r->element[i], copy.at(i));
        break;
    default:
        fail("hiredis produced a reply type we do not know");
    }
}

// The subscriber connection's routing, on our copy.
void routePubSub(const RedisReply &r)
{
    if (!r.isArray() || r.size() < 3)
        return;
    const auto bytes = [](const RedisReply &e) {
        return e.isString() || e.isStatus() ? e.bytes() : QByteArray();
    };
    const QByteArray kind = bytes(r.at(0)).toLower();
    const QByteArray payload = kind == "pmessage" ? bytes(r.at(3)) : bytes(r.at(2));
    if (kind == "message" || kind == "pmessage") {
        if (const auto envelope = Envelope::decode(payload)) {
            (void)envelope->frame.value(QLatin1StringView("type")).toString();
            (void)ChatMessage::fromFrame(envelope->frame);
            // Relaying is stable: after one encode/decode (which may replace
            // lone surrogates a foreign publisher sent), another changes nothing.
            const auto once = Envelope::decode(envelope->encode());
            if (!once)
                fail("an envelope we encoded does not decode");
            const auto twice = Envelope::decode(once->encode());
            if (!twice || twice->frame != once->frame || twice->id != once->id || twice->origin != once->origin
                || twice->ts != once->ts || twice->target != once->target)
                fail("an envelope changes on every relay");
        }
    }
}

// HGETALL-like walks: name, JSON value, name, JSON value …, at any depth.
void walkPairs(const RedisReply &r, int depth = 0)
{
    if (!r.isArray() || depth > 8)
        return;
    for (std::size_t i = 0; i + 1 < r.size(); i += 2) {
        (void)r.at(i).text();
        if (const auto object = decodeObject(r.at(i + 1).bytes())) {
            (void)Member::fromJson(*object).toJson();
            (void)TodoItem::fromJson(*object).toJson();
        }
    }
    (void)r.at(0).integer();
    (void)r.at(r.size()).isNil();
    for (const RedisReply &e : r.elements())
        walkPairs(e, depth + 1);
}

struct Outcome
{
    std::vector<RedisReply> replies;
    bool protocolError = false;
};

Outcome read(const QByteArray &stream, const QList<qsizetype> &cuts)
{
    Outcome out;
    redisReader *reader = redisReaderCreate();
    if (!reader)
        fail("redisReaderCreate failed");
    limitReplySize(reader); // as RedisConnection does for its context's reader
    qsizetype fed = 0;
    for (const qsizetype cut : cuts) {
        if (redisReaderFeed(reader, stream.constData() + fed, static_cast<size_t>(cut - fed)) != REDIS_OK) {
            out.protocolError = true;
            break;
        }
        fed = cut;
        void *reply = nullptr;
        while (!out.protocolError) {
            if (redisReaderGetReply(reader, &reply) != REDIS_OK) {
                out.protocolError = true;
                break;
            }
            if (!reply)
                break;
            const auto *r = static_cast<const redisReply *>(reply);
            RedisReply copy = RedisReply::fromHiredis(r);
            checkCopy(r, copy);
            freeReplyObject(reply);
            out.replies.push_back(std::move(copy));
        }
        if (out.protocolError)
            break;
    }
    redisReaderFree(reader);
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const QByteArray stream(reinterpret_cast<const char *>(data + 1), static_cast<qsizetype>(size - 1));

    QList<qsizetype> cuts;
    std::uint32_t state = data[0] * 2654435761u + 1;
    const int segments = 1 + data[0] % 32;
    for (int i = 1; i < segments && stream.size() > 1; ++i) {
        state = state * 1103515245u + 12345u;
        cuts.append(1 + static_cast<qsizetype>((state >> 8) % static_cast<std::uint32_t>(stream.size() - 1)));
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.append(stream.size());

    const Outcome segmented = read(stream, cuts);
    const Outcome whole = read(stream, {stream.size()});
    if (segmented.protocolError != whole.protocolError)
        fail("a protocol error depends on the segmentation");
    // A protocol error can cut the segmented read short of replies the whole
    // read still produced before failing; otherwise they must be equal.
    if (!whole.protocolError && segmented.replies != whole.replies)
        fail("the replies depend on the segmentation");

    for (const RedisReply &reply : whole.replies) {
        (void)reply.toString();
        routePubSub(reply);
        walkPairs(reply);
    }
    return 0;
}
