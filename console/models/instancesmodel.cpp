#include "instancesmodel.h"

#include <QDateTime>
#include <QLocale>

namespace sb::console {

InstancesModel::InstancesModel(QObject *parent)
    : QAbstractTableModel(parent)
{
}

int InstancesModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int InstancesModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant InstancesModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Id: return tr("Instance");
    case Health: return tr("Health");
    case Connections: return tr("Connections");
    case FramesPerS: return tr("Frames/s in / out");
    case Rtt: return tr("Backplane RTT");
    case Backplane: return tr("Backplane");
    case Url: return tr("URL");
    default: return {};
    }
}

QColor InstancesModel::colorFor(const QString &name)
{
    const QColor c = QColor::fromString(name);
    return c.isValid() ? c : QColor(Qt::gray);
}

QString InstancesModel::health(const Row &row) const
{
    if (row.heartbeatLostAt > 0 && row.link != Link::Connected && row.link != Link::Hung)
        return tr("dead");
    switch (row.link) {
    case Link::KeyRefused: return tr("key refused");
    case Link::Hung: return tr("not responding");
    case Link::Idle: return tr("not watched");
    case Link::Connecting:
    case Link::Retrying:
        return row.readiness == QLatin1StringView("unreachable") ? tr("dead")
               : row.link == Link::Connecting                   ? tr("connecting")
                                                                : tr("reconnecting");
    case Link::Connected:
        break;
    }
    if (row.readiness.isEmpty())
        return row.info.ready ? tr("ready") : tr("not ready");
    if (row.readiness == QLatin1StringView("unreachable"))
        return tr("dead");
    if (row.readiness == QLatin1StringView("backplane_down"))
        return tr("backplane down");
    if (row.readiness == QLatin1StringView("store_down"))
        return tr("store down");
    return row.readiness;
}

QString InstancesModel::detail(const Row &row) const
{
    QStringList lines;
    const QString id = row.info.id.isEmpty() ? row.url.toString() : row.info.id;
    lines.append(tr("%1 at %2: %3").arg(id, row.url.toString(), health(row)));
    if (!row.readinessReason.isEmpty())
        lines.append(tr("Readiness: %1 (%2)").arg(row.readiness, row.readinessReason));
    else if (!row.readiness.isEmpty())
        lines.append(tr("Readiness: %1").arg(row.readiness));
    if (!row.info.id.isEmpty()) {
        lines.append(tr("Version %1, up since %2; backplane %3 (%4), store %5 (%6)")
                         .arg(row.info.version,
                              QDateTime::fromMSecsSinceEpoch(row.info.startedAt).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")),
                              row.info.backplane, row.info.backplaneUp ? tr("up") : tr("down"), row.info.store,
                              row.info.storeUp ? tr("up") : tr("down")));
        if (row.info.backplaneKind == QLatin1StringView("sentinel"))
            lines.append(tr("Redis through Sentinel: master %1, %n failover(s) followed", nullptr,
                            static_cast<int>(row.info.backplaneFailovers))
                             .arg(row.info.redisMaster.isEmpty() ? tr("unknown") : row.info.redisMaster));
        else if (!row.info.redisMaster.isEmpty())
            lines.append(tr("Redis at %1").arg(row.info.redisMaster));
    }
    if (row.haveStats)
        lines.append(tr("Largest send queue %1, memory %2")
                         .arg(QLocale().formattedDataSize(row.stats.queueMaxBytes),
                              QLocale().formattedDataSize(row.stats.rssBytes)));
    if (row.heartbeatLostAt > 0)
        lines.append(tr("No heartbeat in Redis since %1.")
                         .arg(QDateTime::fromMSecsSinceEpoch(row.heartbeatLostAt).toString(QStringLiteral("HH:mm:ss"))));
    else if (row.discovered)
        lines.append(tr("Found through its Redis heartbeat."));
    if (!row.linkDetail.isEmpty())
        lines.append(row.linkDetail);
    return lines.join(QLatin1Char('\n'));
}

