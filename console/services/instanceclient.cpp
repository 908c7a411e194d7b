#include "instanceclient.h"

#include "codec.h"
#include "plainerror.h"
#include "protocol.h"

#include <QDateTime>
#include <QLoggingCategory>
#include <QNetworkReply>
#include <QNetworkRequest>

Q_LOGGING_CATEGORY(lcInstance, "sb.console.instance", QtInfoMsg)

namespace sb::console {

InstanceClient::InstanceClient(const QUrl &baseUrl, QObject *parent)
    : InstanceClient(baseUrl, Options{}, parent)
{
}

InstanceClient::InstanceClient(const QUrl &baseUrl, const Options &options, QObject *parent)
    : QObject(parent)
    , m_options(options)
    , m_ws(WsClient::Options{256 * 1024 * 1024, false, options.httpTimeoutMs, options.requestTimeoutMs,
                             options.backoffFirstMs, options.backoffCapMs})
{
    m_ws.setBaseUrl(baseUrl);
    connect(&m_ws, &WsClient::retryDue, this, &InstanceClient::requestToken);
    connect(&m_ws, &WsClient::opened, this, &InstanceClient::subscribe);
    connect(&m_ws, &WsClient::textReceived, this, &InstanceClient::onText);
    connect(&m_ws, &WsClient::gone, this, &InstanceClient::onDisconnected);
    m_watchdogTimer.setObjectName(QStringLiteral("InstanceClient.watchdog"));
    m_resyncTimer.setObjectName(QStringLiteral("InstanceClient.resync"));
    m_readinessTimer.setObjectName(QStringLiteral("InstanceClient.readiness"));
    m_watchdogTimer.setInterval(500);
    connect(&m_watchdogTimer, &QTimer::timeout, this, &InstanceClient::watchdog);
    if (m_options.resyncMs > 0) {
        m_resyncTimer.setInterval(m_options.resyncMs);
        connect(&m_resyncTimer, &QTimer::timeout, this, &InstanceClient::subscribe);
    }
    if (m_options.readinessPollMs > 0) {
        m_readinessTimer.setInterval(m_options.readinessPollMs);
        connect(&m_readinessTimer, &QTimer::timeout, this, &InstanceClient::refreshReadiness);
    }
}

InstanceClient::~InstanceClient()
{
    if (m_decoder) {
        m_decoderThread.quit();
        m_decoderThread.wait();
    }
    m_running = false;
}

QString InstanceClient::stateName(State state)
{
    switch (state) {
    case State::Idle: return tr("idle");
    case State::Connecting: return tr("connecting");
    case State::Connected: return tr("connected");
    case State::Hung: return tr("not responding");
    case State::Retrying: return tr("reconnecting");
    case State::Failed: return tr("failed");
    }
    return {};
}

QString InstanceClient::displayName() const
{
    return m_instance.id.isEmpty() ? baseUrl().toString() : m_instance.id;
}

void InstanceClient::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    qCDebug(lcInstance).noquote() << baseUrl().toString() << "->" << stateName(state);
    Q_EMIT stateChanged(state);
}

void InstanceClient::fail(const QString &text)
{
    m_lastError = text;
    qCWarning(lcInstance).noquote() << text;
    Q_EMIT errorText(text);
}

void InstanceClient::start()
{
    if (m_running)
        return;
    m_running = true;
    m_keyRefused = false;
    m_ws.resetBackoff();
    if (m_options.readinessPollMs > 0) {
        m_readinessTimer.start();
        refreshReadiness();
    }
    requestToken();
}

void InstanceClient::stop()
{
    m_running = false;
    m_ws.cancelRetry();
    m_watchdogTimer.stop();
    m_resyncTimer.stop();
    m_readinessTimer.stop();
    m_ws.abortToken();
    dropSocket();
    m_ws.failAll(tr("The console stopped watching this instance."));
    setState(State::Idle);
}

void InstanceClient::restart()
{
    stop();
    start();
}

void InstanceClient::dropSocket()
{
    m_subscribed = false;
    // Frames of this socket still being decoded are dropped when they come back.
    ++m_socketGeneration;
    m_undecoded.clear();
    m_decoding = false;
    m_ws.drop();
}

void InstanceClient::scheduleRetry(const QString &why, int delayMs)
{
    dropSocket();
    m_watchdogTimer.stop();
    m_resyncTimer.stop();
    m_ws.failAll(tr("The connection to the instance was lost."));
    if (!m_running)
        return;
    const int delay = delayMs >= 0 ? delayMs : m_ws.nextBackoffMs();
    fail(tr("%1: %2 Reconnecting in %3 s.").arg(displayName(), why).arg((delay + 999) / 1000));
    setState(State::Retrying);
    m_ws.retryIn(delay);
}

