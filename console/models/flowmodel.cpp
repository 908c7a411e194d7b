#include "flowmodel.h"

#include "codec.h"

#include <QColor>
#include <QDateTime>

#include <algorithm>

namespace sb::console {

namespace {

constexpr int kTickMs = 250;

QList<FlowModel::Field> columnsOf(FlowModel::Source source)
{
    using F = FlowModel::Field;
    switch (source) {
    case FlowModel::Source::InstanceSamples:
        return {F::Time, F::Direction, F::Type, F::Room, F::Session, F::Origin, F::Size};
    case FlowModel::Source::RedisEnvelopes:
        return {F::Time, F::Origin, F::Channel, F::Type, F::Target, F::Size, F::Latency};
    }
    return {};
}

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

FlowModel::FlowModel(Source source, int capacity, int rowsPerSecond, QObject *parent)
    : QAbstractTableModel(parent)
    , m_source(source)
    , m_columns(columnsOf(source))
    , m_capacity(qMax(1, capacity))
    , m_rowsPerSecond(qMax(0, rowsPerSecond))
{
    m_tick.setObjectName(source == Source::InstanceSamples ? QStringLiteral("FlowModel.tick")
                                                           : QStringLiteral("BackplaneFlowModel.tick"));
    m_tick.setInterval(kTickMs);
    m_tick.setSingleShot(true);
    connect(&m_tick, &QTimer::timeout, this, &FlowModel::flush);
}

FlowModel::FlowRow FlowModel::rowOf(const FlowSample &s)
{
    return {.time = s.ts, .direction = s.dir, .origin = s.origin, .type = s.frameType, .room = s.room,
            .session = s.sessionId.left(8), .size = s.size, .record = s};
}

FlowModel::FlowRow FlowModel::rowOf(const BackplaneEnvelope &e)
{
    return {.time = e.receivedAt, .origin = e.origin, .channel = e.channel, .type = e.frameType, .room = e.room,
            .target = e.target, .size = e.size, .latencyMs = e.latencyMs, .payload = e.payload, .record = e};
}

int FlowModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int FlowModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_columns.size());
}

QVariant FlowModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole || section < 0 || section >= m_columns.size())
        return {};
    switch (m_columns.at(section)) {
    case Field::Time: return tr("Time");
    case Field::Direction: return tr("Dir");
    case Field::Origin: return tr("Origin");
    case Field::Channel: return tr("Channel");
    case Field::Type: return tr("Type");
    case Field::Room: return tr("Room");
    case Field::Target: return tr("Target");
    case Field::Session: return tr("Session");
    case Field::Size: return tr("Bytes");
    case Field::Latency: return tr("Latency");
    }
    return {};
}

QVariant FlowModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size() || index.column() >= m_columns.size())
        return {};
    const FlowRow &r = m_rows.at(index.row());
    const Field field = m_columns.at(index.column());
    switch (role) {
    case OriginRole: return r.origin;
    case TypeRole: return r.type;
    case SortRole:
        switch (field) {
        case Field::Time: return r.time;
        case Field::Size: return r.size;
        case Field::Latency: return r.latencyMs;
        default: return data(index, Qt::DisplayRole);
        }
    case Qt::TextAlignmentRole:
        if (field == Field::Size || field == Field::Latency)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ForegroundRole:
        if (field == Field::Direction) {
            if (r.direction == QLatin1StringView("in"))
                return QColor(0x1c, 0x5f, 0xb0);
            if (r.direction == QLatin1StringView("out"))
                return QColor(0x1b, 0x7f, 0x3b);
            return QColor(0x7a, 0x3e, 0x9d);
        }
        // Slow deliveries stand out.
        if (field == Field::Latency && r.latencyMs >= 100)
            return QColor(0xc0, 0x1c, 0x28);
        return {};
    case Qt::ToolTipRole:
        if (r.payload.isEmpty())
            return {};
        return QString::fromUtf8(r.payload.left(2000));
    case Qt::DisplayRole:
        switch (field) {
        case Field::Time: return QDateTime::fromMSecsSinceEpoch(r.time).toString(QStringLiteral("HH:mm:ss.zzz"));
        case Field::Direction: return r.direction;
        case Field::Origin: return r.origin;
        case Field::Channel: return r.channel;
        case Field::Type: return r.type;
        case Field::Room: return r.room;
        case Field::Target: return r.target;
        case Field::Session: return r.session;
        case Field::Size: return r.size;
        case Field::Latency: return tr("%1 ms").arg(r.latencyMs);
        }
        return {};
    default:
        return {};
    }
}

