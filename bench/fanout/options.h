#pragma once

// The load generator's settings, from its command line.

#include <QList>
#include <QString>
#include <QUrl>

#include <optional>

namespace sbbench {

enum class Protocol { Switchboard, Simple };

struct Options
{
    QList<QUrl> urls;        // http://host:port (switchboard) or ws://host:port (simple); clients take turns
    Protocol protocol = Protocol::Switchboard;
    QString label;           // the stack's name in the report
    int clients = 1000;
    int rooms = 1;
    int posters = 5;
    int messages = 200;      // per poster
    double rate = 200;       // messages/s over all posters; 0: closed loop with `window`
    int window = 8;          // closed loop: messages in flight per poster
    int textSize = 64;       // characters of each chat text
    int threads = 1;
    int connectConcurrency = 64;
    int settleMs = 500;      // quiet time that ends the settle phase
    int drainTimeoutS = 30;  // wait for deliveries after the last send
    int lingerMs = 0;        // keep the connections open this long after the report
    bool idle = false;       // connect only: no join, no messages (memory per connection)
    QList<qint64> serverPids; // processes whose CPU and memory are reported (servers, Redis, PostgreSQL)
    QString jsonFile;        // append the result as one JSON line
};

struct ParsedOptions
{
    std::optional<Options> options;
    QString error;
};

// Parses the process's command line; --help and --version exit from here.
ParsedOptions parseOptions(const QStringList &arguments);

} // namespace sbbench
