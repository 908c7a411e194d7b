#include "wire.h"

#include "jsonfields.h"

#include <QJsonArray>

namespace sb {

using json::boolean;
using json::integer;
using json::number;
using json::str;

QJsonObject WelcomeInfo::toJson() const
{
    return {{QLatin1StringView("session_id"), sessionId},
            {QLatin1StringView("client_id"), clientId},
            {QLatin1StringView("user"), user},
            {QLatin1StringView("role"), role},
            {QLatin1StringView("instance"), instance},
            {QLatin1StringView("color"), color},
            {QLatin1StringView("sticky"), sticky},
            {QLatin1StringView("heartbeat_ms"), heartbeatMs},
            {QLatin1StringView("server_time"), serverTime}};
}

WelcomeInfo WelcomeInfo::fromJson(const QJsonObject &welcome)
{
    WelcomeInfo w;
    w.sessionId = str(welcome, "session_id");
    w.clientId = str(welcome, "client_id");
    w.user = str(welcome, "user");
    w.role = str(welcome, "role");
    w.instance = str(welcome, "instance");
    w.color = str(welcome, "color");
    w.sticky = welcome.value(QLatin1StringView("sticky")).toBool(true);
    w.heartbeatMs = static_cast<int>(integer(welcome, "heartbeat_ms"));
    if (w.heartbeatMs <= 0)
        w.heartbeatMs = 25000;
    w.serverTime = integer(welcome, "server_time");
    return w;
}

ConnectionInfo ConnectionInfo::fromJson(const QJsonObject &conn)
{
    ConnectionInfo c;
    c.sessionId = str(conn, "session_id");
    c.clientId = str(conn, "client_id");
    c.user = str(conn, "user");
    c.role = str(conn, "role");
    c.remote = str(conn, "remote");
    c.instance = str(conn, "instance");
    // The contract sends an array; the Redis registry a comma-separated string.
    const QJsonValue rooms = conn.value(QLatin1StringView("rooms"));
    if (rooms.isArray()) {
        for (const QJsonValue &r : rooms.toArray())
            c.rooms.append(r.toString());
    } else if (rooms.isString() && !rooms.toString().isEmpty()) {
        c.rooms = rooms.toString().split(QLatin1Char(','));
    }
    c.rooms.sort();
    c.connectedAt = integer(conn, "connected_at");
    c.framesIn = integer(conn, "frames_in");
    c.framesOut = integer(conn, "frames_out");
    const QJsonValue sticky = conn.value(QLatin1StringView("sticky"));
    c.sticky = sticky.isBool() ? sticky.toBool() : sticky.toVariant().toString() != QLatin1StringView("0");
    c.queueBytes = integer(conn, "queue_bytes");
    return c;
}

QJsonObject ConnectionInfo::toJson() const
{
    return {{QLatin1StringView("session_id"), sessionId},
            {QLatin1StringView("client_id"), clientId},
            {QLatin1StringView("user"), user},
            {QLatin1StringView("role"), role},
            {QLatin1StringView("remote"), remote},
            {QLatin1StringView("instance"), instance},
            {QLatin1StringView("rooms"), QJsonArray::fromStringList(rooms)},
            {QLatin1StringView("connected_at"), connectedAt},
            {QLatin1StringView("frames_in"), framesIn},
            {QLatin1StringView("frames_out"), framesOut},
            {QLatin1StringView("sticky"), sticky},
            {QLatin1StringView("queue_bytes"), queueBytes}};
}

QString ConnectionInfo::toString() const
{
    return QStringLiteral("conn(%1 user=%2 client=%3 instance=%4 rooms=[%5] in=%6 out=%7 sticky=%8)")
        .arg(sessionId, user, clientId, instance, rooms.join(QLatin1Char(',')))
        .arg(framesIn)
        .arg(framesOut)
        .arg(sticky ? QStringLiteral("yes") : QStringLiteral("no"));
}

bool ConnectionInfo::operator==(const ConnectionInfo &o) const
{
    return framesIn == o.framesIn && framesOut == o.framesOut && queueBytes == o.queueBytes && sticky == o.sticky
           && connectedAt == o.connectedAt && rooms == o.rooms && sessionId == o.sessionId && instance == o.instance
           && clientId == o.clientId && user == o.user && role == o.role && remote == o.remote;
}

QJsonObject InstanceInfo::toJson() const
{
    return {{QLatin1StringView("id"), id},
            {QLatin1StringView("color"), color},
            {QLatin1StringView("version"), version},
            {QLatin1StringView("started_at"), startedAt},
            {QLatin1StringView("connections"), connections},
            {QLatin1StringView("backplane"), backplane},
            {QLatin1StringView("backplane_up"), backplaneUp},
            {QLatin1StringView("backplane_kind"), backplaneKind},
            {QLatin1StringView("redis_master"), redisMaster.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(redisMaster)},
            {QLatin1StringView("backplane_failovers"), backplaneFailovers},
            {QLatin1StringView("store"), store},
            {QLatin1StringView("store_up"), storeUp},
            {QLatin1StringView("ready"), ready}};
}

InstanceInfo InstanceInfo::fromJson(const QJsonObject &instance)
{
    InstanceInfo i;
    i.id = str(instance, "id");
    i.color = str(instance, "color");
    i.version = str(instance, "version");
    i.startedAt = integer(instance, "started_at");
    i.connections = static_cast<int>(integer(instance, "connections"));
    i.backplane = str(instance, "backplane");
    i.backplaneUp = boolean(instance, "backplane_up");
    i.backplaneKind = str(instance, "backplane_kind");
    i.redisMaster = str(instance, "redis_master");
    i.backplaneFailovers = integer(instance, "backplane_failovers");
    i.store = str(instance, "store");
    i.storeUp = boolean(instance, "store_up");
    i.ready = boolean(instance, "ready");
    return i;
}

QString InstanceInfo::toString() const
{
    return QStringLiteral("instance(%1 color=%2 connections=%3 backplane=%4 ready=%5)")
        .arg(id, color)
        .arg(connections)
        .arg(backplane, ready ? QStringLiteral("yes") : QStringLiteral("no"));
}

QJsonObject InstanceStats::toJson() const
{
    return {{QLatin1StringView("instance"), instance},
            {QLatin1StringView("connections"), connections},
            {QLatin1StringView("frames_in_per_s"), framesInPerS},
            {QLatin1StringView("frames_out_per_s"), framesOutPerS},
            {QLatin1StringView("bytes_in_per_s"), bytesInPerS},
            {QLatin1StringView("bytes_out_per_s"), bytesOutPerS},
            {QLatin1StringView("backplane_rtt_ms"), backplaneRttMs},
            {QLatin1StringView("queue_max_bytes"), queueMaxBytes},
            {QLatin1StringView("rss_bytes"), rssBytes}};
}

InstanceStats InstanceStats::fromJson(const QJsonObject &stats, qint64 receivedAt)
{
    InstanceStats s;
    s.instance = str(stats, "instance");
    s.timestamp = receivedAt;
    s.connections = static_cast<int>(integer(stats, "connections"));
    s.framesInPerS = number(stats, "frames_in_per_s");
    s.framesOutPerS = number(stats, "frames_out_per_s");
    s.bytesInPerS = number(stats, "bytes_in_per_s");
    s.bytesOutPerS = number(stats, "bytes_out_per_s");
    s.backplaneRttMs = number(stats, "backplane_rtt_ms");
    s.queueMaxBytes = integer(stats, "queue_max_bytes");
    s.rssBytes = integer(stats, "rss_bytes");
    return s;
}

QString InstanceStats::toString() const
{
    return QStringLiteral("stats(%1 conns=%2 in/s=%3 out/s=%4 rtt=%5)")
        .arg(instance)
        .arg(connections)
        .arg(framesInPerS)
        .arg(framesOutPerS)
        .arg(backplaneRttMs);
}

FlowSample FlowSample::fromJson(const QJsonObject &flow)
{
    FlowSample f;
    f.dir = str(flow, "dir");
    f.frameType = str(flow, "frame_type");
    f.room = str(flow, "room");
    f.sessionId = str(flow, "session_id");
    f.origin = str(flow, "origin");
    f.size = integer(flow, "size");
    f.ts = integer(flow, "ts");
    return f;
}

QJsonObject FlowSample::toJson() const
{
    return {{QLatin1StringView("ts"), ts},
            {QLatin1StringView("dir"), dir},
            {QLatin1StringView("frame_type"), frameType},
            {QLatin1StringView("room"), room},
            {QLatin1StringView("session_id"), sessionId},
            {QLatin1StringView("origin"), origin},
            {QLatin1StringView("size"), size}};
}

QString FlowSample::toString() const
{
    return QStringLiteral("flow(%1 %2 room=%3 session=%4 origin=%5 size=%6)")
        .arg(dir, frameType, room, sessionId, origin)
        .arg(size);
}

} // namespace sb
