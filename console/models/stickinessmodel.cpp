#include "stickinessmodel.h"

#include "connectionsmodel.h"

#include <QColor>
#include <QDateTime>

#include <algorithm>
#include <climits>

namespace sb::console {

namespace {

constexpr qint64 kReasonWindowMs = 3000; // an instance's death or drain explains moves this long after it
constexpr int kHistoryShown = 8;

QString clock(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("HH:mm:ss"));
}

} // namespace

StickinessModel::StickinessModel(const ConnectionsModel &connections, QObject *parent)
    : QAbstractTableModel(parent)
    , m_connections(connections)
{
    m_liveTimer.setObjectName(QStringLiteral("StickinessModel.live"));
    m_liveTimer.setSingleShot(true);
    m_liveTimer.setInterval(1000);
    connect(&m_liveTimer, &QTimer::timeout, this, &StickinessModel::refreshLive);
    // A session's client, instance and stickiness never change: follow the
    // rows that come and go, and only the clients they belong to.
    connect(&connections, &QAbstractItemModel::rowsInserted, this,
            [this](const QModelIndex &, int first, int last) { trackRows(first, last, true); });
    connect(&connections, &QAbstractItemModel::rowsAboutToBeRemoved, this,
            [this](const QModelIndex &, int first, int last) { trackRows(first, last, false); });
    connect(&connections, &QAbstractItemModel::modelReset, this, [this] {
        for (auto it = m_live.cbegin(); it != m_live.cend(); ++it)
            m_liveChanged.insert(it.key());
        m_live.clear();
        trackRows(0, m_connections.rowCount() - 1, true);
    });
    trackRows(0, connections.rowCount() - 1, true);
}

void StickinessModel::trackRows(int first, int last, bool added)
{
    for (int row = first; row <= last; ++row) {
        const ConnectionInfo &c = m_connections.connectionAt(row);
        if (c.role == QLatin1StringView("operator") || c.clientId.isEmpty())
            continue;
        QList<LiveSession> &sessions = m_live[c.clientId];
        if (added) {
            sessions.append({c.sessionId, c.user, c.instance, c.sticky, c.connectedAt});
        } else {
            sessions.removeIf([&c](const LiveSession &s) { return s.sessionId == c.sessionId; });
            if (sessions.isEmpty())
                m_live.remove(c.clientId);
        }
        m_liveChanged.insert(c.clientId);
    }
    if (!m_liveChanged.isEmpty() && !m_liveTimer.isActive())
        m_liveTimer.start();
}

int StickinessModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int StickinessModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant StickinessModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Client: return tr("Client ID");
    case User: return tr("User");
    case NowOn: return tr("Now on");
    case Sticky: return tr("Sticky");
    case Visits: return tr("Connections");
    case Moves: return tr("Moves");
    case LastMove: return tr("Last move");
    case History: return tr("Instance history (newest first)");
    default: return {};
    }
}

QString StickinessModel::reasonName(MoveReason reason)
{
    switch (reason) {
    case MoveReason::None: return {};
    case MoveReason::Failover: return tr("failover");
    case MoveReason::Drain: return tr("drain");
    case MoveReason::Moved: return tr("moved by the load balancer");
    }
    return {};
}

StickinessModel::Status StickinessModel::status(const Row &row) const
{
    if (row.liveSessions == 0)
        return Status::Offline;
    if (row.liveMisses > 0)
        return Status::StickyMiss;
    if (!row.moves.isEmpty())
        return Status::Moved;
    return Status::Stable;
}

