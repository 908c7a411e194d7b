#include "operatorhub.h"

#include <QPointer>
#include <QSet>

#include <algorithm>
#include <memory>

namespace sb::console {

OperatorHub::OperatorHub(QObject *parent)
    : QObject(parent)
{
}

OperatorHub::~OperatorHub()
{
    m_running = false;
    qDeleteAll(m_clients);
}

QUrl OperatorHub::normalizeUrl(const QString &text)
{
    QString trimmed = text.trimmed();
    if (trimmed.isEmpty())
        return {};
    if (!trimmed.contains(QLatin1StringView("://")))
        trimmed.prepend(QStringLiteral("http://"));
    QUrl url(trimmed, QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty())
        return {};
    if (url.scheme() == QLatin1StringView("ws"))
        url.setScheme(QStringLiteral("http"));
    else if (url.scheme() == QLatin1StringView("wss"))
        url.setScheme(QStringLiteral("https"));
    if (url.scheme() != QLatin1StringView("http") && url.scheme() != QLatin1StringView("https"))
        return {};
    QString path = url.path();
    while (path.endsWith(QLatin1Char('/')))
        path.chop(1);
    url.setPath(path);
    return url;
}

void OperatorHub::setOperatorKey(const QString &key)
{
    m_operatorKey = key;
    for (InstanceClient *c : std::as_const(m_clients))
        c->setOperatorKey(key);
}

InstanceClient *OperatorHub::addInstance(const QUrl &url)
{
    if (InstanceClient *existing = clientForUrl(url)) {
        m_discovery[existing].pinned = true;
        return existing;
    }
    return createClient(url, true);
}

InstanceClient *OperatorHub::createClient(const QUrl &url, bool pinned)
{
    auto *client = new InstanceClient(url, m_options, this);
    client->setOperatorKey(m_operatorKey);
    m_clients.append(client);
    m_discovery[client].pinned = pinned;
    Q_EMIT clientAdded(client);
    if (m_running)
        client->start();
    return client;
}

bool OperatorHub::isPinned(const InstanceClient *client) const
{
    return m_discovery.value(client).pinned;
}

void OperatorHub::applyDiscovered(const QList<DiscoveredInstance> &instances, const QString &fallbackHost)
{
    QSet<const InstanceClient *> seen;
    for (const DiscoveredInstance &d : instances) {
        const QUrl url = d.url(fallbackHost);
        InstanceClient *client = clientForUrl(url);
        if (!client) {
            // A pinned URL spelled differently (localhost, a name) is the same instance.
            for (InstanceClient *c : std::as_const(m_clients)) {
                if (isPinned(c) && c->instanceId() == d.id) {
                    client = c;
                    break;
                }
            }
        }
        if (!client)
            client = createClient(url, false);
        seen.insert(client);
        Discovery &state = m_discovery[client];
        state.present = true;
        state.missingFor.invalidate();
        Q_EMIT heartbeatSeen(client, true, d);
    }

    QList<InstanceClient *> remove;
    for (InstanceClient *c : std::as_const(m_clients)) {
        Discovery &state = m_discovery[c];
        // A discovered duplicate of a pinned instance goes at once.
        if (!state.pinned && !c->instanceId().isEmpty()) {
            const bool duplicate = std::any_of(m_clients.cbegin(), m_clients.cend(), [&](const InstanceClient *o) {
                return o != c && isPinned(o) && o->instanceId() == c->instanceId();
            });
            if (duplicate) {
                remove.append(c);
                continue;
            }
        }
        if (seen.contains(c))
            continue;
        if (state.present || !state.missingFor.isValid()) {
            state.present = false;
            state.missingFor.start();
            Q_EMIT heartbeatSeen(c, false, {});
        }
        if (!state.pinned && !c->isLive() && state.missingFor.elapsed() >= m_vanishGraceMs)
            remove.append(c);
    }
    for (InstanceClient *c : std::as_const(remove))
        removeInstance(c->baseUrl());
}

void OperatorHub::removeInstance(const QUrl &url)
{
    InstanceClient *client = clientForUrl(url);
    if (!client)
        return;
    m_clients.removeOne(client);
    m_discovery.remove(client);
    client->stop();
    Q_EMIT clientRemoved(client);
    client->deleteLater();
}

QList<QUrl> OperatorHub::instanceUrls() const
{
    QList<QUrl> urls;
    for (const InstanceClient *c : m_clients)
        urls.append(c->baseUrl());
    return urls;
}

QList<QUrl> OperatorHub::pinnedUrls() const
{
    QList<QUrl> urls;
    for (const InstanceClient *c : m_clients) {
        if (isPinned(c))
            urls.append(c->baseUrl());
    }
    return urls;
}

InstanceClient *OperatorHub::clientForUrl(const QUrl &url) const
{
    for (InstanceClient *c : m_clients) {
        if (c->baseUrl() == url)
            return c;
    }
    return nullptr;
}

InstanceClient *OperatorHub::clientForInstance(const QString &instanceId) const
{
    for (InstanceClient *c : m_clients) {
        if (!instanceId.isEmpty() && c->instanceId() == instanceId)
            return c;
    }
    return nullptr;
}

InstanceClient *OperatorHub::anyLive() const
{
    for (InstanceClient *c : m_clients) {
        if (c->isLive())
            return c;
    }
    return nullptr;
}

void OperatorHub::start()
{
    m_running = true;
    for (InstanceClient *c : std::as_const(m_clients))
        c->start();
}

void OperatorHub::stop()
{
    m_running = false;
    for (InstanceClient *c : std::as_const(m_clients))
        c->stop();
}

void OperatorHub::restartAll()
{
    m_running = true;
    for (InstanceClient *c : std::as_const(m_clients))
        c->restart();
}

QList<InstanceClient *> OperatorHub::clusterRepresentatives() const
{
    QList<InstanceClient *> out;
    bool haveShared = false;
    for (InstanceClient *c : m_clients) {
        if (!c->isLive())
            continue;
        const bool local = c->instanceInfo().backplane == QLatin1StringView("local");
        if (local || !haveShared) {
            out.append(c);
            haveShared = haveShared || !local;
        }
    }
    return out;
}

void OperatorHub::fanOut(const QList<InstanceClient *> &targets,
                         const std::function<void(InstanceClient *, ReplyHandler)> &send, QObject *context,
                         ReplyHandler handler)
{
    if (targets.isEmpty()) {
        if (handler)
            handler(Reply{false, {}, QStringLiteral("disconnected"), tr("No instance is connected.")});
        return;
    }
    if (targets.size() == 1) {
        send(targets.first(), std::move(handler));
        return;
    }
    struct Collect
    {
        int waiting = 0;
        qint64 recipients = 0;
        QStringList errors;
        bool anyOk = false;
        QJsonObject lastAck;
        ReplyHandler handler;
    };
    auto collect = std::make_shared<Collect>();
    collect->waiting = static_cast<int>(targets.size());
    collect->handler = std::move(handler);
    QPointer<QObject> guard(context);
    const bool hasContext = context != nullptr;
    for (InstanceClient *c : targets) {
        send(c, [collect, guard, hasContext, id = c->instanceId()](const Reply &reply) {
            if (reply.ok) {
                collect->anyOk = true;
                collect->recipients += reply.frame.value(QLatin1StringView("recipients")).toInteger();
                collect->lastAck = reply.frame;
            } else {
                collect->errors.append(id + QStringLiteral(": ") + reply.text);
            }
            if (--collect->waiting > 0 || (hasContext && !guard) || !collect->handler)
                return;
            Reply total;
            total.ok = collect->anyOk;
            total.frame = collect->lastAck;
            total.frame.insert(QLatin1StringView("recipients"), collect->recipients);
            total.text = collect->errors.join(QLatin1Char('\n'));
            collect->handler(total);
        });
    }
}

void OperatorHub::inject(const InjectTarget &target, const QString &text, QObject *context, ReplyHandler handler)
{
    QList<InstanceClient *> targets;
    if (target.kind == InjectTarget::Kind::Instance) {
        if (InstanceClient *c = clientForInstance(target.value); c && c->isLive())
            targets.append(c);
        else if (InstanceClient *any = anyLive(); any && any->instanceInfo().backplane != QLatin1StringView("local"))
            targets.append(any);
    } else {
        targets = clusterRepresentatives();
    }
    fanOut(targets, [target, text, context](InstanceClient *c, ReplyHandler h) { c->inject(target, text, context, std::move(h)); },
           context, std::move(handler));
}

void OperatorHub::disconnectSession(const QString &sessionId, const QString &instanceId, QObject *context,
                                    ReplyHandler handler)
{
    InstanceClient *c = clientForInstance(instanceId);
    if (!c || !c->isLive())
        c = anyLive();
    fanOut(c ? QList<InstanceClient *>{c} : QList<InstanceClient *>{},
           [sessionId, context](InstanceClient *client, ReplyHandler h) { client->disconnectSession(sessionId, context, std::move(h)); },
           context, std::move(handler));
}

void OperatorHub::drain(const QString &instanceId, QObject *context, ReplyHandler handler)
{
    InstanceClient *c = clientForInstance(instanceId);
    if (!c || !c->isLive())
        c = anyLive();
    fanOut(c ? QList<InstanceClient *>{c} : QList<InstanceClient *>{},
           [instanceId, context](InstanceClient *client, ReplyHandler h) { client->drain(instanceId, context, std::move(h)); },
           context, std::move(handler));
}

void OperatorHub::undrain(const QString &instanceId, QObject *context, ReplyHandler handler)
{
    InstanceClient *c = clientForInstance(instanceId);
    if (!c || !c->isLive())
        c = anyLive();
    fanOut(c ? QList<InstanceClient *>{c} : QList<InstanceClient *>{},
           [instanceId, context](InstanceClient *client, ReplyHandler h) { client->undrain(instanceId, context, std::move(h)); },
           context, std::move(handler));
}

void OperatorHub::setTicker(bool enabled, QObject *context, ReplyHandler handler)
{
    fanOut(clusterRepresentatives(),
           [enabled, context](InstanceClient *client, ReplyHandler h) { client->setTicker(enabled, context, std::move(h)); },
           context, std::move(handler));
}

} // namespace sb::console
