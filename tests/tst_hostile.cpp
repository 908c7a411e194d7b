// Hostile and racing clients against the real server (docs/protocol.md
// sections 2-4, 8 and the implementation notes): peers that reset right after
// a join, floods, oversized and refused frames, connection-rate accounting of
// refusals, malformed handshakes, admin.* from participants, U+0000 and lone
// surrogates, SB_MAX_ROOMS, nonces across rooms, the periodic slow-consumer
// check, dependency errors and the 1008 rule, and a failing Redis PUBLISH.
//
// PosixWs is a WebSocket client on a plain non-blocking POSIX socket, for the
// one thing a QTcpSocket hides: whether the server ended the connection with
// a FIN or a reset (Qt reports ECONNRESET as an ordinary remote close).

#include "rawwsclient.h"
#include "testsupport.h"

#include "codec.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QRandomGenerator>
#include <QSet>
#include <QTest>
#include <QtEndian>

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <memory>

using namespace sbtest;

namespace {

const QString kOperatorKey = QStringLiteral("test-operator-key");

// Room names, client ids and Redis prefixes of their own per run: the
// PostgreSQL database and Redis outlive a test.
QString unique(const QString &prefix)
{
    static int counter = 0;
    return QStringLiteral("%1-%2-%3-%4")
        .arg(prefix)
        .arg(QCoreApplication::applicationPid())
        .arg(QDateTime::currentMSecsSinceEpoch() % 100000000)
        .arg(++counter);
}

QString typeOf(const QJsonObject &f)
{
    return f.value(QStringLiteral("type")).toString();
}

QString codeOf(const QJsonObject &f)
{
    return f.value(QStringLiteral("code")).toString();
}

QString describe(const QJsonObject &f)
{
    return QString::fromUtf8(sb::encode(f)).left(300);
}

QJsonObject joinFrame(const QString &room, const QString &ref = {})
{
    QJsonObject f{{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), room}};
    if (!ref.isEmpty())
        f.insert(QStringLiteral("ref"), ref);
    return f;
}

QJsonObject chatFrame(const QString &room, const QString &text, const QString &ref = {})
{
    QJsonObject f{{QStringLiteral("type"), QStringLiteral("chat")}, {QStringLiteral("room"), room},
                  {QStringLiteral("text"), text}};
    if (!ref.isEmpty())
        f.insert(QStringLiteral("ref"), ref);
    return f;
}

QJsonObject ping()
{
    return {{QStringLiteral("type"), QStringLiteral("ping")}};
}

bool pongs(TestClient &c)
{
    return typeOf(c.request(ping())) == QLatin1StringView("pong");
}

int connectionsOf(quint16 port)
{
    return httpGet(port, QStringLiteral("/api/instance")).json().value(QStringLiteral("connections")).toInt(-1);
}

QSet<QString> memberSessions(const QJsonObject &joinAck)
{
    QSet<QString> ids;
    for (const QJsonValue &m : joinAck.value(QStringLiteral("members")).toArray())
        ids.insert(m.toObject().value(QStringLiteral("session_id")).toString());
    return ids;
}

QString sessionOf(const TestClient &c)
{
    return c.welcome().value(QStringLiteral("session_id")).toString();
}

// Chats of `room` a client received, in arrival order.
QList<QJsonObject> chatsOf(const TestClient &c, const QString &room)
{
    QList<QJsonObject> out;
    for (const QJsonObject &f : c.framesOfType(QStringLiteral("chat"))) {
        if (f.value(QStringLiteral("room")).toString() == room)
            out.append(f);
    }
    return out;
}

// Empty when the client saw seq 1..last of `room` exactly once, in order.
QString seqProblem(const TestClient &c, const QString &room, qint64 last)
{
    const QList<QJsonObject> chats = chatsOf(c, room);
    QStringList seen;
    for (const QJsonObject &f : chats)
        seen.append(QString::number(f.value(QStringLiteral("seq")).toInteger()));
    if (chats.size() != last)
        return QStringLiteral("got %1 chats, expected %2: seqs %3").arg(chats.size()).arg(last).arg(seen.join(QLatin1Char(',')));
    for (qsizetype i = 0; i < chats.size(); ++i) {
        if (chats[i].value(QStringLiteral("seq")).toInteger() != i + 1)
            return QStringLiteral("seqs out of order or with gaps: %1").arg(seen.join(QLatin1Char(',')));
    }
    return {};
}

// Server flags for a store/backplane combination; empty `why` when usable.
QStringList backendFlags(const QString &backend, QString *why)
{
    QStringList flags;
    if (backend.contains(QLatin1StringView("postgres"))) {
        const QString url = qEnvironmentVariable("SB_TEST_DATABASE_URL");
        if (url.isEmpty())
            *why = QStringLiteral("SB_TEST_DATABASE_URL is not set: the PostgreSQL store is not tested");
        flags << QStringLiteral("--database-url") << url;
    }
    if (backend.contains(QLatin1StringView("redis"))) {
        const QString url = qEnvironmentVariable("SB_TEST_REDIS_URL");
        if (url.isEmpty())
            *why = QStringLiteral("SB_TEST_REDIS_URL is not set: the Redis backplane is not tested");
        flags << QStringLiteral("--redis-url") << url << QStringLiteral("--redis-prefix")
              << unique(QStringLiteral("hostile")) + QLatin1Char(':');
    }
    return flags;
}

#define SB_BACKEND_FLAGS(backend, out)                                                                             \
    QString backendWhy_;                                                                                           \
    const QStringList out = backendFlags(backend, &backendWhy_);                                                   \
    SB_REQUIRE_SERVICE(backendWhy_.isEmpty(), backendWhy_.toUtf8())

void addBackendRows(bool withRedis)
{
    QTest::addColumn<QString>("backend");
    QTest::addRow("embedded") << QStringLiteral("embedded");
    QTest::addRow("postgres") << QStringLiteral("postgres");
    if (withRedis)
        QTest::addRow("postgres+redis") << QStringLiteral("postgres+redis");
}

// redis-cli against SB_TEST_REDIS_URL (or `url`); returns stdout, trimmed.
QByteArray redisCli(const QStringList &args, const QString &url = qEnvironmentVariable("SB_TEST_REDIS_URL"))
{
    QProcess p;
    p.start(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-u"), url} + args);
    if (!p.waitForFinished(5000))
        return QByteArrayLiteral("<redis-cli did not finish>");
    return (p.readAllStandardOutput() + p.readAllStandardError()).trimmed();
}

QByteArray bodyOf(const QByteArray &response)
{
    const qsizetype end = response.indexOf("\r\n\r\n");
    return end < 0 ? QByteArray() : response.mid(end + 4);
}

QByteArray randomKey()
{
    QByteArray key(16, Qt::Uninitialized);
    for (char &byte : key)
        byte = static_cast<char>(QRandomGenerator::global()->bounded(256));
    return key.toBase64();
}

// The header of a masked client frame that announces `length` payload bytes
// (mask key of zeros, so the payload goes on the wire as it is).
QByteArray frameHeader(int opcode, quint64 length)
{
    QByteArray h;
    h.append(char(0x80 | opcode));
    if (length < 126) {
        h.append(char(0x80 | length));
    } else if (length < 65536) {
        h.append(char(0x80 | 126)).append(char((length >> 8) & 0xff)).append(char(length & 0xff));
    } else {
        h.append(char(0x80 | 127));
        for (int i = 7; i >= 0; --i)
            h.append(char((length >> (8 * i)) & 0xff));
    }
    h.append(4, '\0');
    return h;
}

// A ping padded with a string field to exactly `bytes` bytes of UTF-8.
QByteArray paddedPing(qsizetype bytes)
{
    const QByteArray head = R"({"type":"ping","ref":"big","pad":")";
    const QByteArray tail = R"("})";
    return head + QByteArray(bytes - head.size() - tail.size(), 'x') + tail;
}

class PosixWs
{
    Q_DISABLE_COPY_MOVE(PosixWs)
public:
    PosixWs() = default;
    ~PosixWs()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    bool connectTo(quint16 port)
    {
        m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (m_fd < 0)
            return false;
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        // Loopback: the kernel completes the handshake before the server accepts.
        if (::connect(m_fd, reinterpret_cast<const sockaddr *>(&address), sizeof address) != 0)
            return false;
        ::fcntl(m_fd, F_SETFL, ::fcntl(m_fd, F_GETFL) | O_NONBLOCK);
        const int one = 1;
        ::setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return true;
    }

    // Writes everything, letting the in-process server run (and reading what
    // it answers) while the kernel's buffer is full. False on a write error.
    bool write(const QByteArray &bytes, int timeoutMs = 20000)
    {
        qsizetype offset = 0;
        QDeadlineTimer deadline(timeoutMs);
        while (offset < bytes.size()) {
            const ssize_t n = ::send(m_fd, bytes.constData() + offset, static_cast<size_t>(bytes.size() - offset),
                                     MSG_NOSIGNAL);
            if (n > 0) {
                offset += n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (deadline.hasExpired())
                    return false;
                QTest::qWait(1);
                pump();
                continue;
            }
            m_writeErrno = errno;
            if (errno == ECONNRESET)
                m_reset = true;
            return false;
        }
        return true;
    }