void FlowModel::addSample(const FlowSample &sample)
{
    Q_ASSERT(m_source == Source::InstanceSamples);
    take({rowOf(sample)});
}

void FlowModel::addEnvelopes(const QList<BackplaneEnvelope> &envelopes)
{
    Q_ASSERT(m_source == Source::RedisEnvelopes);
    if (envelopes.isEmpty())
        return;
    QList<FlowRow> rows;
    rows.reserve(envelopes.size());
    for (const BackplaneEnvelope &e : envelopes)
        rows.append(rowOf(e));
    take(std::move(rows));
}

void FlowModel::take(QList<FlowRow> rows)
{
    m_received += rows.size();
    if (m_paused) {
        m_skippedWhilePaused += rows.size();
        // The envelope list shows the skipped count as it grows; the sample
        // log (one sample a call) updates it when unpaused, as it always has.
        if (m_source == Source::RedisEnvelopes)
            Q_EMIT countersChanged();
        return;
    }
    m_pending.append(std::move(rows));
    if (m_rowsPerSecond == 0) {
        // Never hold more than a view's worth while waiting for the tick.
        if (m_pending.size() > m_capacity)
            m_pending.remove(0, m_pending.size() - m_capacity);
    } else {
        // Never hold much more than a tick keeps: halve what waits, evenly,
        // so the sample still spans the whole tick.
        const qsizetype limit = std::max<qsizetype>(64, 4 * tickBudget());
        while (m_pending.size() > limit) {
            QList<FlowRow> half;
            half.reserve(m_pending.size() / 2 + 1);
            for (qsizetype i = 0; i < m_pending.size(); i += 2)
                half.append(std::move(m_pending[i]));
            m_sampledOut += m_pending.size() - half.size();
            m_pending = std::move(half);
        }
    }
    if (!m_tick.isActive())
        m_tick.start();
}

void FlowModel::flush()
{
    m_tick.stop();
    if (m_pending.isEmpty())
        return;
    QList<FlowRow> arrived = std::exchange(m_pending, {});

    // Keep at most this tick's share, spread evenly over what arrived.
    QList<FlowRow> batch;
    const qsizetype budget = tickBudget();
    if (m_rowsPerSecond == 0 || arrived.size() <= budget) {
        batch = std::move(arrived);
    } else {
        batch.reserve(budget);
        for (qsizetype i = 0; i < budget; ++i)
            batch.append(std::move(arrived[i * arrived.size() / budget]));
        m_sampledOut += arrived.size() - budget;
    }

    bool vocabulary = false;
    for (const FlowRow &r : std::as_const(batch)) {
        insertSorted(m_origins, r.origin, &vocabulary);
        insertSorted(m_types, r.type, &vocabulary);
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

qsizetype FlowModel::tickBudget() const
{
    return std::max<qsizetype>(1, static_cast<qsizetype>(m_rowsPerSecond) * kTickMs / 1000);
}

void FlowModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_pending.clear();
    endResetModel();
    m_skippedWhilePaused = 0;
    m_sampledOut = 0;
    // The sample log counts what came since the console started; the envelope
    // list what came since it was cleared.
    if (m_source == Source::RedisEnvelopes)
        m_received = 0;
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
    const auto line = [&out](const FlowRow &r) {
        out += encode(std::visit([](const auto &record) { return record.toJson(); }, r.record));
        out += '\n';
    };
    if (rows.isEmpty()) {
        for (const FlowRow &r : m_rows)
            line(r);
    } else {
        for (int r : rows) {
            if (r >= 0 && r < m_rows.size())
                line(m_rows.at(r));
        }
    }
    return out;
}

} // namespace sb::console
