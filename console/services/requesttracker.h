#pragma once

// Matches answers to requests: gives each request a "ref", remembers the
// caller's handler and calls it once with the ack, the error, a timeout or a
// lost connection. Handlers bound to a context object are dropped when it is
// destroyed. Owned by a client service.

#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <functional>

namespace sb::console {

struct Reply
{
    bool ok = false;
    QJsonObject frame; // the ack, or the error frame
    QString code;      // error code, or "timeout" / "disconnected"
    QString text;      // plain words for a person, empty on success
};

using ReplyHandler = std::function<void(const Reply &)>;

class RequestTracker final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RequestTracker)
public:
    explicit RequestTracker(QObject *parent = nullptr);

    void setTimeoutMs(int ms) { m_timeoutMs = ms; }
    // Registers a handler and returns the ref to send.
    QString add(QObject *context, ReplyHandler handler);
    // Delivers an ack or error frame carrying a known ref; false otherwise.
    bool resolve(const QJsonObject &frame);
    // Fails every open request (connection lost).
    void failAll(const QString &text);
    qsizetype pending() const { return m_pending.size(); }

private:
    struct Pending
    {
        QPointer<QObject> context;
        bool hasContext = false;
        ReplyHandler handler;
        qint64 deadline = 0;
    };
    void finish(const QString &ref, const Reply &reply);
    void expire();

    QHash<QString, Pending> m_pending;
    QTimer m_timer;
    quint64 m_next = 1;
    int m_timeoutMs = 10000;
};

} // namespace sb::console
