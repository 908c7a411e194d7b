#include "operatortypes.h"

#include "jsonfields.h"

#include <QJsonArray>

namespace sb::console {

using json::boolean;
using json::integer;
using json::number;
using json::str;

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

QString InjectTarget::kindName(Kind kind)
{
    switch (kind) {
    case Kind::All: return QStringLiteral("all");
    case Kind::Room: return QStringLiteral("room");
    case Kind::Instance: return QStringLiteral("instance");
    case Kind::ClientId: return QStringLiteral("client_id");
    case Kind::SessionId: return QStringLiteral("session_id");
    }
    return {};
}

QJsonObject InjectTarget::toJson() const
{
    if (kind == Kind::All)
        return {{QLatin1StringView("all"), true}};
    return {{kindName(kind), value}};
}

QString InjectTarget::toString() const
{
    return kind == Kind::All ? QStringLiteral("everyone") : kindName(kind) + QLatin1Char(' ') + value;
}

} // namespace sb::console
