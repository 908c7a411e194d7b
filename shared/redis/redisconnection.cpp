#include "redisconnection.h"

#include <hiredis/async.h>
#include <hiredis/sds.h>

#include <QHostAddress>
#include <QHostInfo>
#include <QPointer>
#include <QSocketNotifier>

#include <cstring>
#include <utility>
#include <vector>

namespace sb {

Q_LOGGING_CATEGORY(lcRedis, "sb.redis")

namespace {

RedisConnection *owner(const redisAsyncContext *ac)
{
    return static_cast<RedisConnection *>(ac->data);
}

QByteArray errorReply(const QString &message)
{
    return QByteArrayLiteral("ERR ") + message.toUtf8();
}

} // namespace

RedisConnection::RedisConnection(Mode mode, QObject *parent)
    : QObject(parent)
    , m_mode(mode)
    , m_readNotifier(std::make_unique<QSocketNotifier>(QSocketNotifier::Read))
    , m_writeNotifier(std::make_unique<QSocketNotifier>(QSocketNotifier::Write))
{
    // The notifiers live as long as the connection and are pointed at each new
    // context's socket, so no hiredis hook can ever reach a deleted one.
    connect(m_readNotifier.get(), &QSocketNotifier::activated, this, [this] { onSocketActivated(true); });
    connect(m_writeNotifier.get(), &QSocketNotifier::activated, this, [this] { onSocketActivated(false); });
    m_clock.start();
    m_timeoutTimer.setSingleShot(true);
    connect(&m_timeoutTimer, &QTimer::timeout, this, &RedisConnection::onTimeoutTimer);
    m_connectTimer.setSingleShot(true);
    connect(&m_connectTimer, &QTimer::timeout, this, [this] {
        fail(QStringLiteral("no connection within %1 ms").arg(m_connectTimeoutMs));
    });
}

RedisConnection::~RedisConnection()
{
    // Teardown order: (1) mark destroying, so the callbacks hiredis still runs
    // inside redisAsyncFree (NULL replies, cleanup, disconnect) only release;
    // (2) free the context, which disables the notifiers through hookCleanup
    // before hiredis closes the socket; (3) the notifiers and timers go with the
    // members afterwards. Callbacks never run inside hiredis (they are posted),
    // so this cannot be reached with hiredis on the stack.
    Q_ASSERT(m_hiredisDepth == 0);
    m_destroying = true;
    if (m_ctx) {
        redisAsyncContext *ctx = m_ctx;
        if (m_state == State::Connected) {
            // One non-blocking write of what is already queued (a last DEL
            // at shutdown, say); whatever does not fit is lost.
            int done = 0;
            redisBufferWrite(&ctx->c, &done);
        }
        ++m_hiredisDepth;
        redisAsyncFree(ctx);
        --m_hiredisDepth;
        m_ctx = nullptr;
    }
    m_outbox.clear();
}

void RedisConnection::connectTo(const QString &host, quint16 port, const std::optional<QByteArray> &password, int db)
{
    RedisAddress address;
    address.host = host;
    address.port = port;
    address.password = password.value_or(QByteArray());
    address.db = db;
    connectTo(address);
}

void RedisConnection::connectTo(const RedisAddress &address)
{
    if (m_state != State::Disconnected) {
        qCWarning(lcRedis).noquote() << "connectTo" << address.toString() << "ignored: already"
                                     << (m_state == State::Connected ? "connected" : "connecting");
        return;
    }
    m_address = address;
    m_state = State::Connecting;
    m_failure.clear();
    m_connectTimer.start(m_connectTimeoutMs);

    // getaddrinfo() inside redisAsyncConnect() would block the event loop, so
    // names are resolved by QHostInfo first and hiredis only sees addresses.
    const QHostAddress literal(address.host);
    if (!literal.isNull()) {
        startConnect(literal.toString());
        return;
    }
    const quint64 generation = ++m_generation;
    QHostInfo::lookupHost(address.host, this, [this, generation](const QHostInfo &info) {
        if (generation != m_generation || m_state != State::Connecting)
            return;
        const QList<QHostAddress> addresses = info.addresses();
        if (info.error() != QHostInfo::NoError || addresses.isEmpty()) {
            fail(QStringLiteral("cannot resolve %1: %2").arg(m_address.host, info.errorString()));
            return;
        }
        // Redis listens on IPv4 loopback by default; prefer IPv4 when offered.
        QHostAddress chosen = addresses.first();
        for (const QHostAddress &a : addresses) {
            if (a.protocol() == QAbstractSocket::IPv4Protocol) {
                chosen = a;
                break;
            }
        }
        startConnect(chosen.toString());
    });
}

void RedisConnection::startConnect(const QString &ip)
{
    redisAsyncContext *ctx = redisAsyncConnect(ip.toLatin1().constData(), m_address.port);
    if (!ctx) {
        fail(QStringLiteral("cannot allocate a hiredis context"));
        return;
    }
    if (ctx->err) {
        // Refused at once (typical on loopback). Nothing is registered yet, so
        // freeing here runs no callback.
        const QString error = describeError(ctx);
        redisAsyncFree(ctx);
        fail(error);
        return;
    }
    m_ctx = ctx;
    m_contextGone = false;
    m_bytesQueued = 0;
    m_firstUnwritten = m_nextId;
    limitReplySize(ctx->c.reader);
    ctx->data = this;
    ctx->ev.data = this;
    ctx->ev.addRead = &RedisConnection::hookAddRead;
    ctx->ev.delRead = &RedisConnection::hookDelRead;
    ctx->ev.addWrite = &RedisConnection::hookAddWrite;
    ctx->ev.delWrite = &RedisConnection::hookDelWrite;
    ctx->ev.cleanup = &RedisConnection::hookCleanup;
    m_readNotifier->setSocket(ctx->c.fd);
    m_writeNotifier->setSocket(ctx->c.fd);
    // Hooks first: setting the connect callback asks for the first write event.
    redisAsyncSetConnectCallback(ctx, &RedisConnection::onConnectStatus);
    redisAsyncSetDisconnectCallback(ctx, &RedisConnection::onDisconnectStatus);
    sendHandshake();
}

void RedisConnection::sendHandshake()
{
    // Queued before anything else, so they are the first bytes on the wire.
    // PING always goes last: it proves the server answers (a "-DENIED" or
    // "max clients" error then lands on a callback instead of hitting
    // hiredis' assertion for replies nobody asked for).
    QList<QList<QByteArray>> steps;
    if (!m_address.password.isEmpty()) {
        if (m_address.username.isEmpty())
            steps.append({QByteArrayLiteral("AUTH"), m_address.password});
        else
            steps.append({QByteArrayLiteral("AUTH"), m_address.username, m_address.password});
    }
    if (m_mode == Mode::Commands && m_address.db != 0)
        steps.append({QByteArrayLiteral("SELECT"), QByteArray::number(m_address.db)});
    if (m_requireMaster)
        steps.append({QByteArrayLiteral("ROLE")});
    steps.append({QByteArrayLiteral("PING")});

    m_handshakeRemaining = static_cast<int>(steps.size());
    for (const QList<QByteArray> &step : std::as_const(steps)) {
        Pending pending;
        pending.kind = Pending::Kind::Handshake;
        pending.name = step.first();
        if (submit(std::move(pending), step, 0, false) == 0) {
            fail(QStringLiteral("cannot queue %1").arg(QString::fromLatin1(step.first())));
            return;
        }
    }
}

void RedisConnection::disconnectFromServer()
{
    if (m_state == State::Disconnected)
        return;
    m_failure.clear();
    if (m_hiredisDepth > 0) {
        m_teardownRequested = true;
        return;
    }
    teardown();
}

void RedisConnection::command(const QList<QByteArray> &argv, ReplyCallback callback, int timeoutMs)
{
    const auto refuse = [this, &callback](const QString &why) {
        if (callback)
            post([callback = std::move(callback), why] { callback(RedisReply::error(errorReply(why))); });
    };
    if (argv.isEmpty())
        return refuse(QStringLiteral("empty command"));
    if (m_mode != Mode::Commands)
        return refuse(QStringLiteral("a subscriber connection only subscribes"));
    if (m_state != State::Connected)
        return refuse(QStringLiteral("not connected to Redis"));
    Pending pending;
    pending.kind = Pending::Kind::Command;
    pending.callback = callback;
    if (submit(std::move(pending), argv, timeoutMs < 0 ? m_commandTimeoutMs : timeoutMs, false) == 0)
        refuse(QStringLiteral("hiredis refused the command"));
}

void RedisConnection::subscribe(const QByteArray &channel, MessageCallback onMessage, ReplyCallback onSubscribed)
{
    const auto refuse = [this, &onSubscribed](const QString &why) {
        if (onSubscribed)
            post([cb = std::move(onSubscribed), why] { cb(RedisReply::error(errorReply(why))); });
    };
    if (m_mode != Mode::Subscriber)
        return refuse(QStringLiteral("subscribe needs a subscriber connection"));
    if (m_state != State::Connected)
        return refuse(QStringLiteral("not connected to Redis"));
    m_subscriptions.insert(channel, std::move(onMessage));
    Pending pending;
    pending.kind = Pending::Kind::Subscribe;
    pending.callback = onSubscribed;
    pending.name = channel;
    if (submit(std::move(pending), {QByteArrayLiteral("SUBSCRIBE"), channel}, m_commandTimeoutMs, true) == 0) {
        m_subscriptions.remove(channel);
        refuse(QStringLiteral("hiredis refused SUBSCRIBE"));
    }
}

void RedisConnection::unsubscribe(const QByteArray &channel)
{
    // Messages already on their way are dropped from here on.
    m_subscriptions.remove(channel);
    sendUnsubscribe("UNSUBSCRIBE", channel);
}

void RedisConnection::psubscribe(const QByteArray &pattern, PatternMessageCallback onMessage,
                                 ReplyCallback onSubscribed)
{
    const auto refuse = [this, &onSubscribed](const QString &why) {
        if (onSubscribed)
            post([cb = std::move(onSubscribed), why] { cb(RedisReply::error(errorReply(why))); });
    };
    if (m_mode != Mode::Subscriber)
        return refuse(QStringLiteral("psubscribe needs a subscriber connection"));
    if (m_state != State::Connected)
        return refuse(QStringLiteral("not connected to Redis"));
    m_patternSubscriptions.insert(pattern, std::move(onMessage));
    Pending pending;
    pending.kind = Pending::Kind::PatternSubscribe;
    pending.callback = onSubscribed;
    pending.name = pattern;
    if (submit(std::move(pending), {QByteArrayLiteral("PSUBSCRIBE"), pattern}, m_commandTimeoutMs, true) == 0) {
        m_patternSubscriptions.remove(pattern);
        refuse(QStringLiteral("hiredis refused PSUBSCRIBE"));
    }
}

void RedisConnection::punsubscribe(const QByteArray &pattern)
{
    m_patternSubscriptions.remove(pattern);
    sendUnsubscribe("PUNSUBSCRIBE", pattern);
}

void RedisConnection::sendUnsubscribe(const char *command, const QByteArray &name)
{
    if (m_mode != Mode::Subscriber || m_state != State::Connected || !m_ctx)
        return;
    const char *argv[] = {command, name.constData()};
    const size_t lengths[] = {std::strlen(command), static_cast<size_t>(name.size())};
    // hiredis routes the confirmation to the subscription's callback; REDIS_ERR
    // only means hiredis knows of no such subscription, which is fine.
    appendCommand(reinterpret_cast<void *>(&RedisConnection::onPubSubReply), nullptr, 2, argv, lengths);
}

quint64 RedisConnection::submit(Pending pending, const QList<QByteArray> &argv, int timeoutMs, bool pubsub)
{
    if (!m_ctx)
        return 0;
    std::vector<const char *> args;
    std::vector<size_t> lengths;
    args.reserve(static_cast<size_t>(argv.size()));
    lengths.reserve(static_cast<size_t>(argv.size()));
    for (const QByteArray &arg : argv) {
        args.push_back(arg.constData());
        lengths.push_back(static_cast<size_t>(arg.size()));
    }
    const quint64 id = m_nextId++;
    // The id, not a pointer, travels through hiredis: a reply arriving after
    // its command timed out finds no entry and is ignored.
    void *privdata = pubsub ? nullptr : reinterpret_cast<void *>(static_cast<quintptr>(id));
    redisCallbackFn *fn = pubsub ? &RedisConnection::onPubSubReply : &RedisConnection::onCommandReply;
    if (appendCommand(reinterpret_cast<void *>(fn), privdata, static_cast<int>(args.size()), args.data(),
                      lengths.data())
        != REDIS_OK)
        return 0;
    pending.endOffset = m_bytesQueued;

    if (timeoutMs > 0) {
        // Provisional: restarted once the command is written (noteWritten).
        // Should the socket take nothing for this long, Redis is not reading.
        pending.timeoutMs = timeoutMs;
        armDeadline(id, pending, m_clock.elapsed() + timeoutMs);
    }
    m_pending.emplace(id, std::move(pending));
    return id;
}

int RedisConnection::appendCommand(void *fn, void *privdata, int argc, const char **argv, const size_t *lengths)
{
    // hiredis keeps what is not written yet in c.obuf, so the bytes queued so
    // far minus its length is how far the socket has taken the stream.
    const size_t before = m_ctx->c.obuf ? sdslen(m_ctx->c.obuf) : 0;
    const int status = redisAsyncCommandArgv(m_ctx, reinterpret_cast<redisCallbackFn *>(fn), privdata, argc, argv,
                                             lengths);
    const size_t after = m_ctx && m_ctx->c.obuf ? sdslen(m_ctx->c.obuf) : 0;
    if (status == REDIS_OK && after > before)
        m_bytesQueued += static_cast<qint64>(after - before);
    return status;
}

void RedisConnection::armDeadline(quint64 id, Pending &pending, qint64 deadline)
{
    removeDeadline(pending);
    pending.deadline = m_deadlines.emplace(deadline, id);
    pending.hasDeadline = true;
    if (!m_timeoutTimer.isActive() || deadline < m_timerDeadline) {
        m_timerDeadline = deadline;
        m_timeoutTimer.start(static_cast<int>(std::max<qint64>(0, deadline - m_clock.elapsed())));
    }
}

void RedisConnection::noteWritten()
{
    if (!m_ctx)
        return;
    const qint64 written = m_bytesQueued - static_cast<qint64>(m_ctx->c.obuf ? sdslen(m_ctx->c.obuf) : 0);
    const qint64 now = m_clock.elapsed();
    auto it = m_pending.lower_bound(m_firstUnwritten);
    for (; it != m_pending.end() && it->second.endOffset <= written; ++it) {
        Pending &p = it->second;
        p.written = true;
        if (p.hasDeadline)
            armDeadline(it->first, p, now + p.timeoutMs);
    }
    m_firstUnwritten = it == m_pending.end() ? m_nextId : it->first;
}

void RedisConnection::removeDeadline(Pending &pending)
{
    if (pending.hasDeadline) {
        m_deadlines.erase(pending.deadline);
        pending.hasDeadline = false;
    }
}

void RedisConnection::completePending(quint64 id, const RedisReply &reply)
{
    const auto it = m_pending.find(id);
    if (it == m_pending.end())
        return; // timed out earlier, or the connection is ending
    Pending pending = std::move(it->second);
    m_pending.erase(it);
    removeDeadline(pending);

    if (pending.kind == Pending::Kind::Handshake) {
        if (reply.isError()) {
            // Redis' text ("WRONGPASS …", "NOAUTH …") never contains the password.
            fail(QStringLiteral("%1 failed: %2").arg(QString::fromLatin1(pending.name), reply.text()));
            return;
        }
        // ROLE answers ["master", offset, replicas] or ["slave", host, port, …].
        if (pending.name == "ROLE" && reply.at(0).bytes() != "master") {
            fail(QStringLiteral("the server is a %1, not a master")
                     .arg(reply.at(0).bytes().isEmpty() ? reply.toString() : reply.at(0).text()));
            return;
        }
        if (--m_handshakeRemaining == 0 && m_state == State::Connecting) {
            m_state = State::Connected;
            m_connectTimer.stop();
            qCInfo(lcRedis).noquote() << "connected to" << m_address.toString()
                                      << (m_mode == Mode::Subscriber ? "(subscriber)" : "");
            post([this] { Q_EMIT connected(); });
        }
        return;
    }
    if (pending.kind == Pending::Kind::Subscribe && reply.isError())
        m_subscriptions.remove(pending.name);
    if (pending.kind == Pending::Kind::PatternSubscribe && reply.isError())
        m_patternSubscriptions.remove(pending.name);
    if (pending.callback)
        post([cb = std::move(pending.callback), reply] { cb(reply); });
}

void RedisConnection::onTimeoutTimer()
{
    const qint64 now = m_clock.elapsed();
    const auto first = m_deadlines.begin();
    if (first == m_deadlines.end())
        return;
    if (first->first > now) {
        m_timerDeadline = first->first;
        m_timeoutTimer.start(static_cast<int>(first->first - now));
        return;
    }
    // This timer may run before the notifiers of a socket that is ready
    // (in the same loop iteration, or after this process was starved of CPU
    // for seconds): write what is queued, hand hiredis whatever already
    // waits to be read, and only then look again at what is late.
    if (m_ctx && m_state == State::Connected && m_hiredisDepth == 0) {
        ++m_hiredisDepth;
        redisAsyncHandleWrite(m_ctx);
        if (m_ctx)
            redisAsyncHandleRead(m_ctx);
        --m_hiredisDepth;
        noteWritten();
        afterHiredis();
        if (m_state != State::Connected)
            return; // the connection ended meanwhile; everything pending failed with its reason
        const auto next = m_deadlines.begin();
        if (next == m_deadlines.end())
            return;
        const qint64 later = m_clock.elapsed();
        if (next->first > later) {
            m_timerDeadline = next->first;
            m_timeoutTimer.start(static_cast<int>(next->first - later));
            return;
        }
        return lateReply(next);
    }
    lateReply(first);
}

void RedisConnection::lateReply(std::multimap<qint64, quint64>::iterator first)
{
    // Redis answers in order, so one late reply means everything behind it is
    // late too: answer this one, then treat the connection as broken.
    const quint64 id = first->second;
    const auto it = m_pending.find(id);
    m_deadlines.erase(first);
    if (it == m_pending.end())
        return;
    Pending pending = std::move(it->second);
    m_pending.erase(it);
    pending.hasDeadline = false;
    const QString why = QStringLiteral("no reply within %1 ms").arg(pending.timeoutMs);
    if (pending.callback)
        post([cb = std::move(pending.callback), why] { cb(RedisReply::error(errorReply(why))); });
    fail(why);
}

void RedisConnection::fail(const QString &error)
{
    if (m_state == State::Disconnected)
        return;
    if (m_failure.isEmpty())
        m_failure = error;
    if (m_hiredisDepth > 0) {
        // Freeing the context now would pull it from under hiredis' feet
        // (0.14 even calls onConnect outside its in-callback guard).
        m_teardownRequested = true;
        return;
    }
    teardown();
}

void RedisConnection::onSocketActivated(bool readable)
{
    if (!m_ctx)
        return;
    ++m_hiredisDepth;
    if (readable)
        redisAsyncHandleRead(m_ctx);
    else
        redisAsyncHandleWrite(m_ctx);
    --m_hiredisDepth;
    if (!readable)
        noteWritten();
    // hiredis may have freed the context inside that call (hookCleanup told us).
    afterHiredis();
}

void RedisConnection::afterHiredis()
{
    if (m_hiredisDepth > 0)
        return;
    if (m_teardownRequested || m_contextGone)
        teardown();
}

void RedisConnection::teardown()
{
    m_teardownRequested = false;
    ++m_generation;
    if (m_ctx) {
        redisAsyncContext *ctx = m_ctx;
        ++m_hiredisDepth;
        m_freeing = true;
        redisAsyncFree(ctx); // runs NULL-reply callbacks, hookCleanup, onDisconnect, then frees
        m_freeing = false;
        --m_hiredisDepth;
    }
    m_ctx = nullptr;
    m_contextGone = false;
    finishDisconnect();
}

void RedisConnection::finishDisconnect()
{
    if (m_state == State::Disconnected)
        return;
    const State was = m_state;
    m_state = State::Disconnected;
    m_connectTimer.stop();
    m_timeoutTimer.stop();
    m_deadlines.clear();
    m_subscriptions.clear();
    m_patternSubscriptions.clear();
    m_handshakeRemaining = 0;
    const QString error = m_failure;
    m_failure.clear();

    if (!error.isEmpty()) {
        if (was == State::Connecting)
            qCWarning(lcRedis).noquote() << "cannot connect to" << m_address.toString() << "-" << error;
        else
            qCWarning(lcRedis).noquote() << "connection to" << m_address.toString() << "lost -" << error;
    }

    // Everything still pending fails, in the order it was sent.
    const QByteArray reason = errorReply(QStringLiteral("connection closed: ")
                                         + (error.isEmpty() ? QStringLiteral("disconnected") : error));
    std::map<quint64, Pending> pending = std::exchange(m_pending, {});
    for (auto &[id, p] : pending) {
        if (p.callback)
            post([cb = std::move(p.callback), reason] { cb(RedisReply::error(reason)); });
    }
    post([this, error] { Q_EMIT disconnected(error); });
}

QString RedisConnection::describeError(const redisAsyncContext *ac) const
{
    // c.errstr, not ac->errstr: 0.14 copies the latter only after onConnect ran.
    const QString text = QString::fromLocal8Bit(ac->c.errstr);
    return text.isEmpty() ? QStringLiteral("hiredis error %1").arg(ac->c.err) : text;
}

void RedisConnection::post(std::function<void()> fn)
{
    m_outbox.push_back(std::move(fn));
    if (!m_deliveryPosted) {
        m_deliveryPosted = true;
        QMetaObject::invokeMethod(this, [this] { deliver(); }, Qt::QueuedConnection);
    }
}

void RedisConnection::deliver()
{
    m_deliveryPosted = false;
    const QPointer<RedisConnection> alive(this);
    while (!m_outbox.empty()) {
        std::function<void()> fn = std::move(m_outbox.front());
        m_outbox.pop_front();
        fn();
        if (!alive)
            return; // a callback deleted us
    }
}

// --- hiredis hooks --------------------------------------------------------

void RedisConnection::hookAddRead(void *self)
{
    static_cast<RedisConnection *>(self)->m_readNotifier->setEnabled(true);
}

void RedisConnection::hookDelRead(void *self)
{
    static_cast<RedisConnection *>(self)->m_readNotifier->setEnabled(false);
}

void RedisConnection::hookAddWrite(void *self)
{
    static_cast<RedisConnection *>(self)->m_writeNotifier->setEnabled(true);
}

void RedisConnection::hookDelWrite(void *self)
{
    static_cast<RedisConnection *>(self)->m_writeNotifier->setEnabled(false);
}

void RedisConnection::hookCleanup(void *self)
{
    // hiredis is about to close the socket and free the context (its own
    // error path, or our redisAsyncFree). Stop watching the descriptor before
    // it is closed and may be reused, and forget the context for good.
    auto *c = static_cast<RedisConnection *>(self);
    c->m_readNotifier->setEnabled(false);
    c->m_writeNotifier->setEnabled(false);
    c->m_readNotifier->setSocket(-1);
    c->m_writeNotifier->setSocket(-1);
    c->m_ctx = nullptr;
    if (!c->m_destroying && !c->m_freeing)
        c->m_contextGone = true;
}

void RedisConnection::onConnectStatus(const redisAsyncContext *ac, int status)
{
    RedisConnection *c = owner(ac);
    if (!c || c->m_destroying || status == REDIS_OK)
        return; // success is reported once the handshake is answered
    // hiredis frees the context right after this returns.
    if (c->m_failure.isEmpty())
        c->m_failure = c->describeError(ac);
}

void RedisConnection::onDisconnectStatus(const redisAsyncContext *ac, int status)
{
    RedisConnection *c = owner(ac);
    // Only a drop hiredis noticed itself needs a reason here; ours has one
    // already (or none, when disconnectFromServer() asked for it).
    if (!c || c->m_destroying || c->m_freeing || !c->m_failure.isEmpty())
        return;
    c->m_failure = status == REDIS_OK ? QStringLiteral("server closed the connection") : c->describeError(ac);
}

void RedisConnection::onCommandReply(redisAsyncContext *ac, void *reply, void *privdata)
{
    RedisConnection *c = owner(ac);
    // A NULL reply means the context is being freed; finishDisconnect() fails
    // whatever is still pending, in order, with the reason.
    if (!c || c->m_destroying || !reply)
        return;
    c->completePending(static_cast<quint64>(reinterpret_cast<quintptr>(privdata)),
                       RedisReply::fromHiredis(static_cast<const redisReply *>(reply)));
}

void RedisConnection::onPubSubReply(redisAsyncContext *ac, void *reply, void *)
{
    RedisConnection *c = owner(ac);
    if (!c || c->m_destroying || !reply)
        return;
    // Routed by content: hiredis 0.14 can hand a reply to a stale callback
    // entry, so privdata is never trusted here.
    c->routePubSubReply(static_cast<const redisReply *>(reply));
}

void RedisConnection::routePubSubReply(const redisReply *r)
{
    const auto bytes = [](const redisReply *e) {
        return e && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS)
                   ? QByteArray(e->str, static_cast<qsizetype>(e->len))
                   : QByteArray();
    };
    const auto confirm = [this, r](Pending::Kind kind, const QByteArray &name) {
        for (const auto &[id, p] : m_pending) {
            if (p.kind == kind && p.name == name) {
                completePending(id, RedisReply::fromHiredis(r));
                break;
            }
        }
    };
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3) {
        const QByteArray kind = bytes(r->element[0]).toLower();
        const QByteArray channel = bytes(r->element[1]);
        if (kind == "message") {
            const auto it = m_subscriptions.constFind(channel);
            if (it != m_subscriptions.cend() && *it)
                post([handler = *it, channel, payload = bytes(r->element[2])] { handler(channel, payload); });
            return;
        }
        if (kind == "pmessage" && r->elements >= 4) {
            // pattern, channel, payload
            const auto it = m_patternSubscriptions.constFind(channel);
            if (it != m_patternSubscriptions.cend() && *it) {
                post([handler = *it, pattern = channel, realChannel = bytes(r->element[2]),
                      payload = bytes(r->element[3])] { handler(pattern, realChannel, payload); });
            }
            return;
        }
        if (kind == "subscribe")
            confirm(Pending::Kind::Subscribe, channel);
        else if (kind == "psubscribe")
            confirm(Pending::Kind::PatternSubscribe, channel);
        return; // "(p)unsubscribe" confirmations need nothing
    }
    // An error (ACL, OOM …) answers the oldest (p)subscribe still waiting.
    const RedisReply copy = RedisReply::fromHiredis(r);
    qCWarning(lcRedis).noquote() << "unexpected reply on subscriber connection to" << m_address.toString() << "-"
                                 << copy.toString();
    for (const auto &[id, p] : m_pending) {
        if (p.kind == Pending::Kind::Subscribe || p.kind == Pending::Kind::PatternSubscribe) {
            completePending(id, copy);
            break;
        }
    }
}

} // namespace sb
