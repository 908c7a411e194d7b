// Proven under faults (issue 10): a real cluster — Redis, PostgreSQL, three
// switchboard-server processes and HAProxy on loopback — under steady chat
// load through HAProxy, while one fault at a time hits it: an instance killed
// (-9) and restarted, Redis restarted or stopped, PostgreSQL restarted or
// stopped, an instance drained and back, a consumer that stops reading,
// Redis frozen (SIGSTOP), HAProxy restarted, both cores taken by busy loops,
// Redis refusing PUBLISH (ACL). Every client behaves as the participant
// client does: one chat in flight with a nonce, resent with the same nonce
// after an error or a reconnect; a reconnect joins again with `since`.
//
// After each fault the clients prove, from their side, that every
// acknowledged chat reached every member of its room exactly once, in seq
// order, with no gap; that no nonce was acknowledged with two seqs; that
// presence is clean (Redis and join acks list exactly the live sessions)
// within 10 s; and that every instance is ready again without a hand
// restart. A table per fault is printed.
//
//   tst_chaos                                  each fault once, short (CTest, label "chaos", ~3 min)
//   tst_chaos --random --seed 7 --minutes 8    random faults, random gaps, repeatable by seed
//   options: --clients N --rooms N --rate MSG_PER_S --only a,b (fault names, short form)

#include "cluster.h"
#include "codec.h"
#include "redisconnection.h"
#include "rawwsclient.h"
#include "testsupport.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QProcess>
#include <QSet>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QWebSocket>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <map>
#include <random>
#include <sys/types.h>

using namespace sbtest;

namespace {

struct ChaosOptions
{
    int clients = 300;
    int rooms = 30;
    double rate = 100; // chats per second, all clients together
    bool random = false;
    quint32 seed = 1;
    double minutes = 8;
    QStringList only;
};

ChaosOptions g_options;

// What one fault did, as the clients saw it.
struct Row
{
    QString scenario;
    int acked = 0;
    int delivered = 0; // live chat frames
    int recovered = 0; // chat frames from a join's `missed`
    int lost = 0;      // member deliveries of acked chats that never came
    int duplicated = 0;
    int gaps = 0;           // a chat frame whose seq was not the next one
    int nonceConflicts = 0; // a nonce acknowledged with two different seqs
    int unrecovered = 0;    // joins answered with recovered=false
    qint64 readyMs = -1;    // repair -> every instance ready; -1: never
    qint64 presenceMs = -1; // repair -> presence clean; -1: never
    bool ok() const
    {
        return lost == 0 && duplicated == 0 && gaps == 0 && nonceConflicts == 0 && unrecovered == 0 && readyMs >= 0
               && presenceMs >= 0;
    }
};

// A TCP proxy between the instances and PostgreSQL that, when armed, lets a
// COMMIT through to the server and cuts that connection as soon as the
// server answers: PostgreSQL has committed, the instance never hears it. The
// textbook COMMIT in doubt, on demand. It runs on a thread of its own, so
// the test's busy event loop never delays the instances' database traffic.
class CommitCutter final : public QObject
{
    Q_OBJECT
public:
    // Moves to `thread` (running) and listens there on a free loopback port.
    bool start(QThread &thread, quint16 upstreamPort)
    {
        m_upstream = upstreamPort;
        moveToThread(&thread);
        bool listening = false;
        QMetaObject::invokeMethod(
            this,
            [this, &listening] {
                m_server = new QTcpServer(this);
                connect(m_server, &QTcpServer::newConnection, this, &CommitCutter::accept);
                listening = m_server->listen(QHostAddress::LocalHost, 0);
                m_port = m_server->serverPort();
            },
            Qt::BlockingQueuedConnection);
        return listening;
    }
    quint16 port() const { return m_port; }
    // Cuts the next connection that sends a COMMIT (one at a time).
    void arm() { m_armed = 1; }
    void disarm() { m_armed = 0; }
    int cuts() const { return m_cuts; }

private:
    struct Pair
    {
        QTcpSocket *client = nullptr;
        QTcpSocket *server = nullptr; // a child of client
        bool commitSent = false;
        QByteArray tail; // the last bytes sent, for a COMMIT split between reads
    };

    void accept()
    {
        while (QTcpSocket *client = m_server->nextPendingConnection()) {
            auto *server = new QTcpSocket(client);
            auto pair = std::make_shared<Pair>();
            pair->client = client;
            pair->server = server;
            connect(client, &QTcpSocket::readyRead, client, [this, pair] {
                const QByteArray data = pair->client->readAll();
                if (m_armed.load() > 0 && !pair->commitSent && (pair->tail + data).contains("COMMIT"))
                    pair->commitSent = m_armed.exchange(0) > 0;
                pair->tail = data.right(5);
                pair->server->write(data);
            });
            connect(server, &QTcpSocket::readyRead, client, [this, pair] {
                const QByteArray data = pair->server->readAll();
                if (pair->commitSent) {
                    ++m_cuts;
                    pair->server->abort();
                    pair->client->abort();
                    return;
                }
                pair->client->write(data);
            });
            connect(server, &QTcpSocket::disconnected, client, [client] { client->disconnectFromHost(); });
            connect(server, &QTcpSocket::errorOccurred, client, [client] { client->disconnectFromHost(); });
            connect(client, &QTcpSocket::disconnected, client, &QObject::deleteLater);
            server->connectToHost(QHostAddress::LocalHost, m_upstream);
        }
    }

    QTcpServer *m_server = nullptr; // a child; the accepted sockets are its children
    quint16 m_upstream = 0;
    std::atomic<quint16> m_port{0};
    std::atomic<int> m_armed{0};
    std::atomic<int> m_cuts{0};
};

class Harness;

// One participant through HAProxy, driven by events (300 of them share the
// test's event loop).
class ChaosClient final : public QObject
{
    Q_OBJECT
public:
    ChaosClient(Harness *harness, int index, QString room);

