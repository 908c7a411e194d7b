// sb-fanout-bench: the fan-out load generator behind docs/benchmarks.md.
// The main thread coordinates the phases — connect, settle, post, drain — and
// measures; the Workers on their own threads do all socket work. See
// `sb-fanout-bench --help` and bench/run.sh.

#include "clock.h"
#include "options.h"
#include "plan.h"
#include "procstats.h"
#include "worker.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QHostInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QThread>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>

using namespace sbbench;

namespace {

struct Percentiles
{
    double p50 = 0, p95 = 0, p99 = 0, max = 0; // milliseconds
};

Percentiles percentiles(std::vector<qint32> samplesUs)
{
    Percentiles p;
    if (samplesUs.empty())
        return p;
    std::sort(samplesUs.begin(), samplesUs.end());
    const auto at = [&](double q) {
        const auto rank = static_cast<std::size_t>(q * static_cast<double>(samplesUs.size()));
        return static_cast<double>(samplesUs[std::min(rank, samplesUs.size() - 1)]) / 1000.0;
    };
    p.p50 = at(0.50);
    p.p95 = at(0.95);
    p.p99 = at(0.99);
    p.max = static_cast<double>(samplesUs.back()) / 1000.0;
    return p;
}

QJsonObject toJson(const Percentiles &p)
{
    return {{QLatin1StringView("p50"), p.p50},
            {QLatin1StringView("p95"), p.p95},
            {QLatin1StringView("p99"), p.p99},
            {QLatin1StringView("max"), p.max}};
}

double seconds(qint64 ns)
{
    return static_cast<double>(ns) / 1e9;
}

double mib(qint64 kib)
{
    return static_cast<double>(kib) / 1024.0;
}

QString loadAverage()
{
    QFile file(QStringLiteral("/proc/loadavg"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    const QList<QByteArray> parts = file.readAll().split(' ');
    return parts.size() >= 3 ? QString::fromLatin1(parts[0] + ' ' + parts[1] + ' ' + parts[2]) : QString();
}

// Polls `done` every 10 ms; false when `timeoutMs` passed first.
bool waitUntil(const std::function<bool()> &done, qint64 timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() >= timeoutMs)
            return false;
        QThread::msleep(10);
    }
    return true;
}

// The watched processes (--server-pid), sampled together: one ProcessSample each.
struct ServerSample
{
    std::vector<ProcessSample> processes;

    bool ok() const
    {
        return std::any_of(processes.begin(), processes.end(), [](const ProcessSample &p) { return p.ok; });
    }
    qint64 rssKiB() const { return total(&ProcessSample::rssKiB); }
    qint64 peakRssKiB() const { return total(&ProcessSample::peakRssKiB); }
    // CPU seconds from `before` to this sample, per process; 0 for one gone in between.
    std::vector<double> cpuSince(const ServerSample &before) const
    {
        std::vector<double> cpu(processes.size(), 0.0);
        for (std::size_t i = 0; i < processes.size() && i < before.processes.size(); ++i) {
            if (processes[i].ok && before.processes[i].ok)
                cpu[i] = processes[i].cpuSeconds - before.processes[i].cpuSeconds;
        }
        return cpu;
    }

private:
    qint64 total(qint64 ProcessSample::*field) const
    {
        qint64 sum = 0;
        for (const ProcessSample &p : processes)
            sum += p.*field;
        return sum;
    }
};

void say(const QString &line)
{
    std::fprintf(stderr, "%s\n", qPrintable(line));
    std::fflush(stderr);
}

class Coordinator
{
public:
    explicit Coordinator(Plan plan)
        : m_plan(std::move(plan))
    {
        for (const qint64 pid : std::as_const(m_plan.options.serverPids))
            m_serverNames.append(processName(pid));
        for (int t = 0; t < m_plan.options.threads; ++t) {
            auto worker = std::make_unique<Worker>(m_plan, t);
            std::unique_ptr<QThread> thread(QThread::create(&Worker::run, worker.get()));
            thread->setObjectName(QStringLiteral("fanout-%1").arg(t));
            thread->start();
            m_workers.push_back(worker.get());
            m_owned.push_back(std::move(worker));
            m_threads.push_back(std::move(thread));
        }
    }

