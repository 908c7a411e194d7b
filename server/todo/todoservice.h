#pragma once

// Per-client todos: list, add, update, delete in the store, then a
// todo.changed to every connection of that client_id on every instance.
// Owned by the Server, given a ServiceContext.

#include "backplane/envelope.h"
#include "codec.h"
#include "core/servicecontext.h"

namespace sb {

class Session;

class TodoService final
{
    Q_DISABLE_COPY_MOVE(TodoService)
public:
    explicit TodoService(const ServiceContext &context);

    void list(Session *session, const Request &request);
    void add(Session *session, const Request &request);
    void update(Session *session, const Request &request);
    void remove(Session *session, const Request &request);
    void onClientEnvelope(const QString &clientId, const Envelope &envelope);

private:
    void changed(const QString &clientId, const QString &op, const QJsonObject &item);
    void deliverLocally(const QString &clientId, const QJsonObject &frame);

    ServiceContext m_ctx;
};

} // namespace sb
