#include "epolldispatcher.h"

#include "hashes.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QPointer>
#include <QSocketNotifier>

#include <QtCore/private/qtimerinfo_unix_p.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

Q_LOGGING_CATEGORY(lcEpoll, "sb.epoll")

namespace sb {

namespace {

// The eventfd's key: no descriptor registration has generation 0.
constexpr quint64 kWakeKey = 0;
// Events taken from the kernel per turn; more stay ready for the next turn.
constexpr int kMaxEvents = 512;

quint64 keyOf(int fd, quint32 generation)
{
    return (quint64(generation) << 32) | quint32(fd);
}

} // namespace

EpollDispatcher::EpollDispatcher(QObject *parent)
    : QAbstractEventDispatcher(parent)
    , m_epoll(epoll_create1(EPOLL_CLOEXEC))
    , m_wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
    , m_timers(std::make_unique<QTimerInfoList>())
{
    if (m_epoll < 0 || m_wake < 0) {
        qCWarning(lcEpoll) << "epoll unavailable:" << std::strerror(errno);
        return;
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kWakeKey;
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wake, &event) < 0) {
        qCWarning(lcEpoll) << "cannot watch the wake-up descriptor:" << std::strerror(errno);
        ::close(m_wake);
        m_wake = -1;
    }
}

EpollDispatcher::~EpollDispatcher()
{
    qDeleteAll(*m_timers);
    if (m_wake >= 0)
        ::close(m_wake);
    if (m_epoll >= 0)
        ::close(m_epoll);
}

bool EpollDispatcher::processEvents(QEventLoop::ProcessEventsFlags flags)
{
    m_interrupted.store(false, std::memory_order_relaxed);
    Q_EMIT awake();
    // Twice: Qt leaves what is posted while posted events are being sent for
    // the next call. A second pass sends that generation too (once, so a
    // self-reposting event cannot starve the sockets) before the loop looks
    // at its descriptors: a Redis message's fan-out runs in a posted event
    // and posts the sessions' write flush (Session::flushQueued), which then
    // reaches the kernel in this turn instead of after the next poll and
    // whatever the sockets it reports bring.
    QCoreApplication::sendPostedEvents();
    QCoreApplication::sendPostedEvents();

    const bool includeTimers = !flags.testFlag(QEventLoop::X11ExcludeTimers);
    const bool includeNotifiers = !flags.testFlag(QEventLoop::ExcludeSocketNotifiers);
    // An event posted since sendPostedEvents() (by this thread or another)
    // has called wakeUp(), so the wait below ends at once for it.
    const bool canWait =
        flags.testFlag(QEventLoop::WaitForMoreEvents) && !m_interrupted.load(std::memory_order_relaxed);
    if (canWait)
        Q_EMIT aboutToBlock();
    if (m_interrupted.load(std::memory_order_relaxed))
        return false;

    // How long to wait: not at all, until the next timer, or until something
    // happens (nullptr).
    timespec wait{0, 0};
    const timespec *timeout = &wait;
    if (canWait && !(includeNotifiers && m_polledCount > 0) && !(includeTimers && m_timers->timerWait(wait)))
        timeout = nullptr;

    applyChanges();
    epoll_event events[kMaxEvents];
    int ready = epoll_pwait2(m_epoll, events, kMaxEvents, timeout, nullptr);
    if (ready < 0) {
        if (errno != EINTR)
            qCWarning(lcEpoll) << "epoll_pwait2 failed:" << std::strerror(errno);
        ready = 0;
    }

    int handled = 0;
    for (int i = 0; i < ready; ++i) {
        if (events[i].data.u64 == kWakeKey) {
            drainWakeUps();
            ++handled;
        }
    }
    if (includeNotifiers) {
        // Looked up again before each notifier: an earlier one's handler may
        // have deleted or disabled it, or closed its descriptor and opened
        // another with the same number (a new generation).
        auto activate = [this](quint64 key, QSocketNotifier *Watch::*which) {
            const auto it = m_watches.constFind(int(quint32(key)));
            if (it == m_watches.cend() || keyOf(it.key(), it->generation) != key)
                return 0;
            QSocketNotifier *notifier = (*it).*which;
            if (!notifier)
                return 0;
            QEvent event(QEvent::SockAct);
            QCoreApplication::sendEvent(notifier, &event);
            return 1;
        };
        for (int i = 0; i < ready; ++i) {
            const quint64 key = events[i].data.u64;
            const quint32 revents = events[i].events;
            if (key == kWakeKey)
                continue;
            // As Qt's own dispatcher maps poll(2): hang-up and error wake the
            // reader, error the writer too.
            if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                handled += activate(key, &Watch::read);
            if (revents & (EPOLLOUT | EPOLLERR))
                handled += activate(key, &Watch::write);
            if (revents & EPOLLPRI)
                handled += activate(key, &Watch::exception);
        }
        if (m_polledCount > 0)
            handled += activatePolled();
    }
    if (includeTimers)
        handled += m_timers->activateTimers();
    return handled > 0;
}

int EpollDispatcher::activatePolled()
{
    QList<QPointer<QSocketNotifier>> due;
    for (const Watch &watch : std::as_const(m_watches)) {
        if (!watch.polled)
            continue;
        for (QSocketNotifier *notifier : {watch.read, watch.write})
            if (notifier)
                due.append(notifier);
    }
    int handled = 0;
    for (const QPointer<QSocketNotifier> &notifier : std::as_const(due)) {
        if (!notifier || !notifier->isEnabled())
            continue;
        QEvent event(QEvent::SockAct);
        QCoreApplication::sendEvent(notifier, &event);
        ++handled;
    }
    return handled;
}

