// Fuzzes the HTTP request head parser (server/http/httpmessage.cpp) the way
// HttpServer::onReadyRead drives it: the bytes arrive in segments, and after
// each one the parser runs again on everything peeked so far (at most
// MaxHeadBytes + MaxBodyBytes + 1 bytes) until it gives a verdict, the request
// is an upgrade, or its body is complete. A complete POST /api/token body then
// goes through the JSON reader the token endpoint uses.
//
// Input: byte 0 picks how the rest is cut into segments (1 to 32 of them);
// the rest is what the client sent.
//
// Invariants checked besides crashes, UB and leaks:
// - a Complete head is well formed (CRLFCRLF at headerBytes, token method,
//   target starting with '/', HTTP/1.0 or 1.1, lower-case token header names,
//   contentLength >= 0, within MaxHeadBytes);
// - the verdict does not depend on how TCP cut the bytes: fed in segments or
//   in one read, the same request is accepted (with the same head) or refused
//   with the same status.

#include "codec.h"
#include "http/httpmessage.h"
#include "http/httpserver.h"

#include <QUrlQuery>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

using namespace sb;

namespace {

[[noreturn]] void fail(const char *what, const QByteArray &detail = {})
{
    std::fprintf(stderr, "fuzz_http invariant broken: %s %s\n", what, detail.left(200).constData());
    std::abort();
}

bool isLowerToken(const QByteArray &s)
{
    if (s.isEmpty())
        return false;
    for (const char c : s) {
        if (c >= 'A' && c <= 'Z')
            return false;
        if (static_cast<unsigned char>(c) <= ' ' || c == ':' || static_cast<unsigned char>(c) >= 0x7f)
            return false;
    }
    return true;
}

void checkComplete(const QByteArray &data, const HttpRequest &r)
{
    if (r.headerBytes < 4 || r.headerBytes > data.size() || r.headerBytes > HttpServer::MaxHeadBytes)
        fail("headerBytes out of range");
    if (data.mid(r.headerBytes - 4, 4) != "\r\n\r\n")
        fail("the head does not end with CRLFCRLF at headerBytes");
    if (data.left(r.headerBytes - 4).contains("\r\n\r\n"))
        fail("the head ends after an earlier CRLFCRLF");
    if (!isLowerToken(r.method.toLower()) || r.method != r.method.toUpper())
        fail("bad method accepted", r.method);
    if (!r.target.startsWith('/'))
        fail("a target that is not a path was accepted", r.target);
    if (r.version != "HTTP/1.1" && r.version != "HTTP/1.0")
        fail("bad version accepted", r.version);
    if (r.contentLength < 0)
        fail("negative Content-Length accepted");
    for (auto it = r.headers.cbegin(); it != r.headers.cend(); ++it) {
        if (!isLowerToken(it.key()))
            fail("a header name that is not a lower-case token", it.key());
        if (it.value().contains('\r') || it.value().contains('\n'))
            fail("a header value holds CR or LF", it.value());
    }
}

// What the server does with an accepted plain request before its handler runs.
void useRequest(const HttpRequest &r)
{
    (void)r.isWebSocketUpgrade();
    (void)r.header("origin");
    (void)r.header("x-forwarded-for");
    (void)r.header("authorization");
    (void)r.query.queryItemValue(QStringLiteral("token"));
    (void)r.query.queryItems(QUrl::FullyDecoded);
    if (r.method == "POST" && r.path == QLatin1StringView("/api/token")) {
        if (const auto object = decodeObject(r.body)) {
            QString user;
            std::optional<QString> clientId;
            std::optional<QString> role;
            (void)fields::requiredString(*object, QLatin1StringView("user"), &user);
            (void)isValidUser(user);
            (void)fields::optionalString(*object, QLatin1StringView("client_id"), &clientId);
            (void)fields::optionalString(*object, QLatin1StringView("role"), &role);
        }
    }
}

enum class Verdict { Waiting, Upgrade, Request, TooLarge, Malformed, BodyTooLarge };

struct Result
{
    Verdict verdict = Verdict::Waiting;
    HttpRequest request;
};

// One readyRead: what HttpServer::onReadyRead decides on the bytes so far.
Result onReadyRead(const QByteArray &received)
{
    Result out;
    const QByteArray data = received.left(HttpServer::MaxHeadBytes + HttpServer::MaxBodyBytes + 1);
    const ParseOutcome outcome = parseRequestHead(data, HttpServer::MaxHeadBytes, &out.request);
    switch (outcome.status) {
    case ParseStatus::Incomplete:
        if (!outcome.problem.isEmpty())
            fail("Incomplete with a problem");
        return out;
    case ParseStatus::TooLarge:
    case ParseStatus::Malformed:
        if (outcome.problem.isEmpty())
            fail("a refusal without a reason");
        // The server sends the reason back in a JSON body.
        if (!decodeObject(HttpResponse::error(400, QStringLiteral("bad_request"), outcome.problem).body))
            fail("the 400 body is not JSON", outcome.problem.toUtf8());
        out.verdict = outcome.status == ParseStatus::TooLarge ? Verdict::TooLarge : Verdict::Malformed;
        return out;
    case ParseStatus::Complete:
        break;
    }
    checkComplete(data, out.request);
    if (out.request.isWebSocketUpgrade()) {
        out.verdict = Verdict::Upgrade;
        return out;
    }
    if (out.request.contentLength > HttpServer::MaxBodyBytes) {
        out.verdict = Verdict::BodyTooLarge;
        return out;
    }
    if (data.size() < out.request.headerBytes + out.request.contentLength)
        return out; // waits for the rest of the body
    out.request.body = data.mid(out.request.headerBytes, out.request.contentLength);
    out.verdict = Verdict::Request;
    useRequest(out.request);
    return out;
}

Result feed(const QByteArray &stream, const QList<qsizetype> &cuts)
{
    Result last;
    for (const qsizetype cut : cuts) {
        last = onReadyRead(stream.left(cut));
        if (last.verdict != Verdict::Waiting)
            return last;
    }
    return last;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const QByteArray stream(reinterpret_cast<const char *>(data + 1), static_cast<qsizetype>(size - 1));

    // Segment ends from a small generator seeded by byte 0: 1..32 segments.
    QList<qsizetype> cuts;
    std::uint32_t state = data[0] * 2654435761u + 1;
    const int segments = 1 + data[0] % 32;
    for (int i = 1; i < segments && stream.size() > 1; ++i) {
        state = state * 1103515245u + 12345u;
        cuts.append(1 + static_cast<qsizetype>((state >> 8) % static_cast<std::uint32_t>(stream.size() - 1)));
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.append(stream.size());

    const Result segmented = feed(stream, cuts);
    const Result whole = feed(stream, {stream.size()});
    if (segmented.verdict != whole.verdict)
        fail("the verdict depends on how the bytes were segmented", stream.left(120));
    if (whole.verdict == Verdict::Request || whole.verdict == Verdict::Upgrade) {
        if (segmented.request.headerBytes != whole.request.headerBytes
            || segmented.request.target != whole.request.target || segmented.request.headers != whole.request.headers
            || segmented.request.body != whole.request.body)
            fail("the accepted request depends on how the bytes were segmented");
    }
    return 0;
}