QVariant InstancesModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const Row &r = m_rows.at(index.row());
    switch (role) {
    case UrlRole: return r.url;
    case InstanceIdRole: return r.info.id;
    case HealthRole: return health(r);
    case DetailRole: return detail(r);
    case ColorRole: return colorFor(r.info.color);
    case LiveRole: return r.link == Link::Connected || r.link == Link::Hung;
    case FramesInRole: return r.haveStats ? r.stats.framesInPerS : 0.0;
    case FramesOutRole: return r.haveStats ? r.stats.framesOutPerS : 0.0;
    case RttRole: return r.haveStats ? r.stats.backplaneRttMs : 0.0;
    case Qt::ToolTipRole: return detail(r);
    case Qt::DecorationRole:
        if (index.column() == Id && !r.info.color.isEmpty())
            return colorFor(r.info.color);
        return {};
    case Qt::ForegroundRole:
        if (index.column() == Health) {
            const QString h = health(r);
            if (h == tr("ready"))
                return QColor(0x1b, 0x7f, 0x3b);
            if (h == tr("draining") || h == tr("connecting") || h == tr("reconnecting"))
                return QColor(0xb3, 0x6b, 0x00);
            return QColor(0xc0, 0x1c, 0x28);
        }
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == Connections || index.column() == FramesPerS || index.column() == Rtt)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::DisplayRole:
        switch (index.column()) {
        case Id: return r.info.id.isEmpty() ? tr("(unknown)") : r.info.id;
        case Health: return health(r);
        case Connections: return r.haveStats ? r.stats.connections : r.info.connections;
        case FramesPerS:
            return r.haveStats ? QStringLiteral("%1 / %2").arg(r.stats.framesInPerS, 0, 'f', 0).arg(r.stats.framesOutPerS, 0, 'f', 0)
                               : QString();
        case Rtt:
            if (!r.haveStats)
                return QString();
            return r.info.backplane == QLatin1StringView("local") ? tr("n/a")
                                                                   : tr("%1 ms").arg(r.stats.backplaneRttMs, 0, 'f', 1);
        case Backplane: return r.info.backplane;
        case Url: return r.url.toString();
        default: return {};
        }
    default:
        return {};
    }
}

void InstancesModel::addInstance(const QUrl &url)
{
    if (rowOf(url) >= 0)
        return;
    const int row = static_cast<int>(m_rows.size());
    beginInsertRows({}, row, row);
    Row r;
    r.url = url;
    m_rows.append(r);
    endInsertRows();
}

void InstancesModel::removeInstance(const QUrl &url)
{
    const int row = rowOf(url);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    endRemoveRows();
}

void InstancesModel::rowChanged(int row)
{
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

void InstancesModel::setLink(const QUrl &url, Link link, const QString &detail)
{
    const int row = rowOf(url);
    if (row < 0)
        return;
    m_rows[row].link = link;
    m_rows[row].linkDetail = detail;
    if (link != Link::Connected && link != Link::Hung)
        m_rows[row].haveStats = false;
    rowChanged(row);
}

void InstancesModel::setInfo(const QUrl &url, const InstanceInfo &info)
{
    const int row = rowOf(url);
    if (row < 0)
        return;
    m_rows[row].info = info;
    rowChanged(row);
}

void InstancesModel::setStats(const QUrl &url, const InstanceStats &stats)
{
    const int row = rowOf(url);
    if (row < 0)
        return;
    m_rows[row].stats = stats;
    m_rows[row].haveStats = true;
    rowChanged(row);
}

void InstancesModel::setReadiness(const QUrl &url, const QString &status, const QString &reason)
{
    const int row = rowOf(url);
    if (row < 0)
        return;
    Row &r = m_rows[row];
    if (r.readiness == status && r.readinessReason == reason)
        return;
    r.readiness = status;
    r.readinessReason = reason;
    rowChanged(row);
}

void InstancesModel::setHeartbeat(const QUrl &url, bool present, const DiscoveredInstance &heartbeat)
{
    const int row = rowOf(url);
    if (row < 0)
        return;
    Row &r = m_rows[row];
    const qint64 lostAt = present ? 0 : (r.heartbeatLostAt > 0 ? r.heartbeatLostAt : QDateTime::currentMSecsSinceEpoch());
    const bool changed = r.heartbeatLostAt != lostAt || (present && !r.discovered)
                         || (present && r.info.id.isEmpty() && !heartbeat.id.isEmpty());
    r.heartbeatLostAt = lostAt;
    if (present) {
        r.discovered = true;
        // Known before the operator link says so: name and colour from the heartbeat.
        if (r.info.id.isEmpty()) {
            r.info.id = heartbeat.id;
            r.info.color = heartbeat.color;
        }
    }
    if (changed)
        rowChanged(row);
}

int InstancesModel::rowOf(const QUrl &url) const
{
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).url == url)
            return i;
    }
    return -1;
}

QUrl InstancesModel::urlAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).url : QUrl();
}

QString InstancesModel::instanceIdAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).info.id : QString();
}

QString InstancesModel::healthAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? health(m_rows.at(row)) : QString();
}

QString InstancesModel::detailAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? detail(m_rows.at(row)) : QString();
}

QStringList InstancesModel::instanceIds() const
{
    QStringList out;
    for (const Row &r : m_rows) {
        if (!r.info.id.isEmpty())
            out.append(r.info.id);
    }
    return out;
}

} // namespace sb::console