    void pump()
    {
        char buffer[65536];
        for (;;) {
            const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                m_in.append(buffer, n);
                continue;
            }
            if (n == 0) {
                if (!m_eof)
                    m_eofClock.start();
                m_eof = true;
                break;
            }
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET)
                m_reset = true;
            break;
        }
        parse();
    }

    bool waitUntil(const std::function<bool()> &condition, int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        for (;;) {
            pump();
            if (condition())
                return true;
            if (deadline.hasExpired())
                return false;
            QTest::qWait(2);
        }
    }

    // Sends `request` (an upgrade) and reads the response head: its status.
    int upgrade(const QByteArray &request, int timeoutMs = 5000)
    {
        if (!write(request))
            return 0;
        waitUntil([this] { return !m_head.isEmpty() || m_eof || m_reset; }, timeoutMs);
        return statusOf(m_head);
    }

    int upgradeWithToken(const QString &token, const QByteArray &extra = {})
    {
        return upgrade(upgradeRequest(QStringLiteral("/ws?token=") + QString::fromLatin1(QUrl::toPercentEncoding(token)))
                       + extra);
    }

    void sendText(const QByteArray &utf8) { write(RawWsClient::clientFrame(0x1, utf8)); }
    void sendJson(const QJsonObject &frame) { sendText(sb::encode(frame)); }
    void sendClose(int code)
    {
        QByteArray payload;
        payload.append(char((code >> 8) & 0xff)).append(char(code & 0xff));
        write(RawWsClient::clientFrame(0x8, payload));
    }

    const QList<QJsonObject> &texts() const { return m_frames.texts(); }
    int closeCode() const { return m_frames.closeCode(); }
    QString closeReason() const { return m_frames.closeReason(); }
    int textsAfterClose() const { return m_frames.textsAfterClose(); }
    bool eof() const { return m_eof; }
    bool reset() const { return m_reset; }
    QByteArray head() const { return m_head; }

private:
    void parse()
    {
        if (m_head.isEmpty()) {
            const qsizetype end = m_in.indexOf("\r\n\r\n");
            if (end < 0)
                return;
            m_head = m_in.left(end + 4);
            m_in.remove(0, end + 4);
        }
        m_frames.feed(m_in);
        m_in.clear();
    }

    int m_fd = -1;
    QByteArray m_in;
    QByteArray m_head;
    ServerFrames m_frames;
    bool m_eof = false;
    bool m_reset = false;
    int m_writeErrno = 0;
    QElapsedTimer m_eofClock;
};

// A Redis of the test's own: ACL changes there cannot reach the tests that
// share the suite's Redis and run at the same time (ctest -j).
class PrivateRedis
{
public:
    PrivateRedis()
        : m_port(freePort())
    {
        m_process.start(QStringLiteral("redis-server"),
                        {QStringLiteral("--port"), QString::number(m_port), QStringLiteral("--bind"),
                         QStringLiteral("127.0.0.1"), QStringLiteral("--save"), QString(),
                         QStringLiteral("--appendonly"), QStringLiteral("no")});
    }
    ~PrivateRedis()
    {
        m_process.kill();
        m_process.waitForFinished(5000);
    }
    QString url() const { return QStringLiteral("redis://127.0.0.1:%1").arg(m_port); }
    bool waitUp()
    {
        return QTest::qWaitFor([this] { return redisCli({QStringLiteral("PING")}, url()) == "PONG"; }, 5000);
    }

private:
    quint16 m_port;
    QProcess m_process;
};

} // namespace

class TstHostile : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void joinThenResetRace_data() { addBackendRows(true); }
    void joinThenResetRace();
    void concurrentJoinsWhileFirstJoinerVanishes_data() { addBackendRows(true); }
    void concurrentJoinsWhileFirstJoinerVanishes();
    void floodIsAnsweredThenClosedWith1008_data();
    void floodIsAnsweredThenClosedWith1008();
    void oversizedFrameIsACloseHandshake_data();
    void oversizedFrameIsACloseHandshake();
    void refusedSessionDoesNotBufferLargeFrame_data();
    void refusedSessionDoesNotBufferLargeFrame();
    void refusalsCountTowardConnectRate_data();
    void refusalsCountTowardConnectRate();
    void badHandshakeDoesNotSpendToken_data();
    void badHandshakeDoesNotSpendToken();
    void refusedHandshakesLeaveNothingBehind_data();
    void refusedHandshakesLeaveNothingBehind();
    void adminTypesFromParticipantAreForbidden_data();
    void adminTypesFromParticipantAreForbidden();
    void unknownAdminTypeFromOperatorIsUnknownType();
    void nulAndLoneSurrogatesAreBadRequest_data();
    void nulAndLoneSurrogatesAreBadRequest();
    void nulAndLoneSurrogatesInTokenRequest_data();
    void nulAndLoneSurrogatesInTokenRequest();
    void astralTextRoundTrips_data() { addBackendRows(false); }
    void astralTextRoundTrips();
    void maxRoomsIsEnforced_data() { addBackendRows(false); }
    void maxRoomsIsEnforced();
    void nonceIsUniqueAcrossRooms_data() { addBackendRows(false); }
    void nonceIsUniqueAcrossRooms();
    void slowConsumerIsClosedByPeriodicCheck();
    void dependencyErrorsDoNotCountToward1008();
    void publishErrorStillDelivers_data();
    void publishErrorStillDelivers();

    void cleanupTestCase() { m_servers.clear(); }

private:
    // One long-lived server per backend for the cases that only need one.
    TestServer *sharedServer(const QString &backend);
    std::map<QString, std::unique_ptr<TestServer>> m_servers;
};

TestServer *TstHostile::sharedServer(const QString &backend)
{
    auto &slot = m_servers[backend];
    if (!slot) {
        QString why;
        QStringList flags = backendFlags(backend, &why);
        if (!why.isEmpty())
            return nullptr;
        flags << QStringLiteral("--connect-rate") << QStringLiteral("100000/60") << QStringLiteral("--msg-rate")
              << QStringLiteral("0");
        slot = std::make_unique<TestServer>(flags);
    }
    return slot.get();
}

// 1. ------------------------------------------------------------------------

void TstHostile::joinThenResetRace()
{
    QFETCH(QString, backend);
    SB_BACKEND_FLAGS(backend, flags);
    TestServer server(flags + QStringList{QStringLiteral("--connect-rate"), QStringLiteral("100000/60"),
                                          QStringLiteral("--msg-rate"), QStringLiteral("0")});
    QVERIFY(server.waitReady());
    const quint16 port = server.port();
    const QString room = unique(QStringLiteral("race"));

    TestClient member;
    TestClient poster;
    QVERIFY(member.connectAs(port, QStringLiteral("member")));
    QVERIFY(poster.connectAs(port, QStringLiteral("poster")));
    QCOMPARE(typeOf(member.join(room)), QStringLiteral("ack"));
    QCOMPARE(typeOf(poster.join(room)), QStringLiteral("ack"));

    // Each ghost sends its join and resets the connection: at once, after one
    // event-loop pass, or after a millisecond, so that the reset lands before,
    // during and after the server's handling of the join.
    const int iterations = 300;
    int posted = 0;
    for (int i = 0; i < iterations; ++i) {
        RawWsClient ghost;
        QVERIFY2(ghost.open(port, issueToken(port, QStringLiteral("ghost%1").arg(i)).token),
                 qPrintable(QStringLiteral("ghost %1 did not connect").arg(i)));
        ghost.sendJson(joinFrame(room, QStringLiteral("g%1").arg(i)));
        if (i % 3 == 1)
            QCoreApplication::processEvents();
        else if (i % 3 == 2)
            QTest::qWait(1);
        ghost.resetConnection();
        if (i % 50 == 25) {
            QCOMPARE(typeOf(poster.chat(room, QStringLiteral("during %1").arg(i))), QStringLiteral("ack"));
            ++posted;
        }
    }

    // Only the two real members stay: on the instance, in the room, in presence.
    QTRY_COMPARE_WITH_TIMEOUT(connectionsOf(port), 2, 5000);
    for (int i = 0; i < 20; ++i) {
        QCOMPARE(typeOf(poster.chat(room, QStringLiteral("after %1").arg(i))), QStringLiteral("ack"));
        ++posted;
    }
    QTRY_COMPARE_WITH_TIMEOUT(chatsOf(member, room).size(), posted, 5000);
    QVERIFY2(seqProblem(member, room, posted).isEmpty(), qPrintable(seqProblem(member, room, posted)));
    QVERIFY2(seqProblem(poster, room, posted).isEmpty(), qPrintable(seqProblem(poster, room, posted)));

    TestClient newcomer;
    QVERIFY(newcomer.connectAs(port, QStringLiteral("newcomer")));
    const QJsonObject ack = newcomer.join(room);
    QCOMPARE(typeOf(ack), QStringLiteral("ack"));
    const QSet<QString> expected{sessionOf(member), sessionOf(poster), sessionOf(newcomer)};
    QVERIFY2(memberSessions(ack) == expected,
             qPrintable(QStringLiteral("join ack lists %1 members (expected 3): %2")
                            .arg(memberSessions(ack).size())
                            .arg(describe(ack))));
    QCOMPARE(ack.value(QStringLiteral("last_seq")).toInteger(), posted);

    // Presence as the member saw it: every ghost that was announced left again.
    QVERIFY(!member.waitFor([&](const QJsonObject &f) {
        return typeOf(f) == QLatin1StringView("presence")
               && f.value(QStringLiteral("session_id")).toString() == sessionOf(newcomer);
    }, 2000).isEmpty());
    QSet<QString> present;
    for (const QJsonObject &p : member.framesOfType(QStringLiteral("presence"))) {
        const QString id = p.value(QStringLiteral("session_id")).toString();
        if (p.value(QStringLiteral("event")).toString() == QLatin1StringView("join"))
            present.insert(id);
        else if (p.value(QStringLiteral("event")).toString() == QLatin1StringView("leave"))
            present.remove(id);
    }
    present.remove(sessionOf(newcomer));
    present.remove(sessionOf(poster));
    QVERIFY2(present.isEmpty(), qPrintable(QStringLiteral("%1 ghost sessions were announced as joined and never as left")
                                               .arg(present.size())));

    // The operator's snapshot: four sessions, only three in the room.
    TestClient op;
    QVERIFY(op.connectAs(port, QStringLiteral("opal"), {}, QStringLiteral("operator"), kOperatorKey));
    const QJsonObject snapshot = op.request({{QStringLiteral("type"), QStringLiteral("admin.subscribe")}});
    QCOMPARE(typeOf(snapshot), QStringLiteral("ack"));
    const QJsonArray conns = snapshot.value(QStringLiteral("connections")).toArray();
    int inRoom = 0;
    for (const QJsonValue &c : conns)
        inRoom += c.toObject().value(QStringLiteral("rooms")).toArray().contains(room) ? 1 : 0;
    QCOMPARE(conns.size(), 4);
    QCOMPARE(inRoom, 3);
    if (backend.contains(QLatin1StringView("redis"))) {
        const int idx = flags.indexOf(QStringLiteral("--redis-prefix"));
        const QString prefix = flags.at(idx + 1);
        QCOMPARE(redisCli({QStringLiteral("HLEN"), prefix + QStringLiteral("room:") + room + QStringLiteral(":members")}),
                 QByteArray("3"));
    }
    QCOMPARE(httpGet(port, QStringLiteral("/healthz")).status, 200);
}

