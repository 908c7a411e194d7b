#pragma once

// BenchClient: one simulated participant. It opens its connection the way its
// protocol wants (switchboard: token, upgrade, welcome, join; simple: upgrade
// to /ws/<room>), sends chat texts for its Worker, and sorts every frame it
// receives into an event for the Worker: a chat delivery, an ack, an error or
// anything else. Frames are scanned for the few fields the benchmark needs
// rather than parsed as JSON, which keeps the generator cheap. Owned by its
// Worker, on the worker's thread.

#include "plan.h"
#include "tokenrequest.h"
#include "wsclient.h"

#include <QByteArrayView>

#include <memory>
#include <vector>

namespace sbbench {

class Worker;

class BenchClient final
{
    Q_DISABLE_COPY_MOVE(BenchClient)
public:
    BenchClient(Worker *worker, Poller &poller, const Plan &plan, int index);
    ~BenchClient();

    int index() const { return m_index; }
    int room() const { return m_room; }
    bool isReady() const { return m_state == State::Ready; }

    void start();
    // Sends chat message `message` with `sentNs` embedded in its text.
    void sendChat(int message, qint64 sentNs);
    void close();

    // Receive bookkeeping, kept by the Worker.
    std::vector<quint64> seen;        // bit k: message k was delivered here
    std::vector<int> lastNumber;      // per poster: the highest n delivered here, -1 for none
    qint64 lastSeq = 0;               // the room's highest seq delivered here
    // Posting, for posters only.
    int nextNumber = 0;               // the next n to send
    int inFlight = 0;                 // sent, own copy not yet received (closed loop)
    std::vector<qint64> sentAt;       // per n: when it was sent

private:
    enum class State { Idle, Token, Upgrade, Welcome, Join, Ready, Gone };

    void openWebSocket(const QByteArray &target);
    void onText(QByteArrayView text, qint64 receivedNs);
    void onClosed(const QString &reason);
    void fail(const QString &reason);

    Worker *m_worker;
    Poller &m_poller;
    const Plan &m_plan;
    int m_index;
    int m_room;
    State m_state = State::Idle;
    std::unique_ptr<TokenRequest> m_token; // kept until the client goes: it may be running its callback
    std::unique_ptr<WsClient> m_ws;
};

} // namespace sbbench