    void start() { connectNow(); }
    bool settled() const { return m_state == State::Ready && m_pendingNonce.isEmpty(); }
    bool canSend() const { return m_state == State::Ready && m_pendingNonce.isEmpty(); }
    void sendNew();
    void watchdog(qint64 now);

    const QString &room() const { return m_room; }
    const QString &sessionId() const { return m_sessionId; }
    qint64 baseline() const { return m_baseline; }
    qint64 lastSeq() const { return m_lastSeq; }
    int receivedCount(qint64 seq) const { return m_received.value(seq); }
    bool isReady() const { return m_state == State::Ready; }

private:
    enum class State { Idle, Token, Connecting, Joining, Ready };

    void connectNow();
    void scheduleReconnect(int delayMs);
    void dropConnection(int delayMs);
    void onFrame(const QString &text);
    void sendJoin();
    void sendChat();
    void record(qint64 seq, bool recovered);

    Harness *m_harness;
    QString m_clientId;
    QString m_room;
    State m_state = State::Idle;
    quint64 m_generation = 0;
    std::unique_ptr<QWebSocket> m_ws;
    QString m_sessionId;
    qint64 m_baseline = -1; // last_seq of the first join: everything after it must arrive
    qint64 m_lastSeq = -1;
    QHash<qint64, int> m_received;
    QString m_pendingNonce;
    QString m_joinRef;
    QString m_chatRef;
    qint64 m_requestSentAt = 0; // the join or chat in flight; 0: none
    int m_nextRef = 0;
    int m_sent = 0;
    int m_afterMs = -1; // from a "reconnect" frame
};

// Runs the clients and the load, counts what they saw during one fault (a
// Row), and checks presence and readiness. Owned by the test function.
class Harness final : public QObject
{
    Q_OBJECT
public:
    explicit Harness(Cluster &cluster)
        : m_cluster(cluster)
        , m_random(g_options.seed + 1)
        , m_schedule(g_options.seed)
    {
        m_clock.start();
        m_tick.setInterval(10);
        connect(&m_tick, &QTimer::timeout, this, &Harness::tick);
    }

    Cluster &cluster() { return m_cluster; }
    QNetworkAccessManager &nam() { return m_nam; }
    std::mt19937 &random() { return m_random; }
    qint64 now() const { return m_clock.elapsed(); }
    int randomBetween(int low, int high) { return std::uniform_int_distribution<int>(low, high)(m_random); }
    // The fault schedule draws from its own generator, so one seed gives the
    // same faults, gaps and victims in the same order on any machine.
    int scheduleBetween(int low, int high) { return std::uniform_int_distribution<int>(low, high)(m_schedule); }

    void startClients()
    {
        for (int i = 0; i < g_options.clients; ++i) {
            const QString room = QStringLiteral("chaos-%1").arg(i % g_options.rooms);
            m_clients.push_back(std::make_unique<ChaosClient>(this, i, room));
        }
        // Spread the first connections a little.
        for (std::size_t i = 0; i < m_clients.size(); ++i)
            QTimer::singleShot(int(i) * 5, m_clients[i].get(), [c = m_clients[i].get()] { c->start(); });
        m_lastTick = now();
        m_tick.start();
    }

    void setSending(bool on) { m_sending = on; }
    Row &row() { return m_row; }

    // Counters the clients feed.
    void onAck(const QString &room, const QString &nonce, qint64 seq)
    {
        const auto known = m_nonceSeq.constFind(nonce);
        if (known != m_nonceSeq.cend()) {
            if (*known != seq) {
                ++m_row.nonceConflicts;
                qWarning().noquote() << "nonce" << nonce << "acknowledged as seq" << *known << "and as" << seq;
            }
            return;
        }
        m_nonceSeq.insert(nonce, seq);
        auto &seqs = m_acked[room];
        const auto other = seqs.find(seq);
        if (other != seqs.end() && other->second.nonce != nonce) {
            ++m_row.nonceConflicts;
            qWarning().noquote() << room << "seq" << seq << "acknowledged for" << other->second.nonce << "and" << nonce;
            return;
        }
        seqs[seq] = {nonce, m_scenario};
        ++m_row.acked;
    }
    void onDelivered(bool recovered) { ++(recovered ? m_row.recovered : m_row.delivered); }
    void onDuplicate(const QString &what)
    {
        if (++m_row.duplicated <= 5)
            qWarning().noquote() << "duplicate:" << what;
    }
    void onGap(const QString &what)
    {
        if (++m_row.gaps <= 5)
            qWarning().noquote() << "gap:" << what;
    }
    void onUnrecovered(const QString &what)
    {
        ++m_row.unrecovered;
        qWarning().noquote() << "join not recovered:" << what;
    }

    void beginScenario(const QString &name)
    {
        ++m_scenario;
        m_row = Row();
        m_row.scenario = name;
        qInfo().noquote() << QStringLiteral("--- %1 (t=%2 s)").arg(name).arg(now() / 1000.0, 0, 'f', 1);
    }

    // Keeps the load running for `ms`.
    void run(int ms) { QTest::qWait(ms); }