// 2. ------------------------------------------------------------------------

void TstHostile::concurrentJoinsWhileFirstJoinerVanishes()
{
    QFETCH(QString, backend);
    SB_BACKEND_FLAGS(backend, flags);
    TestServer server(flags + QStringList{QStringLiteral("--connect-rate"), QStringLiteral("100000/60"),
                                          QStringLiteral("--msg-rate"), QStringLiteral("0"),
                                          QStringLiteral("--max-rooms"), QStringLiteral("1000")});
    QVERIFY(server.waitReady());
    const quint16 port = server.port();
    TestClient b;
    TestClient c;
    QVERIFY(b.connectAs(port, QStringLiteral("bea")));
    QVERIFY(c.connectAs(port, QStringLiteral("cal")));

    for (int i = 0; i < 50; ++i) {
        const QString room = unique(QStringLiteral("fresh"));
        RawWsClient a;
        QVERIFY(a.open(port, issueToken(port, QStringLiteral("ann")).token));
        const QString refB = QStringLiteral("jb%1").arg(i);
        const QString refC = QStringLiteral("jc%1").arg(i);
        a.sendJson(joinFrame(room, QStringLiteral("ja")));
        switch (i % 3) {
        case 0: // A gone before anyone else asks
            a.resetConnection();
            b.send(joinFrame(room, refB));
            c.send(joinFrame(room, refC));
            break;
        case 1: // A gone between the two
            QCoreApplication::processEvents();
            b.send(joinFrame(room, refB));
            a.resetConnection();
            c.send(joinFrame(room, refC));
            break;
        default: // A gone after both asked
            b.send(joinFrame(room, refB));
            c.send(joinFrame(room, refC));
            QCoreApplication::processEvents();
            a.resetConnection();
            break;
        }
        const auto byRef = [](const QString &ref) {
            return [ref](const QJsonObject &f) { return f.value(QStringLiteral("ref")).toString() == ref; };
        };
        QCOMPARE(typeOf(b.waitFor(byRef(refB))), QStringLiteral("ack"));
        QCOMPARE(typeOf(c.waitFor(byRef(refC))), QStringLiteral("ack"));

        const QString fromB = QStringLiteral("b says %1").arg(i);
        const QString fromC = QStringLiteral("c says %1").arg(i);
        QCOMPARE(typeOf(b.chat(room, fromB)), QStringLiteral("ack"));
        QCOMPARE(typeOf(c.chat(room, fromC)), QStringLiteral("ack"));
        const auto chatWith = [room](const QString &text) {
            return [room, text](const QJsonObject &f) {
                return typeOf(f) == QLatin1StringView("chat") && f.value(QStringLiteral("room")).toString() == room
                       && f.value(QStringLiteral("text")).toString() == text;
            };
        };
        QVERIFY2(!c.waitFor(chatWith(fromB), 3000).isEmpty(),
                 qPrintable(QStringLiteral("iteration %1 (case %2): C did not get B's chat").arg(i).arg(i % 3)));
        QVERIFY2(!b.waitFor(chatWith(fromC), 3000).isEmpty(),
                 qPrintable(QStringLiteral("iteration %1 (case %2): B did not get C's chat").arg(i).arg(i % 3)));
        QVERIFY2(!b.waitFor(chatWith(fromB), 3000).isEmpty(),
                 qPrintable(QStringLiteral("iteration %1: B did not get its own chat").arg(i)));
        QCOMPARE(seqProblem(b, room, 2), QString());
        QCOMPARE(seqProblem(c, room, 2), QString());
        // Leave again so the rooms do not pile up.
        b.request({{QStringLiteral("type"), QStringLiteral("leave")}, {QStringLiteral("room"), room}});
        c.request({{QStringLiteral("type"), QStringLiteral("leave")}, {QStringLiteral("room"), room}});
    }
    QTRY_COMPARE_WITH_TIMEOUT(connectionsOf(port), 2, 5000);
}

// 3. ------------------------------------------------------------------------

void TstHostile::floodIsAnsweredThenClosedWith1008_data()
{
    QTest::addColumn<bool>("keepSending");
    QTest::addRow("client stops at the close frame") << false;
    QTest::addRow("client keeps sending after the close frame") << true;
}

void TstHostile::floodIsAnsweredThenClosedWith1008()
{
    QFETCH(bool, keepSending);
    TestServer server({QStringLiteral("--msg-rate"), QStringLiteral("5"), QStringLiteral("--connect-rate"),
                       QStringLiteral("1000/60")});
    const quint16 port = server.port();
    const QStringList limitedLabel{QStringLiteral(R"(type="rate_limited")")};
    const double limitedBefore = metricValue(port, QStringLiteral("sb_frames_in_total"), limitedLabel);
    const double closesBefore = metricValue(port, QStringLiteral("sb_closes_total"), {QStringLiteral(R"(code="1008")")});

    PosixWs ws;
    QVERIFY(ws.connectTo(port));
    QCOMPARE(ws.upgradeWithToken(issueToken(port, QStringLiteral("flooder")).token), 101);
    QVERIFY(ws.waitUntil([&] { return !ws.texts().isEmpty(); }, 3000));
    QCOMPARE(typeOf(ws.texts().first()), QStringLiteral("welcome"));

    const int total = 300;
    const int chunk = 10;
    int sent = 0;
    while (sent < total) {
        QByteArray bytes;
        for (int i = 0; i < chunk && sent < total; ++i, ++sent)
            bytes += RawWsClient::clientFrame(0x1, QStringLiteral(R"({"type":"ping","ref":"p%1"})").arg(sent).toUtf8());
        QVERIFY2(ws.write(bytes), qPrintable(QStringLiteral("write failed after %1 frames (reset: %2)").arg(sent).arg(ws.reset())));
        QTest::qWait(1);
        ws.pump();
        if (ws.closeCode() >= 0 && !keepSending)
            break;
    }
    QVERIFY(ws.waitUntil([&] { return ws.closeCode() >= 0 || ws.eof() || ws.reset(); }, 3000));
    QVERIFY2(!ws.reset(), "the connection was reset");
    QCOMPARE(ws.closeCode(), 1008);
    QCOMPARE(ws.textsAfterClose(), 0);

    // Every frame answered before the close is answered in order: a pong with
    // its own ref, or rate_limited (which carries no ref: it is not parsed).
    int answered = 0;
    int pongCount = 0;
    int limited = 0;
    for (qsizetype i = 1; i < ws.texts().size(); ++i, ++answered) {
        const QJsonObject &f = ws.texts().at(i);
        if (typeOf(f) == QLatin1StringView("pong")) {
            ++pongCount;
            QCOMPARE(f.value(QStringLiteral("ref")).toString(), QStringLiteral("p%1").arg(answered));
        } else {
            QVERIFY2(typeOf(f) == QLatin1StringView("error") && codeOf(f) == QLatin1StringView("rate_limited"),
                     qPrintable(describe(f)));
            ++limited;
        }
    }
    QVERIFY2(pongCount >= 10, qPrintable(QStringLiteral("%1 pongs").arg(pongCount)));
    QCOMPARE(limited, 10);

    // The server waits for our close frame (it does not drop the connection
    // first), then ends the connection with a FIN once it has it.
    QTest::qWait(200);
    ws.pump();
    QVERIFY2(!ws.eof() && !ws.reset(), "the server closed TCP before the client answered the close frame");
    QElapsedTimer clock;
    clock.start();
    ws.sendClose(1000);
    QVERIFY(ws.waitUntil([&] { return ws.eof() || ws.reset(); }, 3000));
    QVERIFY2(!ws.reset(), "the connection was reset after the close handshake");
    QVERIFY2(clock.elapsed() < 1000,
             qPrintable(QStringLiteral("the server closed TCP %1 ms after the client's close frame").arg(clock.elapsed())));

    QCOMPARE(metricValue(port, QStringLiteral("sb_frames_in_total"), limitedLabel), limitedBefore + 10);
    QCOMPARE(metricValue(port, QStringLiteral("sb_closes_total"), {QStringLiteral(R"(code="1008")")}), closesBefore + 1);
    TestClient after;
    QVERIFY(after.connectAs(port, QStringLiteral("after")));
    QVERIFY(pongs(after));
}

