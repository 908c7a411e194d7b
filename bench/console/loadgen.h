#pragma once

// The console benchmark's load generator: one process holds thousands of
// participant connections to one instance on raw non-blocking sockets driven
// by epoll (no Qt, no per-socket objects), so 10 000 connections cost the
// machine little. Each connection asks for a token (POST /api/token), opens
// /ws with it, joins its room and answers pings; on command the process
// posts chat at a steady rate spread over its connections. It is steered
// over stdin ("post <msgs/s>", "stop") and reports on stdout once a second
// ("connected N failed F sent S received R"). Run by sb-console-bench as
// `sb-console-bench --load-worker …`.

#include <cstdint>
#include <string>

namespace sbconsolebench {

struct LoadWorkerOptions
{
    int port = 0;          // the instance (tokens and sockets)
    int firstIndex = 0;    // global index of this worker's first connection
    int stride = 1;        // global indices: firstIndex, firstIndex + stride, …
    int count = 0;         // connections to hold
    int rooms = 1;         // room of connection g: "r<g % rooms>"
    int textSize = 48;     // characters of each chat text
    int concurrency = 200; // handshakes in flight at once
};

// Runs until "stop" or end of stdin; returns the process exit code.
int runLoadWorker(const LoadWorkerOptions &options);

} // namespace sbconsolebench
