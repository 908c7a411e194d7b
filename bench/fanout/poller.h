#pragma once

// Poller: one epoll set per worker thread, plus an eventfd so other threads
// can wake it. Qt's event dispatchers poll() every socket on every wake-up,
// which with a thousand mostly idle client sockets cost the generator more CPU
// than the servers it measured; epoll reports only the ready ones.
// Owned by its Worker; used only on the worker's thread (wake() excepted).

#include <QtGlobal>

namespace sbbench {

class Poller final
{
    Q_DISABLE_COPY_MOVE(Poller)
public:
    class Handler
    {
    public:
        virtual ~Handler() = default;
        virtual void onEvents(quint32 events) = 0; // EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP
    };

    Poller();
    ~Poller();

    void add(int fd, Handler *handler, quint32 events);
    void modify(int fd, Handler *handler, quint32 events);
    void remove(int fd);

    // Waits up to `timeoutMs` (-1: forever) and dispatches what is ready.
    // Returns true when wake() was called meanwhile.
    bool poll(int timeoutMs);
    // Makes a poll() in progress, or the next one, return at once. Thread-safe.
    void wake();

private:
    int m_epoll = -1;
    int m_wakeFd = -1;
};

} // namespace sbbench