// 4. ------------------------------------------------------------------------

void TstHostile::oversizedFrameIsACloseHandshake_data()
{
    QTest::addColumn<QByteArray>("first");  // sent at once
    QTest::addColumn<QByteArray>("second"); // sent after the 1009 arrived (rest of the frame)
    QTest::addColumn<int>("expectedClose"); // 0: no close, a pong

    QTest::addRow("4096 bytes is allowed") << paddedPing(4096) << QByteArray() << 0;
    QTest::addRow("4097 bytes") << RawWsClient::clientFrame(0x1, paddedPing(4097)) << QByteArray() << 1009;
    QTest::addRow("5000 bytes") << RawWsClient::clientFrame(0x1, paddedPing(5000)) << QByteArray() << 1009;
    const QByteArray big = paddedPing(100000);
    QTest::addRow("100000 bytes, the rest after the 1009")
        << frameHeader(0x1, static_cast<quint64>(big.size())) + big.left(10) << big.mid(10) << 1009;
    QTest::addRow("100000 bytes in one write") << frameHeader(0x1, static_cast<quint64>(big.size())) + big << QByteArray()
                                               << 1009;
    const QByteArray part = paddedPing(3000);
    QTest::addRow("5000 bytes in two fragments")
        << RawWsClient::clientFrame(0x1, part, false) + RawWsClient::clientFrame(0x0, QByteArray(2000, ' ')) << QByteArray()
        << 1009;
}

void TstHostile::oversizedFrameIsACloseHandshake()
{
    QFETCH(QByteArray, first);
    QFETCH(QByteArray, second);
    QFETCH(int, expectedClose);
    TestServer server({QStringLiteral("--max-frame"), QStringLiteral("4096"), QStringLiteral("--connect-rate"),
                       QStringLiteral("1000/60")});
    const quint16 port = server.port();
    PosixWs ws;
    QVERIFY(ws.connectTo(port));
    QCOMPARE(ws.upgradeWithToken(issueToken(port, QStringLiteral("bulky")).token), 101);
    QVERIFY(ws.waitUntil([&] { return !ws.texts().isEmpty(); }, 3000));

    if (expectedClose == 0) {
        ws.sendText(first);
        QVERIFY(ws.waitUntil([&] { return ws.texts().size() >= 2 || ws.closeCode() >= 0; }, 3000));
        QCOMPARE(typeOf(ws.texts().at(1)), QStringLiteral("pong"));
        QCOMPARE(ws.closeCode(), -1);
        return;
    }
    QVERIFY(ws.write(first));
    QVERIFY(ws.waitUntil([&] { return ws.closeCode() >= 0 || ws.eof() || ws.reset(); }, 3000));
    QVERIFY2(!ws.reset(), "the connection was reset instead of closed");
    QCOMPARE(ws.closeCode(), expectedClose);
    QCOMPARE(ws.texts().size(), 1); // the welcome, no pong

    if (!second.isEmpty())
        QVERIFY2(ws.write(second), "the rest of the frame could not be written");
    QTest::qWait(200);
    ws.pump();
    QVERIFY2(!ws.eof() && !ws.reset(), "the server ended TCP before the client answered the close frame");
    QElapsedTimer clock;
    clock.start();
    ws.sendClose(1000);
    QVERIFY(ws.waitUntil([&] { return ws.eof() || ws.reset(); }, 5000));
    QVERIFY2(!ws.reset(), "the connection was reset after the client's close frame");
    QVERIFY2(clock.elapsed() < 1000,
             qPrintable(QStringLiteral("the server ended TCP %1 ms after the client's close frame (did it see it?)")
                            .arg(clock.elapsed())));
    QCOMPARE(httpGet(port, QStringLiteral("/healthz")).status, 200);
}

void TstHostile::refusedSessionDoesNotBufferLargeFrame_data()
{
    QTest::addColumn<bool>("beforeTheAnswer");
    QTest::addRow("after the 4401 arrived") << false;
    QTest::addRow("right behind the upgrade request") << true;
}

void TstHostile::refusedSessionDoesNotBufferLargeFrame()
{
    QFETCH(bool, beforeTheAnswer);
    TestServer server({QStringLiteral("--connect-rate"), QStringLiteral("1000/60")});
    const quint16 port = server.port();
    const QString rss = QStringLiteral("sb_process_resident_bytes");
    const double rssBefore = metricValue(port, rss);
    QVERIFY(rssBefore > 0);

    // 64 MB: buffered, it would show as at least that much. Reading the
    // kernel's receive window into Qt's buffer in one go costs up to ~10 MB of
    // RSS (measured: 7 MB for 5 MB sent, 10 MB for 48 or 96 MB), whatever the
    // server then does with the bytes.
    const quint64 size = 64ULL * 1024 * 1024;
    const QByteArray header = frameHeader(0x1, size);
    const QByteArray chunk(64 * 1024, 'x');
    PosixWs ws;
    QVERIFY(ws.connectTo(port));
    const QByteArray request = upgradeRequest(QStringLiteral("/ws?token=not-a-token"));
    if (beforeTheAnswer) {
        QVERIFY(ws.write(request + header));
        QVERIFY(ws.waitUntil([&] { return !ws.head().isEmpty() || ws.eof() || ws.reset(); }, 3000));
    } else {
        QVERIFY(ws.upgrade(request) == 101);
        QVERIFY(ws.waitUntil([&] { return ws.closeCode() >= 0 || ws.eof(); }, 3000));
        QCOMPARE(ws.closeCode(), 4401);
        QVERIFY(ws.write(header));
    }
    QCOMPARE(statusOf(ws.head()), 101);
    double rssPeak = rssBefore;
    for (quint64 written = 0; written < size; written += static_cast<quint64>(chunk.size())) {
        if (!ws.write(chunk))
            break;
        if ((written / static_cast<quint64>(chunk.size())) % 32 == 31)
            rssPeak = qMax(rssPeak, metricValue(port, rss));
    }
    QVERIFY(ws.waitUntil([&] { return ws.closeCode() >= 0 || ws.eof() || ws.reset(); }, 3000));
    QCOMPARE(ws.closeCode(), 4401);
    QCOMPARE(ws.closeReason(), QStringLiteral("unauthorized"));
    QCOMPARE(ws.texts().size(), 0);
    QElapsedTimer clock;
    clock.start();
    ws.sendClose(1000);
    QVERIFY2(ws.waitUntil([&] { return ws.eof() || ws.reset(); }, 5000), "the server kept the connection open");
    const qint64 closedAfter = clock.elapsed();
    rssPeak = qMax(rssPeak, metricValue(port, rss));
    qInfo("RSS before %.1f MB, peak %.1f MB; TCP closed %lld ms after the client's close; reset: %d",
          rssBefore / 1048576.0, rssPeak / 1048576.0, static_cast<long long>(closedAfter), ws.reset());
#ifndef __SANITIZE_ADDRESS__
    // (Under ASan freed memory stays in its quarantine, so RSS says nothing there.)
    QVERIFY2(rssPeak - rssBefore < 20.0 * 1048576.0,
             qPrintable(QStringLiteral("RSS grew by %1 MB while 64 MB were sent").arg((rssPeak - rssBefore) / 1048576.0)));
#endif
    QVERIFY2(!ws.reset(), "the refused connection was reset");
    // The frame ended before the client's close, so the server can see it.
    QVERIFY2(closedAfter < 1000, qPrintable(QStringLiteral("closed %1 ms after the client's close").arg(closedAfter)));
    TestClient after;
    QVERIFY(after.connectAs(port, QStringLiteral("after")));
    QVERIFY(pongs(after));
}

// 5. ------------------------------------------------------------------------

void TstHostile::refusalsCountTowardConnectRate_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<int>("expectedStatus");
    QTest::addRow("token request with a bad body") << QStringLiteral("bad body") << 400;
    QTest::addRow("token request with a wrong operator key") << QStringLiteral("wrong key") << 403;
    QTest::addRow("operator token request without a key") << QStringLiteral("no key") << 403;
    QTest::addRow("upgrade from a bad Origin") << QStringLiteral("bad origin") << 403;
    QTest::addRow("upgrade with a bad handshake") << QStringLiteral("bad handshake") << 400;
    QTest::addRow("upgrade with a bad token") << QStringLiteral("bad token") << 101;
}

