#include "adminservice.h"

#include "backplane/backplane.h"
#include "channel.h"
#include "cluster/clusterbus.h"
#include "config.h"
#include "flow/flowsampler.h"
#include "metrics/metrics.h"
#include "sessions/sessionregistry.h"
#include "store/store.h"
#include "wire.h"
#include "ws/session.h"

#include <QDateTime>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QPointer>

Q_LOGGING_CATEGORY(lcAdmin, "sb.admin")

namespace sb {

AdminService::AdminService(const ServiceContext &context, InstanceControl instance)
    : m_ctx(context)
    , m_instance(std::move(instance))
{
    QObject::connect(&m_ctx.sessions, &SessionRegistry::opened, m_ctx.owner, [this](Session *s) {
        if (hasSubscribers())
            toSubscribers(makeFrame(MessageType::AdminConnOpen, {{QLatin1StringView("conn"), s->toConnJson()}}));
    });
    QObject::connect(&m_ctx.sessions, &SessionRegistry::closed, m_ctx.owner, [this](Session *s, int code) {
        if (s->adminFlow)
            setFlowSubscribers(m_flowSubscribers - 1);
        s->adminFlow = false;
        m_subscribers.remove(s);
        if (hasSubscribers())
            toSubscribers(makeFrame(MessageType::AdminConnClose, {{QLatin1StringView("session_id"), s->id()},
                                                              {QLatin1StringView("instance"), m_ctx.instanceId},
                                                              {QLatin1StringView("code"), code}}));
    });
}

bool AdminService::audit(Session *session, const Request &request)
{
    QJsonObject details = request.body;
    details.remove(QLatin1StringView("ref"));
    // The request's own "session_id" and "instance" name the action's target,
    // so where the operator acted from is kept under keys of its own.
    details.insert(QLatin1StringView("operator_session_id"), session->id());
    details.insert(QLatin1StringView("operator_instance"), m_ctx.instanceId);
    const QString actor = session->info().user;
    // No operator action without its audit record: while the store is down
    // the record waits for it, and when no more can wait the action is refused.
    if (!m_ctx.store.audit(actor, QString(name(request.type)), details, QDateTime::currentMSecsSinceEpoch())) {
        session->fail(request.ref, ErrorCode::StoreUnavailable,
                       QStringLiteral("the store is down and its audit backlog is full; nothing was done"));
        return false;
    }
    qCInfo(lcAdmin).noquote() << "operator" << actor << "sent" << name(request.type);
    return true;
}

void AdminService::subscribe(Session *session, const Request &request)
{
    std::optional<bool> flow;
    if (auto e = fields::optionalBool(request.body, QLatin1StringView("flow"), &flow))
        return session->fail(request.ref, *e);
    const int before = session->adminFlow ? 1 : 0;
    m_subscribers.insert(session);
    session->adminFlow = flow.value_or(false);
    setFlowSubscribers(m_flowSubscribers - before + (session->adminFlow ? 1 : 0));
    QJsonArray connections;
    for (Session *s : m_ctx.sessions.all())
        connections.append(s->toConnJson());
    session->reply(request.ref, {{QLatin1StringView("instance"), m_instance.json()},
                                           {QLatin1StringView("connections"), connections}});
}

void AdminService::inject(Session *session, const Request &request)
{
    QString text;
    if (auto e = fields::text(request.body, QLatin1StringView("text"), Limits::MaxChatText, &text))
        return session->fail(request.ref, *e);
    const QJsonValue target = request.body.value(QLatin1StringView("target"));
    if (!target.isObject() || target.toObject().size() != 1)
        return session->fail(request.ref, ErrorCode::BadRequest,
                              QStringLiteral("\"target\" must be one of {\"all\":true}, {\"room\":R}, {\"instance\":I}, "
                                             "{\"client_id\":C}, {\"session_id\":S}"));
    const QJsonObject t = target.toObject();
    const QString key = t.begin().key();
    const QJsonValue value = t.begin().value();
    if (key == QLatin1StringView("all")) {
        if (value != QJsonValue(true))
            return session->fail(request.ref, ErrorCode::BadRequest, QStringLiteral("\"all\" must be true"));
    } else if (key == QLatin1StringView("room")) {
        if (!value.isString() || !isValidRoom(value.toString()))
            return session->fail(request.ref, ErrorCode::InvalidRoom, QStringLiteral("invalid room name"));
    } else if (key == QLatin1StringView("instance") || key == QLatin1StringView("client_id")
               || key == QLatin1StringView("session_id")) {
        if (!value.isString() || value.toString().isEmpty())
            return session->fail(request.ref, ErrorCode::BadRequest,
                                  QStringLiteral("\"%1\" must be a non-empty string").arg(key));
    } else {
        return session->fail(request.ref, ErrorCode::BadRequest, QStringLiteral("unknown target \"%1\"").arg(key));
    }
    if (!audit(session, request))
        return;
    const SessionRef guard(session);
    const QString ref = request.ref;
    m_ctx.bus.command({{QLatin1StringView("type"), name(InternalType::ClusterInject)},
                              {QLatin1StringView("target"), t},
                              {QLatin1StringView("text"), text},
                              {QLatin1StringView("from"), session->info().user},
                              {QLatin1StringView("origin"), m_ctx.instanceId}},
                             [this, guard, ref](bool ok, const QList<QJsonObject> &replies) {
                                 if (!guard)
                                     return;
                                 if (!ok)
                                     return guard->fail(ref, ErrorCode::BackplaneUnavailable,
                                                           QStringLiteral("the backplane is down; nothing was sent"));
                                 qint64 recipients = 0;
                                 for (const QJsonObject &r : replies)
                                     recipients += r.value(QLatin1StringView("recipients")).toInteger();
                                 guard->reply(ref, {{QLatin1StringView("recipients"), recipients}});
                             });
}

void AdminService::commandOnFoundInstance(Session *session, const Request &request, const QJsonObject &command,
                                          std::function<QJsonObject(const QJsonObject &reply)> ackFields,
                                          const QString &notFound)
{
    if (!audit(session, request))
        return;
    const SessionRef guard(session);
    const QString ref = request.ref;
    m_ctx.bus.command(command, [this, guard, ref, ackFields, notFound](bool ok, const QList<QJsonObject> &replies) {
        if (!guard)
            return;
        if (!ok)
            return guard->fail(ref, ErrorCode::BackplaneUnavailable, QStringLiteral("the backplane is down"));
        for (const QJsonObject &r : replies) {
            if (r.value(QLatin1StringView("found")).toBool())
                return guard->reply(ref, ackFields(r));
        }
        guard->fail(ref, ErrorCode::NotFound, notFound);
    });
}

void AdminService::disconnectSession(Session *session, const Request &request)
{
    QString sessionId;
    if (auto e = fields::requiredString(request.body, QLatin1StringView("session_id"), &sessionId))
        return session->fail(request.ref, *e);
    commandOnFoundInstance(
        session, request,
        {{QLatin1StringView("type"), name(InternalType::ClusterDisconnect)}, {QLatin1StringView("session_id"), sessionId}},
        [sessionId](const QJsonObject &reply) {
            return QJsonObject{{QLatin1StringView("session_id"), sessionId},
                               {QLatin1StringView("instance"), reply.value(QLatin1StringView("instance"))}};
        },
        QStringLiteral("no session %1 in the cluster").arg(sessionId));
}

void AdminService::drain(Session *session, const Request &request, bool on)
{
    QString instance;
    if (auto e = fields::requiredString(request.body, QLatin1StringView("instance"), &instance))
        return session->fail(request.ref, *e);
    commandOnFoundInstance(
        session, request,
        {{QLatin1StringView("type"), name(InternalType::ClusterDrain)},
         {QLatin1StringView("instance"), instance},
         {QLatin1StringView("drain"), on}},
        [instance, on](const QJsonObject &) {
            return QJsonObject{{QLatin1StringView("instance"), instance}, {QLatin1StringView("draining"), on}};
        },
        QStringLiteral("no live instance %1").arg(instance));
}

void AdminService::ticker(Session *session, const Request &request)
{
    bool enabled = false;
    if (auto e = fields::requiredBool(request.body, QLatin1StringView("enabled"), &enabled))
        return session->fail(request.ref, *e);
    if (!audit(session, request))
        return;
    const SessionRef guard(session);
    const QString ref = request.ref;
    m_ctx.bus.publish(Channel::all(), QJsonObject{{QLatin1StringView("all"), true}},
                      {{QLatin1StringView("type"), name(InternalType::TickerSet)}, {QLatin1StringView("enabled"), enabled}},
                      [this, guard, ref, enabled](bool ok) {
                          if (!guard)
                              return;
                          if (!ok)
                              return guard->fail(ref, ErrorCode::BackplaneUnavailable,
                                                    QStringLiteral("the backplane is down"));
                          guard->reply(ref, {{QLatin1StringView("enabled"), enabled}});
                      });
}

QJsonObject AdminService::execute(const QJsonObject &command)
{
    const auto type = internalTypeFromName(command.value(QLatin1StringView("type")).toString());
    switch (type.value_or(InternalType::ClusterReply)) {
    case InternalType::ClusterInject: return injectHere(command);
    case InternalType::ClusterDisconnect: return disconnectHere(command);
    case InternalType::ClusterDrain: return drainHere(command);
    default: return {{QLatin1StringView("error"), QStringLiteral("unknown command")}};
    }
}

QJsonObject AdminService::injectHere(const QJsonObject &command)
{
    const QJsonObject target = command.value(QLatin1StringView("target")).toObject();
    const QString key = target.isEmpty() ? QString() : target.begin().key();
    const QString value = target.isEmpty() ? QString() : target.begin().value().toString();
    QList<Session *> recipients;
    if (key == QLatin1StringView("all")) {
        recipients = m_ctx.sessions.all().values();
    } else if (key == QLatin1StringView("instance")) {
        if (value == m_ctx.instanceId)
            recipients = m_ctx.sessions.all().values();
    } else if (key == QLatin1StringView("client_id")) {
        recipients = m_ctx.sessions.ofClient(value);
    } else if (key == QLatin1StringView("session_id")) {
        if (Session *s = m_ctx.sessions.find(value))
            recipients.append(s);
    } else if (key == QLatin1StringView("room")) {
        for (Session *s : m_ctx.sessions.all()) {
            if (s->rooms().contains(value))
                recipients.append(s);
        }
    }
    const TextFrame text(encode(makeFrame(
        MessageType::Broadcast, {{QLatin1StringView("kind"), QStringLiteral("announcement")},
                                 {QLatin1StringView("text"), command.value(QLatin1StringView("text"))},
                                 {QLatin1StringView("from"), command.value(QLatin1StringView("from"))},
                                 {QLatin1StringView("ts"), QDateTime::currentMSecsSinceEpoch()},
                                 {QLatin1StringView("origin"), command.value(QLatin1StringView("origin"))}})));
    int sent = 0;
    for (Session *s : std::as_const(recipients))
        sent += s->send(text) ? 1 : 0;
    if (sent > 0)
        m_ctx.metrics.broadcasts->inc({QStringLiteral("announcement")}, sent);
    return {{QLatin1StringView("recipients"), sent}};
}

QJsonObject AdminService::disconnectHere(const QJsonObject &command)
{
    Session *s = m_ctx.sessions.find(command.value(QLatin1StringView("session_id")).toString());
    if (!s)
        return {{QLatin1StringView("found"), false}};
    qCInfo(lcAdmin).noquote() << "disconnecting session" << s->id() << "at an operator's request";
    s->close(CloseCode::DisconnectedByOperator, QStringLiteral("disconnected by operator"));
    return {{QLatin1StringView("found"), true}};
}

QJsonObject AdminService::drainHere(const QJsonObject &command)
{
    if (command.value(QLatin1StringView("instance")).toString() != m_ctx.instanceId)
        return {{QLatin1StringView("found"), false}};
    m_instance.drain(command.value(QLatin1StringView("drain")).toBool());
    return {{QLatin1StringView("found"), true}};
}

void AdminService::toSubscribers(const QJsonObject &frame, bool flowOnly)
{
    std::optional<TextFrame> text;
    for (Session *s : std::as_const(m_subscribers)) {
        if (!s->isOpen() || (flowOnly && !s->adminFlow))
            continue;
        if (!text)
            text.emplace(encode(frame));
        s->send(*text);
    }
}

void AdminService::setFlowSubscribers(int count)
{
    m_flowSubscribers = qMax(0, count);
    // Nothing is sampled while no operator asked for flow.
    if (m_flowSubscribers == 0)
        m_ctx.flow.setListener({});
    else if (!m_ctx.flow.isListened())
        m_ctx.flow.setListener([this](const QJsonObject &frame) { toSubscribers(frame, true); });
}

void AdminService::tick()
{
    Metrics &m = m_ctx.metrics;
    const double framesIn = m.framesIn->total();
    const double framesOut = m.framesOut->total();
    const double bytesIn = m.bytesIn->total();
    const double bytesOut = m.bytesOut->total();
    InstanceStats stats;
    stats.instance = m_ctx.instanceId;
    stats.connections = m_ctx.sessions.count();
    stats.framesInPerS = framesIn - m_lastFramesIn;
    stats.framesOutPerS = framesOut - m_lastFramesOut;
    stats.bytesInPerS = bytesIn - m_lastBytesIn;
    stats.bytesOutPerS = bytesOut - m_lastBytesOut;
    stats.backplaneRttMs = m_ctx.backplane.rttMs();
    stats.queueMaxBytes = m_ctx.sessions.largestQueue();
    stats.rssBytes = residentBytes();
    m_lastFramesIn = framesIn;
    m_lastFramesOut = framesOut;
    m_lastBytesIn = bytesIn;
    m_lastBytesOut = bytesOut;
    toSubscribers(makeFrame(MessageType::AdminStats, stats.toJson()));
}

} // namespace sb
