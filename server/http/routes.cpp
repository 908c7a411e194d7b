#include "routes.h"

#include "clientaddress.h"
#include "codec.h"
#include "config.h"
#include "metrics/metrics.h"

namespace sb {

namespace {
const QStringList knownRoutes{QStringLiteral("/health/"), QStringLiteral("/healthz"), QStringLiteral("/readyz"),
                              QStringLiteral("/metrics"), QStringLiteral("/api/instance"),
                              QStringLiteral("/api/token"), QStringLiteral("/ws")};
} // namespace

HttpRoutes::HttpRoutes(const Config &config, Metrics &metrics, Backplane &backplane, Status status)
    : m_config(config)
    , m_metrics(metrics)
    , m_tokens(config, metrics, backplane)
    , m_status(std::move(status))
{
}

void HttpRoutes::handle(const HttpRequest &request, QTcpSocket *socket, HttpServer::Responder respond)
{
    const QString route = knownRoutes.contains(request.path) ? request.path : QStringLiteral("other");
    auto answer = [this, route, respond](const HttpResponse &response) {
        m_metrics.httpRequests->inc({route, QString::number(response.status)});
        respond(response);
    };
    if (route == QLatin1StringView("other")) {
        answer(HttpResponse::error(404, QStringLiteral("not_found")));
    } else if (route == QLatin1StringView("/api/token")) {
        if (request.method == "POST")
            m_tokens.handle(request, clientAddress(m_config, socket, request), answer);
        else
            answer(HttpResponse::methodNotAllowed("POST"));
    } else if (request.method == "GET" || request.method == "HEAD") {
        answerGet(route, answer);
    } else {
        answer(HttpResponse::methodNotAllowed("GET"));
    }
}

void HttpRoutes::answerGet(const QString &route, const HttpServer::Responder &answer)
{
    if (route == QLatin1StringView("/health/")) {
        HttpResponse r = HttpResponse::json(200, "ok");
        r.contentType = "text/plain; charset=utf-8";
        answer(r);
    } else if (route == QLatin1StringView("/healthz")) {
        answer(HttpResponse::json(200, encode({{QLatin1StringView("status"), QStringLiteral("ok")},
                                               {QLatin1StringView("instance"), m_config.instanceId}})));
    } else if (route == QLatin1StringView("/readyz")) {
        const Readiness r = m_status.readiness();
        if (r == Readiness::Ready)
            answer(HttpResponse::json(200, R"({"status":"ready"})"));
        else
            answer(HttpResponse::json(503, encode({{QLatin1StringView("status"), readinessName(r)},
                                                   {QLatin1StringView("reason"), readinessReason(r)}})));
    } else if (route == QLatin1StringView("/metrics")) {
        HttpResponse r = HttpResponse::json(200, m_metrics.render());
        r.contentType = "text/plain; version=0.0.4; charset=utf-8";
        answer(r);
    } else if (route == QLatin1StringView("/api/instance")) {
        answer(HttpResponse::json(200, encode(m_status.instance())));
    } else { // "/ws" without an upgrade
        HttpResponse r = HttpResponse::error(426, QStringLiteral("upgrade_required"),
                                             QStringLiteral("use a WebSocket client"));
        r.headers.append(qMakePair(QByteArray("Upgrade"), QByteArray("websocket")));
        answer(r);
    }
}

} // namespace sb
