#pragma once

// HTTP/1.1 request parsing and response writing for the one port that serves
// both plain HTTP and WebSocket upgrades. The parser works on peeked bytes so
// that an upgrade request can be left in the socket for QWebSocketServer.

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QPair>
#include <QString>
#include <QUrlQuery>

#include <optional>

namespace sb {

struct HttpRequest
{
    QByteArray method;
    QByteArray target;
    QString path;
    QUrlQuery query;
    QByteArray version;
    QHash<QByteArray, QByteArray> headers; // names lower-cased; repeated headers joined with ", "
    qsizetype headerBytes = 0;              // size of the request line and headers
    qint64 contentLength = 0;
    QByteArray body;

    QByteArray header(const QByteArray &lowerName) const { return headers.value(lowerName); }
    bool isWebSocketUpgrade() const;
};

struct HttpResponse
{
    int status = 200;
    QByteArray contentType = QByteArrayLiteral("application/json");
    QByteArray body;
    QList<QPair<QByteArray, QByteArray>> headers;

    static HttpResponse json(int status, const QByteArray &body);
    static HttpResponse error(int status, const QString &code, const QString &message = {});
    // 429 rate_limited with Retry-After (SB_CONNECT_RATE).
    static HttpResponse rateLimited(int retryAfterSeconds);
    // 405 with the Allow header.
    static HttpResponse methodNotAllowed(const QByteArray &allow);
    // The answer to HEAD omits the body but keeps the headers GET would send,
    // Content-Length included (RFC 9110 section 9.3.2).
    enum class Body { Include, Omit };
    QByteArray serialize(Body body = Body::Include) const;
};

enum class ParseStatus { Incomplete, Complete, Malformed, TooLarge };

struct ParseOutcome
{
    ParseStatus status = ParseStatus::Incomplete;
    QString problem;
};

// Parses the request line and headers at the start of `data`. On Complete,
// `request` has everything but the body; the body is
// data[headerBytes, headerBytes + contentLength).
ParseOutcome parseRequestHead(const QByteArray &data, qsizetype maxHeaderBytes, HttpRequest *request);

QByteArray reasonPhrase(int status);

} // namespace sb
