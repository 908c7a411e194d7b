#pragma once

// The process's Prometheus registry: counters, gauges and histograms with
// labels, rendered in text exposition format 0.0.4 for /metrics. Owned by the
// Server; subsystems keep Family pointers and bump them on the hot path.

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <vector>

namespace sb {

// Resident set size of this process (/proc/self/statm); 0 where unknown.
qint64 residentBytes();

class MetricFamily
{
public:
    enum class Kind { Counter, Gauge, Histogram };

    MetricFamily(QString name, QString help, Kind kind, QStringList labelNames, QList<double> buckets = {});

    void inc(const QStringList &labelValues = {}, double by = 1.0);
    void set(double value, const QStringList &labelValues = {});
    void observe(double value, const QStringList &labelValues = {});
    double value(const QStringList &labelValues = {}) const;
    // Sum over every label combination (count for histograms).
    double total() const;
    // A gauge computed when scraped.
    void setCallback(std::function<double()> callback) { m_callback = std::move(callback); }

    const QString &name() const { return m_name; }
    void render(QByteArray &out) const;

private:
    struct Series
    {
        double value = 0;
        std::vector<quint64> bucketCounts;
        quint64 count = 0;
    };
    Series &series(const QStringList &labelValues);
    QByteArray labelText(const QStringList &labelValues, const QByteArray &extra = {}) const;

    QString m_name;
    QString m_help;
    Kind m_kind;
    QStringList m_labelNames;
    QList<double> m_buckets;
    QMap<QStringList, Series> m_series;
    std::function<double()> m_callback;
};

class Metrics
{
public:
    Metrics();

    MetricFamily *counter(const QString &name, const QString &help, const QStringList &labels = {});
    MetricFamily *gauge(const QString &name, const QString &help, const QStringList &labels = {});
    MetricFamily *histogram(const QString &name, const QString &help, QList<double> buckets,
                            const QStringList &labels = {});
    MetricFamily *find(const QString &name) const;

    QByteArray render() const;

    // The contract's families (PROTOCOL.md section 6), registered up front.
    MetricFamily *connectionsActive;
    MetricFamily *connectionsTotal;
    MetricFamily *framesIn;
    MetricFamily *framesOut;
    MetricFamily *errors;
    MetricFamily *httpRequests;
    MetricFamily *uptime;
    MetricFamily *chatMessages;
    MetricFamily *todosCreated;
    MetricFamily *todosCompleted;
    MetricFamily *broadcasts;
    MetricFamily *tokensRejected;
    MetricFamily *rateLimited;
    MetricFamily *stickyMiss;
    MetricFamily *backplaneUp;
    MetricFamily *backplaneRtt;
    MetricFamily *storeUp;
    MetricFamily *deliveryLatency;
    MetricFamily *sendQueueBytes;
    MetricFamily *slowConsumerDisconnects;
    MetricFamily *badHttp;
    MetricFamily *upgradesRefused;
    MetricFamily *closes;
    MetricFamily *gapFills;
    MetricFamily *bytesIn;
    MetricFamily *bytesOut;
    MetricFamily *limitExceeded;
    MetricFamily *presenceBatches;
    MetricFamily *backplaneFailovers;
    MetricFamily *residentBytes;
    MetricFamily *httpSockets;

private:
    MetricFamily *add(std::unique_ptr<MetricFamily> family);
    std::vector<std::unique_ptr<MetricFamily>> m_families;
};

} // namespace sb
