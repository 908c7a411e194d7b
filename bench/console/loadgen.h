#pragma once

// The console benchmark's load generator: one process holds thousands of
// participant connections to one instance on raw non-blocking sockets driven
// by epoll (no Qt, no per-socket objects), so 10 000 connections cost the
// machine little. Each connection asks for a token (POST /api/token), opens
// /ws with it, joins its room and answers pings; on command the process
// posts chat at a steady rate spread over its connections. A connection that
// the server closes (drain, a dead instance) comes back on the next instance
// after a random 0.25-2 s, as a client behind a load balancer would; a given
// share of the connections use a token from another instance than the one
// they connect to (sticky misses). It is steered
// over stdin ("post <msgs/s>", "stop") and reports on stdout once a second
// ("connected N failed F sent S received R"). Run by sb-console-bench as
// `sb-console-bench --load-worker …`.

#include <cstdint>
#include <string>
#include <vector>

namespace sbconsolebench {

struct LoadWorkerOptions
{
    std::vector<int> ports; // every instance; ports[primary] is this worker's
    int primary = 0;
    int firstIndex = 0;    // global index of this worker's first connection
    int stride = 1;        // global indices: firstIndex, firstIndex + stride, …
    int count = 0;         // connections to hold
    int rooms = 1;         // room of connection g: "r<g % rooms>"
    int textSize = 48;     // characters of each chat text
    int concurrency = 200; // handshakes in flight at once
    int missPercent = 0;   // connections whose first token comes from the next instance
};

// Runs until "stop" or end of stdin; returns the process exit code.
int runLoadWorker(const LoadWorkerOptions &options);

} // namespace sbconsolebench