    ~Coordinator()
    {
        for (Worker *worker : m_workers) {
            worker->invoke([worker] { worker->closeAll(); });
            worker->quit();
        }
        for (const auto &thread : m_threads)
            thread->wait();
    }

    int run();
    int reportIdle(int ready, qint64 connectNs, const ServerSample &before, const ServerSample &after);

private:
    template<typename T>
    T sum(std::atomic<T> Worker::*counter) const
    {
        T total = 0;
        for (const Worker *worker : m_workers)
            total += (worker->*counter).load(std::memory_order_relaxed);
        return total;
    }
    bool allSendingDone() const
    {
        return std::all_of(m_workers.begin(), m_workers.end(), [](const Worker *w) { return w->sendingDone.load(); });
    }
    qint64 lastFrameNs() const
    {
        qint64 last = 0;
        for (const Worker *worker : m_workers)
            last = qMax(last, worker->lastFrameNs.load(std::memory_order_relaxed));
        return last;
    }
    ServerSample server() const
    {
        ServerSample sample;
        for (const qint64 pid : std::as_const(m_plan.options.serverPids))
            sample.processes.push_back(sampleProcess(pid));
        return sample;
    }
    QString serverName(std::size_t i) const
    {
        return QStringLiteral("%1 (pid %2)").arg(m_serverNames.value(static_cast<qsizetype>(i))).arg(m_plan.options.serverPids.value(static_cast<qsizetype>(i)));
    }

