#include "dispatcher.h"

#include "flow/flowsampler.h"
#include "metrics/metrics.h"
#include "ws/session.h"

#include <QDateTime>

namespace sb {

namespace {
const QString operatorsOnly = QStringLiteral("operator requests need an operator token");
}

Dispatcher::Dispatcher(const QString &instanceId, Metrics &metrics, FlowSampler &flow)
    : m_instanceId(instanceId)
    , m_metrics(metrics)
    , m_flow(flow)
{
    on(MessageType::Ping, [](Session *s, const Request &r) {
        // The pong is the ping's direct answer, so it echoes the ref like an ack.
        QJsonObject pong{{QLatin1StringView("server_time"), QDateTime::currentMSecsSinceEpoch()}};
        if (!r.ref.isEmpty())
            pong.insert(QLatin1StringView("ref"), r.ref);
        s->sendFrame(makeFrame(MessageType::Pong, std::move(pong)));
    });
}

void Dispatcher::on(MessageType type, Handler handler)
{
    Q_ASSERT(info(type).direction == Direction::ToServer);
    m_handlers[static_cast<std::size_t>(type)] = std::move(handler);
}

void Dispatcher::refuseBinary(Session *session)
{
    m_metrics.framesIn->inc({QStringLiteral("invalid")});
    session->fail({}, ErrorCode::BadRequest, QStringLiteral("binary frames are not accepted; send JSON text"));
}

void Dispatcher::dispatch(Session *session, const QString &text)
{
    // Every frame costs a token, parsed or not: a flood of garbage is a flood.
    if (!session->takeRateToken()) {
        m_metrics.rateLimited->inc();
        m_metrics.framesIn->inc({QStringLiteral("rate_limited")});
        session->fail({}, ErrorCode::RateLimited, QStringLiteral("too many messages; slow down"));
        return;
    }
    const QByteArray utf8 = text.toUtf8();
    DecodeResult decoded = decodeRequest(utf8);
    m_metrics.framesIn->inc({decoded.typeName});
    if (!decoded.ok()) {
        if (decoded.error.code == ErrorCode::UnknownType && !session->isOperator()
            && decoded.sentType.startsWith(QLatin1StringView("admin."))) {
            // Any admin.* name, known or not, tells a participant the same.
            session->fail(decoded.ref, ErrorCode::Forbidden, operatorsOnly);
            return;
        }
        session->fail(decoded.ref, decoded.error);
        return;
    }
    const Request &request = *decoded.request;
    if (info(request.type).operatorOnly && !session->isOperator()) {
        session->fail(request.ref, ErrorCode::Forbidden, operatorsOnly);
        return;
    }
    m_flow.sample("in", decoded.typeName, request.body.value(QLatin1StringView("room")).toString(), session->id(),
                  m_instanceId, utf8.size());
    const Handler &handler = m_handlers[static_cast<std::size_t>(request.type)];
    if (!handler) {
        session->fail(request.ref, ErrorCode::Internal, QStringLiteral("no handler"));
        return;
    }
    handler(session, request);
}

} // namespace sb
