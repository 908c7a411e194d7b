#include "todoservice.h"

#include "backplane/backplane.h"
#include "channel.h"
#include "cluster/clusterbus.h"
#include "config.h"
#include "flow/flowsampler.h"
#include "metrics/metrics.h"
#include "sessions/sessionregistry.h"
#include "store/store.h"
#include "ws/session.h"

#include <QDateTime>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QPointer>

Q_LOGGING_CATEGORY(lcTodo, "sb.todo")

namespace sb {

namespace {
const QString storeDown = QStringLiteral("the store is unavailable; nothing was changed");
}

TodoService::TodoService(const ServiceContext &context)
    : m_ctx(context)
{
}

void TodoService::list(Session *session, const Request &request)
{
    const SessionRef guard(session);
    const QString ref = request.ref;
    m_ctx.store.todoList(session->info().clientId, [this, guard, ref](const StoreResult<QList<TodoItem>> &r) {
        if (!guard)
            return;
        if (!r.ok)
            return guard->fail(ref, ErrorCode::StoreUnavailable, storeDown);
        QJsonArray items;
        for (const TodoItem &item : r.value)
            items.append(item.toJson());
        guard->reply(ref, {{QLatin1StringView("items"), items}});
    });
}

void TodoService::add(Session *session, const Request &request)
{
    QString title;
    if (auto e = fields::text(request.body, QLatin1StringView("title"), Limits::MaxTodoTitle, &title))
        return session->fail(request.ref, *e);
    const SessionRef guard(session);
    const QString ref = request.ref;
    const QString clientId = session->info().clientId;
    const int limit = m_ctx.config.maxTodos;
    m_ctx.store.todoAdd(
        clientId, title, limit, QDateTime::currentMSecsSinceEpoch(),
        [this, guard, ref, clientId, limit](const StoreResult<TodoAddResult> &r) {
            if (!r.ok) {
                if (guard)
                    guard->fail(ref, ErrorCode::StoreUnavailable, storeDown);
                return;
            }
            if (r.value.limitReached) {
                m_ctx.metrics.limitExceeded->inc({QStringLiteral("todos")});
                if (guard)
                    guard->fail(ref, ErrorCode::LimitExceeded,
                                   QStringLiteral("this client already holds %1 todos (SB_MAX_TODOS)").arg(limit));
                return;
            }
            m_ctx.metrics.todosCreated->inc();
            const QJsonObject item = r.value.item.toJson();
            if (guard)
                guard->reply(ref, {{QLatin1StringView("item"), item}});
            changed(clientId, QStringLiteral("added"), item);
        });
}

void TodoService::update(Session *session, const Request &request)
{
    qint64 id = 0;
    std::optional<QString> title;
    std::optional<bool> done;
    if (auto e = fields::requiredInt(request.body, QLatin1StringView("id"), &id))
        return session->fail(request.ref, *e);
    if (auto e = fields::optionalText(request.body, QLatin1StringView("title"), Limits::MaxTodoTitle, &title))
        return session->fail(request.ref, *e);
    if (auto e = fields::optionalBool(request.body, QLatin1StringView("done"), &done))
        return session->fail(request.ref, *e);
    const SessionRef guard(session);
    const QString ref = request.ref;
    const QString clientId = session->info().clientId;
    m_ctx.store.todoUpdate(clientId, id, title, done, QDateTime::currentMSecsSinceEpoch(),
                                 [this, guard, ref, clientId, id, done](const StoreResult<std::optional<TodoItem>> &r) {
                                     if (!r.ok) {
                                         if (guard)
                                             guard->fail(ref, ErrorCode::StoreUnavailable, storeDown);
                                         return;
                                     }
                                     if (!r.value) {
                                         if (guard)
                                             guard->fail(ref, ErrorCode::NotFound,
                                                            QStringLiteral("no todo %1 for this client").arg(id));
                                         return;
                                     }
                                     if (done.value_or(false))
                                         m_ctx.metrics.todosCompleted->inc();
                                     if (guard)
                                         guard->reply(ref, {{QLatin1StringView("item"), r.value->toJson()}});
                                     changed(clientId, QStringLiteral("updated"), r.value->toJson());
                                 });
}

void TodoService::remove(Session *session, const Request &request)
{
    qint64 id = 0;
    if (auto e = fields::requiredInt(request.body, QLatin1StringView("id"), &id))
        return session->fail(request.ref, *e);
    const SessionRef guard(session);
    const QString ref = request.ref;
    const QString clientId = session->info().clientId;
    m_ctx.store.todoDelete(clientId, id, [this, guard, ref, clientId, id](const StoreResult<bool> &r) {
        if (!r.ok) {
            if (guard)
                guard->fail(ref, ErrorCode::StoreUnavailable, storeDown);
            return;
        }
        if (!r.value) {
            if (guard)
                guard->fail(ref, ErrorCode::NotFound, QStringLiteral("no todo %1 for this client").arg(id));
            return;
        }
        if (guard)
            guard->reply(ref, {{QLatin1StringView("id"), id}});
        changed(clientId, QStringLiteral("deleted"), {{QLatin1StringView("id"), id}});
    });
}

void TodoService::changed(const QString &clientId, const QString &op, const QJsonObject &item)
{
    const QJsonObject frame = makeFrame(MessageType::TodoChanged, {{QLatin1StringView("op"), op},
                                                                   {QLatin1StringView("item"), item}});
    m_ctx.bus.publish(Channel::client(clientId), QJsonObject{{QLatin1StringView("client_id"), clientId}},
                      frame, [this, clientId, frame](bool ok) {
                          if (!ok) {
                              // The change is stored; at least this instance's tabs hear of it.
                              qCWarning(lcTodo) << "todo.changed not published; delivering locally only";
                              deliverLocally(clientId, frame);
                          }
                      });
}

void TodoService::onClientEnvelope(const QString &clientId, const Envelope &envelope)
{
    if (envelope.frame.value(QLatin1StringView("type")).toString() == QLatin1StringView("todo.changed"))
        deliverLocally(clientId, envelope.frame);
}

void TodoService::deliverLocally(const QString &clientId, const QJsonObject &frame)
{
    const TextFrame text(encode(frame));
    for (Session *s : m_ctx.sessions.ofClient(clientId))
        s->send(text);
}

} // namespace sb
