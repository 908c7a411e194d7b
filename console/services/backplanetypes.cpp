#include "backplanetypes.h"

#include "codec.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonValue>

namespace sb::console {

namespace {

QString field(const QHash<QByteArray, QByteArray> &fields, const char *name)
{
    return QString::fromUtf8(fields.value(QByteArray(name)));
}

bool isWildcardHost(const QString &host)
{
    return host.isEmpty() || host == QLatin1StringView("0.0.0.0") || host == QLatin1StringView("::")
           || host == QLatin1StringView("[::]");
}

} // namespace

std::optional<DiscoveredInstance> DiscoveredInstance::fromHash(const QHash<QByteArray, QByteArray> &fields)
{
    DiscoveredInstance d;
    d.id = field(fields, "id");
    bool portOk = false;
    const uint port = fields.value(QByteArrayLiteral("port")).toUInt(&portOk);
    if (d.id.isEmpty() || !portOk || port == 0 || port > 65535)
        return std::nullopt;
    d.port = static_cast<quint16>(port);
    d.color = field(fields, "color");
    d.host = field(fields, "host");
    d.version = field(fields, "version");
    d.startedAt = fields.value(QByteArrayLiteral("started_at")).toLongLong();
    d.connections = fields.value(QByteArrayLiteral("connections")).toInt();
    d.ready = fields.value(QByteArrayLiteral("ready")) == "1";
    d.draining = fields.value(QByteArrayLiteral("draining")) == "1";
    return d;
}

QUrl DiscoveredInstance::url(const QString &fallbackHost) const
{
    QString h = isWildcardHost(host) ? fallbackHost : host;
    if (h.isEmpty())
        h = QStringLiteral("127.0.0.1");
    QUrl u;
    u.setScheme(QStringLiteral("http"));
    u.setHost(h);
    u.setPort(port);
    return u;
}

QString DiscoveredInstance::toString() const
{
    return QStringLiteral("discovered(%1 %2:%3 color=%4 connections=%5 ready=%6 draining=%7)")
        .arg(id, host)
        .arg(port)
        .arg(color)
        .arg(connections)
        .arg(ready ? QStringLiteral("yes") : QStringLiteral("no"), draining ? QStringLiteral("yes") : QStringLiteral("no"));
}

std::optional<BackplaneEnvelope> BackplaneEnvelope::parse(const QByteArray &channel, const QByteArray &payload,
                                                          qint64 receivedAt)
{
    const std::optional<QJsonObject> object = decodeObject(payload);
    if (!object || object->value(QLatin1StringView("v")).toInt() != 1)
        return std::nullopt;
    const QJsonValue frameValue = object->value(QLatin1StringView("frame"));
    if (!frameValue.isObject())
        return std::nullopt;
    const QJsonObject frame = frameValue.toObject();
    BackplaneEnvelope e;
    e.receivedAt = receivedAt;
    e.channel = QString::fromUtf8(channel);
    e.origin = object->value(QLatin1StringView("origin")).toString();
    e.id = object->value(QLatin1StringView("id")).toString();
    e.ts = object->value(QLatin1StringView("ts")).toInteger();
    const QJsonValue target = object->value(QLatin1StringView("target"));
    if (target.isObject())
        e.target = QString::fromUtf8(QJsonDocument(target.toObject()).toJson(QJsonDocument::Compact));
    else if (target.isString())
        e.target = target.toString();
    else if (!target.isUndefined() && !target.isNull())
        e.target = target.toVariant().toString();
    e.frameType = frame.value(QLatin1StringView("type")).toString();
    if (e.frameType.isEmpty())
        e.frameType = channel.contains(":probe:") ? QStringLiteral("probe") : QStringLiteral("(none)");
    e.room = frame.value(QLatin1StringView("room")).toString();
    e.size = payload.size();
    e.latencyMs = e.ts > 0 ? receivedAt - e.ts : 0;
    e.payload = payload;
    return e;
}

QJsonObject BackplaneEnvelope::toJson() const
{
    QJsonObject line{{QLatin1StringView("received_at"), receivedAt},
                     {QLatin1StringView("channel"), channel},
                     {QLatin1StringView("origin"), origin},
                     {QLatin1StringView("type"), frameType},
                     {QLatin1StringView("target"), target},
                     {QLatin1StringView("size"), size},
                     {QLatin1StringView("latency_ms"), latencyMs}};
    if (const std::optional<QJsonObject> envelope = decodeObject(payload))
        line.insert(QLatin1StringView("envelope"), *envelope);
    return line;
}

QString BackplaneEnvelope::toString() const
{
    return QStringLiteral("envelope(%1 from %2 type=%3 target=%4 size=%5 latency=%6ms)")
        .arg(channel, origin, frameType, target)
        .arg(size)
        .arg(latencyMs);
}

std::optional<ClientVisit> ClientVisit::parse(const QByteArray &entry)
{
    const qsizetype bar = entry.lastIndexOf('|');
    if (bar <= 0)
        return std::nullopt;
    bool ok = false;
    const qint64 at = entry.mid(bar + 1).toLongLong(&ok);
    if (!ok)
        return std::nullopt;
    return ClientVisit{QString::fromUtf8(entry.left(bar)), at};
}

QString ClientVisit::toString() const
{
    return QStringLiteral("%1|%2").arg(instance).arg(at);
}

std::optional<ConnectionInfo> connectionFromSessionHash(const QHash<QByteArray, QByteArray> &fields)
{
    if (fields.value(QByteArrayLiteral("session_id")).isEmpty())
        return std::nullopt;
    QJsonObject conn;
    for (auto it = fields.cbegin(); it != fields.cend(); ++it)
        conn.insert(QString::fromUtf8(it.key()), QString::fromUtf8(it.value()));
    // The registry stores numbers as text; ConnectionInfo wants numbers.
    for (const char *number : {"connected_at", "frames_in", "frames_out", "queue_bytes"})
        conn.insert(QLatin1StringView(number), fields.value(QByteArray(number)).toLongLong());
    return ConnectionInfo::fromJson(conn);
}

} // namespace sb::console
