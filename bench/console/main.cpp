// sb-console-bench: how the operator console holds up against a busy
// cluster (docs/console-benchmark.md). It starts a cluster (sbtest::Cluster:
// Redis, PostgreSQL, N switchboard-server processes) or takes one, runs the
// console's OperatorSession and MainWindow in this process, opens thousands
// of participant connections from cheap child processes (one per instance,
// raw sockets on epoll, see loadgen.h), drives chat at a steady rate, and
// measures the console's event-loop lateness (a 10 ms timer) and CPU time,
// per phase: the connection ramp and the steady state. With --hold it keeps
// the loaded cluster running so that the real switchboard-console can be
// pointed at it (screenshots).

#include "app/operatorsession.h"
#include "cluster.h"
#include "loadgen.h"
#include "loopprobe.h"
#include "ui/mainwindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDockWidget>
#include <QDateTime>
#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSettings>
#include <QStandardPaths>
#include <QTextStream>
#include <QThread>
#include <QTimer>

#include <csignal>
#include <cstdio>
#include <memory>
#include <vector>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

using namespace sbconsolebench;

namespace {

void say(const QString &text)
{
    std::fprintf(stderr, "[%s] %s\n", qPrintable(QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss"))),
                 qPrintable(text));
}

// Times every top-level event the GUI thread dispatches and keeps the slow
// ones by receiver class and event type, with the thread's CPU time, to tell
// work the console does from time it waited for a CPU.
class TimedApplication final : public QApplication
{
public:
    using QApplication::QApplication;

    struct Slow
    {
        int count = 0;
        double maxWallMs = 0;
        double maxCpuMs = 0;
        double totalCpuMs = 0;
    };

    bool notify(QObject *receiver, QEvent *event) override
    {
        // The GUI thread only (the console decodes large frames on a thread of its own).
        if (m_depth > 0 || m_thresholdMs <= 0 || QThread::currentThread() != thread())
            return QApplication::notify(receiver, event);
        ++m_depth;
        const qint64 wall0 = nowNs(CLOCK_MONOTONIC);
        const qint64 cpu0 = nowNs(CLOCK_THREAD_CPUTIME_ID);
        const bool result = QApplication::notify(receiver, event);
        const double wallMs = double(nowNs(CLOCK_MONOTONIC) - wall0) / 1e6;
        const double cpuMs = double(nowNs(CLOCK_THREAD_CPUTIME_ID) - cpu0) / 1e6;
        --m_depth;
        if (wallMs >= m_thresholdMs) {
            QString key = QString::fromLatin1(receiver->metaObject()->className());
            if (!receiver->objectName().isEmpty())
                key += QLatin1Char(' ') + receiver->objectName();
            if (receiver->parent())
                key += QStringLiteral(" in ") + QString::fromLatin1(receiver->parent()->metaObject()->className());
            key += QStringLiteral(" / event ") + QString::number(int(event->type()));
            Slow &s = m_slow[key];
            ++s.count;
            s.maxWallMs = std::max(s.maxWallMs, wallMs);
            s.maxCpuMs = std::max(s.maxCpuMs, cpuMs);
            s.totalCpuMs += cpuMs;
        }
        return result;
    }

    void setThreshold(double ms) { m_thresholdMs = ms; }
    void report(const QString &phase) const
    {
        if (m_slow.isEmpty())
            return;
        say(QStringLiteral("slow events, %1 phase (count, max wall ms, max CPU ms, total CPU ms):").arg(phase));
        for (auto it = m_slow.cbegin(); it != m_slow.cend(); ++it)
            say(QStringLiteral("  %1 × %2: wall %3, cpu %4, total cpu %5")
                    .arg(it->count, 5)
                    .arg(it.key())
                    .arg(it->maxWallMs, 0, 'f', 1)
                    .arg(it->maxCpuMs, 0, 'f', 1)
                    .arg(it->totalCpuMs, 0, 'f', 0));
    }
    void clearSlow() { m_slow.clear(); }
    const QHash<QString, Slow> &slow() const { return m_slow; }

private:
    static qint64 nowNs(clockid_t clock)
    {
        timespec ts{};
        clock_gettime(clock, &ts);
        return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    }

    QHash<QString, Slow> m_slow;
    double m_thresholdMs = 0;
    int m_depth = 0;
};

struct BenchOptions
{
    int connections = 10000;
    int instances = 3;
    double rate = 1000;       // chat messages per second, all workers together
    int roomSize = 10;        // members per room
    int textSize = 48;
    int missPercent = 1;      // connections using another instance's token
    int warmupS = 15;
    int durationS = 60;
    int connectTimeoutS = 300;
    QString redisUrl;          // take this cluster instead of starting one
    QList<QUrl> instanceUrls;
    QString operatorKey;
    QString screenshot;
    QString jsonFile;
    bool hold = false;
    bool noConsole = false;    // no console window here (for --hold with the real console); actions still work
    int drainIndex = -1;       // drain this instance from the console …
    int drainAtS = 10;         // … this many seconds into the measurement
};

struct WorkerStatus
{
    int connected = 0;
    int failed = 0;
    int dropped = 0;
    qint64 sent = 0;
    qint64 received = 0;
};

void wait(int ms)
{
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

QString machineLoad()
{
    QProcess uptime;
    uptime.start(QStringLiteral("uptime"));
    uptime.waitForFinished(2000);
    return QString::fromLocal8Bit(uptime.readAllStandardOutput()).trimmed();
}

// Busy share of all CPUs since `previous` (from /proc/stat), 0..1.
struct CpuTimes
{
    qint64 busy = 0;
    qint64 total = 0;
};
CpuTimes machineCpu()
{
    QFile stat(QStringLiteral("/proc/stat"));
    if (!stat.open(QIODevice::ReadOnly))
        return {};
    const QList<QByteArray> f = stat.readLine().simplified().split(' ');
    CpuTimes t;
    for (qsizetype i = 1; i < f.size(); ++i) {
        const qint64 v = f[i].toLongLong();
        t.total += v;
        if (i != 4 && i != 5) // idle, iowait
            t.busy += v;
    }
    return t;
}

void raiseFileLimit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int runWorkerFromArguments(int argc, char *argv[])
{
    LoadWorkerOptions o;
    for (int i = 1; i + 1 < argc; ++i) {
        const QByteArray key = argv[i];
        const int value = QByteArray(argv[i + 1]).toInt();
        if (key == "--ports") {
            for (const QByteArray &p : QByteArray(argv[i + 1]).split(','))
                o.ports.push_back(p.toInt());
        } else if (key == "--primary") o.primary = value;
        else if (key == "--miss-percent") o.missPercent = value;
        else if (key == "--first-index") o.firstIndex = value;
        else if (key == "--stride") o.stride = value;
        else if (key == "--count") o.count = value;
        else if (key == "--rooms") o.rooms = value;
        else if (key == "--text-size") o.textSize = value;
        else continue;
        ++i;
    }
    return runLoadWorker(o);
}

QJsonObject toJson(const Percentiles &p)
{
    return {{QLatin1StringView("p50_ms"), p.p50},
            {QLatin1StringView("p99_ms"), p.p99},
            {QLatin1StringView("max_ms"), p.max},
            {QLatin1StringView("samples"), qint64(p.samples)}};
}

} // namespace

int main(int argc, char *argv[])
{
    raiseFileLimit();
    for (int i = 1; i < argc; ++i) {
        if (QByteArray(argv[i]) == "--load-worker")
            return runWorkerFromArguments(argc, argv);
    }
    if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY")
        && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    TimedApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("SwitchboardBench"));
    QApplication::setApplicationName(QStringLiteral("sb-console-bench"));
    QStandardPaths::setTestModeEnabled(true); // keep the user's console settings out of it

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Operator console under load: event-loop lateness and CPU."));
    parser.addHelpOption();
    const auto option = [&parser](const char *name, const char *help, const char *value = nullptr) {
        QCommandLineOption o(QString::fromLatin1(name), QString::fromLatin1(help));
        if (value)
            o.setValueName(QString::fromLatin1(value));
        parser.addOption(o);
        return o;
    };
    const auto connections = option("connections", "Participant connections (default 10000).", "n");
    const auto instances = option("instances", "Instances of the cluster it starts (default 3).", "n");
    const auto rate = option("rate", "Chat messages per second (default 1000).", "msgs");
    const auto roomSize = option("room-size", "Members per room (default 10).", "n");
    const auto warmup = option("warmup", "Seconds of load before measuring (default 15).", "s");
    const auto duration = option("duration", "Seconds measured (default 60).", "s");
    const auto misses = option("miss-percent", "Connections that use another instance's token (default 1).", "percent");
    const auto redis = option("redis", "Take this cluster's Redis instead of starting a cluster.", "url");
    const auto instance = option("instance", "An instance of the cluster taken (repeatable).", "url");
    const auto key = option("operator-key", "The operator key of the cluster taken.", "key");
    const auto screenshot = option("screenshot", "Save the console window at the end.", "file");
    const auto json = option("json", "Append the result as one JSON line.", "file");
    const auto hold = option("hold", "After measuring, keep the cluster and the load running until Ctrl-C.");
    const auto noConsole = option("no-console", "No console window here, only the load (use with --hold).");
    const auto drain = option("drain", "Drain this instance (0-based) from the console during the measurement.", "index");
    const auto drainAt = option("drain-at", "Seconds into the measurement for --drain (default 10).", "s");
    const auto hideDock = option("hide-dock", "Hide this dock (MapDock, ChartsDock, …) to see what it costs; repeatable.", "name");
    const auto traceSlow = option("trace-slow", "List events that took longer than this (ms) on the GUI thread.", "ms");
    parser.process(app);

    BenchOptions o;
    if (parser.isSet(connections)) o.connections = parser.value(connections).toInt();
    if (parser.isSet(instances)) o.instances = parser.value(instances).toInt();
    if (parser.isSet(rate)) o.rate = parser.value(rate).toDouble();
    if (parser.isSet(roomSize)) o.roomSize = std::max(1, parser.value(roomSize).toInt());
    if (parser.isSet(warmup)) o.warmupS = parser.value(warmup).toInt();
    if (parser.isSet(duration)) o.durationS = parser.value(duration).toInt();
    if (parser.isSet(misses)) o.missPercent = parser.value(misses).toInt();
    o.redisUrl = parser.value(redis);
    for (const QString &u : parser.values(instance))
        o.instanceUrls.append(QUrl(u));
    o.operatorKey = parser.value(key);
    o.screenshot = parser.value(screenshot);
    o.jsonFile = parser.value(json);
    o.hold = parser.isSet(hold);
    o.noConsole = parser.isSet(noConsole);
    app.setThreshold(parser.value(traceSlow).toDouble());
    if (parser.isSet(drain))
        o.drainIndex = parser.value(drain).toInt();
    if (parser.isSet(drainAt))
        o.drainAtS = parser.value(drainAt).toInt();

    const QString loadBefore = machineLoad();
    say(QStringLiteral("machine before: %1").arg(loadBefore));

    // The cluster: taken, or started here.
    std::unique_ptr<sbtest::Cluster> cluster;
    if (o.redisUrl.isEmpty()) {
        cluster = std::make_unique<sbtest::Cluster>(sbtest::Cluster::Options{o.instances, false, {}});
        say(QStringLiteral("starting Redis, PostgreSQL and %1 instances…").arg(o.instances));
        if (!cluster->start()) {
            say(QStringLiteral("cluster did not start: %1").arg(cluster->error()));
            return 1;
        }
        o.redisUrl = cluster->redisUrl();
        o.operatorKey = sbtest::Cluster::operatorKey();
        for (int i = 0; i < o.instances; ++i)
            o.instanceUrls.append(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(cluster->port(i))));
    }
    if (o.instanceUrls.isEmpty()) {
        say(QStringLiteral("give --instance URLs with --redis"));
        return 2;
    }
    const int instanceCount = static_cast<int>(o.instanceUrls.size());
    say(QStringLiteral("cluster: %1, instances %2").arg(o.redisUrl, [&] {
        QStringList s;
        for (const QUrl &u : std::as_const(o.instanceUrls))
            s.append(u.toString());
        return s.join(QLatin1Char(' '));
    }()));