void EpollDispatcher::registerSocketNotifier(QSocketNotifier *notifier)
{
    const int fd = int(notifier->socket());
    Watch &watch = m_watches[fd];
    QSocketNotifier **slot = notifier->type() == QSocketNotifier::Read    ? &watch.read
                           : notifier->type() == QSocketNotifier::Write ? &watch.write
                                                                          : &watch.exception;
    if (*slot && *slot != notifier)
        qCWarning(lcEpoll) << "descriptor" << fd << "already has a notifier of type" << notifier->type();
    *slot = notifier;
    update(fd, watch);
}

void EpollDispatcher::unregisterSocketNotifier(QSocketNotifier *notifier)
{
    const int fd = int(notifier->socket());
    const auto it = m_watches.find(fd);
    if (it == m_watches.end())
        return;
    for (QSocketNotifier **slot : {&it->read, &it->write, &it->exception}) {
        if (*slot == notifier)
            *slot = nullptr;
    }
    update(fd, *it);
}

quint32 EpollDispatcher::wanted(const Watch &watch)
{
    return (watch.read ? quint32(EPOLLIN) : 0u) | (watch.write ? quint32(EPOLLOUT) : 0u)
        | (watch.exception ? quint32(EPOLLPRI) : 0u);
}

// Tells the kernel what `watch` now wants: a new descriptor at once, one that
// wants nothing more at once (it may be closed next), and a change of a
// registered one just before the next wait. A socket's write notifier is
// enabled with every write and disabled once the data is out; when both
// happen within one turn of the loop, the kernel is not asked at all.
void EpollDispatcher::update(int fd, Watch &watch)
{
    const quint32 events = wanted(watch);
    if (watch.polled) {
        if (events == 0) {
            --m_polledCount;
            m_watches.remove(fd);
            squeezeIfSparse(m_watches);
        }
        return;
    }
    if (events == 0) {
        // The descriptor may be closed already (the kernel then dropped it).
        if (watch.events != 0 && epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != ENOENT
            && errno != EBADF)
            qCWarning(lcEpoll) << "cannot stop watching descriptor" << fd << std::strerror(errno);
        m_watches.remove(fd);
        squeezeIfSparse(m_watches);
        return;
    }
    if (watch.events == 0) {
        watch.generation = ++m_nextGeneration == 0 ? ++m_nextGeneration : m_nextGeneration;
        apply(fd, watch, events);
        return;
    }
    if (events != watch.events && !watch.changed) {
        watch.changed = true;
        m_changed.append(fd);
    }
}

// The changes update() left for the turn's end.
void EpollDispatcher::applyChanges()
{
    for (const int fd : std::as_const(m_changed)) {
        const auto it = m_watches.find(fd);
        if (it == m_watches.end() || !it->changed)
            continue;
        it->changed = false;
        const quint32 events = wanted(*it);
        if (events != it->events && it->events != 0)
            apply(fd, *it, events);
    }
    m_changed.clear();
}

void EpollDispatcher::apply(int fd, Watch &watch, quint32 events)
{
    epoll_event event{};
    event.events = events;
    event.data.u64 = keyOf(fd, watch.generation);
    int op = watch.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    int rc = epoll_ctl(m_epoll, op, fd, &event);
    if (rc < 0 && (errno == EEXIST || errno == ENOENT)) {
        op = errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        rc = epoll_ctl(m_epoll, op, fd, &event);
    }
    if (rc < 0 && errno == EPERM) {
        // A regular file or another descriptor epoll cannot watch: poll(2)
        // calls it always ready, and so does this dispatcher.
        watch.polled = true;
        ++m_polledCount;
        watch.events = 0;
        return;
    }
    if (rc < 0) {
        qCWarning(lcEpoll) << "cannot watch descriptor" << fd << std::strerror(errno);
        return;
    }
    watch.events = events;
}

void EpollDispatcher::registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object)
{
    m_timers->registerTimer(timerId, interval, timerType, object);
}

bool EpollDispatcher::unregisterTimer(int timerId)
{
    return m_timers->unregisterTimer(timerId);
}

bool EpollDispatcher::unregisterTimers(QObject *object)
{
    return m_timers->unregisterTimers(object);
}

QList<QAbstractEventDispatcher::TimerInfo> EpollDispatcher::registeredTimers(QObject *object) const
{
    return m_timers->registeredTimers(object);
}

int EpollDispatcher::remainingTime(int timerId)
{
    return m_timers->timerRemainingTime(timerId);
}

void EpollDispatcher::wakeUp()
{
    // One write until the loop has read it: any number of posts wake it once.
    bool expected = false;
    if (!m_wakeUpPending.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
        return;
    const quint64 one = 1;
    while (::write(m_wake, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void EpollDispatcher::interrupt()
{
    m_interrupted.store(true, std::memory_order_relaxed);
    wakeUp();
}

void EpollDispatcher::drainWakeUps()
{
    m_wakeUpPending.store(false, std::memory_order_release);
    quint64 count = 0;
    while (::read(m_wake, &count, sizeof count) < 0 && errno == EINTR) {
    }
}

} // namespace sb
