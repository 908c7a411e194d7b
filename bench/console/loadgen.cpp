#include "loadgen.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sbconsolebench {

namespace {

constexpr std::uint32_t kStdinId = 0xffffffffu;
constexpr int kMaxAttempts = 5;

std::int64_t nowMs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

enum class Phase { Idle, TokenConnect, TokenRead, WsConnect, WsHandshake, Open, Closed };

struct Connection
{
    int fd = -1;
    Phase phase = Phase::Idle;
    int index = 0; // global index
    int attempts = 0;
    int portIndex = 0;       // the instance it connects to now
    bool borrowToken = false; // its next token comes from the next instance (a sticky miss)
    std::int64_t retryAt = 0;
    bool wantWrite = false;
    bool everOpen = false;
    std::string in;
    std::string out;
    std::string token;
};

// A client frame: FIN, the opcode, masked with a fixed key (clients must mask).
std::string frame(int opcode, const std::string &payload)
{
    static const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
    std::string f;
    f.reserve(payload.size() + 14);
    f.push_back(static_cast<char>(0x80 | opcode));
    if (payload.size() < 126) {
        f.push_back(static_cast<char>(0x80 | payload.size()));
    } else if (payload.size() < 65536) {
        f.push_back(static_cast<char>(0x80 | 126));
        f.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
        f.push_back(static_cast<char>(payload.size() & 0xff));
    } else {
        f.push_back(static_cast<char>(0x80 | 127));
        for (int i = 7; i >= 0; --i)
            f.push_back(static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xff));
    }
    f.append(reinterpret_cast<const char *>(key), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
        f.push_back(static_cast<char>(payload[i] ^ static_cast<char>(key[i % 4])));
    return f;
}

class LoadWorker
{
public:
    explicit LoadWorker(const LoadWorkerOptions &options)
        : m_options(options)
    {
        m_connections.resize(static_cast<std::size_t>(options.count));
        for (int i = 0; i < options.count; ++i) {
            Connection &c = m_connections[static_cast<std::size_t>(i)];
            c.index = options.firstIndex + i * options.stride;
            c.portIndex = options.primary;
            c.borrowToken = options.ports.size() > 1 && c.index % 100 < options.missPercent;
            m_waiting.push_back(i);
        }
        m_text.assign(static_cast<std::size_t>(std::max(1, options.textSize)), 'x');
    }

    int run()
    {
        m_epoll = epoll_create1(EPOLL_CLOEXEC);
        if (m_epoll < 0) {
            std::perror("epoll_create1");
            return 1;
        }
        fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = kStdinId;
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, STDIN_FILENO, &ev);

        std::vector<epoll_event> events(1024);
        std::int64_t lastReport = nowMs();
        std::int64_t lastTick = nowMs();
        while (!m_stop) {
            startMore();
            const int timeout = m_rate > 0 ? 5 : 50;
            const int n = epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()), timeout);
            for (int i = 0; i < n; ++i) {
                if (events[static_cast<std::size_t>(i)].data.u32 == kStdinId) {
                    readCommands();
                    continue;
                }
                const auto id = static_cast<int>(events[static_cast<std::size_t>(i)].data.u32);
                const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
                if (what & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    onWritable(id);
                if (what & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    onReadable(id);
            }
            const std::int64_t now = nowMs();
            post(now - lastTick);
            lastTick = now;
            if (now - lastReport >= 1000) {
                lastReport = now;
                std::printf("connected %d failed %d dropped %d sent %lld received %lld\n", m_open, m_failed, m_dropped,
                            static_cast<long long>(m_sent), static_cast<long long>(m_received));
                std::fflush(stdout);
            }
        }
        return 0;
    }

private:
    Connection &at(int id) { return m_connections[static_cast<std::size_t>(id)]; }

    void startMore()
    {
        const std::int64_t now = nowMs();
        std::size_t checked = m_waiting.size();
        while (m_inFlight < m_options.concurrency && checked-- > 0 && !m_waiting.empty()) {
            const int id = m_waiting.front();
            m_waiting.pop_front();
            if (at(id).retryAt > now) {
                m_waiting.push_back(id);
                continue;
            }
            ++m_inFlight;
            connectTo(id, Phase::TokenConnect);
        }
    }

