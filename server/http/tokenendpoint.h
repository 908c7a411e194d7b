#pragma once

// POST /api/token (PROTOCOL.md section 2): checks the connection-attempt rate
// of the caller's address, the body and, for an operator token, the operator
// key; then stores a one-time token in the backplane and answers it.

#include "httpmessage.h"

#include <functional>

namespace sb {

class Backplane;
class Metrics;
struct Config;

class TokenEndpoint final
{
    Q_DISABLE_COPY_MOVE(TokenEndpoint)
public:
    using Answer = std::function<void(const HttpResponse &)>;

    TokenEndpoint(const Config &config, Metrics &metrics, Backplane &backplane);

    void handle(const HttpRequest &request, const QString &remote, Answer answer);

private:
    void issue(const HttpRequest &request, const QString &remote, const Answer &answer);

    const Config &m_config;
    Metrics &m_metrics;
    Backplane &m_backplane;
};

} // namespace sb