    // Stops new chats and waits until every client is back in its room with
    // nothing pending and has caught up with its room's newest acked seq.
    bool quiesce(int timeoutMs)
    {
        setSending(false);
        QDeadlineTimer deadline(timeoutMs);
        const auto settled = [&] {
            for (const auto &c : m_clients) {
                if (!c->settled())
                    return false;
            }
            for (const auto &c : m_clients) {
                const auto &seqs = m_acked[c->room()];
                if (!seqs.empty() && c->lastSeq() < seqs.rbegin()->first)
                    return false;
            }
            return true;
        };
        while (!settled() && !deadline.hasExpired())
            QTest::qWait(50);
        if (!settled()) {
            int unsettled = 0;
            int behind = 0;
            for (const auto &c : m_clients) {
                unsettled += c->settled() ? 0 : 1;
                const auto &seqs = m_acked[c->room()];
                behind += !seqs.empty() && c->lastSeq() < seqs.rbegin()->first ? 1 : 0;
            }
            qWarning("quiesce: %d clients not settled, %d behind their room after %d ms", unsettled, behind, timeoutMs);
            return false;
        }
        return true;
    }

    // Member deliveries of this scenario's acked chats that never arrived.
    void countLost()
    {
        for (const auto &c : m_clients) {
            for (const auto &[seq, ack] : m_acked[c->room()]) {
                if (ack.scenario != m_scenario || seq <= c->baseline())
                    continue;
                if (c->receivedCount(seq) == 0) {
                    if (++m_row.lost <= 5)
                        qWarning().noquote() << c->room() << "seq" << seq << "never reached" << c->sessionId();
                }
            }
        }
    }

    // Waits until Redis and a join ack list exactly the live sessions of
    // every room; the number of checks it took, 0 when never.
    int presenceClean(int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        QString why;
        for (int attempt = 1; !deadline.hasExpired(); ++attempt) {
            why = presenceProblem();
            if (why.isEmpty())
                return attempt;
            QTest::qWait(250);
        }
        qWarning().noquote() << "presence not clean:" << why;
        return 0;
    }

    QMap<QString, QSet<QString>> expectedMembers() const
    {
        QMap<QString, QSet<QString>> expected;
        for (int r = 0; r < g_options.rooms; ++r)
            expected[QStringLiteral("chaos-%1").arg(r)];
        for (const auto &c : m_clients) {
            if (c->isReady())
                expected[c->room()].insert(c->sessionId());
        }
        return expected;
    }

    sb::RedisReply redis(const QList<QByteArray> &argv)
    {
        if (!m_redis || !m_redis->isConnected()) {
            m_redis = std::make_unique<sb::RedisConnection>();
            m_redis->connectTo(QStringLiteral("127.0.0.1"), m_cluster.redisPort());
            QDeadlineTimer deadline(3000);
            while (m_redis->state() == sb::RedisConnection::State::Connecting && !deadline.hasExpired())
                QTest::qWait(10);
            if (!m_redis->isConnected())
                return sb::RedisReply::error("ERR test cannot connect to Redis");
        }
        std::optional<sb::RedisReply> answer;
        m_redis->command(argv, [&answer](const sb::RedisReply &r) { answer = r; });
        QDeadlineTimer deadline(5000);
        while (!answer && !deadline.hasExpired())
            QTest::qWait(5);
        return answer.value_or(sb::RedisReply::error("ERR test got no reply"));
    }

    bool redisMembersMatch() { return redisProblem(expectedMembers()).isEmpty(); }

    QString redisProblem(const QMap<QString, QSet<QString>> &expected)
    {
        for (auto it = expected.cbegin(); it != expected.cend(); ++it) {
            const sb::RedisReply keys = redis({QByteArrayLiteral("HKEYS"), "sb:room:" + it.key().toUtf8() + ":members"});
            if (!keys.isArray())
                return QStringLiteral("HKEYS: ") + keys.toString();
            QSet<QString> found;
            for (const sb::RedisReply &k : keys.elements())
                found.insert(k.text());
            if (found != it.value())
                return QStringLiteral("%1 in Redis: %2 ghosts, %3 missing").arg(it.key())
                    .arg((found - it.value()).size()).arg((it.value() - found).size());
        }
        return {};
    }

    QString presenceProblem()
    {
        const QMap<QString, QSet<QString>> expected = expectedMembers();
        if (const QString why = redisProblem(expected); !why.isEmpty())
            return why;
        // A join ack on one instance (round robin) lists the same members.
        const int instance = m_probeInstance++ % 3;
        TestClient probe;
        if (!probe.connectAs(m_cluster.port(instance), QStringLiteral("probe"), QStringLiteral("chaos-probe")))
            return QStringLiteral("probe cannot connect to %1").arg(m_cluster.instanceId(instance));
        for (auto it = expected.cbegin(); it != expected.cend(); ++it) {
            const QJsonObject ack = probe.join(it.key());
            if (ack.value(QStringLiteral("type")).toString() != QStringLiteral("ack"))
                return QStringLiteral("probe join %1: %2").arg(it.key(), QString::fromUtf8(sb::encode(ack)));
            QSet<QString> found;
            for (const QJsonValue &m : ack.value(QStringLiteral("members")).toArray())
                found.insert(m.toObject().value(QStringLiteral("session_id")).toString());
            found.remove(probe.welcome().value(QStringLiteral("session_id")).toString());
            probe.request({{QStringLiteral("type"), QStringLiteral("leave")}, {QStringLiteral("room"), it.key()}});
            if (found != it.value())
                return QStringLiteral("%1 in a join ack on %2: %3 ghosts, %4 missing").arg(it.key(), m_cluster.instanceId(instance))
                    .arg((found - it.value()).size()).arg((it.value() - found).size());
        }
        probe.socket().close();
        probe.waitClosed(2000);
        return {};
    }