QVariant StickinessModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const Row &r = m_rows.at(index.row());
    const Status s = status(r);
    switch (role) {
    case ClientIdRole: return r.clientId;
    case StatusRole: return static_cast<int>(s);
    case Qt::BackgroundRole:
        if (s == Status::StickyMiss)
            return QColor(0xfd, 0xe2, 0xe1);
        if (s == Status::Moved)
            return QColor(0xff, 0xf1, 0xd6);
        return {};
    case Qt::ForegroundRole:
        if (s == Status::Offline)
            return QColor(0x80, 0x80, 0x80);
        if (index.column() == Sticky && s == Status::StickyMiss)
            return QColor(0xc0, 0x1c, 0x28);
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == Visits || index.column() == Moves)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ToolTipRole: {
        QStringList lines;
        for (const ClientVisit &v : r.visits)
            lines.append(tr("%1 at %2").arg(v.instance, QDateTime::fromMSecsSinceEpoch(v.at).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss.zzz"))));
        for (const Move &m : r.moves)
            lines.append(tr("moved %1 → %2 at %3 (%4)").arg(m.from, m.to, clock(m.at), reasonName(m.reason)));
        return lines.join(QLatin1Char('\n'));
    }
    case SortRole:
        switch (index.column()) {
        case Visits: return static_cast<int>(r.visits.size());
        case Moves: return static_cast<int>(r.moves.size());
        case LastMove: return r.moves.isEmpty() ? qint64(0) : r.moves.first().at;
        case Sticky: return static_cast<int>(s);
        default: return data(index, Qt::DisplayRole);
        }
    case Qt::DisplayRole:
        switch (index.column()) {
        case Client: return r.clientId;
        case User: return r.user;
        case NowOn: return r.liveSessions == 0 ? tr("offline") : r.liveInstances;
        case Sticky:
            if (r.liveSessions == 0)
                return QStringLiteral("—");
            return r.liveMisses > 0 ? tr("miss") : tr("yes");
        case Visits: return static_cast<int>(r.visits.size());
        case Moves: return static_cast<int>(r.moves.size());
        case LastMove:
            if (r.moves.isEmpty())
                return QString();
            return tr("%1 → %2 at %3 (%4)")
                .arg(r.moves.first().from, r.moves.first().to, clock(r.moves.first().at), reasonName(r.moves.first().reason));
        case History: {
            QStringList parts;
            for (qsizetype i = 0; i < std::min<qsizetype>(r.visits.size(), kHistoryShown); ++i)
                parts.append(QStringLiteral("%1 %2").arg(r.visits.at(i).instance, clock(r.visits.at(i).at)));
            if (r.visits.size() > kHistoryShown)
                parts.append(tr("… %1 more").arg(r.visits.size() - kHistoryShown));
            return parts.join(QStringLiteral("  ·  "));
        }
        default: return {};
        }
    default:
        return {};
    }
}

StickinessModel::MoveReason StickinessModel::classify(const QString &from, qint64 fromAt, qint64 toAt) const
{
    bool draining = false;
    for (const InstanceEvent &e : m_instanceEvents.value(from)) {
        if (e.at < fromAt || e.at > toAt + kReasonWindowMs)
            continue;
        if (e.state == QLatin1StringView("dead"))
            return MoveReason::Failover;
        if (e.state == QLatin1StringView("draining"))
            draining = true;
    }
    return draining ? MoveReason::Drain : MoveReason::Moved;
}

void StickinessModel::recomputeMoves(Row &row) const
{
    row.moves.clear();
    for (qsizetype i = 0; i + 1 < row.visits.size(); ++i) {
        const ClientVisit &newer = row.visits.at(i);
        const ClientVisit &older = row.visits.at(i + 1);
        if (newer.instance != older.instance)
            row.moves.append({older.instance, newer.instance, newer.at, classify(older.instance, older.at, newer.at)});
    }
}

void StickinessModel::applyHistories(const QHash<QString, QList<ClientVisit>> &histories)
{
    QSet<QString> changed;
    QList<Row> added;
    for (auto it = histories.cbegin(); it != histories.cend(); ++it) {
        const int row = m_index.value(it.key(), -1);
        if (row < 0) {
            if (it->isEmpty())
                continue;
            Row r;
            r.clientId = it.key();
            r.visits = *it;
            r.lastSeen = it->first().at;
            recomputeMoves(r);
            added.append(r);
            continue;
        }
        Row &r = m_rows[row];
        if (r.visits == *it)
            continue;
        // Connections seen after the read stay in front until the next read.
        QList<ClientVisit> merged;
        for (const ClientVisit &v : std::as_const(r.visits)) {
            if (!it->isEmpty() && v.at > it->first().at)
                merged.append(v);
        }
        merged.append(*it);
        r.visits = merged;
        recomputeMoves(r);
        changed.insert(r.clientId);
    }
    applyChanges(changed, added);
}

void StickinessModel::recordOpen(const ConnectionInfo &connection)
{
    if (connection.role == QLatin1StringView("operator") || connection.clientId.isEmpty())
        return;
    // Applied with the next live refresh, in one batch with the others.
    m_pendingOpens.append(connection);
    if (!m_liveTimer.isActive())
        m_liveTimer.start();
}

