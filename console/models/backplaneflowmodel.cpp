#include "backplaneflowmodel.h"

#include "codec.h"

#include <QColor>
#include <QDateTime>

#include <algorithm>

namespace sb::console {

namespace {

constexpr int kTickMs = 250;

void insertSorted(QStringList &list, const QString &value, bool *changed)
{
    if (value.isEmpty())
        return;
    const auto it = std::lower_bound(list.begin(), list.end(), value);
    if (it != list.end() && *it == value)
        return;
    list.insert(it, value);
    *changed = true;
}

} // namespace

BackplaneFlowModel::BackplaneFlowModel(int capacity, int rowsPerSecond, QObject *parent)
    : QAbstractTableModel(parent)
    , m_capacity(qMax(1, capacity))
    , m_rowsPerSecond(qMax(1, rowsPerSecond))
{
    m_tick.setObjectName(QStringLiteral("BackplaneFlowModel.tick"));
    m_tick.setInterval(kTickMs);
    m_tick.setSingleShot(true);
    connect(&m_tick, &QTimer::timeout, this, &BackplaneFlowModel::flush);
}

int BackplaneFlowModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int BackplaneFlowModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant BackplaneFlowModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Time: return tr("Time");
    case Origin: return tr("Origin");
    case Channel: return tr("Channel");
    case Type: return tr("Type");
    case Target: return tr("Target");
    case Size: return tr("Bytes");
    case Latency: return tr("Latency");
    default: return {};
    }
}

QVariant BackplaneFlowModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const BackplaneEnvelope &e = m_rows.at(index.row());
    switch (role) {
    case OriginRole: return e.origin;
    case TypeRole: return e.frameType;
    case SortRole:
        switch (index.column()) {
        case Time: return e.receivedAt;
        case Size: return e.size;
        case Latency: return e.latencyMs;
        default: return data(index, Qt::DisplayRole);
        }
    case Qt::TextAlignmentRole:
        if (index.column() == Size || index.column() == Latency)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ForegroundRole:
        // Slow deliveries stand out.
        if (index.column() == Latency && e.latencyMs >= 100)
            return QColor(0xc0, 0x1c, 0x28);
        return {};
    case Qt::ToolTipRole:
        return QString::fromUtf8(e.payload.left(2000));
    case Qt::DisplayRole:
        switch (index.column()) {
        case Time: return QDateTime::fromMSecsSinceEpoch(e.receivedAt).toString(QStringLiteral("HH:mm:ss.zzz"));
        case Origin: return e.origin;
        case Channel: return e.channel;
        case Type: return e.frameType;
        case Target: return e.target;
        case Size: return e.size;
        case Latency: return tr("%1 ms").arg(e.latencyMs);
        default: return {};
        }
    default:
        return {};
    }
}

void BackplaneFlowModel::addEnvelopes(const QList<BackplaneEnvelope> &envelopes)
{
    if (envelopes.isEmpty())
        return;
    m_received += envelopes.size();
    if (m_paused) {
        m_skippedWhilePaused += envelopes.size();
        Q_EMIT countersChanged();
        return;
    }
    m_pending.append(envelopes);
    // Never hold much more than a tick keeps: halve what waits, evenly, so
    // the sample still spans the whole tick.
    const qsizetype limit = std::max<qsizetype>(64, 4 * tickBudget());
    while (m_pending.size() > limit) {
        QList<BackplaneEnvelope> half;
        half.reserve(m_pending.size() / 2 + 1);
        for (qsizetype i = 0; i < m_pending.size(); i += 2)
            half.append(std::move(m_pending[i]));
        m_sampledOut += m_pending.size() - half.size();
        m_pending = std::move(half);
    }
    if (!m_tick.isActive())
        m_tick.start();
}

void BackplaneFlowModel::flush()
{
    m_tick.stop();
    if (m_pending.isEmpty())
        return;
    QList<BackplaneEnvelope> arrived = std::exchange(m_pending, {});

    // Keep at most this tick's share, spread evenly over what arrived.
    const qsizetype budget = tickBudget();
    QList<BackplaneEnvelope> batch;
    if (arrived.size() <= budget) {
        batch = std::move(arrived);
    } else {
        batch.reserve(budget);
        for (qsizetype i = 0; i < budget; ++i)
            batch.append(std::move(arrived[i * arrived.size() / budget]));
        m_sampledOut += arrived.size() - budget;
    }

    bool vocabulary = false;
    for (const BackplaneEnvelope &e : std::as_const(batch)) {
        insertSorted(m_origins, e.origin, &vocabulary);
        insertSorted(m_types, e.frameType, &vocabulary);
    }

    const qsizetype overflow = m_rows.size() + batch.size() - m_capacity;
    if (overflow > 0) {
        const int drop = static_cast<int>(std::min(overflow, m_rows.size()));
        if (drop > 0) {
            beginRemoveRows({}, 0, drop - 1);
            m_rows.remove(0, drop);
            endRemoveRows();
        }
        if (batch.size() > m_capacity)
            batch.remove(0, batch.size() - m_capacity);
    }
    const int first = static_cast<int>(m_rows.size());
    beginInsertRows({}, first, first + static_cast<int>(batch.size()) - 1);
    m_rows.append(std::move(batch));
    endInsertRows();
    if (vocabulary)
        Q_EMIT vocabularyChanged();
    Q_EMIT countersChanged();
}

qsizetype BackplaneFlowModel::tickBudget() const
{
    return std::max<qsizetype>(1, static_cast<qsizetype>(m_rowsPerSecond) * kTickMs / 1000);
}

void BackplaneFlowModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_pending.clear();
    endResetModel();
    m_skippedWhilePaused = 0;
    m_sampledOut = 0;
    m_received = 0;
    Q_EMIT countersChanged();
}

void BackplaneFlowModel::setPaused(bool paused)
{
    if (m_paused == paused)
        return;
    if (paused)
        flush();
    m_paused = paused;
    Q_EMIT countersChanged();
}

QByteArray BackplaneFlowModel::toJsonLines(const QList<int> &rows) const
{
    QByteArray out;
    const auto line = [&out](const BackplaneEnvelope &e) {
        out += encode(e.toJson());
        out += '\n';
    };
    if (rows.isEmpty()) {
        for (const BackplaneEnvelope &e : m_rows)
            line(e);
    } else {
        for (int r : rows) {
            if (r >= 0 && r < m_rows.size())
                line(m_rows.at(r));
        }
    }
    return out;
}

} // namespace sb::console