    qint64 waitAllReady(int timeoutMs, qint64 since)
    {
        QDeadlineTimer deadline(timeoutMs);
        for (bool first = true; first || !deadline.hasExpired(); first = false) {
            bool all = true;
            for (int i = 0; i < 3 && all; ++i)
                all = httpGet(m_cluster.port(i), QStringLiteral("/readyz")).status == 200;
            if (all)
                return now() - since;
            QTest::qWait(100);
        }
        return -1;
    }

private:
    void tick()
    {
        const qint64 t = now();
        if (m_sending) {
            m_budget += g_options.rate * double(t - m_lastTick) / 1000.0;
            while (m_budget >= 1.0) {
                m_budget -= 1.0;
                // A random client free to send; a few tries, then the chat is skipped.
                for (int attempt = 0; attempt < 8; ++attempt) {
                    ChaosClient *c = m_clients[std::size_t(randomBetween(0, int(m_clients.size()) - 1))].get();
                    if (c->canSend()) {
                        c->sendNew();
                        break;
                    }
                }
            }
        } else {
            m_budget = 0;
        }
        m_lastTick = t;
        if (t - m_lastWatch >= 500) {
            m_lastWatch = t;
            for (const auto &c : m_clients)
                c->watchdog(t);
        }
    }

    struct Ack
    {
        QString nonce;
        int scenario = 0;
    };

    Cluster &m_cluster;
    QNetworkAccessManager m_nam;
    std::mt19937 m_random;   // the clients' jitter and choices: depends on timing
    std::mt19937 m_schedule; // faults, gaps and victims: depends on the seed only
    QElapsedTimer m_clock;
    QTimer m_tick;
    qint64 m_lastTick = 0;
    qint64 m_lastWatch = 0;
    double m_budget = 0;
    bool m_sending = false;
    std::vector<std::unique_ptr<ChaosClient>> m_clients;
    QHash<QString, qint64> m_nonceSeq;
    QHash<QString, std::map<qint64, Ack>> m_acked; // room -> seq -> ack
    int m_scenario = 0;
    Row m_row;
    std::unique_ptr<sb::RedisConnection> m_redis;
    int m_probeInstance = 0;
};

ChaosClient::ChaosClient(Harness *harness, int index, QString room)
    : m_harness(harness)
    , m_clientId(QStringLiteral("chaos-%1").arg(index))
    , m_room(std::move(room))
{
}

void ChaosClient::connectNow()
{
    const quint64 generation = ++m_generation;
    m_state = State::Token;
    QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1/api/token").arg(m_harness->cluster().lbPort())));
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    request.setTransferTimeout(5000);
    QNetworkReply *reply = m_harness->nam().post(
        request, sb::encode(QJsonObject{{QStringLiteral("user"), QStringLiteral("u") + m_clientId.mid(6)},
                                        {QStringLiteral("client_id"), m_clientId}}));
    connect(reply, &QNetworkReply::finished, this, [this, reply, generation] {
        reply->deleteLater();
        if (generation != m_generation)
            return;
        const QString token = sb::decodeObject(reply->readAll())
                                  .value_or(QJsonObject())
                                  .value(QStringLiteral("token"))
                                  .toString();
        if (token.isEmpty())
            return scheduleReconnect(m_harness->randomBetween(500, 1500));
        m_state = State::Connecting;
        m_ws = std::make_unique<QWebSocket>();
        QWebSocket *ws = m_ws.get();
        connect(ws, &QWebSocket::textMessageReceived, this, [this, generation](const QString &text) {
            if (generation == m_generation)
                onFrame(text);
        });
        connect(ws, &QWebSocket::disconnected, this, [this, generation] {
            if (generation == m_generation)
                dropConnection(m_afterMs >= 0 ? m_afterMs : m_harness->randomBetween(250, 1500));
        });
        // Qt 6.4 names it error() (errorOccurred() from 6.5 on).
        connect(ws, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this, [this, generation, ws] {
            if (generation == m_generation && ws->state() != QAbstractSocket::ConnectedState)
                dropConnection(m_harness->randomBetween(250, 1500));
        });
        m_requestSentAt = m_harness->now();
        ws->open(QUrl(QStringLiteral("ws://127.0.0.1:%1/ws?token=%2").arg(m_harness->cluster().lbPort()).arg(token)));
    });
}

void ChaosClient::dropConnection(int delayMs)
{
    ++m_generation;
    if (m_ws) {
        m_ws->disconnect(this);
        m_ws->abort();
        m_ws.release()->deleteLater();
    }
    m_state = State::Idle;
    m_requestSentAt = 0;
    m_joinRef.clear();
    m_chatRef.clear();
    scheduleReconnect(delayMs);
}

void ChaosClient::scheduleReconnect(int delayMs)
{
    m_state = State::Idle;
    m_afterMs = -1;
    const quint64 generation = ++m_generation;
    QTimer::singleShot(delayMs, this, [this, generation] {
        if (generation == m_generation)
            connectNow();
    });
}

void ChaosClient::watchdog(qint64 now)
{
    // A request unanswered for 15 s: the connection is treated as broken,
    // as a participant client does.
    if (m_requestSentAt > 0 && now - m_requestSentAt > 15000) {
        qWarning().noquote() << m_clientId << "got no answer in 15 s; reconnecting";
        dropConnection(100);
    }
}

void ChaosClient::sendJoin()
{
    m_state = State::Joining;
    m_joinRef = QStringLiteral("j%1").arg(++m_nextRef);
    QJsonObject frame{{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), m_room},
                      {QStringLiteral("ref"), m_joinRef}};
    if (m_lastSeq >= 0)
        frame.insert(QStringLiteral("since"), m_lastSeq);
    m_requestSentAt = m_harness->now();
    m_ws->sendTextMessage(QString::fromUtf8(sb::encode(frame)));
}

void ChaosClient::sendNew()
{
    m_pendingNonce = QStringLiteral("%1-%2").arg(m_clientId).arg(++m_sent);
    sendChat();
}