    Plan m_plan;
    std::vector<std::unique_ptr<Worker>> m_owned; // destroyed after the threads stopped
    std::vector<std::unique_ptr<QThread>> m_threads;
    std::vector<Worker *> m_workers;
    QStringList m_serverNames; // per --server-pid, read at the start
};

int Coordinator::reportIdle(int ready, qint64 connectNs, const ServerSample &before, const ServerSample &after)
{
    const Options &o = m_plan.options;
    const double perConnectionKiB = ready > 0 ? static_cast<double>(after.rssKiB() - before.rssKiB()) / ready : 0;
    say(QStringLiteral("ramp: %1 connections/s").arg(ready / seconds(connectNs), 0, 'f', 0));
    if (after.ok())
        say(QStringLiteral("server memory MiB: idle %1, connected %2: %3 KiB per connection")
                .arg(mib(before.rssKiB()), 0, 'f', 1)
                .arg(mib(after.rssKiB()), 0, 'f', 1)
                .arg(perConnectionKiB, 0, 'f', 1));
    if (!o.jsonFile.isEmpty()) {
        QFile file(o.jsonFile);
        if (file.open(QIODevice::Append | QIODevice::Text))
            file.write(QJsonDocument(QJsonObject{{QLatin1StringView("label"), o.label},
                                                 {QLatin1StringView("idle"), true},
                                                 {QLatin1StringView("clients"), o.clients},
                                                 {QLatin1StringView("ready"), ready},
                                                 {QLatin1StringView("servers"), static_cast<int>(o.urls.size())},
                                                 {QLatin1StringView("connect_s"), seconds(connectNs)},
                                                 {QLatin1StringView("connect_per_s"), ready / seconds(connectNs)},
                                                 {QLatin1StringView("server_rss_idle_mib"), mib(before.rssKiB())},
                                                 {QLatin1StringView("server_rss_connected_mib"), mib(after.rssKiB())},
                                                 {QLatin1StringView("kib_per_connection"), perConnectionKiB}})
                           .toJson(QJsonDocument::Compact)
                       + '\n');
    }
    if (o.lingerMs > 0)
        QThread::msleep(static_cast<unsigned long>(o.lingerMs));
    return ready == o.clients ? 0 : 3;
}

int Coordinator::run()
{
    const Options &o = m_plan.options;
    const QString loadBefore = loadAverage();
    say(QStringLiteral("== %1: %2 clients, %3 room(s), %4 posters x %5 messages at %6, text %7 B, %8 thread(s), %9 server(s); load %10")
            .arg(o.label)
            .arg(o.clients)
            .arg(o.rooms)
            .arg(o.posters)
            .arg(o.messages)
            .arg(o.rate > 0 ? QStringLiteral("%1 msg/s").arg(o.rate) : QStringLiteral("full speed (window %1)").arg(o.window))
            .arg(o.textSize)
            .arg(o.threads)
            .arg(o.urls.size())
            .arg(loadBefore));
    const ServerSample serverIdle = server();

    // Connect (and for switchboard: token, welcome, join).
    const qint64 connectStart = nowNs();
    const int perWorker = qMax(1, o.connectConcurrency / o.threads);
    for (Worker *worker : m_workers)
        worker->post([worker, perWorker] { worker->connectAll(perWorker); });
    const bool connected = waitUntil([&] { return sum(&Worker::ready) + sum(&Worker::failed) >= o.clients; }, 600000);
    const qint64 connectNs = nowNs() - connectStart;
    const int ready = sum(&Worker::ready);
    const int failed = o.clients - ready;
    const double connectPerS = connectNs > 0 ? ready / seconds(connectNs) : 0;
    say(QStringLiteral("connect: %1 of %2 ready in %3 s, %4 connections/s (%5 failed%6)")
            .arg(ready)
            .arg(o.clients)
            .arg(seconds(connectNs), 0, 'f', 2)
            .arg(connectPerS, 0, 'f', 0)
            .arg(failed)
            .arg(connected ? QString() : QStringLiteral(", timed out")));
    const ServerSample serverConnected = server();
    if (o.idle)
        return reportIdle(ready, connectNs, serverIdle, serverConnected);

    // Settle: join presence fans out O(clients^2) frames on switchboard; let it pass.
    const qint64 settleStart = nowNs();
    waitUntil([&] { return nowNs() - qMax(lastFrameNs(), settleStart) >= qint64(o.settleMs) * 1000000; }, 600000);
    const qint64 settleNs = nowNs() - settleStart;
    say(QStringLiteral("settle: %1 s").arg(seconds(settleNs), 0, 'f', 2));

    std::vector<int> members(static_cast<std::size_t>(o.rooms), 0);
    for (Worker *worker : m_workers) {
        std::vector<int> part;
        worker->invoke([worker, &part] { part = worker->readyPerRoom(); });
        for (std::size_t r = 0; r < members.size(); ++r)
            members[r] += part[r];
    }

    // Post, then wait until every owed delivery arrived (or the drain timeout).
    const ServerSample serverBefore = server();
    const ProcessSample selfBefore = sampleProcess(0);
    const qint64 phaseStart = nowNs();
    const qint64 t0 = phaseStart + 50 * 1000000;
    for (Worker *worker : m_workers)
        worker->post([worker, t0, members] { worker->startPosting(t0, members); });
    qint64 sendingDoneNs = 0;
    const bool complete = waitUntil(
        [&] {
            if (!allSendingDone())
                return false;
            if (sendingDoneNs == 0)
                sendingDoneNs = nowNs();
            return sum(&Worker::deliveries) >= sum(&Worker::expected)
                   || nowNs() - sendingDoneNs > qint64(o.drainTimeoutS) * 1000000000;
        },
        3600 * 1000);
    const qint64 phaseNs = nowNs() - phaseStart;
    const ServerSample serverAfter = server();
    const ProcessSample selfAfter = sampleProcess(0);
    const QString loadAfter = loadAverage();

    // Merge the workers' reports.
    WorkerReport total;
    for (Worker *worker : m_workers) {
        WorkerReport part;
        worker->invoke([worker, &part] { part = worker->report(); });
        total.latencyUs.insert(total.latencyUs.end(), part.latencyUs.begin(), part.latencyUs.end());
        total.ackLatencyUs.insert(total.ackLatencyUs.end(), part.ackLatencyUs.begin(), part.ackLatencyUs.end());
        total.sent += part.sent;
        total.refused += part.refused;
        total.delivered += part.delivered;
        total.duplicates += part.duplicates;
        total.outOfOrder += part.outOfOrder;
        total.otherFrames += part.otherFrames;
        total.closedAfterReady += part.closedAfterReady;
        total.firstSendNs = total.firstSendNs == 0 ? part.firstSendNs
                                                   : (part.firstSendNs == 0 ? total.firstSendNs
                                                                            : qMin(total.firstSendNs, part.firstSendNs));
        total.lastSendNs = qMax(total.lastSendNs, part.lastSendNs);
        total.lastDeliveryNs = qMax(total.lastDeliveryNs, part.lastDeliveryNs);
        total.problems += part.problems;
    }
    const qint64 expected = sum(&Worker::expected);
    const qint64 lost = qMax<qint64>(0, expected - total.delivered);
    const qint64 sendNs = total.lastSendNs - total.firstSendNs;
    const qint64 deliveryNs = total.lastDeliveryNs - total.firstSendNs;
    const double deliveriesPerS = deliveryNs > 0 ? static_cast<double>(total.delivered) / seconds(deliveryNs) : 0;
    const Percentiles latency = percentiles(std::move(total.latencyUs));
    const Percentiles ack = percentiles(std::move(total.ackLatencyUs));
    const std::vector<double> serverCpuEach = serverAfter.cpuSince(serverBefore);
    const double serverCpu = std::accumulate(serverCpuEach.begin(), serverCpuEach.end(), 0.0);
    const double serverCpuUsPerDelivery = total.delivered > 0 ? serverCpu * 1e6 / static_cast<double>(total.delivered) : 0;
    const double selfCpu = selfAfter.cpuSeconds - selfBefore.cpuSeconds;

    for (const QString &problem : std::as_const(total.problems))
        say(QStringLiteral("  problem: ") + problem);
    say(QStringLiteral("messages: %1 sent in %2 s (%3 msg/s), %4 refused; %5 other frames before and during the run")
            .arg(total.sent)
            .arg(seconds(sendNs), 0, 'f', 2)
            .arg(sendNs > 0 ? static_cast<double>(total.sent - 1) / seconds(sendNs) : 0, 0, 'f', 1)
            .arg(total.refused)
            .arg(total.otherFrames));
    say(QStringLiteral("deliveries: %1 of %2 owed%3; lost %4, duplicates %5, out of order %6, connections lost %7")
            .arg(total.delivered)
            .arg(expected)
            .arg(complete ? QString() : QStringLiteral(" (gave up waiting)"))
            .arg(lost)
            .arg(total.duplicates)
            .arg(total.outOfOrder)
            .arg(total.closedAfterReady));
    say(QStringLiteral("throughput: %1 deliveries/s (first send to last delivery: %2 s)")
            .arg(deliveriesPerS, 0, 'f', 0)
            .arg(seconds(deliveryNs), 0, 'f', 2));
    say(QStringLiteral("fan-out latency ms: p50 %1  p95 %2  p99 %3  max %4")
            .arg(latency.p50, 0, 'f', 2)
            .arg(latency.p95, 0, 'f', 2)
            .arg(latency.p99, 0, 'f', 2)
            .arg(latency.max, 0, 'f', 2));
    if (o.protocol == Protocol::Switchboard)
        say(QStringLiteral("ack latency ms (stored durably): p50 %1  p95 %2  p99 %3  max %4")
                .arg(ack.p50, 0, 'f', 2)
                .arg(ack.p95, 0, 'f', 2)
                .arg(ack.p99, 0, 'f', 2)
                .arg(ack.max, 0, 'f', 2));
    say(QStringLiteral("CPU over the %1 s message phase: server %2 s (%3%, %4 us per delivery), generator %5 s (%6%)%7")
            .arg(seconds(phaseNs), 0, 'f', 2)
            .arg(serverCpu, 0, 'f', 2)
            .arg(100.0 * serverCpu / seconds(phaseNs), 0, 'f', 0)
            .arg(serverCpuUsPerDelivery, 0, 'f', 2)
            .arg(selfCpu, 0, 'f', 2)
            .arg(100.0 * selfCpu / seconds(phaseNs), 0, 'f', 0)
            .arg(serverAfter.ok() && selfCpu >= serverCpu ? QStringLiteral("  ** generator used more CPU than the server **")
                                                          : QString()));
    if (serverAfter.ok())
        say(QStringLiteral("server memory MiB: idle %1, after connect %2, at end %3, peak (VmHWM) %4%5")
                .arg(mib(serverIdle.rssKiB()), 0, 'f', 1)
                .arg(mib(serverConnected.rssKiB()), 0, 'f', 1)
                .arg(mib(serverAfter.rssKiB()), 0, 'f', 1)
                .arg(mib(serverAfter.peakRssKiB()), 0, 'f', 1)
                .arg(serverAfter.processes.size() > 1 ? QStringLiteral(" (summed over the processes)") : QString()));
    QJsonArray processes;
    if (serverAfter.processes.size() > 1) {
        for (std::size_t i = 0; i < serverAfter.processes.size(); ++i) {
            const ProcessSample &end = serverAfter.processes[i];
            say(QStringLiteral("  %1: CPU %2 s (%3 us per delivery); MiB idle %4, after connect %5, at end %6, peak %7%8")
                    .arg(serverName(i))
                    .arg(serverCpuEach[i], 0, 'f', 2)
                    .arg(total.delivered > 0 ? serverCpuEach[i] * 1e6 / static_cast<double>(total.delivered) : 0, 0, 'f', 2)
                    .arg(mib(serverIdle.processes[i].rssKiB), 0, 'f', 1)
                    .arg(mib(serverConnected.processes[i].rssKiB), 0, 'f', 1)
                    .arg(mib(end.rssKiB), 0, 'f', 1)
                    .arg(mib(end.peakRssKiB), 0, 'f', 1)
                    .arg(end.ok ? QString() : QStringLiteral(" (gone)")));
        }
    }
    for (std::size_t i = 0; i < serverAfter.processes.size(); ++i) {
        processes.append(QJsonObject{
            {QLatin1StringView("pid"), m_plan.options.serverPids.value(static_cast<qsizetype>(i))},
            {QLatin1StringView("name"), m_serverNames.value(static_cast<qsizetype>(i))},
            {QLatin1StringView("cpu_s"), serverCpuEach[i]},
            {QLatin1StringView("rss_idle_mib"), mib(serverIdle.processes[i].rssKiB)},
            {QLatin1StringView("rss_connected_mib"), mib(serverConnected.processes[i].rssKiB)},
            {QLatin1StringView("rss_end_mib"), mib(serverAfter.processes[i].rssKiB)},
            {QLatin1StringView("peak_rss_mib"), mib(serverAfter.processes[i].peakRssKiB)},
        });
    }
    say(QStringLiteral("load average: before %1, after %2").arg(loadBefore, loadAfter));

    if (!o.jsonFile.isEmpty()) {
        const QJsonObject result{
            {QLatin1StringView("label"), o.label},
            {QLatin1StringView("protocol"), o.protocol == Protocol::Switchboard ? QStringLiteral("switchboard") : QStringLiteral("simple")},
            {QLatin1StringView("clients"), o.clients},
            {QLatin1StringView("ready"), ready},
            {QLatin1StringView("servers"), static_cast<int>(o.urls.size())},
            {QLatin1StringView("rooms"), o.rooms},
            {QLatin1StringView("posters"), o.posters},
            {QLatin1StringView("messages"), o.messages},
            {QLatin1StringView("rate"), o.rate},
            {QLatin1StringView("window"), o.window},
            {QLatin1StringView("text_size"), o.textSize},
            {QLatin1StringView("threads"), o.threads},
            {QLatin1StringView("connect_s"), seconds(connectNs)},
            {QLatin1StringView("connect_per_s"), connectPerS},
            {QLatin1StringView("connect_failed"), failed},
            {QLatin1StringView("settle_s"), seconds(settleNs)},
            {QLatin1StringView("sent"), total.sent},
            {QLatin1StringView("refused"), total.refused},
            {QLatin1StringView("send_s"), seconds(sendNs)},
            {QLatin1StringView("expected"), expected},
            {QLatin1StringView("delivered"), total.delivered},
            {QLatin1StringView("lost"), lost},
            {QLatin1StringView("duplicates"), total.duplicates},
            {QLatin1StringView("out_of_order"), total.outOfOrder},
            {QLatin1StringView("connections_lost"), total.closedAfterReady},
            {QLatin1StringView("delivery_s"), seconds(deliveryNs)},
            {QLatin1StringView("deliveries_per_s"), deliveriesPerS},
            {QLatin1StringView("latency_ms"), toJson(latency)},
            {QLatin1StringView("ack_ms"), toJson(ack)},
            {QLatin1StringView("phase_s"), seconds(phaseNs)},
            {QLatin1StringView("server_cpu_s"), serverCpu},
            {QLatin1StringView("server_cpu_us_per_delivery"), serverCpuUsPerDelivery},
            {QLatin1StringView("processes"), processes},
            {QLatin1StringView("generator_cpu_s"), selfCpu},
            {QLatin1StringView("server_rss_idle_mib"), mib(serverIdle.rssKiB())},
            {QLatin1StringView("server_rss_connected_mib"), mib(serverConnected.rssKiB())},
            {QLatin1StringView("server_rss_end_mib"), mib(serverAfter.rssKiB())},
            {QLatin1StringView("server_peak_rss_mib"), mib(serverAfter.peakRssKiB())},
            {QLatin1StringView("load_before"), loadBefore},
            {QLatin1StringView("load_after"), loadAfter},
        };
        QFile file(o.jsonFile);
        if (!file.open(QIODevice::Append | QIODevice::Text)) {
            say(QStringLiteral("cannot write %1: %2").arg(o.jsonFile, file.errorString()));
            return 1;
        }
        file.write(QJsonDocument(result).toJson(QJsonDocument::Compact) + '\n');
    }
    if (o.lingerMs > 0) {
        say(QStringLiteral("lingering %1 ms before closing").arg(o.lingerMs));
        QThread::msleep(static_cast<unsigned long>(o.lingerMs));
    }
    return ready == o.clients && lost == 0 ? 0 : 3;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sb-fanout-bench"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SB_VERSION));
    const ParsedOptions parsed = parseOptions(QCoreApplication::arguments());
    if (!parsed.options) {
        std::fprintf(stderr, "sb-fanout-bench: %s (see --help)\n", qPrintable(parsed.error));
        return 2;
    }
    Plan plan;
    plan.options = *parsed.options;
    for (const QUrl &url : std::as_const(plan.options.urls)) {
        Endpoint endpoint;
        const QString host = url.host();
        endpoint.address = QHostAddress(host == QLatin1StringView("localhost") ? QStringLiteral("127.0.0.1") : host);
        if (endpoint.address.isNull()) {
            const QHostInfo info = QHostInfo::fromName(host);
            if (info.addresses().isEmpty()) {
                std::fprintf(stderr, "sb-fanout-bench: cannot resolve %s\n", qPrintable(host));
                return 2;
            }
            endpoint.address = info.addresses().constFirst();
        }
        endpoint.port = static_cast<quint16>(url.port());
        endpoint.hostHeader = host.toUtf8() + ':' + QByteArray::number(endpoint.port);
        plan.endpoints.push_back(std::move(endpoint));
    }
    Coordinator coordinator(std::move(plan));
    return coordinator.run();
}
