#pragma once

// The plain HTTP routes of the instance's port (PROTOCOL.md section 2):
// /health/, /healthz, /readyz, /metrics, /api/instance and /api/token; 404,
// 405 and 426 for the rest. Each answer is counted by route and status.

#include "health/readiness.h"
#include "httpserver.h"
#include "tokenendpoint.h"

#include <QJsonObject>

#include <functional>

namespace sb {

class HttpRoutes final
{
    Q_DISABLE_COPY_MOVE(HttpRoutes)
public:
    struct Status
    {
        std::function<Readiness()> readiness;
        std::function<QJsonObject()> instance; // the /api/instance body
    };

    HttpRoutes(const Config &config, Metrics &metrics, Backplane &backplane, Status status);

    void handle(const HttpRequest &request, QTcpSocket *socket, HttpServer::Responder respond);

private:
    void answerGet(const QString &route, const HttpServer::Responder &answer);

    const Config &m_config;
    Metrics &m_metrics;
    TokenEndpoint m_tokens;
    Status m_status;
};

} // namespace sb