void TstHostile::refusalsCountTowardConnectRate()
{
    QFETCH(QString, kind);
    QFETCH(int, expectedStatus);
    TestServer server({QStringLiteral("--connect-rate"), QStringLiteral("5/60"), QStringLiteral("--allowed-origins"),
                       QStringLiteral("https://app.example")});
    const quint16 port = server.port();
    const auto operatorBody = sb::encode({{QStringLiteral("user"), QStringLiteral("opal")},
                                          {QStringLiteral("role"), QStringLiteral("operator")}});
    for (int i = 0; i < 5; ++i) {
        int status = 0;
        if (kind == QLatin1StringView("bad body")) {
            status = httpPost(port, QStringLiteral("/api/token"), i % 2 ? QByteArray("{not json") : QByteArray(R"({"user":""})")).status;
        } else if (kind == QLatin1StringView("wrong key")) {
            status = httpPost(port, QStringLiteral("/api/token"), operatorBody,
                              {{QByteArrayLiteral("Authorization"), QByteArrayLiteral("Bearer wrong-key")}}).status;
        } else if (kind == QLatin1StringView("no key")) {
            status = httpPost(port, QStringLiteral("/api/token"), operatorBody).status;
        } else if (kind == QLatin1StringView("bad origin")) {
            status = statusOf(rawExchange(port, upgradeRequest(QStringLiteral("/ws?token=x"),
                                                               {{QByteArrayLiteral("Origin"), QByteArrayLiteral("https://evil.example")}})));
        } else if (kind == QLatin1StringView("bad handshake")) {
            status = statusOf(rawExchange(port, "GET /ws?token=x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        } else {
            RawWsClient raw;
            status = raw.open(port, QStringLiteral("bogus-token")) ? 101 : 0;
            QVERIFY(raw.waitClosed(3000));
            QCOMPARE(raw.closeCode(), 4401);
            raw.sendClose(1000);
        }
        QCOMPARE(status, expectedStatus);
    }
    // The sixth attempt of any kind is over the limit, before anything else.
    const HttpResult token = httpPost(port, QStringLiteral("/api/token"), R"({"user":"alice"})");
    QCOMPARE(token.status, 429);
    QVERIFY(token.headers.value("retry-after").toInt() >= 1);
    QCOMPARE(token.json().value(QStringLiteral("error")).toString(), QStringLiteral("rate_limited"));
    const QByteArray upgrade = rawExchange(port, upgradeRequest(QStringLiteral("/ws?token=x"),
                                                                {{QByteArrayLiteral("Origin"), QByteArrayLiteral("https://app.example")}}));
    QCOMPARE(statusOf(upgrade), 429);
    QVERIFY(!headerOf(upgrade, "Retry-After").isEmpty());
}

// 6. ------------------------------------------------------------------------

void TstHostile::badHandshakeDoesNotSpendToken_data()
{
    QTest::addColumn<QByteArray>("headers"); // after the request line, before the blank line
    QTest::addColumn<QString>("error");      // a request without Host is malformed HTTP before it is an upgrade

    const QByteArray host = "Host: 127.0.0.1\r\n";
    const QByteArray upgrade = "Upgrade: websocket\r\n";
    const QByteArray connection = "Connection: Upgrade\r\n";
    const QByteArray version = "Sec-WebSocket-Version: 13\r\n";
    const QByteArray key = "Sec-WebSocket-Key: " + randomKey() + "\r\n";
    QTest::addRow("no Sec-WebSocket-Key") << host + upgrade + connection + version << QStringLiteral("bad_handshake");
    QTest::addRow("Sec-WebSocket-Version 8") << host + upgrade + connection + "Sec-WebSocket-Version: 8\r\n" + key << QStringLiteral("bad_handshake");
    QTest::addRow("no Sec-WebSocket-Version") << host + upgrade + connection + key << QStringLiteral("bad_handshake");
    QTest::addRow("key of 8 bytes") << host + upgrade + connection + version + "Sec-WebSocket-Key: AAAAAAAAAAA=\r\n" << QStringLiteral("bad_handshake");
    QTest::addRow("key not base64") << host + upgrade + connection + version + "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n" << QStringLiteral("bad_handshake");
    QTest::addRow("Connection without upgrade") << host + upgrade + "Connection: keep-alive\r\n" + version + key << QStringLiteral("bad_handshake");
    QTest::addRow("no Host") << upgrade + connection + version + key << QStringLiteral("bad_request");
}

void TstHostile::badHandshakeDoesNotSpendToken()
{
    QFETCH(QByteArray, headers);
    QFETCH(QString, error);
    TestServer *server = sharedServer(QStringLiteral("embedded"));
    QVERIFY(server);
    const quint16 port = server->port();
    const Token token = issueToken(port, QStringLiteral("careful"));
    QVERIFY(!token.token.isEmpty());
    const QByteArray answer = rawExchange(port, "GET /ws?token=" + QUrl::toPercentEncoding(token.token) + " HTTP/1.1\r\n"
                                                    + headers + "\r\n");
    QCOMPARE(statusOf(answer), 400);
    const QJsonObject body = QJsonDocument::fromJson(bodyOf(answer)).object();
    QCOMPARE(body.value(QStringLiteral("error")).toString(), error);

    // The token is still good for one real upgrade.
    RawWsClient client;
    QVERIFY(client.open(port, token.token));
    QDeadlineTimer deadline(3000);
    while (client.textFrames().isEmpty() && client.closeCode() < 0 && !deadline.hasExpired()) {
        QTest::qWait(5);
        client.poll();
    }
    QVERIFY2(client.closeCode() < 0, qPrintable(QStringLiteral("closed with %1: the bad handshake spent the token")
                                                    .arg(client.closeCode())));
    QVERIFY(!client.textFrames().isEmpty());
    QCOMPARE(typeOf(client.textFrames().first()), QStringLiteral("welcome"));
    client.sendClose(1000);
}

void TstHostile::refusedHandshakesLeaveNothingBehind_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addRow("bad handshake, then gone") << QStringLiteral("bad handshake");
    QTest::addRow("valid upgrade, reset before the 101 is read") << QStringLiteral("reset before 101");
    QTest::addRow("valid upgrade, reset after one event-loop pass") << QStringLiteral("reset after a pass");
    QTest::addRow("bad token, reset during the closing handshake") << QStringLiteral("bad token");
    // Not refusals, but the same rule: a finished session leaves no socket behind.
    QTest::addRow("session closed by its client") << QStringLiteral("client close");
    QTest::addRow("session closed by the server (1008)") << QStringLiteral("server close");
}

void TstHostile::refusedHandshakesLeaveNothingBehind()
{
    QFETCH(QString, kind);
    TestServer server({QStringLiteral("--connect-rate"), QStringLiteral("100000/60")});
    const quint16 port = server.port();
    const double rssBefore = metricValue(port, QStringLiteral("sb_process_resident_bytes"));
    const int rounds = 50;
    for (int i = 0; i < rounds; ++i) {
        if (kind == QLatin1StringView("bad handshake")) {
            QTcpSocket s;
            s.connectToHost(QHostAddress::LocalHost, port);
            QVERIFY(s.waitForConnected(2000));
            s.write("GET /ws?token=x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
            s.flush();
            QTest::qWait(1);
            s.abort();
        } else if (kind == QLatin1StringView("bad token")) {
            RawWsClient raw;
            QVERIFY(raw.open(port, QStringLiteral("bogus")));
            raw.resetConnection();
        } else if (kind == QLatin1StringView("client close")) {
            TestClient c;
            QVERIFY(c.connectAs(port, QStringLiteral("brief")));
            c.socket().close();
            QVERIFY(c.waitClosed());
        } else if (kind == QLatin1StringView("server close")) {
            TestClient c;
            QVERIFY(c.connectAs(port, QStringLiteral("rude")));
            for (int e = 0; e < 10; ++e)
                c.sendRaw(QStringLiteral("not json"));
            QVERIFY(c.waitClosed());
        } else {
            const Token t = issueToken(port, QStringLiteral("hasty"));
            RawWsClient raw;
            raw.socket().connectToHost(QHostAddress::LocalHost, port);
            QVERIFY(raw.socket().waitForConnected(2000));
            raw.sendBytes(upgradeRequest(QStringLiteral("/ws?token=") + t.token));
            if (kind == QLatin1StringView("reset after a pass"))
                QCoreApplication::processEvents();
            raw.resetConnection();
        }
    }
    QTRY_COMPARE_WITH_TIMEOUT(connectionsOf(port), 0, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(metricValue(port, QStringLiteral("sb_connections_active")), 0.0, 2000);
    // Every TCP socket went with its request or its session (upgraded ones
    // were once kept by the HTTP front end until exit).
    QTRY_COMPARE_WITH_TIMEOUT(metricValue(port, QStringLiteral("sb_http_sockets")), 1.0, 5000); // the /metrics request itself
    const double rssAfter = metricValue(port, QStringLiteral("sb_process_resident_bytes"));
    qInfo("RSS %.1f MB before, %.1f MB after %d attempts", rssBefore / 1048576.0, rssAfter / 1048576.0, rounds);
    TestClient c;
    QVERIFY(c.connectAs(port, QStringLiteral("fine")));
    QVERIFY(pongs(c));
    QCOMPARE(connectionsOf(port), 1);
}

// 7. ------------------------------------------------------------------------

void TstHostile::adminTypesFromParticipantAreForbidden_data()
{
    QTest::addColumn<QString>("frame");
    QTest::addRow("admin.foo") << QStringLiteral(R"({"type":"admin.foo","ref":"a1"})");
    QTest::addRow("admin.disconnect") << QStringLiteral(R"({"type":"admin.disconnect","session_id":"x","ref":"a1"})");
    QTest::addRow("admin.disconnect without fields") << QStringLiteral(R"({"type":"admin.disconnect","ref":"a1"})");
    QTest::addRow("admin.subscribe") << QStringLiteral(R"({"type":"admin.subscribe","ref":"a1"})");
    QTest::addRow("admin.subscribe with a bad flow") << QStringLiteral(R"({"type":"admin.subscribe","flow":"yes","ref":"a1"})");
    QTest::addRow("admin. alone") << QStringLiteral(R"({"type":"admin.","ref":"a1"})");
    QTest::addRow("admin.conn.open (a server frame)") << QStringLiteral(R"({"type":"admin.conn.open","ref":"a1"})");
    QTest::addRow("admin.stats (a server frame)") << QStringLiteral(R"({"type":"admin.stats","ref":"a1"})");
}

void TstHostile::adminTypesFromParticipantAreForbidden()
{
    QFETCH(QString, frame);
    TestServer *server = sharedServer(QStringLiteral("embedded"));
    QVERIFY(server);
    TestClient c;
    QVERIFY(c.connectAs(server->port(), QStringLiteral("mallory")));
    c.sendRaw(frame);
    const QJsonObject error = c.waitForType(QStringLiteral("error"));
    QCOMPARE(codeOf(error), QStringLiteral("forbidden"));
    QCOMPARE(error.value(QStringLiteral("ref")).toString(), QStringLiteral("a1"));
    QVERIFY(pongs(c));
    for (const QJsonObject &f : c.frames())
        QVERIFY2(!typeOf(f).startsWith(QLatin1StringView("admin.")), qPrintable(describe(f)));
}

void TstHostile::unknownAdminTypeFromOperatorIsUnknownType()
{
    TestServer *server = sharedServer(QStringLiteral("embedded"));
    QVERIFY(server);
    TestClient op;
    QVERIFY(op.connectAs(server->port(), QStringLiteral("opal"), {}, QStringLiteral("operator"), kOperatorKey));
    for (const QString &type : {QStringLiteral("admin.foo"), QStringLiteral("admin.conn.open")}) {
        const QJsonObject answer = op.request({{QStringLiteral("type"), type}});
        QCOMPARE(typeOf(answer), QStringLiteral("error"));
        QCOMPARE(codeOf(answer), QStringLiteral("unknown_type"));
    }
    QVERIFY(pongs(op));
}

// 8. ------------------------------------------------------------------------

void TstHostile::nulAndLoneSurrogatesAreBadRequest_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("escaped"); // JSON string contents, escapes as written
    const QStringList fields{QStringLiteral("chat text"), QStringLiteral("chat nonce"), QStringLiteral("chat room"),
                             QStringLiteral("join room"), QStringLiteral("todo.add title"),
                             QStringLiteral("todo.update title")};
    const QList<QPair<QString, QString>> values{
        {QStringLiteral("U+0000"), QStringLiteral(R"(a\u0000b)")},
        {QStringLiteral("lone high surrogate"), QStringLiteral(R"(a\ud800b)")},
        {QStringLiteral("high surrogate at the end"), QStringLiteral(R"(ab\ud83d)")},
        {QStringLiteral("lone low surrogate"), QStringLiteral(R"(\udc00)")},
        {QStringLiteral("reversed pair"), QStringLiteral(R"(\ude00\ud83d)")},
    };
    for (const QString &backend : {QStringLiteral("embedded"), QStringLiteral("postgres")}) {
        for (const QString &field : fields) {
            for (const auto &[label, escaped] : values)
                QTest::addRow("%s, %s, %s", qPrintable(backend), qPrintable(field), qPrintable(label))
                    << backend << field << escaped;
        }
    }
}

void TstHostile::nulAndLoneSurrogatesAreBadRequest()
{
    QFETCH(QString, backend);
    QFETCH(QString, field);
    QFETCH(QString, escaped);
    QString why;
    backendFlags(backend, &why);
    SB_REQUIRE_SERVICE(why.isEmpty(), why.toUtf8());
    TestServer *server = sharedServer(backend);
    QVERIFY(server);
    const quint16 port = server->port();
    const QString room = unique(QStringLiteral("nul"));
    const QString clientId = unique(QStringLiteral("client"));
    TestClient c;
    QVERIFY(c.connectAs(port, QStringLiteral("nully"), clientId));
    QCOMPARE(typeOf(c.join(room)), QStringLiteral("ack"));
    const QJsonObject added = c.request({{QStringLiteral("type"), QStringLiteral("todo.add")},
                                         {QStringLiteral("title"), QStringLiteral("clean")}});
    QCOMPARE(typeOf(added), QStringLiteral("ack"));
    const qint64 todoId = added.value(QStringLiteral("item")).toObject().value(QStringLiteral("id")).toInteger();

    QString frame;
    if (field == QLatin1StringView("chat text"))
        frame = QStringLiteral(R"({"type":"chat","room":"%1","text":"%2","ref":"x1"})").arg(room, escaped);
    else if (field == QLatin1StringView("chat nonce"))
        frame = QStringLiteral(R"({"type":"chat","room":"%1","text":"hi","nonce":"%2","ref":"x1"})").arg(room, escaped);
    else if (field == QLatin1StringView("chat room"))
        frame = QStringLiteral(R"({"type":"chat","room":"%1%2","text":"hi","ref":"x1"})").arg(room, escaped);
    else if (field == QLatin1StringView("join room"))
        frame = QStringLiteral(R"({"type":"join","room":"%1%2","ref":"x1"})").arg(room, escaped);
    else if (field == QLatin1StringView("todo.add title"))
        frame = QStringLiteral(R"({"type":"todo.add","title":"%1","ref":"x1"})").arg(escaped);
    else
        frame = QStringLiteral(R"({"type":"todo.update","id":%1,"title":"%2","ref":"x1"})").arg(todoId).arg(escaped);
    c.sendRaw(frame);
    const QJsonObject answer = c.waitFor([](const QJsonObject &f) { return f.value(QStringLiteral("ref")).toString() == QLatin1StringView("x1"); });
    QVERIFY2(typeOf(answer) == QLatin1StringView("error") && codeOf(answer) == QLatin1StringView("bad_request"),
             qPrintable(QStringLiteral("answer: %1").arg(describe(answer))));

    // Nothing was stored or announced.
    QTest::qWait(50);
    QCOMPARE(chatsOf(c, room).size(), 0);
    QCOMPARE(c.framesOfType(QStringLiteral("todo.changed")).size(), 1); // the clean add only
    const QJsonObject history = c.request({{QStringLiteral("type"), QStringLiteral("history")}, {QStringLiteral("room"), room}});
    QCOMPARE(history.value(QStringLiteral("messages")).toArray().size(), 0);
    const QJsonObject list = c.request({{QStringLiteral("type"), QStringLiteral("todo.list")}});
    const QJsonArray items = list.value(QStringLiteral("items")).toArray();
    QCOMPARE(items.size(), 1);
    QCOMPARE(items.first().toObject().value(QStringLiteral("title")).toString(), QStringLiteral("clean"));
    QVERIFY(pongs(c));
}

void TstHostile::nulAndLoneSurrogatesInTokenRequest_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addRow("user with U+0000") << QByteArray(R"({"user":"al\u0000ice"})");
    QTest::addRow("user with a lone surrogate") << QByteArray(R"({"user":"al\ud800ice"})");
    QTest::addRow("user that is only U+0000") << QByteArray(R"({"user":"\u0000"})");
    QTest::addRow("client_id with U+0000") << QByteArray(R"({"user":"alice","client_id":"c\u0000"})");
    QTest::addRow("client_id with a lone surrogate") << QByteArray(R"({"user":"alice","client_id":"c\udfff"})");
    QTest::addRow("role with U+0000") << QByteArray(R"({"user":"alice","role":"participant\u0000"})");
}

void TstHostile::nulAndLoneSurrogatesInTokenRequest()
{
    QFETCH(QByteArray, body);
    TestServer *server = sharedServer(QStringLiteral("embedded"));
    QVERIFY(server);
    const HttpResult r = httpPost(server->port(), QStringLiteral("/api/token"), body);
    QCOMPARE(r.status, 400);
    QCOMPARE(r.json().value(QStringLiteral("error")).toString(), QStringLiteral("bad_request"));
}

void TstHostile::astralTextRoundTrips()
{
    QFETCH(QString, backend);
    QString why;
    backendFlags(backend, &why);
    SB_REQUIRE_SERVICE(why.isEmpty(), why.toUtf8());
    TestServer *server = sharedServer(backend);
    QVERIFY(server);
    const quint16 port = server->port();
    const QString room = unique(QStringLiteral("emoji"));
    // Astral characters (surrogate pairs in UTF-16), a ZWJ sequence, a
    // combining mark, CJK and a right-to-left script.
    const QString text = QStringLiteral("h\u00e9llo \U0001F600 \U0001D11E \U0001F469\u200D\U0001F469\u200D\U0001F467 e\u0301 "
                                        "\u4E2D\u6587 \u05E9\u05DC\u05D5\u05DD \U00010348");
    TestClient c;
    QVERIFY(c.connectAs(port, QStringLiteral("emoji"), unique(QStringLiteral("client"))));
    QCOMPARE(typeOf(c.join(room)), QStringLiteral("ack"));
    // Sent with the pairs as JSON escapes too: the same text must come back.
    const QJsonObject ack = c.chat(room, text);
    QCOMPARE(typeOf(ack), QStringLiteral("ack"));
    c.sendRaw(QStringLiteral(R"({"type":"chat","room":"%1","text":"\ud83d\ude00 escaped","ref":"e2"})").arg(room));
    QCOMPARE(typeOf(c.waitFor([](const QJsonObject &f) { return f.value(QStringLiteral("ref")).toString() == QLatin1StringView("e2"); })),
             QStringLiteral("ack"));
    QTRY_COMPARE(chatsOf(c, room).size(), 2);
    QCOMPARE(chatsOf(c, room).at(0).value(QStringLiteral("text")).toString(), text);
    QCOMPARE(chatsOf(c, room).at(1).value(QStringLiteral("text")).toString(), QStringLiteral("\U0001F600 escaped"));
    const QJsonObject history = c.request({{QStringLiteral("type"), QStringLiteral("history")}, {QStringLiteral("room"), room}});
    const QJsonArray messages = history.value(QStringLiteral("messages")).toArray();
    QCOMPARE(messages.size(), 2);
    QCOMPARE(messages.at(0).toObject().value(QStringLiteral("text")).toString(), text);
    QCOMPARE(messages.at(0).toObject().value(QStringLiteral("text")).toString().toUtf8(), text.toUtf8());
    QCOMPARE(messages.at(1).toObject().value(QStringLiteral("text")).toString(), QStringLiteral("\U0001F600 escaped"));
    // And a todo title.
    const QJsonObject todo = c.request({{QStringLiteral("type"), QStringLiteral("todo.add")}, {QStringLiteral("title"), text}});
    QCOMPARE(typeOf(todo), QStringLiteral("ack"));
    const QJsonArray items = c.request({{QStringLiteral("type"), QStringLiteral("todo.list")}}).value(QStringLiteral("items")).toArray();
    QCOMPARE(items.size(), 1);
    QCOMPARE(items.first().toObject().value(QStringLiteral("title")).toString(), text);
}

// 9. ------------------------------------------------------------------------

void TstHostile::maxRoomsIsEnforced()
{
    QFETCH(QString, backend);
    SB_BACKEND_FLAGS(backend, flags);
    TestServer server(flags + QStringList{QStringLiteral("--max-rooms"), QStringLiteral("3"),
                                          QStringLiteral("--connect-rate"), QStringLiteral("1000/60"),
                                          QStringLiteral("--msg-rate"), QStringLiteral("0")});
    QVERIFY(server.waitReady());
    const quint16 port = server.port();
    const QStringList label{QStringLiteral(R"(kind="rooms")")};
    const QString metric = QStringLiteral("sb_limit_exceeded_total");
    QStringList rooms;
    for (int i = 0; i < 6; ++i)
        rooms << unique(QStringLiteral("lim"));

    TestClient c;
    QVERIFY(c.connectAs(port, QStringLiteral("roomy")));
    for (int i = 0; i < 3; ++i)
        QCOMPARE(typeOf(c.join(rooms[i])), QStringLiteral("ack"));
    const double before = metricValue(port, metric, label);
    const QJsonObject refused = c.join(rooms[3]);
    QCOMPARE(typeOf(refused), QStringLiteral("error"));
    QCOMPARE(codeOf(refused), QStringLiteral("limit_exceeded"));
    QCOMPARE(metricValue(port, metric, label), before + 1);
    QCOMPARE(typeOf(c.chat(rooms[3], QStringLiteral("hi"))), QStringLiteral("error")); // not a member
    QCOMPARE(typeOf(c.join(rooms[0])), QStringLiteral("ack")); // re-joining is always allowed
    QCOMPARE(typeOf(c.request({{QStringLiteral("type"), QStringLiteral("leave")}, {QStringLiteral("room"), rooms[1]}})),
             QStringLiteral("ack"));
    QCOMPARE(typeOf(c.join(rooms[3])), QStringLiteral("ack"));
    QCOMPARE(codeOf(c.join(rooms[4])), QStringLiteral("limit_exceeded"));

    // Five joins at once: three succeed, two are refused, never more than three rooms.
    TestClient burst;
    QVERIFY(burst.connectAs(port, QStringLiteral("bursty")));
    for (int i = 0; i < 5; ++i)
        burst.send(joinFrame(i < 4 ? rooms[i] : rooms[5], QStringLiteral("b%1").arg(i)));
    QTRY_COMPARE_WITH_TIMEOUT(burst.framesOfType(QStringLiteral("ack")).size() + burst.framesOfType(QStringLiteral("error")).size(),
                              qsizetype(5), 5000);
    QCOMPARE(burst.framesOfType(QStringLiteral("ack")).size(), 3);
    for (const QJsonObject &e : burst.framesOfType(QStringLiteral("error")))
        QCOMPARE(codeOf(e), QStringLiteral("limit_exceeded"));
    TestClient op;
    QVERIFY(op.connectAs(port, QStringLiteral("opal"), {}, QStringLiteral("operator"), kOperatorKey));
    const QJsonObject snapshot = op.request({{QStringLiteral("type"), QStringLiteral("admin.subscribe")}});
    for (const QJsonValue &conn : snapshot.value(QStringLiteral("connections")).toArray()) {
        const QJsonObject o = conn.toObject();
        if (o.value(QStringLiteral("session_id")).toString() == sessionOf(burst))
            QCOMPARE(o.value(QStringLiteral("rooms")).toArray().size(), 3);
    }
    QCOMPARE(metricValue(port, metric, label), before + 4);
}

// 10. -----------------------------------------------------------------------

void TstHostile::nonceIsUniqueAcrossRooms()
{
    QFETCH(QString, backend);
    QString why;
    backendFlags(backend, &why);
    SB_REQUIRE_SERVICE(why.isEmpty(), why.toUtf8());
    TestServer *server = sharedServer(backend);
    QVERIFY(server);
    const quint16 port = server->port();
    const QString roomA = unique(QStringLiteral("nonce-a"));
    const QString roomB = unique(QStringLiteral("nonce-b"));
    TestClient sender;
    TestClient watcherB;
    QVERIFY(sender.connectAs(port, QStringLiteral("sender"), unique(QStringLiteral("client"))));
    QVERIFY(watcherB.connectAs(port, QStringLiteral("watcher")));
    QCOMPARE(typeOf(sender.join(roomA)), QStringLiteral("ack"));
    QCOMPARE(typeOf(sender.join(roomB)), QStringLiteral("ack"));
    QCOMPARE(typeOf(watcherB.join(roomB)), QStringLiteral("ack"));
    QCOMPARE(typeOf(sender.chat(roomA, QStringLiteral("first"))), QStringLiteral("ack"));

    const QJsonObject original = sender.chat(roomA, QStringLiteral("with nonce"), QStringLiteral("n1"));
    QCOMPARE(typeOf(original), QStringLiteral("ack"));
    QCOMPARE(original.value(QStringLiteral("room")).toString(), roomA);
    QCOMPARE(original.value(QStringLiteral("seq")).toInteger(), 2);
    const QJsonObject resent = sender.chat(roomB, QStringLiteral("other text"), QStringLiteral("n1"));
    QCOMPARE(typeOf(resent), QStringLiteral("ack"));
    QCOMPARE(resent.value(QStringLiteral("room")).toString(), roomA);
    QCOMPARE(resent.value(QStringLiteral("seq")).toInteger(), 2);

    // Room B got nothing, not even a seq: its first real chat is seq 1.
    QTest::qWait(200);
    QCOMPARE(chatsOf(watcherB, roomB).size(), 0);
    QCOMPARE(chatsOf(sender, roomB).size(), 0);
    QCOMPARE(chatsOf(sender, roomA).size(), 2);
    const QJsonObject next = sender.chat(roomB, QStringLiteral("real"));
    QCOMPARE(next.value(QStringLiteral("seq")).toInteger(), 1);
    QTRY_COMPARE(chatsOf(watcherB, roomB).size(), 1);
    const QJsonObject history = sender.request({{QStringLiteral("type"), QStringLiteral("history")}, {QStringLiteral("room"), roomB}});
    QCOMPARE(history.value(QStringLiteral("messages")).toArray().size(), 1);
}

// 11. -----------------------------------------------------------------------

void TstHostile::slowConsumerIsClosedByPeriodicCheck()
{
    // tst_slowconsumer closes a member that keeps being sent to; here the
    // server queues one big answer (a join with 1000 missed messages of 4000
    // three-byte characters, ~12 MB: more than the kernel's buffers take) and
    // then nothing more: only the once-a-second check can notice.
    TestServer server({QStringLiteral("--max-queue"), QStringLiteral("65536"), QStringLiteral("--msg-rate"),
                       QStringLiteral("0"), QStringLiteral("--connect-rate"), QStringLiteral("1000/60")});
    const quint16 port = server.port();
    const QString room = unique(QStringLiteral("backlog"));
    TestClient poster;
    QVERIFY(poster.connectAs(port, QStringLiteral("poster")));
    QCOMPARE(typeOf(poster.join(room)), QStringLiteral("ack"));
    const QString padding(3990, QChar(0x4E2D));
    const int total = 1000;
    for (int sent = 0; sent < total;) {
        for (int i = 0; i < 50; ++i, ++sent)
            poster.send(chatFrame(room, QString::number(sent) + padding, QStringLiteral("c%1").arg(sent)));
        const QString last = QStringLiteral("c%1").arg(sent - 1);
        QCOMPARE(typeOf(poster.waitFor([&](const QJsonObject &f) { return f.value(QStringLiteral("ref")).toString() == last; }, 20000)),
                 QStringLiteral("ack"));
    }
    poster.request({{QStringLiteral("type"), QStringLiteral("leave")}, {QStringLiteral("room"), room}});

    TestClient op;
    QVERIFY(op.connectAs(port, QStringLiteral("opal"), {}, QStringLiteral("operator"), kOperatorKey));
    QCOMPARE(typeOf(op.request({{QStringLiteral("type"), QStringLiteral("admin.subscribe")}})), QStringLiteral("ack"));
    const double before = metricValue(port, QStringLiteral("sb_slow_consumer_disconnects_total"));

    RawWsClient slow;
    QVERIFY(slow.open(port, issueToken(port, QStringLiteral("slow")).token));
    QDeadlineTimer welcomed(3000);
    while (slow.textFrames().isEmpty() && !welcomed.hasExpired()) {
        QTest::qWait(5);
        slow.poll();
    }
    QVERIFY(!slow.textFrames().isEmpty());
    const QString slowSession = slow.textFrames().first().value(QStringLiteral("session_id")).toString();
    slow.socket().setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4096);
    slow.socket().setReadBufferSize(1);
    QElapsedTimer clock;
    clock.start();
    slow.sendJson({{QStringLiteral("type"), QStringLiteral("join")}, {QStringLiteral("room"), room},
                   {QStringLiteral("since"), 0}, {QStringLiteral("ref"), QStringLiteral("j")}});
    const QJsonObject closed = op.waitFor([&](const QJsonObject &f) {
        return typeOf(f) == QLatin1StringView("admin.conn.close") && f.value(QStringLiteral("session_id")).toString() == slowSession;
    }, 4000);
    if (closed.isEmpty()) {
        const QJsonObject snapshot = op.request({{QStringLiteral("type"), QStringLiteral("admin.subscribe")}});
        for (const QJsonValue &conn : snapshot.value(QStringLiteral("connections")).toArray()) {
            if (conn.toObject().value(QStringLiteral("session_id")).toString() == slowSession)
                qInfo("still open after 4 s: %s", qPrintable(describe(conn.toObject())));
        }
    }
    QVERIFY2(!closed.isEmpty(), "the connection that reads nothing was not closed within 4 s");
    qInfo("closed %lld ms after its join", static_cast<long long>(clock.elapsed()));
    QCOMPARE(closed.value(QStringLiteral("code")).toInt(), 1013);
    QVERIFY(clock.elapsed() <= 3000);
    QCOMPARE(metricValue(port, QStringLiteral("sb_slow_consumer_disconnects_total")), before + 1);
    QTRY_COMPARE(connectionsOf(port), 2);
}

