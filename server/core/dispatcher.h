#pragma once

// Turns a session's text frames into handler calls: the per-connection rate
// limit, decoding, the role check of the message-type table (shared/protocol.h)
// and the flow sample, then the handler its service registered for the type.
// Adding a frame type is an entry in that table plus one on() call.

#include "codec.h"

#include <array>
#include <functional>

namespace sb {

class FlowSampler;
class Metrics;
class Session;

class Dispatcher final
{
    Q_DISABLE_COPY_MOVE(Dispatcher)
public:
    using Handler = std::function<void(Session *, const Request &)>;

    Dispatcher(const QString &instanceId, Metrics &metrics, FlowSampler &flow);

    void on(MessageType type, Handler handler);

    void dispatch(Session *session, const QString &text);
    // Binary frames are refused with bad_request (the connection stays).
    void refuseBinary(Session *session);

private:
    QString m_instanceId;
    Metrics &m_metrics;
    FlowSampler &m_flow;
    std::array<Handler, messageTypes.size()> m_handlers;
};

} // namespace sb