void InstanceClient::requestToken()
{
    if (!m_running)
        return;
    setState(State::Connecting);
    const QJsonObject body{{QLatin1StringView("user"), m_options.user},
                           {QLatin1StringView("role"), QStringLiteral("operator")}};
    m_ws.requestToken(body, m_operatorKey, [this](const WsClient::TokenAnswer &answer) {
        if (!m_running)
            return;
        if (answer.status == 200) {
            const QString token = answer.body.value(QLatin1StringView("token")).toString();
            if (token.isEmpty())
                return scheduleRetry(tr("The instance gave no token."));
            dropSocket();
            m_ws.open(token);
            return;
        }
        if (answer.status == 403) {
            // Retrying cannot help; the operator must give another key.
            m_keyRefused = true;
            m_running = false;
            m_readinessTimer.stop();
            fail(tr("%1 refused the operator key (HTTP 403). Enter the right key to reconnect.")
                     .arg(baseUrl().toString()));
            setState(State::Failed);
            return;
        }
        if (answer.status == 429)
            return scheduleRetry(plainHttpText(answer.status, {}), answer.retryAfterMs);
        scheduleRetry(plainHttpText(answer.status, answer.message));
    });
}

void InstanceClient::subscribe()
{
    if (!m_ws.hasSocket())
        return;
    request(makeFrame(MessageType::AdminSubscribe, {{QLatin1StringView("flow"), m_options.flow}}), this,
            [this](const Reply &reply) {
                if (!reply.ok) {
                    if (reply.code != QLatin1StringView("disconnected"))
                        fail(tr("Subscribing to %1 failed: %2").arg(displayName(), reply.text));
                    return;
                }
                m_instance = InstanceInfo::fromJson(reply.frame.value(QLatin1StringView("instance")).toObject());
                // Decoded with the ack (see handleFrame).
                const QList<ConnectionInfo> connections = std::exchange(m_ackConnections, {});
                if (m_options.resyncMs > 0)
                    m_resyncTimer.setInterval(std::max(m_options.resyncMs, static_cast<int>(connections.size()) * 3));
                if (!m_subscribed) {
                    m_subscribed = true;
                    m_ws.resetBackoff();
                    m_lastError.clear();
                    m_sinceStats.start();
                    m_watchdogTimer.start();
                    if (m_options.resyncMs > 0)
                        m_resyncTimer.start();
                    setState(State::Connected);
                }
                Q_EMIT snapshot(m_instance, connections);
            });
}

void InstanceClient::onText(const QString &text)
{
    // Megabytes of snapshot would stall the window: decode such frames on the
    // decoder thread, and hold back what follows them so the order stays.
    constexpr qsizetype offThreadChars = 64 * 1024;
    if (!m_decoding && m_undecoded.isEmpty() && text.size() < offThreadChars) {
        handleFrame(decodeFrame(text, m_socketGeneration));
        return;
    }
    m_undecoded.append(text);
    decodeQueued();
}

void InstanceClient::decodeQueued()
{
    constexpr qsizetype offThreadChars = 64 * 1024;
    while (!m_decoding && !m_undecoded.isEmpty()) {
        const QString next = m_undecoded.takeFirst();
        if (next.size() < offThreadChars) {
            handleFrame(decodeFrame(next, m_socketGeneration));
            continue;
        }
        if (!m_decoder) {
            qRegisterMetaType<DecodedFrame>();
            m_decoder = new FrameDecoder;
            m_decoder->moveToThread(&m_decoderThread);
            connect(&m_decoderThread, &QThread::finished, m_decoder, &QObject::deleteLater);
            connect(m_decoder, &FrameDecoder::decoded, this, [this](const DecodedFrame &decoded) {
                if (decoded.generation != m_socketGeneration)
                    return; // from a socket since dropped
                m_decoding = false;
                handleFrame(decoded);
                decodeQueued();
            });
            m_decoderThread.setObjectName(QStringLiteral("frame decoder"));
            m_decoderThread.start();
        }
        m_decoding = true;
        QMetaObject::invokeMethod(m_decoder, [decoder = m_decoder, next, generation = m_socketGeneration] {
            decoder->decode(next, generation);
        });
    }
}