    void connectTo(int id, Phase phase)
    {
        Connection &c = at(id);
        c.in.clear();
        c.out.clear();
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            fail(id, "socket");
            return;
        }
        const int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        const bool tokenElsewhere = phase == Phase::TokenConnect && c.borrowToken;
        address.sin_port = htons(static_cast<std::uint16_t>(portFor(c, tokenElsewhere)));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        c.phase = phase;
        if (connect(c.fd, reinterpret_cast<sockaddr *>(&address), sizeof address) < 0 && errno != EINPROGRESS) {
            fail(id, "connect");
            return;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = static_cast<std::uint32_t>(id);
        epoll_ctl(m_epoll, EPOLL_CTL_ADD, c.fd, &ev);
        c.wantWrite = true;
    }

    void closeFd(Connection &c)
    {
        if (c.fd >= 0) {
            epoll_ctl(m_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
            close(c.fd);
            c.fd = -1;
        }
    }

    int portFor(const Connection &c, bool next) const
    {
        const std::size_t n = m_options.ports.size();
        return m_options.ports[(static_cast<std::size_t>(c.portIndex) + (next ? 1 : 0)) % n];
    }

    // Back in 0.25-2 s, on the next instance.
    void scheduleReconnect(Connection &c, int id, std::int64_t delayMs)
    {
        c.phase = Phase::Idle;
        c.borrowToken = false;
        c.portIndex = static_cast<int>((static_cast<std::size_t>(c.portIndex) + 1) % m_options.ports.size());
        c.retryAt = nowMs() + delayMs;
        m_waiting.push_back(id);
    }

    // A handshake failed: try again a little later (on the next instance), a few times.
    void fail(int id, const char *why)
    {
        Connection &c = at(id);
        closeFd(c);
        --m_inFlight;
        if (++c.attempts >= kMaxAttempts) {
            c.phase = Phase::Closed;
            ++m_failed;
            std::fprintf(stderr, "connection %d failed: %s\n", c.index, why);
            return;
        }
        scheduleReconnect(c, id, 1000);
    }

    void setWantWrite(Connection &c, int id, bool want)
    {
        if (c.wantWrite == want || c.fd < 0)
            return;
        c.wantWrite = want;
        epoll_event ev{};
        ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
        ev.data.u32 = static_cast<std::uint32_t>(id);
        epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.fd, &ev);
    }