// 12. -----------------------------------------------------------------------

void TstHostile::dependencyErrorsDoNotCountToward1008()
{
    // A Redis of this test's own, killed while a client keeps chatting: every
    // chat is refused with backplane_unavailable, and the client stays.
    const quint16 redisPort = freePort();
    QProcess redis;
    redis.start(QStringLiteral("redis-server"), {QStringLiteral("--port"), QString::number(redisPort),
                                                 QStringLiteral("--bind"), QStringLiteral("127.0.0.1"),
                                                 QStringLiteral("--save"), QString(), QStringLiteral("--appendonly"),
                                                 QStringLiteral("no")});
    SB_REQUIRE_SERVICE(redis.waitForStarted(3000), "redis-server cannot be started");
    const QString url = QStringLiteral("redis://127.0.0.1:%1").arg(redisPort);
    QTRY_COMPARE_WITH_TIMEOUT(redisCli({QStringLiteral("PING")}, url), QByteArray("PONG"), 5000);
    TestServer server({QStringLiteral("--redis-url"), url, QStringLiteral("--connect-rate"), QStringLiteral("1000/60"),
                       QStringLiteral("--msg-rate"), QStringLiteral("0")});
    QVERIFY(server.waitReady(8000));
    const quint16 port = server.port();
    const QString room = unique(QStringLiteral("outage"));
    TestClient c;
    QVERIFY(c.connectAs(port, QStringLiteral("patient")));
    QCOMPARE(typeOf(c.join(room)), QStringLiteral("ack"));
    QCOMPARE(typeOf(c.chat(room, QStringLiteral("before"))), QStringLiteral("ack"));

    redis.kill();
    redis.waitForFinished(3000);
    QTRY_VERIFY_WITH_TIMEOUT(!httpGet(port, QStringLiteral("/api/instance")).json().value(QStringLiteral("backplane_up")).toBool(), 5000);
    for (int i = 0; i < 15; ++i) {
        const QJsonObject answer = c.chat(room, QStringLiteral("during %1").arg(i));
        QCOMPARE(typeOf(answer), QStringLiteral("error"));
        QCOMPARE(codeOf(answer), QStringLiteral("backplane_unavailable"));
    }
    QVERIFY2(!c.isClosed(), qPrintable(QStringLiteral("closed with %1 after dependency errors").arg(c.closeCode())));
    QVERIFY(pongs(c));
    // The client's own mistakes still count: nine are tolerated, the tenth closes.
    for (int i = 0; i < 9; ++i)
        c.sendRaw(QStringLiteral("not json"));
    QTRY_COMPARE(c.framesOfType(QStringLiteral("error")).size(), 15 + 9);
    QVERIFY(!c.isClosed());
    c.sendRaw(QStringLiteral("still not json"));
    QVERIFY(c.waitClosed(3000));
    QCOMPARE(c.closeCode(), 1008);
}

