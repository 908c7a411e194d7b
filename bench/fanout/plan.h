#pragma once

// Plan: who is where and what is sent when, derived from the Options. Shared
// read-only by every worker thread.
//
// Client c is in room c % rooms, talks to server (c / rooms) % servers (so the
// members and posters of each room take turns over the servers) and lives on
// thread c % threads. The posters
// are clients 0 .. posters-1. Message k (0 .. posters*messages-1) is message
// n = k / posters of poster p = k % posters, goes to that poster's room, and is
// due at t0 + k / rate, so the posters take turns at an even total rate.

#include "options.h"

#include <QByteArray>
#include <QHostAddress>

#include <vector>

namespace sbbench {

// One server address of options.urls, resolved once.
struct Endpoint
{
    QHostAddress address;
    quint16 port = 0;
    QByteArray hostHeader; // "host:port"
};

struct Plan
{
    Options options;
    std::vector<Endpoint> endpoints; // one per options.urls entry, same order

    int totalMessages() const { return options.posters * options.messages; }
    int roomOf(int client) const { return client % options.rooms; }
    int threadOf(int client) const { return client % options.threads; }
    const Endpoint &endpointOf(int client) const
    {
        return endpoints[static_cast<std::size_t>(client / options.rooms) % endpoints.size()];
    }
    bool isPoster(int client) const { return client < options.posters; }
    static int messageId(int poster, int n, int posters) { return n * posters + poster; }
    int posterOf(int message) const { return message % options.posters; }
    int numberOf(int message) const { return message / options.posters; }
    QByteArray roomName(int room) const { return "bench-" + QByteArray::number(room); }
    qint64 dueNs(qint64 t0Ns, int message) const
    {
        return t0Ns + static_cast<qint64>(static_cast<double>(message) * 1e9 / options.rate);
    }
};

} // namespace sbbench
