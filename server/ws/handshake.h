#pragma once

// The opening handshake of RFC 6455 section 4.2.1, checked before anything is
// spent on it: a connection token is taken (and so used up) only for a request
// that QWebSocketServer will upgrade.

#include <QString>

namespace sb {

struct HttpRequest;

// Empty when `request` is a valid WebSocket upgrade; otherwise what is wrong.
QString upgradeProblem(const HttpRequest &request);

} // namespace sb
