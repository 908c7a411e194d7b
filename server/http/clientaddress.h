#pragma once

// The address a request came from: the peer's, or — when the peer is a
// trusted proxy (SB_TRUSTED_PROXIES) — the rightmost untrusted hop of its
// X-Forwarded-For. Rate limits and the session's "remote" use it.

#include <QString>

class QTcpSocket;

namespace sb {

struct Config;
struct HttpRequest;

QString clientAddress(const Config &config, QTcpSocket *socket, const HttpRequest &request);

} // namespace sb
