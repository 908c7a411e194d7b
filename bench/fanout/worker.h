#pragma once

// Worker: one client thread of the load generator. It owns the clients whose
// index maps to its thread, opens their connections a few at a time, sends
// its posters' messages on schedule (or closed loop), and keeps the counts and
// latency samples of everything its clients receive. run() is the thread's
// loop: an epoll wait, the posting schedule, and the calls the coordinator
// (main thread) queued with post(). The coordinator also watches the atomic
// progress counters and collects a WorkerReport at the end.

#include "benchclient.h"
#include "plan.h"
#include "poller.h"

#include <QByteArrayView>
#include <QStringList>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace sbbench {

struct WorkerReport
{
    std::vector<qint32> latencyUs;    // sender's send to this receiver's receive, per delivery
    std::vector<qint32> ackLatencyUs; // switchboard: send to ack (the store's commit)
    qint64 sent = 0;
    qint64 refused = 0;    // answered with an error frame instead of an ack
    qint64 delivered = 0;  // first deliveries of a message to a client
    qint64 duplicates = 0;
    qint64 outOfOrder = 0; // a room seq not above the last one, or a poster's n below its last one
    qint64 otherFrames = 0;
    qint64 closedAfterReady = 0;
    qint64 firstSendNs = 0;
    qint64 lastSendNs = 0;
    qint64 lastDeliveryNs = 0;
    QStringList problems; // the first few errors and closes, for the log
};

class Worker final
{
    Q_DISABLE_COPY_MOVE(Worker)
public:
    Worker(const Plan &plan, int thread);
    ~Worker();

    // The thread's loop; returns after quit().
    void run();
    // Queues `call` to run on the worker's thread. Thread-safe.
    void post(std::function<void()> call);
    // Queues `call` and waits until it ran. Thread-safe; not from the worker's thread.
    void invoke(const std::function<void()> &call);
    void quit();

    // Called through post()/invoke() by the coordinator.
    void connectAll(int concurrency);
    // `members`: ready clients per room, to count the deliveries each message is owed.
    void startPosting(qint64 t0Ns, const std::vector<int> &members);
    WorkerReport report() const;
    void closeAll();
    std::vector<int> readyPerRoom() const;

    // Progress, read by the coordinator while the worker runs.
    std::atomic<int> ready{0};
    std::atomic<int> failed{0};
    std::atomic<qint64> deliveries{0};
    std::atomic<qint64> expected{0}; // deliveries owed for the messages sent and not refused
    std::atomic<qint64> lastFrameNs{0};
    std::atomic<bool> sendingDone{false};

    // Called by the clients.
    void clientReady(BenchClient *client);
    void clientFailed(BenchClient *client, const QString &reason);
    void clientClosed(BenchClient *client, const QString &reason);
    void chatDelivered(BenchClient *client, int message, qint64 sentNs, qint64 seq, qint64 receivedNs);
    void chatAcked(BenchClient *client, int message, qint64 receivedNs);
    void errorFrame(BenchClient *client, int message, QByteArrayView frame);
    void otherFrame(BenchClient *client, QByteArrayView frame);

private:
    void connectNext();
    int msUntilNextSend() const;
    void sendDue();
    void send(BenchClient *poster);
    void checkSendingDone();
    void note(const QString &problem);

    const Plan &m_plan;
    Poller m_poller;
    std::mutex m_callsMutex;
    std::deque<std::function<void()>> m_calls;
    bool m_quit = false;
    bool m_posting = false;
    std::vector<std::unique_ptr<BenchClient>> m_clients;
    std::vector<BenchClient *> m_posters;
    std::vector<int> m_members; // per room
    std::size_t m_nextToConnect = 0;
    int m_connecting = 0;
    int m_concurrency = 1;
    qint64 m_t0Ns = 0;
    WorkerReport m_report;
};

} // namespace sbbench