// 13. -----------------------------------------------------------------------

void TstHostile::publishErrorStillDelivers_data()
{
    QTest::addColumn<int>("blockedMs");
    QTest::addRow("publish refused for 600 ms (a retry succeeds)") << 600;
    QTest::addRow("publish refused for 3500 ms (every retry fails)") << 3500;
}

void TstHostile::publishErrorStillDelivers()
{
    QFETCH(int, blockedMs);
    SB_REQUIRE_SERVICE(!qEnvironmentVariable("SB_TEST_REDIS_URL").isEmpty(), "SB_TEST_REDIS_URL is not set");
    const QString prefix = unique(QStringLiteral("hostile-pub")) + QLatin1Char(':');
    PrivateRedis redis;
    SB_REQUIRE_SERVICE(redis.waitUp(), "redis-server did not start");
    const QStringList common{QStringLiteral("--redis-url"), redis.url(),
                             QStringLiteral("--redis-prefix"), prefix, QStringLiteral("--connect-rate"),
                             QStringLiteral("1000/60"), QStringLiteral("--msg-rate"), QStringLiteral("0")};
    QString why;
    const QStringList pg = backendFlags(QStringLiteral("postgres"), &why);
    SB_REQUIRE_SERVICE(why.isEmpty(), why.toUtf8()); // two instances share one store
    TestServer first(common + pg + QStringList{QStringLiteral("--instance-id"), QStringLiteral("hostile-a")});
    TestServer second(common + pg + QStringList{QStringLiteral("--instance-id"), QStringLiteral("hostile-b")});
    QVERIFY(first.waitReady(8000));
    QVERIFY(second.waitReady(8000));
    const QString room = unique(QStringLiteral("pub"));
    TestClient poster;
    TestClient local;
    TestClient remote;
    QVERIFY(poster.connectAs(first.port(), QStringLiteral("poster")));
    QVERIFY(local.connectAs(first.port(), QStringLiteral("local")));
    QVERIFY(remote.connectAs(second.port(), QStringLiteral("remote")));
    for (TestClient *c : {&poster, &local, &remote})
        QCOMPARE(typeOf(c->join(room)), QStringLiteral("ack"));
    QCOMPARE(typeOf(poster.chat(room, QStringLiteral("before"))), QStringLiteral("ack"));
    QTRY_COMPARE(chatsOf(remote, room).size(), 1);

    QCOMPARE(redisCli({QStringLiteral("ACL"), QStringLiteral("SETUSER"), QStringLiteral("default"), QStringLiteral("-publish")},
                      redis.url()),
             QByteArray("OK"));
    QVERIFY2(redisCli({QStringLiteral("PUBLISH"), prefix + QStringLiteral("x"), QStringLiteral("y")}, redis.url()).contains("NOPERM"),
             "PUBLISH still works: the ACL did not take");
    QElapsedTimer clock;
    clock.start();
    const QJsonObject ack = poster.chat(room, QStringLiteral("during"));
    QCOMPARE(typeOf(ack), QStringLiteral("ack"));
    QCOMPARE(ack.value(QStringLiteral("seq")).toInteger(), 2);
    // Delivered on this instance at once, the sender included.
    QTRY_COMPARE_WITH_TIMEOUT(chatsOf(local, room).size(), 2, 1000);
    QTRY_COMPARE_WITH_TIMEOUT(chatsOf(poster, room).size(), 2, 1000);
    qInfo("delivered locally %lld ms after the chat was sent", static_cast<long long>(clock.elapsed()));
    const qint64 wait = blockedMs - clock.elapsed();
    if (wait > 0)
        QTest::qWait(static_cast<int>(wait));
    QCOMPARE(redisCli({QStringLiteral("ACL"), QStringLiteral("SETUSER"), QStringLiteral("default"), QStringLiteral("+@all")},
                      redis.url()),
             QByteArray("OK"));
    if (blockedMs < 3000) {
        // A retry reaches the other instance.
        QTRY_COMPARE_WITH_TIMEOUT(chatsOf(remote, room).size(), 2, 4000);
    }
    QCOMPARE(typeOf(poster.chat(room, QStringLiteral("after"))), QStringLiteral("ack"));
    QTRY_COMPARE_WITH_TIMEOUT(chatsOf(remote, room).size(), 3, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(chatsOf(local, room).size(), 3, 2000);
    for (TestClient *c : {&poster, &local, &remote})
        QVERIFY2(seqProblem(*c, room, 3).isEmpty(), qPrintable(seqProblem(*c, room, 3)));
    QCOMPARE(chatsOf(remote, room).at(1).value(QStringLiteral("text")).toString(), QStringLiteral("during"));
    QVERIFY(first.waitReady(100));
    QVERIFY(second.waitReady(100));
}

SB_SERVER_TEST_MAIN(TstHostile)
#include "tst_hostile.moc"
