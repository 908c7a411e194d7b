#pragma once

// One operator connection to one switchboard-server instance: asks for an
// operator token (POST /api/token with the operator key), opens /ws, subscribes
// with flow samples and turns the stream into typed signals. It reconnects with
// backoff when the instance goes away, reports an instance that stops sending
// statistics as hung, and stops (state Failed) when the key is refused instead
// of retrying in a loop. It also polls /readyz for the health text. Large
// frames (snapshots) are decoded off the GUI thread, in order. Owned by
// OperatorHub; widgets never see it directly.

#include "framedecoder.h"
#include "operatortypes.h"
#include "requesttracker.h"
#include "wsclient.h"

#include <QElapsedTimer>
#include <QObject>
#include <QStringList>
#include <QThread>
#include <QTimer>
#include <QUrl>

namespace sb::console {

class InstanceClient final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(InstanceClient)
public:
    enum class State {
        Idle,       // not started
        Connecting, // asking for a token / opening the socket / waiting for the snapshot
        Connected,  // subscribed, statistics arriving
        Hung,       // connected, but no statistics for statsTimeoutMs
        Retrying,   // waiting to reconnect
        Failed,     // given up: the operator key was refused
    };
    Q_ENUM(State)

    struct Options
    {
        QString user = QStringLiteral("operator");
        bool flow = true;
        int statsTimeoutMs = 5000;    // no admin.stats for this long: Hung
        int hungAbortMs = 30000;      // still nothing: drop the socket and reconnect
        int resyncMs = 5000;          // re-subscribe for fresh per-connection counters; 0: never;
                                      // at least 3 ms per connection, so big instances resync less often
        int readinessPollMs = 2000;   // GET /readyz; 0: never
        int httpTimeoutMs = 5000;
        int requestTimeoutMs = 10000;
        int backoffFirstMs = 1000;
        int backoffCapMs = 30000;
    };

    explicit InstanceClient(const QUrl &baseUrl, QObject *parent = nullptr);
    InstanceClient(const QUrl &baseUrl, const Options &options, QObject *parent = nullptr);
    ~InstanceClient() override;

    void setOperatorKey(const QString &key) { m_operatorKey = key; }
    void start();
    void stop();
    // Reconnects now (after a key change, or the operator's "retry").
    void restart();

    QUrl baseUrl() const { return m_ws.baseUrl(); }
    QString instanceId() const { return m_instance.id; }
    const InstanceInfo &instanceInfo() const { return m_instance; }
    State state() const { return m_state; }
    bool isLive() const { return m_state == State::Connected || m_state == State::Hung; }
    QString lastError() const { return m_lastError; }
    // The instance id once known, else the URL.
    QString displayName() const;
    bool keyRefused() const { return m_keyRefused; }
    // Readiness as last seen on /readyz: "ready", "draining", … or "unreachable".
    QString readinessStatus() const { return m_readinessStatus; }

    static QString stateName(State state);

    // Operator requests; the handler runs once with the ack or the error.
    void request(QJsonObject frame, QObject *context, ReplyHandler handler);
    void inject(const InjectTarget &target, const QString &text, QObject *context, ReplyHandler handler);
    void disconnectSession(const QString &sessionId, QObject *context, ReplyHandler handler);
    void drain(const QString &instanceId, QObject *context, ReplyHandler handler);
    void undrain(const QString &instanceId, QObject *context, ReplyHandler handler);
    void setTicker(bool enabled, QObject *context, ReplyHandler handler);
    void refreshReadiness();

Q_SIGNALS:
    void snapshot(const sb::InstanceInfo &instance, const QList<sb::ConnectionInfo> &connections);
    void connOpened(const sb::ConnectionInfo &conn);
    void connClosed(const QString &sessionId, int code);
    void stats(const sb::InstanceStats &stats);
    void flow(const sb::FlowSample &sample);
    void readiness(const QString &status, const QString &reason);
    void errorText(const QString &text);
    void stateChanged(sb::console::InstanceClient::State state);

private:
    void setState(State state);
    void fail(const QString &text);
    void scheduleRetry(const QString &why, int delayMs = -1);
    void requestToken();
    void subscribe();
    void onText(const QString &text);
    void handleFrame(const DecodedFrame &decoded);
    void decodeQueued();
    void onDisconnected(const WsClient::Gone &how);
    void watchdog();
    void dropSocket();

    Options m_options;
    QString m_operatorKey;
    WsClient m_ws;
    QTimer m_watchdogTimer;
    QTimer m_resyncTimer;
    QTimer m_readinessTimer;
    QElapsedTimer m_sinceStats;
    InstanceInfo m_instance;
    State m_state = State::Idle;
    QString m_lastError;
    QString m_readinessStatus;
    bool m_keyRefused = false;
    bool m_running = false;
    bool m_subscribed = false;

    // Frames waiting for an earlier large frame to be decoded on m_decoderThread.
    QStringList m_undecoded;
    bool m_decoding = false;
    quint64 m_socketGeneration = 0;
    QList<ConnectionInfo> m_ackConnections; // of the ack being resolved
    QThread m_decoderThread;
    FrameDecoder *m_decoder = nullptr; // lives on m_decoderThread; deleted when it finishes
};

} // namespace sb::console
