// The server's epoll event dispatcher (server/epolldispatcher.h) against what
// Qt's own dispatcher promises: timers, posted events from other threads,
// socket notifiers that are disabled, deleted or whose descriptor is reused
// while their events are being handled, and real TCP traffic.

#include "epolldispatcher.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QPointer>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <thread>

using namespace sb;

namespace {

// A connected pair of UNIX stream sockets, closed at the end of the scope.
struct SocketPair
{
    int fds[2] = {-1, -1};
    SocketPair() { QVERIFY(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0); }
    ~SocketPair()
    {
        for (int fd : fds)
            if (fd >= 0)
                ::close(fd);
    }
    void send(char byte = 'x') const { QCOMPARE(::write(fds[1], &byte, 1), 1); }
};

} // namespace

class TstEpollDispatcher : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void isInstalled();
    void timersFire();
    void postedEventFromAnotherThreadWakesTheLoop();
    void readNotifierFollowsTheData();
    void disabledNotifierStaysQuiet();
    void writeNotifier();
    void notifierDeletedByAnEarlierHandler();
    void reusedDescriptorGetsNoStaleEvent();
    void tcpEcho();
};

void TstEpollDispatcher::isInstalled()
{
    QVERIFY(qobject_cast<EpollDispatcher *>(QCoreApplication::eventDispatcher()));
}

void TstEpollDispatcher::timersFire()
{
    int ticks = 0;
    QTimer repeating;
    repeating.setInterval(5);
    connect(&repeating, &QTimer::timeout, this, [&] { ++ticks; });
    repeating.start();
    bool single = false;
    QTimer::singleShot(30, this, [&] { single = true; });
    QTimer zero;
    zero.setSingleShot(true);
    bool zeroFired = false;
    connect(&zero, &QTimer::timeout, this, [&] { zeroFired = true; });
    zero.start(0);
    QVERIFY(repeating.remainingTime() >= 0);
    QTRY_VERIFY(single);
    QVERIFY(zeroFired);
    QTRY_VERIFY(ticks >= 3);
    repeating.stop();
    const int stopped = ticks;
    QTest::qWait(30);
    QCOMPARE(ticks, stopped);
}

void TstEpollDispatcher::postedEventFromAnotherThreadWakesTheLoop()
{
    // The loop blocks in epoll with no timer due; only the other thread's
    // post can end the wait.
    QEventLoop loop;
    QElapsedTimer clock;
    clock.start();
    std::thread poster([&loop] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        QMetaObject::invokeMethod(&loop, [&loop] { loop.quit(); }, Qt::QueuedConnection);
    });
    QTimer guard;
    guard.setSingleShot(true);
    bool timedOut = false;
    connect(&guard, &QTimer::timeout, &loop, [&] {
        timedOut = true;
        loop.quit();
    });
    guard.start(10000);
    loop.exec();
    poster.join();
    QVERIFY(!timedOut);
}

void TstEpollDispatcher::readNotifierFollowsTheData()
{
    SocketPair pair;
    QSocketNotifier notifier(pair.fds[0], QSocketNotifier::Read);
    int activations = 0;
    connect(&notifier, &QSocketNotifier::activated, this, [&] {
        ++activations;
        char buffer[16];
        while (::read(pair.fds[0], buffer, sizeof buffer) > 0) {
        }
    });
    QTest::qWait(20);
    QCOMPARE(activations, 0);
    pair.send();
    QTRY_COMPARE(activations, 1);
    QTest::qWait(20);
    QCOMPARE(activations, 1); // drained: level-triggered, but nothing left
    pair.send();
    QTRY_COMPARE(activations, 2);
}

void TstEpollDispatcher::disabledNotifierStaysQuiet()
{
    SocketPair pair;
    QSocketNotifier notifier(pair.fds[0], QSocketNotifier::Read);
    int activations = 0;
    connect(&notifier, &QSocketNotifier::activated, this, [&] {
        ++activations;
        char byte;
        [[maybe_unused]] const auto n = ::read(pair.fds[0], &byte, 1);
    });
    notifier.setEnabled(false);
    pair.send();
    QTest::qWait(30);
    QCOMPARE(activations, 0);
    notifier.setEnabled(true);
    QTRY_COMPARE(activations, 1);
}

void TstEpollDispatcher::writeNotifier()
{
    SocketPair pair;
    // A reader and a writer on one descriptor share one kernel registration.
    QSocketNotifier reader(pair.fds[0], QSocketNotifier::Read);
    QSocketNotifier writer(pair.fds[0], QSocketNotifier::Write);
    int readable = 0;
    int writable = 0;
    connect(&reader, &QSocketNotifier::activated, this, [&] {
        ++readable;
        char byte;
        [[maybe_unused]] const auto n = ::read(pair.fds[0], &byte, 1);
    });
    connect(&writer, &QSocketNotifier::activated, this, [&] {
        ++writable;
        writer.setEnabled(false);
    });
    QTRY_COMPARE(writable, 1);
    pair.send();
    QTRY_COMPARE(readable, 1);
    QCOMPARE(writable, 1);
    writer.setEnabled(true);
    QTRY_COMPARE(writable, 2);
}

