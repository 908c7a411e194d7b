#include "worker.h"

#include "clock.h"

#include <algorithm>
#include <future>

namespace sbbench {

namespace {
constexpr int kMaxProblemsKept = 10;
}

Worker::Worker(const Plan &plan, int thread)
    : m_plan(plan)
{
    for (int c = thread; c < plan.options.clients; c += plan.options.threads) {
        m_clients.push_back(std::make_unique<BenchClient>(this, m_poller, plan, c));
        if (plan.isPoster(c))
            m_posters.push_back(m_clients.back().get());
    }
    m_report.latencyUs.reserve(static_cast<std::size_t>(plan.totalMessages())
                               * static_cast<std::size_t>(m_clients.size()) / static_cast<std::size_t>(plan.options.rooms));
}

Worker::~Worker() = default;

void Worker::run()
{
    while (!m_quit) {
        m_poller.poll(msUntilNextSend());
        if (m_posting)
            sendDue();
        std::deque<std::function<void()>> calls;
        {
            const std::lock_guard lock(m_callsMutex);
            calls.swap(m_calls);
        }
        for (const auto &call : calls)
            call();
    }
}

void Worker::post(std::function<void()> call)
{
    {
        const std::lock_guard lock(m_callsMutex);
        m_calls.push_back(std::move(call));
    }
    m_poller.wake();
}

void Worker::invoke(const std::function<void()> &call)
{
    std::promise<void> done;
    post([&] {
        call();
        done.set_value();
    });
    done.get_future().wait();
}

void Worker::quit()
{
    post([this] { m_quit = true; });
}

int Worker::msUntilNextSend() const
{
    constexpr int idleMs = 50; // calls from the coordinator wake the loop anyway
    if (!m_posting)
        return idleMs;
    const qint64 now = nowNs();
    if (now < m_t0Ns)
        return static_cast<int>((m_t0Ns - now + 999999) / 1000000);
    if (m_plan.options.rate <= 0)
        return idleMs; // closed loop: deliveries send the next ones
    qint64 next = -1;
    for (const BenchClient *poster : m_posters) {
        if (!poster->isReady() || poster->nextNumber >= m_plan.options.messages)
            continue;
        const qint64 due = m_plan.dueNs(m_t0Ns, Plan::messageId(poster->index(), poster->nextNumber, m_plan.options.posters));
        next = next < 0 ? due : qMin(next, due);
    }
    if (next < 0)
        return idleMs;
    return static_cast<int>(std::clamp<qint64>((next - now + 999999) / 1000000, 0, idleMs));
}

void Worker::connectAll(int concurrency)
{
    m_concurrency = qMax(1, concurrency);
    connectNext();
}

void Worker::connectNext()
{
    while (m_connecting < m_concurrency && m_nextToConnect < m_clients.size()) {
        ++m_connecting;
        m_clients[m_nextToConnect++]->start();
    }
}

void Worker::clientReady(BenchClient *)
{
    --m_connecting;
    ready.fetch_add(1);
    connectNext();
}

void Worker::clientFailed(BenchClient *client, const QString &reason)
{
    --m_connecting;
    failed.fetch_add(1);
    note(QStringLiteral("client %1 could not connect: %2").arg(client->index()).arg(reason));
    connectNext();
}

void Worker::clientClosed(BenchClient *client, const QString &reason)
{
    ++m_report.closedAfterReady;
    note(QStringLiteral("client %1 lost its connection: %2").arg(client->index()).arg(reason));
}

std::vector<int> Worker::readyPerRoom() const
{
    std::vector<int> members(static_cast<std::size_t>(m_plan.options.rooms), 0);
    for (const auto &client : m_clients) {
        if (client->isReady())
            ++members[static_cast<std::size_t>(client->room())];
    }
    return members;
}

void Worker::startPosting(qint64 t0Ns, const std::vector<int> &members)
{
    m_members = members;
    m_t0Ns = t0Ns;
    m_posting = true;
}

void Worker::sendDue()
{
    const qint64 now = nowNs();
    if (now < m_t0Ns || sendingDone.load())
        return;
    for (BenchClient *poster : m_posters) {
        if (m_plan.options.rate > 0) {
            while (poster->isReady() && poster->nextNumber < m_plan.options.messages
                   && m_plan.dueNs(m_t0Ns, Plan::messageId(poster->index(), poster->nextNumber, m_plan.options.posters))
                          <= now)
                send(poster);
        } else {
            // Closed loop: keep the window full; each own delivery frees a slot.
            while (poster->isReady() && poster->inFlight < m_plan.options.window
                   && poster->nextNumber < m_plan.options.messages)
                send(poster);
        }
    }
    checkSendingDone();
}

void Worker::send(BenchClient *poster)
{
    const int n = poster->nextNumber++;
    const int message = Plan::messageId(poster->index(), n, m_plan.options.posters);
    expected.fetch_add(m_members[static_cast<std::size_t>(poster->room())]);
    ++poster->inFlight;
    ++m_report.sent;
    const qint64 now = nowNs();
    poster->sentAt[static_cast<std::size_t>(n)] = now;
    if (m_report.firstSendNs == 0)
        m_report.firstSendNs = now;
    m_report.lastSendNs = now;
    poster->sendChat(message, now);
}

void Worker::checkSendingDone()
{
    if (sendingDone.load())
        return;
    for (const BenchClient *poster : m_posters) {
        // A poster that lost its connection sends no more.
        if (poster->isReady() && poster->nextNumber < m_plan.options.messages)
            return;
    }
    m_posting = false;
    sendingDone.store(true);
}

void Worker::chatDelivered(BenchClient *client, int message, qint64 sentNs, qint64 seq, qint64 receivedNs)
{
    lastFrameNs.store(receivedNs, std::memory_order_relaxed);
    quint64 &word = client->seen[static_cast<std::size_t>(message / 64)];
    const quint64 bit = quint64(1) << (message % 64);
    if (word & bit) {
        ++m_report.duplicates;
        return;
    }
    word |= bit;
    ++m_report.delivered;
    deliveries.fetch_add(1, std::memory_order_relaxed);
    m_report.lastDeliveryNs = qMax(m_report.lastDeliveryNs, receivedNs);
    m_report.latencyUs.push_back(static_cast<qint32>((receivedNs - sentNs) / 1000));

    const int poster = m_plan.posterOf(message);
    const int n = m_plan.numberOf(message);
    int &lastNumber = client->lastNumber[static_cast<std::size_t>(poster)];
    if ((seq >= 0 && seq <= client->lastSeq) || n < lastNumber)
        ++m_report.outOfOrder;
    client->lastSeq = qMax(client->lastSeq, seq);
    lastNumber = qMax(lastNumber, n);

    if (poster == client->index())
        --client->inFlight; // closed loop: sendDue() refills the window
}

void Worker::chatAcked(BenchClient *client, int message, qint64 receivedNs)
{
    if (message >= m_plan.totalMessages() || m_plan.posterOf(message) != client->index())
        return;
    const qint64 sentNs = client->sentAt[static_cast<std::size_t>(m_plan.numberOf(message))];
    if (sentNs > 0)
        m_report.ackLatencyUs.push_back(static_cast<qint32>((receivedNs - sentNs) / 1000));
}

void Worker::errorFrame(BenchClient *client, int message, QByteArrayView frame)
{
    lastFrameNs.store(nowNs(), std::memory_order_relaxed);
    note(QStringLiteral("client %1 got %2").arg(client->index()).arg(QString::fromUtf8(frame)));
    if (message < 0 || message >= m_plan.totalMessages() || m_plan.posterOf(message) != client->index())
        return;
    ++m_report.refused;
    expected.fetch_sub(m_members[static_cast<std::size_t>(client->room())]);
    --client->inFlight;
}

void Worker::otherFrame(BenchClient *, QByteArrayView)
{
    lastFrameNs.store(nowNs(), std::memory_order_relaxed);
    ++m_report.otherFrames;
}

WorkerReport Worker::report() const
{
    return m_report;
}

void Worker::closeAll()
{
    m_posting = false;
    for (const auto &client : m_clients)
        client->close();
}

void Worker::note(const QString &problem)
{
    if (m_report.problems.size() < kMaxProblemsKept)
        m_report.problems.append(problem);
}

} // namespace sbbench
