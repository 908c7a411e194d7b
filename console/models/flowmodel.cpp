#include "flowmodel.h"

#include "codec.h"

#include <QColor>
#include <QDateTime>

namespace sb::console {

FlowModel::FlowModel(int capacity, QObject *parent)
    : QAbstractTableModel(parent)
    , m_capacity(qMax(1, capacity))
{
    m_tick.setObjectName(QStringLiteral("FlowModel.tick"));
    m_tick.setInterval(250);
    m_tick.setSingleShot(true);
    connect(&m_tick, &QTimer::timeout, this, &FlowModel::flush);
}

int FlowModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int FlowModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant FlowModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Time: return tr("Time");
    case Direction: return tr("Dir");
    case Type: return tr("Type");
    case Room: return tr("Room");
    case Session: return tr("Session");
    case Origin: return tr("Origin");
    case Size: return tr("Bytes");
    default: return {};
    }
}

QVariant FlowModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const FlowSample &f = m_rows.at(index.row());
    if (role == Qt::ForegroundRole && index.column() == Direction) {
        if (f.dir == QLatin1StringView("in"))
            return QColor(0x1c, 0x5f, 0xb0);
        if (f.dir == QLatin1StringView("out"))
            return QColor(0x1b, 0x7f, 0x3b);
        return QColor(0x7a, 0x3e, 0x9d);
    }
    if (role == Qt::TextAlignmentRole && index.column() == Size)
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case Time: return QDateTime::fromMSecsSinceEpoch(f.ts).toString(QStringLiteral("HH:mm:ss.zzz"));
    case Direction: return f.dir;
    case Type: return f.frameType;
    case Room: return f.room;
    case Session: return f.sessionId.left(8);
    case Origin: return f.origin;
    case Size: return f.size;
    default: return {};
    }
}

void FlowModel::addSample(const FlowSample &sample)
{
    ++m_received;
    if (m_paused) {
        ++m_dropped;
        return;
    }
    m_pending.append(sample);
    // Never hold more than a view's worth while waiting for the tick.
    if (m_pending.size() > m_capacity)
        m_pending.remove(0, m_pending.size() - m_capacity);
    if (!m_tick.isActive())
        m_tick.start();
}

void FlowModel::flush()
{
    m_tick.stop();
    if (m_pending.isEmpty())
        return;
    const QList<FlowSample> batch = std::exchange(m_pending, {});
    const qsizetype overflow = m_rows.size() + batch.size() - m_capacity;
    if (overflow > 0) {
        const int drop = static_cast<int>(qMin(overflow, m_rows.size()));
        if (drop > 0) {
            beginRemoveRows({}, 0, drop - 1);
            m_rows.remove(0, drop);
            endRemoveRows();
        }
    }
    const int first = static_cast<int>(m_rows.size());
    beginInsertRows({}, first, first + static_cast<int>(batch.size()) - 1);
    m_rows.append(batch);
    endInsertRows();
    Q_EMIT countersChanged();
}

void FlowModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_pending.clear();
    endResetModel();
    m_dropped = 0;
    Q_EMIT countersChanged();
}

void FlowModel::setPaused(bool paused)
{
    if (m_paused == paused)
        return;
    if (paused)
        flush();
    m_paused = paused;
    Q_EMIT countersChanged();
}

QByteArray FlowModel::toJsonLines(const QList<int> &rows) const
{
    QByteArray out;
    const auto line = [&out](const FlowSample &f) {
        out += encode(f.toJson());
        out += '\n';
    };
    if (rows.isEmpty()) {
        for (const FlowSample &f : m_rows)
            line(f);
    } else {
        for (int r : rows) {
            if (r >= 0 && r < m_rows.size())
                line(m_rows.at(r));
        }
    }
    return out;
}

} // namespace sb::console
