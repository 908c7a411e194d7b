#pragma once

// EpollDispatcher: the main thread's event dispatcher on Linux. Qt's UNIX
// dispatcher rebuilds and polls the whole set of socket notifiers on every
// turn of the event loop, so each turn costs O(connections) in the kernel
// (sock_poll/tcp_poll under ppoll) even when one socket is ready; with 10 000
// connections that was the biggest single cost of a join. epoll keeps the set
// in the kernel and reports only the ready sockets. Timers stay Qt's own
// (QTimerInfoList, the list Qt's UNIX dispatcher uses), so they fire exactly
// as before.
//
// Installed by main() before the QCoreApplication exists; SB_EVENT_LOOP=poll
// keeps Qt's dispatcher instead.

#include <QAbstractEventDispatcher>
#include <QHash>
#include <QList>

#include <atomic>
#include <memory>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
class QTimerInfoList;
QT_END_NAMESPACE

namespace sb {

class EpollDispatcher final : public QAbstractEventDispatcher
{
    Q_OBJECT

public:
    explicit EpollDispatcher(QObject *parent = nullptr);
    ~EpollDispatcher() override;

    // False when the kernel refused an epoll or eventfd descriptor: then
    // use Qt's dispatcher.
    bool isValid() const { return m_epoll >= 0 && m_wake >= 0; }

    bool processEvents(QEventLoop::ProcessEventsFlags flags) override;

    void registerSocketNotifier(QSocketNotifier *notifier) override;
    void unregisterSocketNotifier(QSocketNotifier *notifier) override;

    void registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object) override;
    bool unregisterTimer(int timerId) override;
    bool unregisterTimers(QObject *object) override;
    QList<TimerInfo> registeredTimers(QObject *object) const override;
    int remainingTime(int timerId) override;

    void wakeUp() override;
    void interrupt() override;

private:
    // The notifiers of one descriptor, and what the kernel watches for it.
    // `generation` tells an event of this registration from one of an earlier
    // descriptor with the same number, closed and reused within one turn.
    struct Watch
    {
        QSocketNotifier *read = nullptr;
        QSocketNotifier *write = nullptr;
        QSocketNotifier *exception = nullptr;
        quint32 generation = 0;
        quint32 events = 0; // registered with the kernel; 0: not registered
        bool polled = false; // not pollable (a regular file): always ready
        bool changed = false; // in m_changed
    };

    static quint32 wanted(const Watch &watch);
    void update(int fd, Watch &watch);
    void applyChanges();
    void apply(int fd, Watch &watch, quint32 events);
    int activatePolled();
    void drainWakeUps();

    int m_epoll = -1;
    int m_wake = -1; // eventfd
    std::atomic<bool> m_wakeUpPending{false};
    std::atomic<bool> m_interrupted{false};
    quint32 m_nextGeneration = 0;
    QHash<int, Watch> m_watches;
    QList<int> m_changed; // descriptors whose wanted events changed this turn
    int m_polledCount = 0;
    std::unique_ptr<QTimerInfoList> m_timers; // Qt's private timer list
};

} // namespace sb