    // The console, as `switchboard-console --redis … --instance …` runs it.
    std::unique_ptr<sb::console::OperatorSession> session;
    std::unique_ptr<sb::console::MainWindow> window;
    LoopProbe probe;
    session = std::make_unique<sb::console::OperatorSession>();
    session->setOperatorKey(o.operatorKey);
    session->setRedis(*sb::RedisAddress::fromUrl(o.redisUrl));
    for (const QUrl &u : std::as_const(o.instanceUrls))
        session->addInstance(u);
    if (!o.noConsole) {
        window = std::make_unique<sb::console::MainWindow>(*session);
        window->resize(1600, 1000);
    }
    session->start();
    if (window) {
        window->show();
        for (const QString &name : parser.values(hideDock)) {
            if (auto *dock = window->findChild<QDockWidget *>(name))
                dock->hide();
        }
    }
    probe.start();
    double cpuMark = LoopProbe::cpuSeconds();
    QElapsedTimer phaseClock;
    phaseClock.start();

    // The load: one worker process per instance, its share of the connections.
    const int rooms = std::max(1, o.connections / o.roomSize);
    std::vector<std::unique_ptr<QProcess>> workers;
    std::vector<WorkerStatus> status(static_cast<std::size_t>(instanceCount));
    QStringList ports;
    for (const QUrl &u : std::as_const(o.instanceUrls))
        ports.append(QString::number(u.port()));
    for (int i = 0; i < instanceCount; ++i) {
        auto worker = std::make_unique<QProcess>();
        worker->setProcessChannelMode(QProcess::SeparateChannels);
        worker->setReadChannel(QProcess::StandardOutput);
        const int count = o.connections / instanceCount + (i < o.connections % instanceCount ? 1 : 0);
        QObject::connect(worker.get(), &QProcess::readyReadStandardOutput, worker.get(), [w = worker.get(), &status, i] {
            while (w->canReadLine()) {
                const QList<QByteArray> f = w->readLine().simplified().split(' ');
                if (f.size() >= 10 && f[0] == "connected") {
                    WorkerStatus &s = status[static_cast<std::size_t>(i)];
                    s.connected = f[1].toInt();
                    s.failed = f[3].toInt();
                    s.dropped = f[5].toInt();
                    s.sent = f[7].toLongLong();
                    s.received = f[9].toLongLong();
                }
            }
        });
        QObject::connect(worker.get(), &QProcess::readyReadStandardError, worker.get(), [w = worker.get()] {
            const QByteArray text = w->readAllStandardError();
            std::fprintf(stderr, "worker: %s", text.constData());
        });
        worker->start(QCoreApplication::applicationFilePath(),
                      {QStringLiteral("--load-worker"), QStringLiteral("--ports"), ports.join(QLatin1Char(',')),
                       QStringLiteral("--primary"), QString::number(i), QStringLiteral("--miss-percent"),
                       QString::number(o.missPercent),
                       QStringLiteral("--first-index"), QString::number(i), QStringLiteral("--stride"),
                       QString::number(instanceCount), QStringLiteral("--count"), QString::number(count),
                       QStringLiteral("--rooms"), QString::number(rooms), QStringLiteral("--text-size"),
                       QString::number(o.textSize)});
        workers.push_back(std::move(worker));
    }
    const auto totals = [&status] {
        WorkerStatus t;
        for (const WorkerStatus &s : status) {
            t.connected += s.connected;
            t.failed += s.failed;
            t.dropped += s.dropped;
            t.sent += s.sent;
            t.received += s.received;
        }
        return t;
    };