void TstEpollDispatcher::notifierDeletedByAnEarlierHandler()
{
    // Both are ready in the same turn; whichever runs first deletes the
    // other, which then must not be called.
    SocketPair a;
    SocketPair b;
    auto first = std::make_unique<QSocketNotifier>(a.fds[0], QSocketNotifier::Read);
    auto second = std::make_unique<QSocketNotifier>(b.fds[0], QSocketNotifier::Read);
    int calls = 0;
    auto drain = [](int fd) {
        char byte;
        [[maybe_unused]] const auto n = ::read(fd, &byte, 1);
    };
    connect(first.get(), &QSocketNotifier::activated, this, [&] {
        ++calls;
        drain(a.fds[0]);
        second.reset();
    });
    connect(second.get(), &QSocketNotifier::activated, this, [&] {
        ++calls;
        drain(b.fds[0]);
        first.reset();
    });
    a.send();
    b.send();
    QTRY_COMPARE(calls, 1);
    QTest::qWait(30);
    QCOMPARE(calls, 1);
}

void TstEpollDispatcher::reusedDescriptorGetsNoStaleEvent()
{
    // A handler closes a ready descriptor and opens another that gets the
    // same number; the old event (still in this turn's list) must not reach
    // the new descriptor's notifier.
    SocketPair a;
    SocketPair b;
    auto closer = std::make_unique<QSocketNotifier>(a.fds[0], QSocketNotifier::Read);
    auto victim = std::make_unique<QSocketNotifier>(b.fds[0], QSocketNotifier::Read);
    std::unique_ptr<SocketPair> fresh;
    std::unique_ptr<QSocketNotifier> reused;
    int reusedCalls = 0;
    bool swapped = false;
    auto swap = [&](std::unique_ptr<QSocketNotifier> &other, int otherFd) {
        if (swapped)
            return;
        swapped = true;
        other.reset();
        ::close(otherFd);
        (otherFd == a.fds[0] ? a.fds[0] : b.fds[0]) = -1;
        // A fresh socket under the number just closed.
        fresh = std::make_unique<SocketPair>();
        if (fresh->fds[0] != otherFd) {
            QVERIFY(::dup2(fresh->fds[0], otherFd) == otherFd);
            ::close(fresh->fds[0]);
            fresh->fds[0] = otherFd;
        }
        reused = std::make_unique<QSocketNotifier>(fresh->fds[0], QSocketNotifier::Read);
        connect(reused.get(), &QSocketNotifier::activated, this, [&] {
            ++reusedCalls;
            char byte;
            [[maybe_unused]] const auto n = ::read(fresh->fds[0], &byte, 1);
        });
    };
    const int aFd = a.fds[0];
    const int bFd = b.fds[0];
    connect(closer.get(), &QSocketNotifier::activated, this, [&, bFd] {
        char byte;
        [[maybe_unused]] const auto n = ::read(aFd, &byte, 1);
        swap(victim, bFd);
    });
    connect(victim.get(), &QSocketNotifier::activated, this, [&, aFd] {
        char byte;
        [[maybe_unused]] const auto n = ::read(bFd, &byte, 1);
        swap(closer, aFd);
    });
    a.send();
    b.send();
    QTRY_VERIFY(swapped);
    QTest::qWait(50);
    QCOMPARE(reusedCalls, 0); // nothing was written to the fresh pair
    fresh->send();
    QTRY_COMPARE(reusedCalls, 1);
}

void TstEpollDispatcher::tcpEcho()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost));
    QList<QTcpSocket *> accepted;
    connect(&server, &QTcpServer::newConnection, this, [&] {
        while (QTcpSocket *peer = server.nextPendingConnection()) {
            accepted.append(peer);
            connect(peer, &QTcpSocket::readyRead, peer, [peer] { peer->write(peer->readAll()); });
        }
    });
    constexpr int clients = 20;
    const QByteArray payload(256 * 1024, 'z');
    std::vector<std::unique_ptr<QTcpSocket>> sockets;
    std::vector<QByteArray> echoed(clients);
    for (int i = 0; i < clients; ++i) {
        sockets.push_back(std::make_unique<QTcpSocket>());
        QTcpSocket *socket = sockets.back().get();
        connect(socket, &QTcpSocket::readyRead, this, [socket, &echoed, i] { echoed[i] += socket->readAll(); });
        socket->connectToHost(QHostAddress::LocalHost, server.serverPort());
        socket->write(payload);
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(echoed.begin(), echoed.end(),
                                         [&](const QByteArray &e) { return e.size() == payload.size(); }),
                             20000);
    for (const QByteArray &e : echoed)
        QCOMPARE(e, payload);
    qDeleteAll(accepted);
}

int main(int argc, char *argv[])
{
    QCoreApplication::setEventDispatcher(new EpollDispatcher);
    QCoreApplication app(argc, argv);
    TstEpollDispatcher test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_epolldispatcher.moc"