void ChaosClient::sendChat()
{
    if (m_state != State::Ready || !m_chatRef.isEmpty() || m_pendingNonce.isEmpty())
        return;
    m_chatRef = QStringLiteral("c%1").arg(++m_nextRef);
    m_requestSentAt = m_harness->now();
    m_ws->sendTextMessage(QString::fromUtf8(sb::encode(QJsonObject{{QStringLiteral("type"), QStringLiteral("chat")},
                                                                   {QStringLiteral("room"), m_room},
                                                                   {QStringLiteral("text"), m_pendingNonce},
                                                                   {QStringLiteral("nonce"), m_pendingNonce},
                                                                   {QStringLiteral("ref"), m_chatRef}})));
}

void ChaosClient::record(qint64 seq, bool recovered)
{
    if (m_lastSeq < 0 || seq <= m_baseline)
        return;
    m_harness->onDelivered(recovered);
    const int count = ++m_received[seq];
    if (count > 1) {
        m_harness->onDuplicate(QStringLiteral("%1 seq %2 to %3 (%4)").arg(m_room).arg(seq).arg(m_clientId,
                                                                                               recovered ? QStringLiteral("missed") : QStringLiteral("live")));
        return;
    }
    if (seq != m_lastSeq + 1)
        m_harness->onGap(QStringLiteral("%1: %2 got seq %3 after %4 (%5)").arg(m_room, m_clientId).arg(seq).arg(m_lastSeq)
                             .arg(recovered ? QStringLiteral("missed") : QStringLiteral("live")));
    m_lastSeq = std::max(m_lastSeq, seq);
}

void ChaosClient::onFrame(const QString &text)
{
    const QJsonObject frame = sb::decodeObject(text.toUtf8()).value_or(QJsonObject());
    const QString type = frame.value(QStringLiteral("type")).toString();
    const QString ref = frame.value(QStringLiteral("ref")).toString();
    if (type == QStringLiteral("welcome")) {
        m_sessionId = frame.value(QStringLiteral("session_id")).toString();
        sendJoin();
    } else if (type == QStringLiteral("chat")) {
        if (frame.value(QStringLiteral("room")).toString() == m_room)
            record(frame.value(QStringLiteral("seq")).toInteger(), false);
    } else if (type == QStringLiteral("reconnect")) {
        m_afterMs = frame.value(QStringLiteral("after_ms")).toInt();
    } else if (!ref.isEmpty() && ref == m_joinRef) {
        m_joinRef.clear();
        m_requestSentAt = 0;
        if (type != QStringLiteral("ack")) {
            // A dependency is down: ask again shortly, on the same connection.
            const quint64 generation = m_generation;
            QTimer::singleShot(m_harness->randomBetween(300, 800), this, [this, generation] {
                if (generation == m_generation && m_state == State::Joining)
                    sendJoin();
            });
            return;
        }
        if (m_lastSeq < 0) {
            m_baseline = m_lastSeq = frame.value(QStringLiteral("last_seq")).toInteger();
        } else {
            if (!frame.value(QStringLiteral("recovered")).toBool())
                m_harness->onUnrecovered(QStringLiteral("%1 %2 since %3").arg(m_room, m_clientId).arg(m_lastSeq));
            for (const QJsonValue &m : frame.value(QStringLiteral("missed")).toArray())
                record(m.toObject().value(QStringLiteral("seq")).toInteger(), true);
        }
        m_state = State::Ready;
        sendChat(); // the one not acknowledged before the reconnect, same nonce
    } else if (!ref.isEmpty() && ref == m_chatRef) {
        m_chatRef.clear();
        m_requestSentAt = 0;
        if (type == QStringLiteral("ack")) {
            m_harness->onAck(frame.value(QStringLiteral("room")).toString(), m_pendingNonce,
                             frame.value(QStringLiteral("seq")).toInteger());
            m_pendingNonce.clear();
            return;
        }
        const quint64 generation = m_generation;
        QTimer::singleShot(m_harness->randomBetween(300, 800), this, [this, generation] {
            if (generation == m_generation)
                sendChat();
        });
    }
}

} // namespace

class TstChaos : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void faults();

private:
    using Fault = std::function<bool(Harness &, qint64 *repairedAt)>;
    QList<QPair<QString, Fault>> faultList(bool shortForm);
    Row runFault(Harness &h, const QString &name, const Fault &fault, int loadMs);
    void printTable(const QList<Row> &rows);

    std::unique_ptr<Cluster> m_cluster;
    QThread m_cutterThread;
    CommitCutter *m_cutter = nullptr; // between the instances and PostgreSQL, on m_cutterThread
    QList<QProcess *> m_hogs;
};

void TstChaos::initTestCase()
{
    SB_REQUIRE_SERVICE(QFile::exists(QStringLiteral("/usr/sbin/haproxy")), "HAProxy (haproxy) is not installed");
    SB_REQUIRE_SERVICE(QFile::exists(Cluster::pgBin(QStringLiteral("pg_ctl"))), "PostgreSQL (pg_ctl) is not installed");
    m_cluster = std::make_unique<Cluster>(Cluster::Options{3, true, {QStringLiteral("--drain-s"), QStringLiteral("3")}});
    m_cutterThread.start();
    m_cutter = new CommitCutter;
    QVERIFY(m_cutter->start(m_cutterThread, m_cluster->pgPort()));
    // Every instance reaches PostgreSQL through the cutter, so COMMITs can be
    // cut wherever the clients happen to be.
    for (int i = 0; i < 3; ++i)
        m_cluster->setInstanceDatabaseUrl(i, QStringLiteral("postgresql://postgres@127.0.0.1:%1/postgres").arg(m_cutter->port()));
    QVERIFY2(m_cluster->start(), qPrintable(m_cluster->error()));
}