    void flush(int id)
    {
        Connection &c = at(id);
        while (!c.out.empty()) {
            const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n > 0) {
                c.out.erase(0, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            return; // the read side sees the error
        }
        setWantWrite(c, id, !c.out.empty());
    }

    void onWritable(int id)
    {
        Connection &c = at(id);
        if (c.fd < 0)
            return;
        if (c.phase == Phase::TokenConnect || c.phase == Phase::WsConnect) {
            int error = 0;
            socklen_t length = sizeof error;
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
            if (error != 0) {
                fail(id, std::strerror(error));
                return;
            }
            const std::string host = "127.0.0.1:" + std::to_string(portFor(c, false));
            if (c.phase == Phase::TokenConnect) {
                const std::string body = "{\"user\":\"u" + std::to_string(c.index) + "\",\"client_id\":\"c"
                                         + std::to_string(c.index) + "\"}";
                c.out = "POST /api/token HTTP/1.1\r\nHost: " + host
                        + "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
                        + std::to_string(body.size()) + "\r\n\r\n" + body;
                c.phase = Phase::TokenRead;
            } else {
                c.out = "GET /ws?token=" + c.token + " HTTP/1.1\r\nHost: " + host
                        + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
                          "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
                c.phase = Phase::WsHandshake;
            }
        }
        flush(id);
    }

    void onReadable(int id)
    {
        Connection &c = at(id);
        if (c.fd < 0)
            return;
        char buffer[65536];
        bool eof = false;
        for (;;) {
            const ssize_t n = recv(c.fd, buffer, sizeof buffer, 0);
            if (n > 0) {
                c.in.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                eof = true;
            break;
        }
        switch (c.phase) {
        case Phase::TokenRead: {
            const std::size_t key = c.in.find("\"token\":\"");
            const std::size_t end = key == std::string::npos ? key : c.in.find('"', key + 9);
            if (end != std::string::npos) {
                c.token = c.in.substr(key + 9, end - key - 9);
                closeFd(c);
                connectTo(id, Phase::WsConnect);
            } else if (eof) {
                fail(id, c.in.substr(0, c.in.find("\r\n")).c_str());
            }
            return;
        }
        case Phase::WsHandshake: {
            const std::size_t end = c.in.find("\r\n\r\n");
            if (end == std::string::npos) {
                if (eof)
                    fail(id, "upgrade closed");
                return;
            }
            if (c.in.compare(0, 12, "HTTP/1.1 101") != 0) {
                fail(id, c.in.substr(0, c.in.find("\r\n")).c_str());
                return;
            }
            c.in.erase(0, end + 4);
            c.phase = Phase::Open;
            c.attempts = 0;
            --m_inFlight;
            ++m_open;
            if (!c.everOpen)
                m_openIds.push_back(id);
            c.everOpen = true;
            c.out += frame(1, "{\"type\":\"join\",\"room\":\"r" + std::to_string(c.index % m_options.rooms) + "\"}");
            flush(id);
            break;
        }
        case Phase::Open: break;
        default: return;
        }
        readFrames(id);
        if (eof && c.phase == Phase::Open) {
            closeFd(c);
            --m_open;
            ++m_dropped;
            scheduleReconnect(c, id, 250 + (c.index * 7919) % 1750);
        }
    }

    void readFrames(int id)
    {
        Connection &c = at(id);
        std::size_t pos = 0;
        const auto byte = [&c](std::size_t i) { return static_cast<unsigned char>(c.in[i]); };
        while (c.in.size() - pos >= 2) {
            const int opcode = byte(pos) & 0x0f;
            std::uint64_t length = byte(pos + 1) & 0x7f;
            std::size_t header = 2;
            if (length == 126) {
                if (c.in.size() - pos < 4)
                    break;
                length = (std::uint64_t(byte(pos + 2)) << 8) | byte(pos + 3);
                header = 4;
            } else if (length == 127) {
                if (c.in.size() - pos < 10)
                    break;
                length = 0;
                for (int i = 0; i < 8; ++i)
                    length = (length << 8) | byte(pos + 2 + static_cast<std::size_t>(i));
                header = 10;
            }
            if (c.in.size() - pos < header + length)
                break;
            if (opcode == 1 || opcode == 0) {
                ++m_received;
            } else if (opcode == 9) { // ping: pong with the same payload
                c.out += frame(10, c.in.substr(pos + header, static_cast<std::size_t>(length)));
            } else if (opcode == 8) {
                c.out += frame(8, std::string());
            }
            pos += header + static_cast<std::size_t>(length);
        }
        c.in.erase(0, pos);
        if (!c.out.empty())
            flush(id);
    }

    void post(std::int64_t elapsedMs)
    {
        if (m_rate <= 0 || m_openIds.empty())
            return;
        m_owed += m_rate * static_cast<double>(elapsedMs) / 1000.0;
        while (m_owed >= 1.0) {
            m_owed -= 1.0;
            // Round robin over the open connections.
            for (std::size_t tries = 0; tries < m_openIds.size(); ++tries) {
                const int id = m_openIds[m_nextPoster++ % m_openIds.size()];
                Connection &c = at(id);
                if (c.phase != Phase::Open)
                    continue;
                c.out += frame(1, "{\"type\":\"chat\",\"room\":\"r" + std::to_string(c.index % m_options.rooms)
                                      + "\",\"text\":\"" + std::to_string(m_sent) + " " + m_text + "\"}");
                ++m_sent;
                flush(id);
                break;
            }
        }
    }

    void readCommands()
    {
        char buffer[256];
        for (;;) {
            const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
            if (n == 0) {
                m_stop = true; // the parent went away
                return;
            }
            if (n < 0)
                return;
            m_commands.append(buffer, static_cast<std::size_t>(n));
            std::size_t newline;
            while ((newline = m_commands.find('\n')) != std::string::npos) {
                const std::string line = m_commands.substr(0, newline);
                m_commands.erase(0, newline + 1);
                if (line.rfind("post ", 0) == 0)
                    m_rate = std::atof(line.c_str() + 5);
                else if (line == "stop")
                    m_stop = true;
            }
        }
    }

    LoadWorkerOptions m_options;
    std::vector<Connection> m_connections;
    std::deque<int> m_waiting;
    std::vector<int> m_openIds;
    std::string m_text;
    std::string m_commands;
    int m_epoll = -1;
    int m_inFlight = 0;
    int m_open = 0;
    int m_failed = 0;
    int m_dropped = 0;
    long long m_sent = 0;
    long long m_received = 0;
    double m_rate = 0;
    double m_owed = 0;
    std::size_t m_nextPoster = 0;
    bool m_stop = false;
};

} // namespace

int runLoadWorker(const LoadWorkerOptions &options)
{
    LoadWorker worker(options);
    return worker.run();
}

} // namespace sbconsolebench