    // Phase 1: the connection ramp.
    say(QStringLiteral("opening %1 connections in %2 rooms…").arg(o.connections).arg(rooms));
    QElapsedTimer ramp;
    ramp.start();
    while (totals().connected + totals().failed < o.connections && ramp.elapsed() < o.connectTimeoutS * 1000LL) {
        wait(1000);
        if (ramp.elapsed() / 1000 % 5 == 0)
            say(QStringLiteral("  %1 connected, %2 failed; console shows %3 connections")
                    .arg(totals().connected)
                    .arg(totals().failed)
                    .arg(session ? session->connections().rowCount() : 0));
    }
    const qint64 rampMs = ramp.elapsed();
    // The console has caught up once it lists every participant (plus its own operator sockets).
    QElapsedTimer converge;
    converge.start();
    while (session && session->connections().rowCount() - instanceCount < totals().connected && converge.elapsed() < 60000)
        wait(200);
    const qint64 convergeMs = session ? converge.elapsed() : 0;
    const Percentiles rampLateness = probe.lateness();
    const double rampCpu = (LoopProbe::cpuSeconds() - cpuMark) / (double(phaseClock.elapsed()) / 1000.0);
    say(QStringLiteral("ramp: %1 connected in %2 s (%3 failed); console caught up %4 ms later; loop p99 %5 ms, max %6 ms, CPU %7 %")
            .arg(totals().connected)
            .arg(double(rampMs) / 1000.0, 0, 'f', 1)
            .arg(totals().failed)
            .arg(convergeMs)
            .arg(rampLateness.p99, 0, 'f', 1)
            .arg(rampLateness.max, 0, 'f', 1)
            .arg(rampCpu * 100, 0, 'f', 0));

