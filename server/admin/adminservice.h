#pragma once

// Operator requests (PROTOCOL.md section 4): the subscription with its
// snapshot, connection events, 1 s stats and flow samples for this instance;
// injection, disconnect, drain and ticker commands that act anywhere in the
// cluster; and the audit log entry for each action. Owned by the Server, given a ServiceContext.

#include "codec.h"
#include "core/servicecontext.h"

#include <QJsonObject>
#include <QSet>

#include <functional>

namespace sb {

class Session;

class AdminService final
{
    Q_DISABLE_COPY_MOVE(AdminService)
public:
    // What operators may do to this instance beyond the services.
    struct InstanceControl
    {
        std::function<QJsonObject()> json; // the /api/instance object
        std::function<void(bool on)> drain;
    };

    AdminService(const ServiceContext &context, InstanceControl instance);

    void subscribe(Session *session, const Request &request);
    void inject(Session *session, const Request &request);
    void disconnectSession(Session *session, const Request &request);
    void drain(Session *session, const Request &request, bool on);
    void ticker(Session *session, const Request &request);

    // Runs a cluster command on this instance and says what it did.
    QJsonObject execute(const QJsonObject &command);

    void tick();
    bool hasSubscribers() const { return !m_subscribers.isEmpty(); }

private:
    bool audit(Session *session, const Request &request);
    // The cluster commands, run on this instance.
    QJsonObject injectHere(const QJsonObject &command);
    QJsonObject disconnectHere(const QJsonObject &command);
    QJsonObject drainHere(const QJsonObject &command);
    // Audits, runs `command` on every instance, and acks with ackFields(reply)
    // of the instance that found its target, or answers not_found.
    void commandOnFoundInstance(Session *session, const Request &request, const QJsonObject &command,
                                std::function<QJsonObject(const QJsonObject &reply)> ackFields, const QString &notFound);
    void toSubscribers(const QJsonObject &frame, bool flowOnly = false);
    void setFlowSubscribers(int count);

    ServiceContext m_ctx;
    InstanceControl m_instance;
    // Operator sessions that sent admin.subscribe: events go to these only,
    // never by walking every connection (50 000 of them).
    QSet<Session *> m_subscribers;
    int m_flowSubscribers = 0;
    double m_lastFramesIn = 0;
    double m_lastFramesOut = 0;
    double m_lastBytesIn = 0;
    double m_lastBytesOut = 0;
};

} // namespace sb
