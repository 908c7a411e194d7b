#include "benchclient.h"

#include "codec.h"
#include "worker.h"

#include <QJsonObject>

#include <string_view>

namespace sbbench {

namespace {

// Every chat text starts with this, then "<message>|<sent ns>|" and padding.
constexpr std::string_view kMarker = "FB|";

std::string_view view(QByteArrayView bytes)
{
    return {bytes.data(), static_cast<std::size_t>(bytes.size())};
}

// The non-negative integer after `key` (spaces allowed between), or -1.
qint64 integerAfter(std::string_view text, std::string_view key, std::size_t from = 0)
{
    std::size_t at = text.find(key, from);
    if (at == std::string_view::npos)
        return -1;
    at += key.size();
    while (at < text.size() && text[at] == ' ')
        ++at;
    qint64 value = 0;
    const std::size_t digitsFrom = at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9')
        value = value * 10 + (text[at++] - '0');
    return at > digitsFrom ? value : -1;
}

// The message id in a `ref` we sent ("<message>"), -1 for any other ref or none.
int messageRef(std::string_view frame)
{
    return static_cast<int>(integerAfter(frame, R"("ref":")"));
}

} // namespace

BenchClient::BenchClient(Worker *worker, Poller &poller, const Plan &plan, int index)
    : m_worker(worker)
    , m_poller(poller)
    , m_plan(plan)
    , m_index(index)
    , m_room(plan.roomOf(index))
{
    seen.assign((static_cast<std::size_t>(plan.totalMessages()) + 63) / 64, 0);
    lastNumber.assign(static_cast<std::size_t>(plan.options.posters), -1);
    if (plan.isPoster(index))
        sentAt.assign(static_cast<std::size_t>(plan.options.messages), 0);
}

BenchClient::~BenchClient() = default;

void BenchClient::start()
{
    if (m_plan.options.protocol == Protocol::Simple) {
        openWebSocket("/ws/" + m_plan.roomName(m_room));
        return;
    }
    m_state = State::Token;
    const QByteArray user = "bench" + QByteArray::number(m_index);
    const QByteArray body = sb::encode({{QLatin1StringView("user"), QString::fromLatin1(user)},
                                        {QLatin1StringView("client_id"), QString::fromLatin1("fanout-" + user)}});
    m_token = std::make_unique<TokenRequest>(m_poller, [this](const QByteArray &token, const QString &error) {
        if (token.isEmpty())
            return fail(error);
        openWebSocket("/ws?token=" + token);
    });
    const Endpoint &server = m_plan.endpointOf(m_index);
    m_token->start(server.address, server.port, server.hostHeader, body);
}

void BenchClient::openWebSocket(const QByteArray &target)
{
    m_state = m_plan.options.protocol == Protocol::Simple ? State::Upgrade : State::Welcome;
    WsClient::Handlers handlers;
    handlers.opened = [this] {
        if (m_plan.options.protocol == Protocol::Simple) {
            m_state = State::Ready; // the room is in the path
            m_worker->clientReady(this);
        }
    };
    handlers.text = [this](QByteArrayView text, qint64 receivedNs) { onText(text, receivedNs); };
    handlers.closed = [this](const QString &reason) { onClosed(reason); };
    m_ws = std::make_unique<WsClient>(m_poller, std::move(handlers));
    const Endpoint &server = m_plan.endpointOf(m_index);
    m_ws->open(server.address, server.port, server.hostHeader, target);
}

void BenchClient::onText(QByteArrayView bytes, qint64 receivedNs)
{
    const std::string_view frame = view(bytes);
    const std::size_t marker = frame.find(kMarker);
    if (marker != std::string_view::npos) {
        const std::size_t idAt = marker + kMarker.size();
        const qint64 message = integerAfter(frame, "", idAt);
        const qint64 sentNs = integerAfter(frame, "|", idAt);
        const qint64 seq = integerAfter(frame, R"("seq":)");
        if (message < 0 || message >= m_plan.totalMessages() || sentNs < 0)
            return m_worker->otherFrame(this, bytes);
        m_worker->chatDelivered(this, static_cast<int>(message), sentNs, seq, receivedNs);
        return;
    }
    if (m_plan.options.protocol == Protocol::Simple)
        return m_worker->otherFrame(this, bytes);

    if (frame.find(R"("type":"ack")") != std::string_view::npos) {
        if (m_state == State::Join && frame.find(R"("ref":"join")") != std::string_view::npos) {
            m_state = State::Ready;
            m_worker->clientReady(this);
        } else if (const int message = messageRef(frame); message >= 0) {
            m_worker->chatAcked(this, message, receivedNs);
        }
    } else if (frame.find(R"("type":"error")") != std::string_view::npos) {
        if (m_state != State::Ready)
            return fail(QStringLiteral("error frame while joining: ") + QString::fromUtf8(bytes));
        m_worker->errorFrame(this, messageRef(frame), bytes);
    } else if (m_state == State::Welcome && frame.find(R"("type":"welcome")") != std::string_view::npos) {
        if (m_plan.options.idle) {
            m_state = State::Ready;
            m_worker->clientReady(this);
            return;
        }
        m_state = State::Join;
        m_ws->sendText(sb::encode(sb::makeFrame(sb::MessageType::Join,
                                                {{QLatin1StringView("room"), QString::fromLatin1(m_plan.roomName(m_room))},
                                                 {QLatin1StringView("ref"), QStringLiteral("join")}})));
    } else {
        m_worker->otherFrame(this, bytes); // presence, pong, broadcasts
    }
}

void BenchClient::sendChat(int message, qint64 sentNs)
{
    // "FB|<message>|<sent ns>|" padded with 'x' to the configured size.
    QByteArray text = kMarker.data() + QByteArray::number(message) + '|' + QByteArray::number(sentNs) + '|';
    text.append(qMax<qsizetype>(0, m_plan.options.textSize - text.size()), 'x');
    if (m_plan.options.protocol == Protocol::Simple) {
        m_ws->sendText(R"({"text":")" + text + R"("})");
        return;
    }
    m_ws->sendText(sb::encode(sb::makeFrame(sb::MessageType::Chat,
                                            {{QLatin1StringView("room"), QString::fromLatin1(m_plan.roomName(m_room))},
                                             {QLatin1StringView("text"), QString::fromLatin1(text)},
                                             {QLatin1StringView("ref"), QString::number(message)}})));
}

void BenchClient::close()
{
    m_state = State::Gone;
    if (m_ws)
        m_ws->close();
}

void BenchClient::onClosed(const QString &reason)
{
    if (m_state == State::Gone)
        return;
    if (m_state != State::Ready)
        return fail(reason);
    m_state = State::Gone;
    m_worker->clientClosed(this, reason);
}

void BenchClient::fail(const QString &reason)
{
    m_state = State::Gone;
    if (m_ws)
        m_ws->close();
    m_worker->clientFailed(this, reason);
}

} // namespace sbbench
