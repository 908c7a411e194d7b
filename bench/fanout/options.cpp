#include "options.h"

#include <QCommandLineParser>

namespace sbbench {

namespace {

// Reads an integer option within [min, max]; false (with *error set) otherwise.
bool readInt(const QCommandLineParser &parser, const QString &name, int min, int max, int *out, QString *error)
{
    if (!parser.isSet(name))
        return true;
    bool ok = false;
    const int value = parser.value(name).toInt(&ok);
    if (!ok || value < min || value > max) {
        *error = QStringLiteral("--%1 must be an integer from %2 to %3").arg(name).arg(min).arg(max);
        return false;
    }
    *out = value;
    return true;
}

} // namespace

ParsedOptions parseOptions(const QStringList &arguments)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Fan-out load generator: C clients join R rooms, P posters send M chat messages each at a target rate,\n"
        "and every client timestamps what it receives. Reports connect time, deliveries per second,\n"
        "send-to-receive latency percentiles, lost and out-of-order messages, and the server's CPU and memory."));
    parser.addHelpOption();
    parser.addVersionOption();
    const Options defaults;
    const auto number = [](auto value) { return QString::number(value); };
    parser.addOptions({
        {QStringLiteral("url"),
         QStringLiteral("Server address: http://host:port (switchboard) or ws://host:port (simple). Several servers: "
                        "repeat --url or separate them with commas; each room's clients (posters first) take turns "
                        "over them."),
         QStringLiteral("url")},
        {QStringLiteral("protocol"),
         QStringLiteral("switchboard (POST /api/token, /ws?token=, join and chat frames) or simple "
                        "(/ws/<room>, {\"text\"} in, {\"seq\",\"text\"} out)."),
         QStringLiteral("name"), QStringLiteral("switchboard")},
        {QStringLiteral("label"), QStringLiteral("Name of the stack in the report."), QStringLiteral("text")},
        {QStringLiteral("clients"), QStringLiteral("Client connections."), QStringLiteral("n"), number(defaults.clients)},
        {QStringLiteral("rooms"), QStringLiteral("Rooms; clients and posters are spread over them round robin."),
         QStringLiteral("n"), number(defaults.rooms)},
        {QStringLiteral("posters"), QStringLiteral("Clients that post."), QStringLiteral("n"), number(defaults.posters)},
        {QStringLiteral("messages"), QStringLiteral("Messages per poster."), QStringLiteral("n"),
         number(defaults.messages)},
        {QStringLiteral("rate"),
         QStringLiteral("Messages per second over all posters; 0 sends as fast as the server delivers "
                        "(each poster keeps --window messages in flight)."),
         QStringLiteral("msgs/s"), number(defaults.rate)},
        {QStringLiteral("window"), QStringLiteral("Messages in flight per poster when --rate is 0."),
         QStringLiteral("n"), number(defaults.window)},
        {QStringLiteral("text-size"), QStringLiteral("Characters per chat text (at least 40)."), QStringLiteral("n"),
         number(defaults.textSize)},
        {QStringLiteral("threads"), QStringLiteral("Client threads, each with its own event loop."),
         QStringLiteral("n"), number(defaults.threads)},
        {QStringLiteral("connect-concurrency"), QStringLiteral("Connections being opened at once."),
         QStringLiteral("n"), number(defaults.connectConcurrency)},
        {QStringLiteral("settle-ms"),
         QStringLiteral("After every client joined, wait until nothing arrived for this long (presence traffic)."),
         QStringLiteral("ms"), number(defaults.settleMs)},
        {QStringLiteral("drain-timeout"), QStringLiteral("Seconds to wait for deliveries after the last send."),
         QStringLiteral("s"), number(defaults.drainTimeoutS)},
        {QStringLiteral("linger-ms"),
         QStringLiteral("Keep the connections open this long after the report (e.g. to profile the server)."),
         QStringLiteral("ms"), number(defaults.lingerMs)},
        {QStringLiteral("idle"),
         QStringLiteral("Connect only (token, upgrade, welcome): no join and no messages; reports the connect rate "
                        "and the server's memory per connection.")},
        {QStringLiteral("server-pid"),
         QStringLiteral("Process to read CPU time and memory of (/proc). Several: repeat it or separate them with "
                        "commas (e.g. the instances, Redis and PostgreSQL); CPU is summed and each one is reported."),
         QStringLiteral("pid")},
        {QStringLiteral("json"), QStringLiteral("Append the result to this file as one JSON line."),
         QStringLiteral("file")},
    });
    parser.process(arguments);

    Options o;
    QString error;
    if (!parser.isSet(QStringLiteral("url")))
        return {std::nullopt, QStringLiteral("--url is required")};
    for (const QString &value : parser.values(QStringLiteral("url"))) {
        for (const QString &part : value.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            const QUrl url(part.trimmed());
            if (!url.isValid() || url.host().isEmpty() || url.port() <= 0)
                return {std::nullopt, QStringLiteral("--url must be scheme://host:port, not %1").arg(part)};
            o.urls.append(url);
        }
    }
    if (o.urls.isEmpty())
        return {std::nullopt, QStringLiteral("--url is required")};
    const QString protocol = parser.value(QStringLiteral("protocol"));
    if (protocol == QLatin1StringView("switchboard"))
        o.protocol = Protocol::Switchboard;
    else if (protocol == QLatin1StringView("simple"))
        o.protocol = Protocol::Simple;
    else
        return {std::nullopt, QStringLiteral("--protocol must be switchboard or simple")};
    o.label = parser.isSet(QStringLiteral("label")) ? parser.value(QStringLiteral("label")) : protocol;

    if (!readInt(parser, QStringLiteral("clients"), 1, 100000, &o.clients, &error)
        || !readInt(parser, QStringLiteral("rooms"), 1, 10000, &o.rooms, &error)
        || !readInt(parser, QStringLiteral("posters"), 1, 100000, &o.posters, &error)
        || !readInt(parser, QStringLiteral("messages"), 1, 10000000, &o.messages, &error)
        || !readInt(parser, QStringLiteral("window"), 1, 10000, &o.window, &error)
        || !readInt(parser, QStringLiteral("text-size"), 40, 4000, &o.textSize, &error)
        || !readInt(parser, QStringLiteral("threads"), 1, 64, &o.threads, &error)
        || !readInt(parser, QStringLiteral("connect-concurrency"), 1, 10000, &o.connectConcurrency, &error)
        || !readInt(parser, QStringLiteral("settle-ms"), 0, 600000, &o.settleMs, &error)
        || !readInt(parser, QStringLiteral("drain-timeout"), 1, 3600, &o.drainTimeoutS, &error)
        || !readInt(parser, QStringLiteral("linger-ms"), 0, 3600000, &o.lingerMs, &error))
        return {std::nullopt, error};
    bool ok = false;
    o.rate = parser.value(QStringLiteral("rate")).toDouble(&ok);
    if (!ok || o.rate < 0)
        return {std::nullopt, QStringLiteral("--rate must be a number >= 0")};
    if (o.posters > o.clients)
        return {std::nullopt, QStringLiteral("--posters cannot exceed --clients")};
    if (o.rooms > o.clients)
        return {std::nullopt, QStringLiteral("--rooms cannot exceed --clients")};
    for (const QString &value : parser.values(QStringLiteral("server-pid"))) {
        for (const QString &part : value.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            const qint64 pid = part.trimmed().toLongLong(&ok);
            if (!ok || pid <= 0)
                return {std::nullopt, QStringLiteral("--server-pid must be process ids, not %1").arg(part)};
            o.serverPids.append(pid);
        }
    }
    o.jsonFile = parser.value(QStringLiteral("json"));
    o.idle = parser.isSet(QStringLiteral("idle"));
    return {o, {}};
}

} // namespace sbbench
