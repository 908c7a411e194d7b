#pragma once

// Operator requests (PROTOCOL.md section 4): the subscription with its
// snapshot, connection events, 1 s stats and flow samples for this instance;
// injection, disconnect, drain and ticker commands that act anywhere in the
// cluster; and the audit log entry for each action. Owned by the Server.

#include "codec.h"

#include <QJsonObject>
#include <QSet>

#include <functional>

namespace sb {

class Server;
class Session;

class AdminService final
{
    Q_DISABLE_COPY_MOVE(AdminService)
public:
    explicit AdminService(Server *server);

    void subscribe(Session *session, const Request &request);
    void inject(Session *session, const Request &request);
    void disconnectSession(Session *session, const Request &request);
    void drain(Session *session, const Request &request, bool on);
    void ticker(Session *session, const Request &request);

    // Runs a cluster command on this instance and says what it did.
    QJsonObject execute(const QJsonObject &command);

    void tick();
    bool hasFlowSubscribers() const { return m_flowSubscribers > 0; }
    bool hasSubscribers() const { return !m_subscribers.isEmpty(); }
    void emitFlow(const QJsonObject &frame);

private:
    bool audit(Session *session, const Request &request);
    // Audits, runs `command` on every instance, and acks with ackFields(reply)
    // of the instance that found its target, or answers not_found.
    void commandOnFoundInstance(Session *session, const Request &request, const QJsonObject &command,
                                std::function<QJsonObject(const QJsonObject &reply)> ackFields, const QString &notFound);
    void toSubscribers(const QJsonObject &frame, bool flowOnly = false);
    void countFlow();


    Server *m_server;
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