    // Phase 2: steady chat.
    for (auto &w : workers)
        w->write(QStringLiteral("post %1\n").arg(o.rate / instanceCount).toUtf8());
    say(QStringLiteral("posting %1 msg/s; warming up %2 s…").arg(o.rate).arg(o.warmupS));
    wait(o.warmupS * 1000);

    probe.reset();
    app.report(QStringLiteral("ramp and warm-up"));
    app.clearSlow();
    cpuMark = LoopProbe::cpuSeconds();
    phaseClock.restart();
    const CpuTimes machineMark = machineCpu();
    const WorkerStatus loadMark = totals();
    const qint64 envelopesMark = session ? session->redis().envelopesSeen() : 0;
    say(QStringLiteral("measuring %1 s…").arg(o.durationS));
    if (session && o.drainIndex >= 0 && o.drainIndex < instanceCount && o.drainAtS < o.durationS) {
        wait(o.drainAtS * 1000);
        say(QStringLiteral("draining %1 from the console").arg(o.instanceUrls[o.drainIndex].toString()));
        session->drain(o.instanceUrls[o.drainIndex], session.get(), [](const sb::console::Reply &reply) {
            say(reply.ok ? QStringLiteral("drain acknowledged") : QStringLiteral("drain failed: %1").arg(reply.text));
        });
        wait((o.durationS - o.drainAtS) * 1000);
    } else {
        wait(o.durationS * 1000);
    }
    const double seconds = double(phaseClock.elapsed()) / 1000.0;
    const Percentiles steady = probe.lateness();
    const double steadyCpu = (LoopProbe::cpuSeconds() - cpuMark) / seconds;
    const CpuTimes machineNow = machineCpu();
    const double machineBusy = double(machineNow.busy - machineMark.busy) / double(std::max<qint64>(1, machineNow.total - machineMark.total));
    const WorkerStatus loadNow = totals();
    const double sentPerS = double(loadNow.sent - loadMark.sent) / seconds;
    const double receivedPerS = double(loadNow.received - loadMark.received) / seconds;
    const double envelopesPerS = session ? double(session->redis().envelopesSeen() - envelopesMark) / seconds : 0;
    const QString loadAfter = machineLoad();

