#include "httpmessage.h"

#include <QUrl>

#include <algorithm>

namespace sb {

namespace {

bool isToken(const QByteArray &s)
{
    if (s.isEmpty())
        return false;
    for (const char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                        || QByteArrayView("!#$%&'*+-.^_`|~").contains(c);
        if (!ok)
            return false;
    }
    return true;
}

// A field value may hold visible characters, SP, HTAB and obs-text; any other
// control character (a bare CR or LF, NUL, DEL) is refused, not passed on to
// a handler or echoed into a log (RFC 9110 section 5.5).
bool isFieldValue(const QByteArray &s)
{
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f)
            return false;
    }
    return true;
}

// Optional whitespace around a field value is SP and HTAB only.
QByteArray trimmedOws(const QByteArray &s)
{
    qsizetype begin = 0;
    qsizetype end = s.size();
    while (begin < end && (s[begin] == ' ' || s[begin] == '\t'))
        ++begin;
    while (end > begin && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        --end;
    return s.mid(begin, end - begin);
}

bool isDigits(const QByteArray &s)
{
    return !s.isEmpty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

bool HttpRequest::isWebSocketUpgrade() const
{
    return header("upgrade").toLower().contains("websocket");
}

// True while `data` can still become "METHOD SP": a method is a few upper-case
// letters, so binary input (a TLS hello, random bytes) is refused at once.
static bool couldStartRequestLine(const QByteArray &data)
{
    const qsizetype n = qMin<qsizetype>(data.size(), 17);
    for (qsizetype i = 0; i < n; ++i) {
        const char c = data[i];
        if (c == ' ')
            return i > 0;
        if (c < 'A' || c > 'Z')
            return false;
    }
    return n < 17;
}

ParseOutcome parseRequestHead(const QByteArray &data, qsizetype maxHeaderBytes, HttpRequest *request)
{
    if (!couldStartRequestLine(data))
        return {ParseStatus::Malformed, QStringLiteral("not an HTTP request")};
    // A request line must look like one as soon as it arrives: 8 KiB without
    // its CRLF is too long. Judged before anything else and on whole heads
    // too, so that the verdict never depends on how TCP cut the bytes.
    const qsizetype firstLine = data.indexOf("\r\n");
    if (firstLine >= 8192 || (firstLine < 0 && data.size() > 8192))
        return {ParseStatus::Malformed, QStringLiteral("request line too long")};
    const qsizetype end = data.indexOf("\r\n\r\n");
    if (end < 0) {
        if (data.size() > maxHeaderBytes)
            return {ParseStatus::TooLarge, QStringLiteral("request head too large")};
        return {ParseStatus::Incomplete, {}};
    }
    if (end + 4 > maxHeaderBytes)
        return {ParseStatus::TooLarge, QStringLiteral("request head too large")};

    // Every line, the last header included, ends with CRLF; split leaves a final empty piece.
    QList<QByteArray> lines = data.left(end + 2).split('\n');
    lines.removeLast();
    if (!lines.first().endsWith('\r'))
        return {ParseStatus::Malformed, QStringLiteral("the request line must end with CRLF")};
    const QByteArray requestLine = lines.first().chopped(1);
    const QList<QByteArray> parts = requestLine.split(' ');
    if (parts.size() != 3 || !isToken(parts[0]) || parts[1].isEmpty()
        || !(parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0"))
        return {ParseStatus::Malformed, QStringLiteral("bad request line")};

    request->method = parts[0];
    request->target = parts[1];
    request->version = parts[2];
    if (!request->target.startsWith('/'))
        return {ParseStatus::Malformed, QStringLiteral("request target must be a path")};
    const QUrl url(QString::fromLatin1(request->target), QUrl::StrictMode);
    if (!url.isValid())
        return {ParseStatus::Malformed, QStringLiteral("bad request target")};
    request->path = url.path();
    request->query = QUrlQuery(url);

    for (qsizetype i = 1; i < lines.size(); ++i) {
        QByteArray line = lines[i];
        if (!line.endsWith('\r'))
            return {ParseStatus::Malformed, QStringLiteral("header lines must end with CRLF")};
        line.chop(1);
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            return {ParseStatus::Malformed, QStringLiteral("bad header line")};
        const QByteArray name = line.left(colon).toLower();
        if (!isToken(name))
            return {ParseStatus::Malformed, QStringLiteral("bad header name")};
        const QByteArray rawValue = line.mid(colon + 1);
        if (!isFieldValue(rawValue))
            return {ParseStatus::Malformed, QStringLiteral("control character in a header value")};
        const QByteArray value = trimmedOws(rawValue);
        auto it = request->headers.find(name);
        if (it != request->headers.end() && name == "content-length")
            return {ParseStatus::Malformed, QStringLiteral("more than one Content-Length")};
        if (it == request->headers.end())
            request->headers.insert(name, value);
        else
            *it += ", " + value;
    }
    if (request->version == "HTTP/1.1" && !request->headers.contains("host"))
        return {ParseStatus::Malformed, QStringLiteral("missing Host header")};
    if (request->headers.contains("transfer-encoding"))
        return {ParseStatus::Malformed, QStringLiteral("chunked request bodies are not supported")};
    if (request->headers.contains("content-length")) {
        // Digits only: toLongLong() alone would take "+5" or " 5", which a
        // proxy in front may read differently (request smuggling).
        const QByteArray text = request->headers.value("content-length");
        bool ok = false;
        request->contentLength = isDigits(text) ? text.toLongLong(&ok) : -1;
        if (!ok || request->contentLength < 0)
            return {ParseStatus::Malformed, QStringLiteral("bad Content-Length")};
    }
    request->headerBytes = end + 4;
    return {ParseStatus::Complete, {}};
}

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

HttpResponse HttpResponse::json(int status, const QByteArray &body)
{
    HttpResponse r;
    r.status = status;
    r.body = body;
    return r;
}

HttpResponse HttpResponse::error(int status, const QString &code, const QString &message)
{
    QByteArray body = "{\"error\":\"" + code.toUtf8() + '"';
    if (!message.isEmpty()) {
        QByteArray escaped = message.toUtf8();
        escaped.replace('\\', "\\\\").replace('"', "\\\"");
        body += ",\"message\":\"" + escaped + '"';
    }
    body += '}';
    return json(status, body);
}

HttpResponse HttpResponse::rateLimited(int retryAfterSeconds)
{
    HttpResponse r = error(429, QStringLiteral("rate_limited"), QStringLiteral("too many connection attempts"));
    r.headers.append(qMakePair(QByteArray("Retry-After"), QByteArray::number(retryAfterSeconds)));
    return r;
}

HttpResponse HttpResponse::methodNotAllowed(const QByteArray &allow)
{
    HttpResponse r = error(405, QStringLiteral("method_not_allowed"));
    r.headers.append(qMakePair(QByteArray("Allow"), allow));
    return r;
}

QByteArray HttpResponse::serialize(Body withBody) const
{
    QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\n";
    if (!body.isEmpty() || status != 204)
        out += "Content-Type: " + contentType + "\r\n";
    out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    out += "Cache-Control: no-store\r\nConnection: close\r\n";
    for (const auto &[name, value] : headers)
        out += name + ": " + value + "\r\n";
    out += "\r\n";
    if (withBody == Body::Include)
        out += body;
    return out;
}

} // namespace sb
