#pragma once

// Test doubles are not allowed here: these helpers drive the real server over
// real loopback sockets. TestServer starts a Server in-process on an ephemeral
// port with a private data directory; TestClient is a WebSocket participant or
// operator that records every frame it receives.

#include "config.h"
#include "epolldispatcher.h"
#include "server.h"

#include <QJsonObject>
#include <QList>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>

#include <functional>
#include <memory>

namespace sbtest {

// True when env SB_ALLOW_SKIP is 1: a developer without Redis, PostgreSQL,
// HAProxy or promtool chose to skip the tests that need them.
inline bool skipAllowed()
{
    return qEnvironmentVariableIntValue("SB_ALLOW_SKIP") == 1;
}

} // namespace sbtest

// The one rule for a test that needs a service or a tool: when `condition`
// is false it fails, so a green run means every test ran; with SB_ALLOW_SKIP=1
// it skips instead. Header-only, so tests that link only sb_server can use it.
#define SB_REQUIRE_SERVICE(condition, why)                                                             \
    do {                                                                                               \
        if (!(condition)) {                                                                            \
            const QByteArray sbRequireWhy_(why);                                                       \
            if (::sbtest::skipAllowed())                                                               \
                QSKIP(sbRequireWhy_.constData());                                                      \
            QFAIL(QByteArray(sbRequireWhy_ + " (set SB_ALLOW_SKIP=1 to skip instead)").constData());   \
        }                                                                                              \
    } while (false)

namespace sbtest {

// A loopback port for a process a test starts (a server, Redis, PostgreSQL,
// HAProxy), or 0 when none is left. Asking the kernel for an ephemeral port
// and closing it is not enough: until the child listens, any outgoing
// connection of a test running alongside may be given that same port. So the
// port is taken below the kernel's ephemeral range, where outgoing
// connections never go, and held for the rest of this process by a lock file
// under /tmp/sb-test-ports, so no other test of the run is handed it either.
quint16 freePort();

struct HttpResult
{
    int status = 0;
    QByteArray body;
    QHash<QByteArray, QByteArray> headers; // lower-cased names
    QJsonObject json() const;
};

// Blocking HTTP helpers for tests (they spin the event loop while waiting).
HttpResult httpGet(quint16 port, const QString &path, const QList<QPair<QByteArray, QByteArray>> &headers = {});
HttpResult httpPost(quint16 port, const QString &path, const QByteArray &body,
                    const QList<QPair<QByteArray, QByteArray>> &headers = {});
// Sends raw bytes and returns whatever the server answered before closing.
QByteArray rawExchange(quint16 port, const QByteArray &request, int timeoutMs = 3000);
// A WebSocket upgrade request written by hand (GET `target` with a fresh
// Sec-WebSocket-Key), for answers a QWebSocket does not show: 403, 429, 503.
QByteArray upgradeRequest(const QString &target, const QList<QPair<QByteArray, QByteArray>> &headers = {});
// The status code of a raw HTTP response ("HTTP/1.1 429 …" -> 429); 0 when there is none.
int statusOf(const QByteArray &response);
// A header of a raw HTTP response (name case-insensitive); empty when absent.
QByteArray headerOf(const QByteArray &response, const QByteArray &name);

// The sum of every sample of metric `name` in /metrics whose labels contain
// all of `labelMatchers` (each written as in the exposition: code="bad_json").
double metricValue(quint16 port, const QString &name, const QStringList &labelMatchers = {});

// Config for an in-process server: loopback, ephemeral port, ticker off, the
// given extra settings as command-line flags.
sb::Config testConfig(const QString &dataDir, const QStringList &flags = {});

class TestServer
{
public:
    explicit TestServer(const QStringList &flags = {}, const QString &dataDir = {});
    ~TestServer();

    sb::Server &server() { return *m_server; }
    quint16 port() const { return m_server->port(); }
    QString dataDir() const { return m_dataDir; }
    // Waits until /readyz would say ready.
    bool waitReady(int timeoutMs = 5000);
    void stop();

private:
    std::unique_ptr<QTemporaryDir> m_tmp;
    QString m_dataDir;
    std::unique_ptr<sb::Server> m_server;
};

struct Token
{
    QString token;
    QString clientId;
    QString instance;
};

Token issueToken(quint16 port, const QString &user, const QString &clientId = {}, const QString &role = {},
                 const QString &operatorKey = {});

class TestClient : public QObject
{
    Q_OBJECT
public:
    TestClient();
    ~TestClient() override;

    // Opens /ws?token=… and waits for the welcome (or the close).
    bool open(quint16 port, const QString &token, const QList<QPair<QByteArray, QByteArray>> &headers = {});
    // Token + open in one step.
    bool connectAs(quint16 port, const QString &user, const QString &clientId = {}, const QString &role = {},
                   const QString &operatorKey = {});

    void send(const QJsonObject &frame);
    void sendRaw(const QString &text);
    // Sends with a fresh ref and waits for the ack or error carrying it.
    QJsonObject request(QJsonObject frame, int timeoutMs = 5000);
    // join (with `since` when >= 0) and chat, answered by their ack or error.
    QJsonObject join(const QString &room, qint64 since = -1);
    QJsonObject chat(const QString &room, const QString &text, const QString &nonce = {});
    // Waits for the first received frame (after `from`) matching; removes nothing.
    QJsonObject waitFor(const std::function<bool(const QJsonObject &)> &match, int timeoutMs = 5000);
    QJsonObject waitForType(const QString &type, int timeoutMs = 5000);
    QList<QJsonObject> framesOfType(const QString &type) const;
    bool waitClosed(int timeoutMs = 5000);

    QWebSocket &socket() { return m_socket; }
    const QList<QJsonObject> &frames() const { return m_frames; }
    void clearFrames() { m_frames.clear(); }
    QJsonObject welcome() const { return m_welcome; }
    bool isClosed() const { return m_closed; }
    int closeCode() const { return m_closeCode; }
    QString closeReason() const { return m_closeReason; }

private:
    QWebSocket m_socket;
    QList<QJsonObject> m_frames;
    QJsonObject m_welcome;
    bool m_closed = false;
    int m_closeCode = -1;
    QString m_closeReason;
    int m_nextRef = 1;
};

} // namespace sbtest

// QTEST_GUILESS_MAIN on the event loop the server runs on in production
// (server/epolldispatcher.h), so that in-process servers and test clients
// exercise it too.
#define SB_SERVER_TEST_MAIN(TestClass)                                         \
    int main(int argc, char *argv[])                                           \
    {                                                                          \
        QCoreApplication::setEventDispatcher(new sb::EpollDispatcher);         \
        QCoreApplication app(argc, argv);                                      \
        TestClass test;                                                        \
        QTEST_SET_MAIN_SOURCE_PATH                                             \
        return QTest::qExec(&test, argc, argv);                                \
    }
