#include "poller.h"

#include <QtDebug>

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace sbbench {

namespace {

epoll_event eventFor(Poller::Handler *handler, quint32 events)
{
    epoll_event event{};
    event.events = events;
    event.data.ptr = handler;
    return event;
}

} // namespace

Poller::Poller()
    : m_epoll(epoll_create1(EPOLL_CLOEXEC))
    , m_wakeFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
{
    if (m_epoll < 0 || m_wakeFd < 0)
        qFatal("cannot create an epoll set or eventfd: %s", std::strerror(errno));
    epoll_event event = eventFor(nullptr, EPOLLIN); // a null handler is the wake-up
    epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wakeFd, &event);
}

Poller::~Poller()
{
    ::close(m_wakeFd);
    ::close(m_epoll);
}

void Poller::add(int fd, Handler *handler, quint32 events)
{
    epoll_event event = eventFor(handler, events);
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &event) != 0)
        qFatal("epoll_ctl(ADD) failed: %s", std::strerror(errno));
}

void Poller::modify(int fd, Handler *handler, quint32 events)
{
    epoll_event event = eventFor(handler, events);
    if (epoll_ctl(m_epoll, EPOLL_CTL_MOD, fd, &event) != 0)
        qFatal("epoll_ctl(MOD) failed: %s", std::strerror(errno));
}

void Poller::remove(int fd)
{
    epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr);
}

bool Poller::poll(int timeoutMs)
{
    epoll_event events[256];
    const int count = epoll_wait(m_epoll, events, 256, timeoutMs);
    bool woken = false;
    for (int i = 0; i < count; ++i) {
        auto *handler = static_cast<Handler *>(events[i].data.ptr);
        if (handler) {
            handler->onEvents(events[i].events);
        } else {
            quint64 value = 0;
            [[maybe_unused]] const auto n = ::read(m_wakeFd, &value, sizeof value);
            woken = true;
        }
    }
    return woken;
}

void Poller::wake()
{
    const quint64 one = 1;
    [[maybe_unused]] const auto n = ::write(m_wakeFd, &one, sizeof one);
}

} // namespace sbbench