void InstanceClient::handleFrame(const DecodedFrame &decoded)
{
    if (!decoded.frame)
        return;
    const std::optional<QJsonObject> &frame = decoded.frame;
    m_ackConnections = decoded.connections;
    const std::optional<MessageType> known = WsClient::typeOf(*frame);
    if (!known) {
        qCDebug(lcInstance).noquote() << "ignoring frame of unknown type"
                                  << frame->value(QLatin1StringView("type")).toString();
        return;
    }
    switch (*known) {
    case MessageType::Ack:
    case MessageType::Error:
        if (!m_ws.resolve(*frame) && *known == MessageType::Error)
            fail(plainErrorText(frame->value(QLatin1StringView("code")).toString(),
                                frame->value(QLatin1StringView("message")).toString()));
        break;
    case MessageType::AdminConnOpen:
        Q_EMIT connOpened(ConnectionInfo::fromJson(frame->value(QLatin1StringView("conn")).toObject()));
        break;
    case MessageType::AdminConnClose:
        Q_EMIT connClosed(frame->value(QLatin1StringView("session_id")).toString(),
                          frame->value(QLatin1StringView("code")).toInt());
        break;
    case MessageType::AdminStats: {
        m_sinceStats.restart();
        if (m_state == State::Hung) {
            m_lastError.clear();
            setState(State::Connected);
        }
        const InstanceStats s = InstanceStats::fromJson(*frame, QDateTime::currentMSecsSinceEpoch());
        m_instance.connections = s.connections;
        Q_EMIT stats(s);
        break;
    }
    case MessageType::AdminFlow:
        Q_EMIT flow(FlowSample::fromJson(*frame));
        break;
    default:
        break; // welcome, pong, announcements to the operator: nothing to show
    }
}

void InstanceClient::onDisconnected(const WsClient::Gone &how)
{
    QString why = plainCloseText(how.closeCode, how.closeReason);
    if (why.isEmpty() || how.closeCode == 1006)
        why = how.error != QAbstractSocket::UnknownSocketError && !m_subscribed
                  ? tr("Could not open the operator connection (%1).").arg(how.errorString)
                  : tr("The connection was lost.");
    scheduleRetry(why);
}

void InstanceClient::watchdog()
{
    if (!m_subscribed)
        return;
    const qint64 quiet = m_sinceStats.elapsed();
    if (quiet >= m_options.hungAbortMs) {
        scheduleRetry(tr("Nothing received for %1 s.").arg(quiet / 1000));
        return;
    }
    if (quiet >= m_options.statsTimeoutMs && m_state == State::Connected) {
        fail(tr("%1 has sent no statistics for %2 s; it may be hung.").arg(displayName()).arg(quiet / 1000));
        setState(State::Hung);
    }
}

void InstanceClient::request(QJsonObject frame, QObject *context, ReplyHandler handler)
{
    m_ws.request(std::move(frame), context, std::move(handler), tr("Not connected to %1.").arg(displayName()));
}

void InstanceClient::inject(const InjectTarget &target, const QString &text, QObject *context, ReplyHandler handler)
{
    request(makeFrame(MessageType::AdminInject, {{QLatin1StringView("target"), target.toJson()},
                                                 {QLatin1StringView("text"), text}}),
            context, std::move(handler));
}

void InstanceClient::disconnectSession(const QString &sessionId, QObject *context, ReplyHandler handler)
{
    request(makeFrame(MessageType::AdminDisconnect, {{QLatin1StringView("session_id"), sessionId}}), context,
            std::move(handler));
}

void InstanceClient::drain(const QString &instanceId, QObject *context, ReplyHandler handler)
{
    request(makeFrame(MessageType::AdminDrain, {{QLatin1StringView("instance"), instanceId}}), context,
            [this, handler = std::move(handler)](const Reply &reply) {
                refreshReadiness();
                if (handler)
                    handler(reply);
            });
}

void InstanceClient::undrain(const QString &instanceId, QObject *context, ReplyHandler handler)
{
    request(makeFrame(MessageType::AdminUndrain, {{QLatin1StringView("instance"), instanceId}}), context,
            [this, handler = std::move(handler)](const Reply &reply) {
                refreshReadiness();
                if (handler)
                    handler(reply);
            });
}

void InstanceClient::setTicker(bool enabled, QObject *context, ReplyHandler handler)
{
    request(makeFrame(MessageType::AdminTicker, {{QLatin1StringView("enabled"), enabled}}), context,
            std::move(handler));
}

void InstanceClient::refreshReadiness()
{
    QNetworkRequest request(m_ws.endpoint(QStringLiteral("/readyz")));
    request.setTransferTimeout(m_options.httpTimeoutMs);
    QNetworkReply *reply = m_ws.network().get(request);
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QJsonObject answer = decodeObject(reply->readAll()).value_or(QJsonObject{});
        QString readiness = answer.value(QLatin1StringView("status")).toString();
        QString reason = answer.value(QLatin1StringView("reason")).toString();
        if (status == 0) {
            readiness = QStringLiteral("unreachable");
            reason = reply->errorString();
        } else if (readiness.isEmpty()) {
            readiness = status == 200 ? QStringLiteral("ready") : QStringLiteral("unknown");
        }
        m_readinessStatus = readiness;
        Q_EMIT this->readiness(readiness, reason);
    });
}

} // namespace sb::console
