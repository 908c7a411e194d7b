#include "redistopology.h"

#include <QStringList>

#include <algorithm>
#include <cctype>

namespace sb::console {

namespace {

QString hostPortOf(const QByteArray &host, const QByteArray &port)
{
    const QString h = QString::fromUtf8(host);
    return (h.contains(QLatin1Char(':')) ? QLatin1Char('[') + h + QLatin1Char(']') : h) + QLatin1Char(':')
           + QString::fromUtf8(port);
}

bool hasFlag(const QByteArray &flags, const char *flag)
{
    return flags.split(',').contains(QByteArray(flag));
}

} // namespace

QString RedisNodeInfo::slotsText() const
{
    QStringList parts;
    for (const auto &[first, last] : slotRanges)
        parts << (first == last ? QString::number(first) : QStringLiteral("%1-%2").arg(first).arg(last));
    return parts.join(QStringLiteral(", "));
}

int RedisNodeInfo::slotCount() const
{
    int n = 0;
    for (const auto &[first, last] : slotRanges)
        n += last - first + 1;
    return n;
}

QString RedisNodeInfo::roleName(Role role)
{
    switch (role) {
    case Role::Master: return QStringLiteral("master");
    case Role::Replica: return QStringLiteral("replica");
    case Role::Sentinel: return QStringLiteral("sentinel");
    }
    return {};
}

QString RedisNodeInfo::toString() const
{
    QString text = QStringLiteral("%1 %2 %3").arg(roleName(role), address, state);
    if (!masterAddress.isEmpty())
        text += QStringLiteral(" of ") + masterAddress;
    if (!slotRanges.isEmpty())
        text += QStringLiteral(" slots ") + slotsText();
    return text;
}

QList<RedisNodeInfo> RedisTopology::masters() const
{
    QList<RedisNodeInfo> out;
    for (const RedisNodeInfo &n : nodes) {
        if (n.role == RedisNodeInfo::Role::Master)
            out.append(n);
    }
    return out;
}

QList<RedisNodeInfo> RedisTopology::replicasOf(const QString &masterAddress) const
{
    QList<RedisNodeInfo> out;
    for (const RedisNodeInfo &n : nodes) {
        if (n.role == RedisNodeInfo::Role::Replica && n.masterAddress == masterAddress)
            out.append(n);
    }
    return out;
}

const RedisNodeInfo *RedisTopology::node(const QString &address) const
{
    for (const RedisNodeInfo &n : nodes) {
        if (n.address == address)
            return &n;
    }
    return nullptr;
}

RedisTopology RedisTopology::fromClusterNodes(const QByteArray &text)
{
    RedisTopology out;
    out.kind = QStringLiteral("cluster");
    QHash<QByteArray, QString> addressById;
    QList<std::pair<RedisNodeInfo, QByteArray>> parsed; // with the master's id
    for (const QByteArray &raw : text.split('\n')) {
        const QList<QByteArray> f = raw.trimmed().split(' ');
        if (f.size() < 8)
            continue;
        RedisNodeInfo node;
        node.id = QString::fromUtf8(f.at(0));
        // ip:port@cport[,hostname]
        node.address = QString::fromUtf8(f.at(1).split('@').first());
        const QByteArray &flags = f.at(2);
        node.role = hasFlag(flags, "slave") ? RedisNodeInfo::Role::Replica : RedisNodeInfo::Role::Master;
        const bool failed = hasFlag(flags, "fail");
        const bool suspected = hasFlag(flags, "fail?");
        const bool handshake = hasFlag(flags, "handshake") || hasFlag(flags, "noaddr");
        const bool linkUp = hasFlag(flags, "myself") || f.at(7) == "connected";
        node.state = failed      ? QStringLiteral("fail")
                     : suspected ? QStringLiteral("pfail")
                     : handshake ? QStringLiteral("handshake")
                                 : (linkUp ? QStringLiteral("connected") : QStringLiteral("disconnected"));
        node.healthy = !failed && !suspected && !handshake && linkUp;
        for (qsizetype i = 8; i < f.size(); ++i) {
            const QByteArray &s = f.at(i);
            if (s.startsWith('[')) { // [slot->-id] migrating, [slot-<-id] importing
                ++node.migratingSlots;
                continue;
            }
            const qsizetype dash = s.indexOf('-');
            bool ok1 = false;
            bool ok2 = true;
            const int first = (dash < 0 ? s : s.left(dash)).toInt(&ok1);
            const int last = dash < 0 ? first : s.mid(dash + 1).toInt(&ok2);
            if (ok1 && ok2)
                node.slotRanges.append({first, last});
        }
        std::sort(node.slotRanges.begin(), node.slotRanges.end());
        addressById.insert(f.at(0), node.address);
        parsed.append({node, f.at(3)});
    }
    for (auto &[node, masterId] : parsed) {
        if (node.role == RedisNodeInfo::Role::Replica)
            node.masterAddress = addressById.value(masterId);
        out.nodes.append(node);
    }
    // Masters by their first slot (slotless ones last), as an operator reads a slot map.
    std::stable_sort(out.nodes.begin(), out.nodes.end(), [](const RedisNodeInfo &a, const RedisNodeInfo &b) {
        const int fa = a.slotRanges.isEmpty() ? 1 << 20 : a.slotRanges.first().first;
        const int fb = b.slotRanges.isEmpty() ? 1 << 20 : b.slotRanges.first().first;
        return fa != fb ? fa < fb : a.address < b.address;
    });
    return out;
}

RedisTopology RedisTopology::fromInfoReplication(const QByteArray &info, const QString &self)
{
    RedisTopology out;
    out.kind = QStringLiteral("redis");
    out.source = self;
    QHash<QByteArray, QByteArray> fields;
    QList<QByteArray> replicaLines;
    for (const QByteArray &raw : info.split('\n')) {
        const QByteArray line = raw.trimmed();
        const qsizetype colon = line.indexOf(':');
        if (line.startsWith('#') || colon < 0)
            continue;
        const QByteArray name = line.left(colon);
        fields.insert(name, line.mid(colon + 1));
        if (name.startsWith("slave") && name.size() > 5 && std::isdigit(static_cast<unsigned char>(name.at(5))))
            replicaLines.append(line.mid(colon + 1));
    }
    if (fields.value("role") == "slave") {
        // Pointed at a replica: show its master as far as it knows it.
        const QString master = hostPortOf(fields.value("master_host"), fields.value("master_port"));
        const bool up = fields.value("master_link_status") == "up";
        RedisNodeInfo m;
        m.address = master;
        m.state = up ? QStringLiteral("connected") : QStringLiteral("link down");
        m.healthy = up;
        RedisNodeInfo r;
        r.address = self;
        r.role = RedisNodeInfo::Role::Replica;
        r.masterAddress = master;
        r.state = up ? QStringLiteral("online") : QStringLiteral("link down");
        r.healthy = up;
        out.nodes = {m, r};
        return out;
    }
    RedisNodeInfo m;
    m.address = self;
    m.state = QStringLiteral("connected");
    out.nodes.append(m);
    for (const QByteArray &line : std::as_const(replicaLines)) {
        QHash<QByteArray, QByteArray> kv; // ip=…,port=…,state=online,offset=…,lag=…
        for (const QByteArray &pair : line.split(',')) {
            const qsizetype eq = pair.indexOf('=');
            if (eq > 0)
                kv.insert(pair.left(eq), pair.mid(eq + 1));
        }
        RedisNodeInfo r;
        r.address = hostPortOf(kv.value("ip"), kv.value("port"));
        r.role = RedisNodeInfo::Role::Replica;
        r.masterAddress = self;
        r.state = QString::fromUtf8(kv.value("state"));
        r.healthy = kv.value("state") == "online";
        out.nodes.append(r);
    }
    return out;
}

QHash<QByteArray, QByteArray> sentinelFields(const QList<QByteArray> &flat)
{
    QHash<QByteArray, QByteArray> out;
    for (qsizetype i = 0; i + 1 < flat.size(); i += 2)
        out.insert(flat.at(i), flat.at(i + 1));
    return out;
}

RedisNodeInfo sentinelNode(const QHash<QByteArray, QByteArray> &fields, RedisNodeInfo::Role role,
                           const QString &masterAddress)
{
    RedisNodeInfo n;
    n.role = role;
    n.address = hostPortOf(fields.value("ip"), fields.value("port"));
    n.masterAddress = masterAddress;
    const QByteArray flags = fields.value("flags");
    // Sentinel's flags in plain words: down (as this Sentinel sees it, or
    // as the quorum agreed), the link from the Sentinel broken.
    QStringList problems;
    if (hasFlag(flags, "o_down") || hasFlag(flags, "s_down"))
        problems << QStringLiteral("down");
    if (hasFlag(flags, "disconnected"))
        problems << QStringLiteral("disconnected");
    if (role == RedisNodeInfo::Role::Replica && fields.value("master-link-status") == "err")
        problems << QStringLiteral("link down");
    n.healthy = problems.isEmpty();
    n.state = n.healthy ? (role == RedisNodeInfo::Role::Replica ? QStringLiteral("online") : QStringLiteral("ok"))
                        : problems.join(QStringLiteral(", "));
    return n;
}

QString normalizedHostPort(const QString &hostPort)
{
    const qsizetype colon = hostPort.lastIndexOf(QLatin1Char(':'));
    if (colon < 0)
        return hostPort;
    const QString host = hostPort.left(colon);
    if (host == QLatin1StringView("localhost") || host == QLatin1StringView("[::1]"))
        return QStringLiteral("127.0.0.1") + hostPort.mid(colon);
    return hostPort;
}

} // namespace sb::console