void StickinessModel::mergeVisit(Row &row, const ClientVisit &visit)
{
    if (row.visits.contains(visit))
        return;
    const auto at = std::find_if(row.visits.begin(), row.visits.end(),
                                 [&](const ClientVisit &v) { return v.at < visit.at; });
    row.visits.insert(at, visit);
    while (row.visits.size() > 50)
        row.visits.removeLast();
    recomputeMoves(row);
}

void StickinessModel::queueRead(const QString &clientId)
{
    if (m_queued.contains(clientId))
        return;
    m_queued.insert(clientId);
    m_readQueue.append(clientId);
}

void StickinessModel::noteInstanceState(const QString &instance, const QString &state, qint64 at)
{
    if (instance.isEmpty())
        return;
    QList<InstanceEvent> &events = m_instanceEvents[instance];
    if (!events.isEmpty() && events.last().state == state)
        return;
    events.append({at, state});
    while (events.size() > 100)
        events.removeFirst();
    if (state != QLatin1StringView("dead") && state != QLatin1StringView("draining"))
        return;
    // Moves seen just before we learnt why get their reason now.
    QSet<QString> changed;
    for (Row &r : m_rows) {
        if (!r.moves.isEmpty() && r.moves.first().at >= at - kReasonWindowMs && r.moves.first().from == instance) {
            recomputeMoves(r);
            changed.insert(r.clientId);
        }
    }
    QList<Row> none;
    applyChanges(changed, none);
}

void StickinessModel::refreshLive()
{
    m_liveTimer.stop();
    if (m_liveChanged.isEmpty() && m_pendingOpens.isEmpty())
        return;
    QSet<QString> changed;
    QHash<QString, Row> added;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();

    // Connections seen opening: their visits.
    for (const ConnectionInfo &c : std::exchange(m_pendingOpens, {})) {
        const ClientVisit visit{c.instance, c.connectedAt};
        const int row = m_index.value(c.clientId, -1);
        Row &r = row >= 0 ? m_rows[row] : added[c.clientId];
        if (r.clientId.isEmpty()) {
            r.clientId = c.clientId;
            r.lastSeen = now;
        }
        r.user = c.user;
        const qsizetype before = r.visits.size();
        mergeVisit(r, visit);
        if (row >= 0 && r.visits.size() != before)
            changed.insert(r.clientId);
        queueRead(c.clientId);
    }

    // Where the clients whose sessions came or went are now.
    for (const QString &client : std::exchange(m_liveChanged, {})) {
        const QList<LiveSession> sessions = m_live.value(client);
        QString instances;
        QString user;
        int misses = 0;
        ClientVisit newest;
        for (const LiveSession &s : sessions) {
            if (instances.isEmpty())
                instances = s.instance;
            else if (!instances.split(QStringLiteral(", ")).contains(s.instance))
                instances += QStringLiteral(", ") + s.instance;
            misses += s.sticky ? 0 : 1;
            user = s.user;
            if (s.connectedAt >= newest.at)
                newest = {s.instance, s.connectedAt};
        }
        const int row = m_index.value(client, -1);
        if (row < 0 && sessions.isEmpty() && !added.contains(client))
            continue;
        Row &r = row >= 0 ? m_rows[row] : added[client];
        if (r.clientId.isEmpty())
            r.clientId = client;
        const int liveSessions = static_cast<int>(sessions.size());
        if (r.liveSessions != liveSessions || r.liveMisses != misses || r.liveInstances != instances
            || (!user.isEmpty() && r.user != user)) {
            r.liveSessions = liveSessions;
            r.liveMisses = misses;
            r.liveInstances = instances;
            if (!user.isEmpty())
                r.user = user;
            if (liveSessions > 0)
                r.lastSeen = now;
            if (row >= 0)
                changed.insert(client);
        }
        // A connection that opened before the console watched, or between reads.
        if (liveSessions > 0 && !r.visits.contains(newest)) {
            mergeVisit(r, newest);
            if (row >= 0)
                changed.insert(client);
            queueRead(client);
        }
    }
    QList<Row> rows = added.values();
    std::sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
        const qint64 at = a.visits.isEmpty() ? 0 : a.visits.first().at;
        const qint64 bt = b.visits.isEmpty() ? 0 : b.visits.first().at;
        return at < bt;
    });
    applyChanges(changed, rows);
}

