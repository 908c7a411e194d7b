#include "metrics.h"

#include <QFile>

#include <cmath>

#include <unistd.h>

namespace sb {

qint64 residentBytes()
{
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (!statm.open(QIODevice::ReadOnly))
        return 0;
    const QList<QByteArray> fields = statm.readAll().split(' ');
    if (fields.size() < 2)
        return 0;
    return fields[1].toLongLong() * sysconf(_SC_PAGESIZE);
}

namespace {

QByteArray formatValue(double v)
{
    if (std::isinf(v))
        return v > 0 ? QByteArrayLiteral("+Inf") : QByteArrayLiteral("-Inf");
    if (std::isnan(v))
        return QByteArrayLiteral("NaN");
    if (v == std::floor(v) && std::fabs(v) < 1e15)
        return QByteArray::number(static_cast<qint64>(v));
    return QByteArray::number(v, 'g', 12);
}

QByteArray escapeLabel(const QString &value)
{
    QByteArray out;
    const QByteArray utf8 = value.toUtf8();
    out.reserve(utf8.size());
    for (const char c : utf8) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

QByteArray escapeHelp(const QString &help)
{
    QByteArray out = help.toUtf8();
    out.replace("\\", "\\\\");
    out.replace("\n", "\\n");
    return out;
}

} // namespace

MetricFamily::MetricFamily(QString name, QString help, Kind kind, QStringList labelNames, QList<double> buckets)
    : m_name(std::move(name))
    , m_help(std::move(help))
    , m_kind(kind)
    , m_labelNames(std::move(labelNames))
    , m_buckets(std::move(buckets))
{
}

MetricFamily::Series &MetricFamily::series(const QStringList &labelValues)
{
    auto it = m_series.find(labelValues);
    if (it == m_series.end()) {
        Series s;
        s.bucketCounts.assign(static_cast<std::size_t>(m_buckets.size()), 0);
        it = m_series.insert(labelValues, s);
    }
    return it.value();
}

void MetricFamily::inc(const QStringList &labelValues, double by)
{
    series(labelValues).value += by;
}

void MetricFamily::set(double value, const QStringList &labelValues)
{
    series(labelValues).value = value;
}

void MetricFamily::observe(double value, const QStringList &labelValues)
{
    Series &s = series(labelValues);
    s.value += value;
    ++s.count;
    for (qsizetype i = 0; i < m_buckets.size(); ++i) {
        if (value <= m_buckets[i])
            ++s.bucketCounts[static_cast<std::size_t>(i)];
    }
}

double MetricFamily::value(const QStringList &labelValues) const
{
    if (m_callback)
        return m_callback();
    const auto it = m_series.constFind(labelValues);
    if (it == m_series.cend())
        return 0;
    return m_kind == Kind::Histogram ? static_cast<double>(it->count) : it->value;
}

double MetricFamily::total() const
{
    if (m_callback)
        return m_callback();
    double sum = 0;
    for (const Series &s : m_series)
        sum += m_kind == Kind::Histogram ? static_cast<double>(s.count) : s.value;
    return sum;
}

QByteArray MetricFamily::labelText(const QStringList &labelValues, const QByteArray &extra) const
{
    QByteArray out;
    for (qsizetype i = 0; i < m_labelNames.size() && i < labelValues.size(); ++i) {
        if (!out.isEmpty())
            out += ',';
        out += m_labelNames[i].toUtf8() + "=\"" + escapeLabel(labelValues[i]) + '"';
    }
    if (!extra.isEmpty()) {
        if (!out.isEmpty())
            out += ',';
        out += extra;
    }
    return out.isEmpty() ? out : '{' + out + '}';
}

void MetricFamily::render(QByteArray &out) const
{
    const QByteArray name = m_name.toUtf8();
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + ' ' + escapeHelp(m_help) + '\n';
    out += "# TYPE " + name + ' ' + kinds[static_cast<int>(m_kind)] + '\n';
    if (m_callback) {
        out += name + ' ' + formatValue(m_callback()) + '\n';
        return;
    }
    if (m_series.isEmpty() && m_labelNames.isEmpty()) {
        // An unlabelled family is always shown, even before its first event.
        if (m_kind == Kind::Histogram) {
            for (const double b : m_buckets)
                out += name + "_bucket{le=\"" + formatValue(b) + "\"} 0\n";
            out += name + "_bucket{le=\"+Inf\"} 0\n" + name + "_sum 0\n" + name + "_count 0\n";
        } else {
            out += name + " 0\n";
        }
        return;
    }
    for (auto it = m_series.cbegin(); it != m_series.cend(); ++it) {
        if (m_kind == Kind::Histogram) {
            for (qsizetype i = 0; i < m_buckets.size(); ++i) {
                out += name + "_bucket" + labelText(it.key(), "le=\"" + formatValue(m_buckets[i]) + '"') + ' '
                       + QByteArray::number(it->bucketCounts[static_cast<std::size_t>(i)]) + '\n';
            }
            out += name + "_bucket" + labelText(it.key(), "le=\"+Inf\"") + ' ' + QByteArray::number(it->count) + '\n';
            out += name + "_sum" + labelText(it.key()) + ' ' + formatValue(it->value) + '\n';
            out += name + "_count" + labelText(it.key()) + ' ' + QByteArray::number(it->count) + '\n';
        } else {
            out += name + labelText(it.key()) + ' ' + formatValue(it->value) + '\n';
        }
    }
}

Metrics::Metrics()
{
    connectionsActive = gauge(QStringLiteral("sb_connections_active"), QStringLiteral("Open WebSocket connections"), {QStringLiteral("role")});
    connectionsActive->set(0, {QStringLiteral("participant")});
    connectionsActive->set(0, {QStringLiteral("operator")});
    connectionsTotal = counter(QStringLiteral("sb_connections_total"), QStringLiteral("WebSocket connections accepted"));
    framesIn = counter(QStringLiteral("sb_frames_in_total"), QStringLiteral("Frames received, by type (unknown types as invalid)"), {QStringLiteral("type")});
    framesOut = counter(QStringLiteral("sb_frames_out_total"), QStringLiteral("Frames sent"));
    errors = counter(QStringLiteral("sb_errors_total"), QStringLiteral("Error frames sent, by code"), {QStringLiteral("code")});
    httpRequests = counter(QStringLiteral("sb_http_requests_total"), QStringLiteral("HTTP requests by route and status"), {QStringLiteral("route"), QStringLiteral("status")});
    uptime = gauge(QStringLiteral("sb_uptime_seconds"), QStringLiteral("Seconds since start"));
    chatMessages = counter(QStringLiteral("sb_chat_messages_total"), QStringLiteral("Chat messages stored by this instance"));
    todosCreated = counter(QStringLiteral("sb_todos_created_total"), QStringLiteral("Todos created"));
    todosCompleted = counter(QStringLiteral("sb_todos_completed_total"), QStringLiteral("Todos marked done"));
    broadcasts = counter(QStringLiteral("sb_broadcasts_total"), QStringLiteral("Broadcasts delivered by this instance, by kind"), {QStringLiteral("kind")});
    tokensRejected = counter(QStringLiteral("sb_tokens_rejected_total"), QStringLiteral("Refused tokens and token requests, by reason"), {QStringLiteral("reason")});
    rateLimited = counter(QStringLiteral("sb_rate_limited_total"), QStringLiteral("Requests refused by a rate limit"));
    stickyMiss = counter(QStringLiteral("sb_sticky_miss_total"), QStringLiteral("Tokens presented on an instance other than the issuer"));
    backplaneUp = gauge(QStringLiteral("sb_backplane_up"), QStringLiteral("1 while the backplane is reachable"));
    backplaneRtt = gauge(QStringLiteral("sb_backplane_rtt_seconds"), QStringLiteral("Last backplane publish-to-self round trip"));
    storeUp = gauge(QStringLiteral("sb_store_up"), QStringLiteral("1 while the store is reachable"));
    deliveryLatency = histogram(QStringLiteral("sb_delivery_latency_seconds"),
                                QStringLiteral("Envelope timestamp to socket write"),
                                {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
    httpSockets = gauge(QStringLiteral("sb_http_sockets"),
                        QStringLiteral("TCP connections held by the HTTP front end (requests and upgrades in progress)"));
    sendQueueBytes = gauge(QStringLiteral("sb_send_queue_bytes"), QStringLiteral("Largest per-connection unsent outbound queue"));
    slowConsumerDisconnects = counter(QStringLiteral("sb_slow_consumer_disconnects_total"), QStringLiteral("Connections closed with 1013 for not reading"));
    badHttp = counter(QStringLiteral("sb_bad_http_total"), QStringLiteral("Malformed or oversized HTTP requests"), {QStringLiteral("reason")});
    upgradesRefused = counter(QStringLiteral("sb_upgrades_refused_total"), QStringLiteral("WebSocket upgrades refused before the handshake"), {QStringLiteral("reason")});
    closes = counter(QStringLiteral("sb_closes_total"), QStringLiteral("WebSocket closes by close code"), {QStringLiteral("code")});
    bytesIn = counter(QStringLiteral("sb_ws_bytes_in_total"), QStringLiteral("WebSocket payload bytes received"));
    bytesOut = counter(QStringLiteral("sb_ws_bytes_out_total"), QStringLiteral("WebSocket payload bytes sent"));
    gapFills = counter(QStringLiteral("sb_gap_fills_total"), QStringLiteral("Chat messages an instance fetched from the store to close a sequence gap"));
    limitExceeded = counter(QStringLiteral("sb_limit_exceeded_total"), QStringLiteral("Requests refused with limit_exceeded, by limit"), {QStringLiteral("kind")});
    limitExceeded->inc({QStringLiteral("rooms")}, 0);
    limitExceeded->inc({QStringLiteral("todos")}, 0);
    presenceBatches = counter(QStringLiteral("sb_presence_batches_total"), QStringLiteral("Batched presence frames sent for rooms above SB_PRESENCE_LIMIT"));
    backplaneFailovers = counter(QStringLiteral("sb_backplane_failovers_total"), QStringLiteral("Times the backplane followed a Redis failover to a new master or node"));
    residentBytes = gauge(QStringLiteral("sb_process_resident_bytes"), QStringLiteral("Resident set size of this process"));
    residentBytes->setCallback([] { return static_cast<double>(sb::residentBytes()); });
}

MetricFamily *Metrics::add(std::unique_ptr<MetricFamily> family)
{
    m_families.push_back(std::move(family));
    return m_families.back().get();
}

MetricFamily *Metrics::counter(const QString &name, const QString &help, const QStringList &labels)
{
    return add(std::make_unique<MetricFamily>(name, help, MetricFamily::Kind::Counter, labels));
}

MetricFamily *Metrics::gauge(const QString &name, const QString &help, const QStringList &labels)
{
    return add(std::make_unique<MetricFamily>(name, help, MetricFamily::Kind::Gauge, labels));
}

MetricFamily *Metrics::histogram(const QString &name, const QString &help, QList<double> buckets, const QStringList &labels)
{
    return add(std::make_unique<MetricFamily>(name, help, MetricFamily::Kind::Histogram, labels, std::move(buckets)));
}

MetricFamily *Metrics::find(const QString &name) const
{
    for (const auto &f : m_families) {
        if (f->name() == name)
            return f.get();
    }
    return nullptr;
}

QByteArray Metrics::render() const
{
    QByteArray out;
    out.reserve(16 * 1024);
    for (const auto &f : m_families)
        f->render(out);
    return out;
}

} // namespace sb
