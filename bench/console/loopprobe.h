#pragma once

// Measures how late the event loop runs a 10 ms timer: each shot records
// (now - when it was due) and schedules the next one 10 ms later, so a
// stall shows up once, as one late sample of its length. Also reads the
// process's CPU time (getrusage). Lives on the GUI thread of the process it
// measures; owned by the benchmark's main().

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <vector>

namespace sbconsolebench {

struct Percentiles
{
    double p50 = 0;
    double p99 = 0;
    double max = 0; // milliseconds
    std::size_t samples = 0;
};

class LoopProbe final : public QObject
{
    Q_OBJECT
public:
    explicit LoopProbe(int intervalMs = 10, QObject *parent = nullptr);

    void start();
    // Forgets the samples so far (a new phase begins).
    void reset();
    Percentiles lateness() const;

    // User + system CPU seconds of this process so far.
    static double cpuSeconds();

private:
    void fire();

    int m_intervalMs;
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_dueNs = 0;
    std::vector<qint64> m_latenessUs;
};

} // namespace sbconsolebench
