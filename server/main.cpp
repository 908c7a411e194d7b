// switchboard-server: parses settings, installs the log format and signal
// handling, then runs one Server (or the cleanup subcommand) on Qt's loop.

#include "config.h"
#include "epolldispatcher.h"
#include "log.h"
#include "server.h"
#include "store/storefactory.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QProcessEnvironment>
#include <QSocketNotifier>
#include <QTimer>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

int g_signalPipe[2] = {-1, -1};

void onSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const auto n = ::write(g_signalPipe[1], &byte, 1);
}

int runCleanup(const sb::Config &config)
{
    auto store = sb::makeStore(config);
    int status = 1;
    QObject::connect(store.get(), &sb::Store::upChanged, qApp, [&](bool up) {
        if (!up) {
            std::fprintf(stderr, "cleanup: the store is unavailable\n");
            QCoreApplication::exit(1);
            return;
        }
        store->cleanup(QDateTime::currentMSecsSinceEpoch(), 7LL * 24 * 3600 * 1000, config.history,
                       [&](const sb::StoreResult<sb::CleanupStats> &r) {
                           if (r.ok) {
                               std::printf("removed %d disconnected sessions, %d old chat messages, %d expired nonces\n",
                                           r.value.sessions, r.value.messages, r.value.nonces);
                               status = 0;
                           } else {
                               std::fprintf(stderr, "cleanup failed: %s\n", qPrintable(r.error));
                           }
                           QCoreApplication::exit(status);
                       });
    });
    store->start();
    QTimer::singleShot(60000, qApp, [] {
        std::fprintf(stderr, "cleanup: timed out waiting for the store\n");
        QCoreApplication::exit(1);
    });
    QCoreApplication::exec();
    return status;
}

// Every connection is a file descriptor, and the usual soft limit (1024)
// is far below what one instance serves: raise it to the hard limit.
void raiseFileLimit()
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        qWarning("cannot read the file descriptor limit: %s", std::strerror(errno));
        return;
    }
    const rlim_t before = limit.rlim_cur;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            qWarning("cannot raise the file descriptor limit from %llu to %llu: %s",
                     static_cast<unsigned long long>(before), static_cast<unsigned long long>(limit.rlim_max),
                     std::strerror(errno));
            return;
        }
    }
    qInfo("file descriptor limit %llu (was %llu): about as many connections",
          static_cast<unsigned long long>(limit.rlim_cur), static_cast<unsigned long long>(before));
}

// SB_EVENT_LOOP / --event-loop, read before the application exists (a
// dispatcher must be installed first); parseConfig() checks the value later.
bool wantsEpoll(int argc, char *argv[])
{
    QByteArray value = qgetenv("SB_EVENT_LOOP");
    for (int i = 1; i < argc; ++i) {
        const QByteArray arg(argv[i]);
        if (arg == "--event-loop" && i + 1 < argc)
            value = argv[++i];
        else if (arg.startsWith("--event-loop="))
            value = arg.mid(int(qstrlen("--event-loop=")));
    }
    return value.trimmed() != "poll";
}

} // namespace

int main(int argc, char *argv[])
{
    // Qt's own UNIX event dispatcher rather than glib's: every socket write
    // toggles that socket's write notifier, and glib removes a poll source by
    // walking the list of all of them, so one chat fanned out to N sockets
    // cost O(N^2) (docs/benchmarks.md). Set before the application exists;
    // an explicit QT_NO_GLIB in the environment is left as it is.
    if (!qEnvironmentVariableIsSet("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");
    // Better still, epoll (epolldispatcher.h): a turn of the loop costs what
    // is ready, not every connection.
    const char *eventLoop = "poll";
    if (wantsEpoll(argc, argv)) {
        auto *dispatcher = new sb::EpollDispatcher;
        if (dispatcher->isValid()) {
            QCoreApplication::setEventDispatcher(dispatcher);
            eventLoop = "epoll";
        } else {
            delete dispatcher;
        }
    }
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("switchboard"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SB_VERSION));

    QStringList args = QCoreApplication::arguments().mid(1);
    QString command = QStringLiteral("serve");
    if (!args.isEmpty() && !args.first().startsWith(QLatin1Char('-')))
        command = args.takeFirst();
    if (args.contains(QStringLiteral("--help")) || args.contains(QStringLiteral("-h"))) {
        std::fputs(qPrintable(sb::helpText(QStringLiteral("switchboard-server"))), stdout);
        return 0;
    }
    if (args.contains(QStringLiteral("--version"))) {
        std::printf("switchboard-server %s\n", SB_VERSION);
        return 0;
    }
    if (command != QLatin1StringView("serve") && command != QLatin1StringView("cleanup")) {
        std::fprintf(stderr, "unknown command \"%s\" (see --help)\n", qPrintable(command));
        return 2;
    }
    const sb::ConfigResult parsed = sb::parseConfig(args, QProcessEnvironment::systemEnvironment().toStringList());
    if (!parsed.config) {
        std::fprintf(stderr, "switchboard-server: %s\n", qPrintable(parsed.error));
        return 2;
    }
    sb::installLogHandler(parsed.config->instanceId, parsed.config->jsonLog);
    if (command == QLatin1StringView("cleanup"))
        return runCleanup(*parsed.config);

    raiseFileLimit();
    qInfo("event loop: %s", eventLoop);
    sb::Server server(*parsed.config);
    QString error;
    if (!server.start(&error)) {
        std::fprintf(stderr, "switchboard-server: cannot start: %s\n", qPrintable(error));
        return 1;
    }

    // Signals arrive through a socket pair so the handler stays async-signal-safe.
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_signalPipe) != 0) {
        std::perror("socketpair");
        return 1;
    }
    int signalsSeen = 0;
    QSocketNotifier notifier(g_signalPipe[0], QSocketNotifier::Read);
    QObject::connect(&notifier, &QSocketNotifier::activated, &server, [&] {
        char byte = 0;
        [[maybe_unused]] const auto n = ::read(g_signalPipe[0], &byte, 1);
        if (++signalsSeen > 1) {
            qWarning("second signal: exiting at once");
            std::_Exit(3);
        }
        qInfo("signal received: draining before exit (a second signal exits at once)");
        server.startDrain(true);
    });
    struct sigaction action = {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    return QCoreApplication::exec();
}
