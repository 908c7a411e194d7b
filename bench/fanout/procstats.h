#pragma once

// Reads a process's CPU time and memory from /proc, for the server under test
// (by pid) and for the load generator itself.

#include <QString>

namespace sbbench {

struct ProcessSample
{
    bool ok = false;
    double cpuSeconds = 0; // user + system, all threads
    qint64 rssKiB = 0;     // VmRSS
    qint64 peakRssKiB = 0; // VmHWM: the most resident memory since the process started
};

ProcessSample sampleProcess(qint64 pid); // pid 0: this process
QString processName(qint64 pid);         // /proc/<pid>/comm, empty when the process is gone

} // namespace sbbench