    QJsonObject result{{QLatin1StringView("when"), QDateTime::currentDateTime().toString(Qt::ISODate)},
                       {QLatin1StringView("connections"), o.connections},
                       {QLatin1StringView("connected"), loadNow.connected},
                       {QLatin1StringView("failed"), loadNow.failed},
                       {QLatin1StringView("dropped"), loadNow.dropped},
                       {QLatin1StringView("instances"), instanceCount},
                       {QLatin1StringView("rooms"), rooms},
                       {QLatin1StringView("rate_asked"), o.rate},
                       {QLatin1StringView("chat_sent_per_s"), sentPerS},
                       {QLatin1StringView("frames_received_per_s"), receivedPerS},
                       {QLatin1StringView("envelopes_seen_per_s"), envelopesPerS},
                       {QLatin1StringView("console_rows"), session ? session->connections().rowCount() : 0},
                       {QLatin1StringView("qpa"), QGuiApplication::platformName()},
                       {QLatin1StringView("ramp_s"), double(rampMs) / 1000.0},
                       {QLatin1StringView("ramp_console_catch_up_ms"), convergeMs},
                       {QLatin1StringView("ramp_loop"), toJson(rampLateness)},
                       {QLatin1StringView("ramp_cpu_cores"), rampCpu},
                       {QLatin1StringView("steady_s"), seconds},
                       {QLatin1StringView("steady_loop"), toJson(steady)},
                       {QLatin1StringView("steady_cpu_cores"), steadyCpu},
                       {QLatin1StringView("machine_busy"), machineBusy},
                       {QLatin1StringView("uptime_before"), loadBefore},
                       {QLatin1StringView("uptime_after"), loadAfter}};
    const QByteArray line = QJsonDocument(result).toJson(QJsonDocument::Compact);
    std::printf("%s\n", line.constData());
    std::fflush(stdout);
    if (!o.jsonFile.isEmpty()) {
        QFile out(o.jsonFile);
        if (out.open(QIODevice::Append))
            out.write(line + '\n');
    }
    say(QStringLiteral("steady: %1 chat/s sent, %2 frames/s received by the clients, %3 envelopes/s seen by the console")
            .arg(sentPerS, 0, 'f', 0)
            .arg(receivedPerS, 0, 'f', 0)
            .arg(envelopesPerS, 0, 'f', 0));
    say(QStringLiteral("console event loop: p50 %1 ms, p99 %2 ms, max %3 ms (%4 samples); CPU %5 of one core; machine %6 % busy")
            .arg(steady.p50, 0, 'f', 2)
            .arg(steady.p99, 0, 'f', 2)
            .arg(steady.max, 0, 'f', 1)
            .arg(steady.samples)
            .arg(steadyCpu, 0, 'f', 2)
            .arg(machineBusy * 100, 0, 'f', 0));
    say(QStringLiteral("machine after: %1").arg(loadAfter));
    app.report(QStringLiteral("steady"));