void TstChaos::cleanupTestCase()
{
    for (QProcess *hog : std::as_const(m_hogs)) {
        hog->kill();
        hog->waitForFinished(2000);
        delete hog;
    }
    m_hogs.clear();
    m_cluster.reset();
    if (m_cutter) {
        // Deleted on its own thread, with its sockets.
        QMetaObject::invokeMethod(m_cutter, [cutter = m_cutter] { delete cutter; }, Qt::BlockingQueuedConnection);
        m_cutter = nullptr;
    }
    m_cutterThread.quit();
    m_cutterThread.wait();
}

QList<QPair<QString, TstChaos::Fault>> TstChaos::faultList(bool shortForm)
{
    const int outageMs = shortForm ? 8000 : 20000;
    const int stallMs = shortForm ? 6000 : 10000;
    const int cpuMs = shortForm ? 10000 : 30000;
    Cluster &c = *m_cluster;
    QList<QPair<QString, Fault>> faults;
    faults.append({QStringLiteral("kill -9 instance"), [&c](Harness &h, qint64 *repaired) {
                       const int i = h.scheduleBetween(0, 2);
                       qInfo().noquote() << "killing" << c.instanceId(i);
                       c.killInstance(i);
                       h.run(2000);
                       *repaired = h.now();
                       return c.startInstance(i);
                   }});
    faults.append({QStringLiteral("Redis restart"), [&c](Harness &h, qint64 *repaired) {
                       c.stopRedis();
                       *repaired = h.now();
                       return c.startRedis();
                   }});
    faults.append({QStringLiteral("Redis stopped %1 s").arg(outageMs / 1000), [&c, outageMs](Harness &h, qint64 *repaired) {
                       c.stopRedis();
                       h.run(outageMs);
                       *repaired = h.now();
                       return c.startRedis();
                   }});
    faults.append({QStringLiteral("PostgreSQL restart"), [&c](Harness &h, qint64 *repaired) {
                       c.stopPostgres();
                       *repaired = h.now();
                       return c.startPostgres();
                   }});
    faults.append({QStringLiteral("PostgreSQL stopped %1 s").arg(outageMs / 1000), [&c, outageMs](Harness &h, qint64 *repaired) {
                       c.stopPostgres();
                       h.run(outageMs);
                       *repaired = h.now();
                       return c.startPostgres();
                   }});
    faults.append({QStringLiteral("drain (SIGTERM) + return"), [&c](Harness &h, qint64 *repaired) {
                       const int i = h.scheduleBetween(0, 2);
                       qInfo().noquote() << "draining" << c.instanceId(i);
                       c.terminateInstance(i);
                       int code = -1;
                       // QTest::qWait inside keeps the clients running.
                       const bool exited = c.waitInstanceExit(i, 60000, &code);
                       if (!exited || code != 0)
                           qWarning().noquote() << c.instanceId(i) << "did not exit 0 after SIGTERM:" << exited << code;
                       *repaired = h.now();
                       return c.startInstance(i) && exited && code == 0;
                   }});
    faults.append({QStringLiteral("consumer stops reading"), [&c](Harness &h, qint64 *repaired) {
                       const int i = h.scheduleBetween(0, 2);
                       double before = 0;
                       for (int k = 0; k < 3; ++k)
                           before += metricValue(c.port(k), QStringLiteral("sb_slow_consumer_disconnects_total"));
                       RawWsClient slow;
                       const Token t = issueToken(c.port(i), QStringLiteral("slow"), QStringLiteral("chaos-slow"));
                       if (!slow.open(c.port(i), t.token))
                           return false;
                       slow.socket().setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);
                       slow.socket().setReadBufferSize(1);
                       for (int r = 0; r < g_options.rooms; ++r)
                           slow.sendJson({{QStringLiteral("type"), QStringLiteral("join")},
                                          {QStringLiteral("room"), QStringLiteral("chaos-%1").arg(r)}});
                       // Big answers it never reads, on top of the rooms' traffic.
                       QDeadlineTimer deadline(60000);
                       double after = before;
                       while (after <= before && !deadline.hasExpired()) {
                           for (int r = 0; r < g_options.rooms; ++r)
                               slow.sendJson({{QStringLiteral("type"), QStringLiteral("history")},
                                              {QStringLiteral("room"), QStringLiteral("chaos-%1").arg(r)},
                                              {QStringLiteral("limit"), 200}});
                           h.run(1000);
                           after = 0;
                           for (int k = 0; k < 3; ++k)
                               after += metricValue(c.port(k), QStringLiteral("sb_slow_consumer_disconnects_total"));
                       }
                       *repaired = h.now();
                       if (after <= before) {
                           qWarning("the consumer that stopped reading was not closed as slow");
                           return false;
                       }
                       double closes = 0;
                       for (int k = 0; k < 3; ++k)
                           closes += metricValue(c.port(k), QStringLiteral("sb_closes_total"), {QStringLiteral("code=\"1013\"")});
                       qInfo("slow consumer closed (sb_closes_total{code=\"1013\"} = %g)", closes);
                       return closes >= 1;
                   }});
    faults.append({QStringLiteral("Redis frozen %1 s (SIGSTOP)").arg(stallMs / 1000), [&c, stallMs](Harness &h, qint64 *repaired) {
                       const auto pid = static_cast<pid_t>(c.redisPid());
                       ::kill(pid, SIGSTOP);
                       h.run(stallMs);
                       ::kill(pid, SIGCONT);
                       *repaired = h.now();
                       return true;
                   }});
    faults.append({QStringLiteral("HAProxy restart"), [&c](Harness &h, qint64 *repaired) {
                       *repaired = h.now();
                       return c.restartHaproxy();
                   }});
    faults.append({QStringLiteral("CPU starved %1 s").arg(cpuMs / 1000), [this, cpuMs](Harness &h, qint64 *repaired) {
                       const int cores = std::max(2, QThread::idealThreadCount());
                       for (int k = 0; k < cores; ++k) {
                           auto *hog = new QProcess;
                           hog->start(QStringLiteral("sh"), {QStringLiteral("-c"), QStringLiteral("while :; do :; done")});
                           m_hogs.append(hog);
                       }
                       h.run(cpuMs);
                       for (QProcess *hog : std::as_const(m_hogs)) {
                           hog->kill();
                           hog->waitForFinished(2000);
                           delete hog;
                       }
                       m_hogs.clear();
                       *repaired = h.now();
                       return true;
                   }});
    faults.append({QStringLiteral("Redis refuses PUBLISH (ACL)"), [&c, outageMs](Harness &h, qint64 *repaired) {
                       const auto refusals = [&c] {
                           qsizetype n = 0;
                           for (int i = 0; i < 3; ++i)
                               n += c.instanceLog(i).count("failed; retrying");
                           return n;
                       };
                       const qsizetype before = refusals();
                       const sb::RedisReply deny = h.redis({"ACL", "SETUSER", "default", "-publish"});
                       if (!deny.isOk())
                           qWarning().noquote() << "ACL SETUSER:" << deny.toString();
                       h.run(outageMs / 2);
                       const sb::RedisReply allow = h.redis({"ACL", "SETUSER", "default", "+publish"});
                       *repaired = h.now();
                       const qsizetype refused = refusals() - before;
                       qInfo("%lld chat publishes refused by Redis were retried", qint64(refused));
                       return deny.isOk() && allow.isOk() && refused > 0;
                   }});
    faults.append({QStringLiteral("COMMIT answers lost"), [this, &c, outageMs](Harness &h, qint64 *repaired) {
                       // The instances reach PostgreSQL through m_cutter: each arm lets
                       // one COMMIT commit and cuts the connection before its answer.
                       const auto inDoubt = [&c] {
                           qsizetype n = 0;
                           for (int i = 0; i < 3; ++i)
                               n += c.instanceLog(i).count("lost during COMMIT");
                           return n;
                       };
                       const qsizetype before = inDoubt();
                       const int cutsBefore = m_cutter->cuts();
                       QDeadlineTimer deadline(outageMs / 2);
                       while (!deadline.hasExpired()) {
                           m_cutter->arm();
                           h.run(h.randomBetween(200, 600));
                       }
                       m_cutter->disarm();
                       *repaired = h.now();
                       const int cuts = m_cutter->cuts() - cutsBefore;
                       const qsizetype chats = inDoubt() - before;
                       qInfo("%d connections cut after COMMIT; %lld chat batch(es) in doubt", cuts, qint64(chats));
                       return cuts > 0 && chats > 0;
                   }});
    faults.append({QStringLiteral("PostgreSQL backends killed"), [&c, outageMs](Harness &h, qint64 *repaired) {
                       // Connections cut at random points, COMMITs included: a
                       // chat whose COMMIT outcome is unknown must be found by
                       // its resend (same nonce), never stored twice or lost.
                       QDeadlineTimer deadline(outageMs / 2);
                       int rounds = 0;
                       while (!deadline.hasExpired()) {
                           Cluster::runAsPostgres(Cluster::pgBin(QStringLiteral("psql")),
                                                  {QStringLiteral("-d"), c.databaseUrl(), QStringLiteral("-qAtc"),
                                                   QStringLiteral("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                                                  " WHERE application_name LIKE 'switchboard%'")},
                                                  5000);
                           ++rounds;
                           h.run(h.randomBetween(100, 700));
                       }
                       qsizetype inDoubt = 0;
                       for (int i = 0; i < 3; ++i)
                           inDoubt += c.instanceLog(i).count("lost during COMMIT");
                       qInfo("PostgreSQL connections of the instances terminated %d times; %lld COMMIT(s) in doubt so far",
                             rounds, qint64(inDoubt));
                       *repaired = h.now();
                       return true;
                   }});
    return faults;
}

Row TstChaos::runFault(Harness &h, const QString &name, const Fault &fault, int loadMs)
{
    h.beginScenario(name);
    h.setSending(true);
    h.run(loadMs);
    qint64 repairedAt = h.now();
    const bool acted = fault(h, &repairedAt);
    if (!acted)
        qWarning().noquote() << name << ": the fault or its repair did not work as planned";
    h.setSending(true);
    // Load goes on; meanwhile readiness and Redis' member lists are watched.
    Row &row = h.row();
    qint64 redisCleanMs = -1;
    while (h.now() - repairedAt < loadMs || (row.readyMs < 0 && h.now() - repairedAt < 60000)) {
        h.run(250);
        if (row.readyMs < 0)
            row.readyMs = h.waitAllReady(0, repairedAt);
        if (row.readyMs >= 0 && redisCleanMs < 0 && h.redisMembersMatch())
            redisCleanMs = h.now() - repairedAt;
    }
    if (row.readyMs < 0) {
        for (int i = 0; i < 3; ++i)
            qWarning().noquote() << m_cluster->instanceId(i) << "readyz"
                                 << httpGet(m_cluster->port(i), QStringLiteral("/readyz")).body;
    }
    h.quiesce(60000);
    h.countLost();
    // Within 10 s of every client being back in its room: Redis and a join
    // ack list exactly the live sessions. Reported: the first time Redis
    // was seen clean after the repair (or, when later, the full check).
    if (const int checks = h.presenceClean(10000))
        row.presenceMs = redisCleanMs >= 0 && checks == 1 ? redisCleanMs : h.now() - repairedAt;
    if (!acted)
        row.readyMs = -1;
    const Row copy = row;
    qInfo().noquote() << QStringLiteral("%1: acked %2 delivered %3 recovered %4 lost %5 duplicated %6 gaps %7 ready %8 ms presence %9 ms")
                             .arg(copy.scenario).arg(copy.acked).arg(copy.delivered).arg(copy.recovered).arg(copy.lost)
                             .arg(copy.duplicated).arg(copy.gaps).arg(copy.readyMs).arg(copy.presenceMs);
    return copy;
}

void TstChaos::printTable(const QList<Row> &rows)
{
    QString table = QStringLiteral("\n| scenario | acked | delivered | recovered | lost | duplicated | gaps | nonce conflicts | time to ready | time to clean presence |\n"
                                   "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    const auto ms = [](qint64 v) { return v < 0 ? QStringLiteral("never") : QStringLiteral("%1 s").arg(v / 1000.0, 0, 'f', 1); };
    Row total;
    for (const Row &r : rows) {
        table += QStringLiteral("| %1 | %2 | %3 | %4 | %5 | %6 | %7 | %8 | %9 | %10 |\n")
                     .arg(r.scenario).arg(r.acked).arg(r.delivered).arg(r.recovered).arg(r.lost).arg(r.duplicated)
                     .arg(r.gaps).arg(r.nonceConflicts).arg(ms(r.readyMs), ms(r.presenceMs));
        total.acked += r.acked;
        total.delivered += r.delivered;
        total.recovered += r.recovered;
        total.lost += r.lost;
        total.duplicated += r.duplicated;
        total.gaps += r.gaps;
        total.nonceConflicts += r.nonceConflicts;
    }
    table += QStringLiteral("| **total** | %1 | %2 | %3 | %4 | %5 | %6 | %7 | | |\n")
                 .arg(total.acked).arg(total.delivered).arg(total.recovered).arg(total.lost).arg(total.duplicated)
                 .arg(total.gaps).arg(total.nonceConflicts);
    std::fputs(table.toUtf8().constData(), stdout);
    std::fflush(stdout);
}

void TstChaos::faults()
{
    const bool shortForm = !g_options.random;
    const QList<QPair<QString, Fault>> all = faultList(shortForm);
    Harness h(*m_cluster);
    h.startClients();
    h.setSending(true);
    // Everyone connected and in a room before the first fault.
    QVERIFY2(h.quiesce(120000), "the clients did not all connect and join");
    QList<Row> rows;
    if (shortForm) {
        for (const auto &[name, fault] : all) {
            if (!g_options.only.isEmpty()
                && std::none_of(g_options.only.cbegin(), g_options.only.cend(),
                                [&name](const QString &o) { return name.contains(o, Qt::CaseInsensitive); }))
                continue;
            rows.append(runFault(h, name, fault, 4000));
        }
    } else {
        qInfo("random faults for %.1f minutes, seed %u (repeat with --seed %u)", g_options.minutes, g_options.seed,
              g_options.seed);
        QElapsedTimer elapsed;
        elapsed.start();
        while (elapsed.elapsed() < qint64(g_options.minutes * 60000)) {
            const auto &[name, fault] = all.at(h.scheduleBetween(0, int(all.size()) - 1));
            const int gapMs = h.scheduleBetween(2000, 15000);
            qInfo().noquote() << QStringLiteral("schedule #%1: %2 after %3 ms of load").arg(rows.size() + 1).arg(name).arg(gapMs);
            rows.append(runFault(h, name, fault, gapMs));
        }
    }
    printTable(rows);
    for (const Row &r : std::as_const(rows))
        QVERIFY2(r.ok(), qPrintable(r.scenario + QStringLiteral(" did not hold (see the table)")));
    for (int i = 0; i < 3; ++i) {
        const QByteArray log = m_cluster->instanceLog(i);
        QVERIFY2(!log.contains("AddressSanitizer") && !log.contains("runtime error"), qPrintable(m_cluster->instanceId(i)));
    }
}

int main(int argc, char *argv[])
{
    // Our options first; the rest goes to QtTest.
    QStringList rest;
    QList<QByteArray> kept;
    for (int i = 0; i < argc; ++i) {
        const QByteArray a(argv[i]);
        const auto value = [&](const char *name) -> std::optional<QByteArray> {
            if (a == name && i + 1 < argc)
                return QByteArray(argv[++i]);
            return std::nullopt;
        };
        if (a == "--random") {
            g_options.random = true;
        } else if (auto v = value("--seed")) {
            g_options.seed = v->toUInt();
        } else if (auto v = value("--minutes")) {
            g_options.minutes = v->toDouble();
        } else if (auto v = value("--clients")) {
            g_options.clients = v->toInt();
        } else if (auto v = value("--rooms")) {
            g_options.rooms = v->toInt();
        } else if (auto v = value("--rate")) {
            g_options.rate = v->toDouble();
        } else if (auto v = value("--only")) {
            g_options.only = QString::fromUtf8(*v).split(QLatin1Char(','), Qt::SkipEmptyParts);
        } else {
            kept.append(a);
        }
    }
    // One test function runs the whole program: QtTest's 5-minute watchdog
    // would stop the long form (and a slow machine's short form).
    if (!qEnvironmentVariableIsSet("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT", QByteArray::number(qint64((g_options.random ? g_options.minutes : 5) * 60000) + 900000));
    std::vector<char *> args;
    for (QByteArray &k : kept)
        args.push_back(k.data());
    int count = int(args.size());
    QCoreApplication app(count, args.data());
    QTEST_SET_MAIN_SOURCE_PATH
    TstChaos test;
    return QTest::qExec(&test, count, args.data());
}

#include "tst_chaos.moc"