void StickinessModel::applyChanges(const QSet<QString> &changed, QList<Row> &added)
{
    int first = INT_MAX;
    int last = -1;
    for (const QString &id : changed) {
        const int row = m_index.value(id, -1);
        if (row >= 0) {
            first = std::min(first, row);
            last = std::max(last, row);
        }
    }
    if (last >= 0)
        Q_EMIT dataChanged(index(first, 0), index(last, ColumnCount - 1));
    if (!added.isEmpty()) {
        // One client may be added twice in a batch; keep the first.
        QList<Row> unique;
        unique.reserve(added.size());
        QSet<QString> seen;
        for (Row &r : added) {
            if (!seen.contains(r.clientId) && !m_index.contains(r.clientId)) {
                seen.insert(r.clientId);
                unique.append(std::move(r));
            }
        }
        if (!unique.isEmpty()) {
            const int at = static_cast<int>(m_rows.size());
            beginInsertRows({}, at, at + static_cast<int>(unique.size()) - 1);
            for (Row &r : unique) {
                m_index.insert(r.clientId, static_cast<int>(m_rows.size()));
                m_rows.append(std::move(r));
            }
            endInsertRows();
        }
        evictOffline();
    }
    if (last >= 0 || !added.isEmpty()) {
        computeSummary();
        Q_EMIT summaryChanged();
    }
}

void StickinessModel::evictOffline()
{
    if (m_rows.size() <= m_capacity)
        return;
    // The longest-offline clients go first; live ones never.
    QList<int> offline;
    for (int i = 0; i < m_rows.size(); ++i) {
        if (m_rows.at(i).liveSessions == 0)
            offline.append(i);
    }
    std::sort(offline.begin(), offline.end(),
              [this](int a, int b) { return m_rows.at(a).lastSeen < m_rows.at(b).lastSeen; });
    offline.resize(std::min<qsizetype>(offline.size(), m_rows.size() - m_capacity));
    std::sort(offline.begin(), offline.end(), std::greater<int>());
    for (qsizetype i = 0; i < offline.size();) {
        const int lastRow = offline[i];
        int firstRow = lastRow;
        qsizetype j = i + 1;
        while (j < offline.size() && offline[j] == firstRow - 1)
            firstRow = offline[j++];
        beginRemoveRows({}, firstRow, lastRow);
        for (int r = firstRow; r <= lastRow; ++r)
            m_queued.remove(m_rows.at(r).clientId);
        m_rows.remove(firstRow, lastRow - firstRow + 1);
        endRemoveRows();
        i = j;
    }
    m_index.clear();
    for (int i = 0; i < m_rows.size(); ++i)
        m_index.insert(m_rows.at(i).clientId, i);
}

void StickinessModel::computeSummary()
{
    Summary s;
    const qint64 minuteAgo = QDateTime::currentMSecsSinceEpoch() - 60000;
    for (const Row &r : std::as_const(m_rows)) {
        if (r.liveSessions > 0) {
            ++s.liveClients;
            s.liveSessions += r.liveSessions;
            s.stickySessions += r.liveSessions - r.liveMisses;
        }
        if (!r.moves.isEmpty()) {
            ++s.movedClients;
            for (const Move &m : r.moves) {
                if (m.at < minuteAgo)
                    break;
                ++s.recentMoves;
            }
        }
    }
    m_summary = s;
}

void StickinessModel::sampleChart(qint64 now)
{
    computeSummary();
    const double x = static_cast<double>(now);
    m_ratioSeries.append(QPointF(x, m_summary.ratio() * 100.0));
    m_moveSeries.append(QPointF(x, m_summary.recentMoves));
    Q_EMIT summaryChanged();
}

QString StickinessModel::clientIdAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).clientId : QString();
}

QList<ClientVisit> StickinessModel::visits(const QString &clientId) const
{
    const int row = rowOf(clientId);
    return row >= 0 ? m_rows.at(row).visits : QList<ClientVisit>{};
}

QList<StickinessModel::Move> StickinessModel::moves(const QString &clientId) const
{
    const int row = rowOf(clientId);
    return row >= 0 ? m_rows.at(row).moves : QList<Move>{};
}

QStringList StickinessModel::takeClientsToRead(int max)
{
    QStringList out;
    while (!m_readQueue.isEmpty() && out.size() < max) {
        const QString id = m_readQueue.takeFirst();
        m_queued.remove(id);
        out.append(id);
    }
    return out;
}

QStringList StickinessModel::knownClients() const
{
    QStringList out;
    out.reserve(m_rows.size());
    for (const Row &r : m_rows)
        out.append(r.clientId);
    return out;
}

} // namespace sb::console