    if (window && !o.screenshot.isEmpty()) {
        // The window as it is, then with each tabbed dock in front (name-stickiness.png, …).
        const auto save = [&window](const QString &file) {
            const bool saved = window->grab().save(file);
            say(QStringLiteral("%1 %2").arg(saved ? QStringLiteral("saved") : QStringLiteral("could not save"), file));
        };
        save(o.screenshot);
        const QString stem = o.screenshot.endsWith(QLatin1StringView(".png")) ? o.screenshot.chopped(4) : o.screenshot;
        for (const auto &[dock, suffix] : {std::pair{"StickinessDock", "-stickiness.png"}, std::pair{"FlowDock", "-flow.png"}}) {
            if (auto *d = window->findChild<QDockWidget *>(QString::fromLatin1(dock))) {
                d->raise();
                wait(1500);
                save(stem + QLatin1String(suffix));
            }
        }
    }

    if (o.hold) {
        QStringList args{QStringLiteral("--redis"), o.redisUrl, QStringLiteral("--operator-key"), o.operatorKey};
        for (const QUrl &u : std::as_const(o.instanceUrls))
            args << QStringLiteral("--instance") << u.toString();
        say(QStringLiteral("holding the loaded cluster; Ctrl-C ends. Console:\n  switchboard-console %1").arg(args.join(QLatin1Char(' '))));
        std::signal(SIGINT, [](int) { QCoreApplication::quit(); });
        std::signal(SIGTERM, [](int) { QCoreApplication::quit(); });
        QApplication::exec();
    }
    for (auto &w : workers) {
        w->write("stop\n");
        w->waitForFinished(3000);
    }
    window.reset();
    session.reset();
    return 0;
}
