#pragma once

// The operator's message-flow log, for either of its two sources: the frames
// the watched instances sample (admin.flow), or the backplane envelopes the
// Redis monitor reads off pub/sub. Each source's record is turned into one
// FlowRow (the columns it shows) as it arrives, so the bounding, batching,
// pausing and export below are written once.
//
// Rows arrive in one insertion per 250 ms tick and at most `capacity` are held
// (the oldest go in one block). With a `rowsPerSecond` limit (the envelopes)
// at most that many rows a second are kept, evenly sampled from what arrived,
// the rest only counted; without one (the samples) every row is kept. Pausing
// freezes the view; what arrives meanwhile is counted, not kept. Exports as
// JSON Lines, each row as its source record's toJson(). Owned by
// OperatorSession.

#include "services/backplanetypes.h"
#include "services/operatortypes.h"

#include <QAbstractTableModel>
#include <QList>
#include <QStringList>
#include <QTimer>

#include <variant>

namespace sb::console {

class FlowModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FlowModel)
public:
    enum class Source {
        InstanceSamples, // FlowSample, from every InstanceClient
        RedisEnvelopes,  // BackplaneEnvelope, from the RedisMonitor
    };
    // What a column shows; each source has its own columns (columns()).
    enum class Field { Time, Direction, Origin, Channel, Type, Room, Target, Session, Size, Latency };
    enum Roles { SortRole = Qt::UserRole + 1, OriginRole, TypeRole };

    // `rowsPerSecond` 0 keeps every row.
    explicit FlowModel(Source source, int capacity, int rowsPerSecond = 0, QObject *parent = nullptr);

    Source source() const { return m_source; }
    // The source's columns, in order.
    const QList<Field> &columns() const { return m_columns; }
    // The column showing `field`, or -1.
    int columnOf(Field field) const { return static_cast<int>(m_columns.indexOf(field)); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Source::InstanceSamples
    void addSample(const FlowSample &sample);
    const FlowSample &sampleAt(int row) const { return std::get<FlowSample>(m_rows.at(row).record); }
    // Source::RedisEnvelopes
    void addEnvelopes(const QList<BackplaneEnvelope> &envelopes);
    const BackplaneEnvelope &envelopeAt(int row) const { return std::get<BackplaneEnvelope>(m_rows.at(row).record); }

    // Applies what is queued now (the tick calls this).
    void flush();
    void clear();

    void setPaused(bool paused);
    bool isPaused() const { return m_paused; }
    int capacity() const { return m_capacity; }
    int rowsPerSecond() const { return m_rowsPerSecond; }
    qint64 totalReceived() const { return m_received; }
    qint64 sampledOut() const { return m_sampledOut; }
    qint64 skippedWhilePaused() const { return m_skippedWhilePaused; }
    // Origins and frame types seen so far, sorted (for the filter boxes).
    QStringList origins() const { return m_origins; }
    QStringList types() const { return m_types; }

    // One JSON object per line; `rows` empty means all rows.
    QByteArray toJsonLines(const QList<int> &rows = {}) const;

Q_SIGNALS:
    void countersChanged();
    void vocabularyChanged(); // a new origin or type appeared

private:
    // One row as the columns show it, and the record it came from. Every
    // member has an initialiser, so rowOf() names only what its source has.
    struct FlowRow
    {
        qint64 time = 0;
        QString direction = {};
        QString origin = {};
        QString channel = {};
        QString type = {};
        QString room = {};
        QString target = {};
        QString session = {};
        qint64 size = 0;
        qint64 latencyMs = 0;
        QByteArray payload = {}; // the tooltip
        std::variant<FlowSample, BackplaneEnvelope> record = {};
    };
    static FlowRow rowOf(const FlowSample &sample);
    static FlowRow rowOf(const BackplaneEnvelope &envelope);

    void take(QList<FlowRow> rows);
    qsizetype tickBudget() const; // rows kept per tick, when rowsPerSecond is set

    Source m_source;
    QList<Field> m_columns;
    QList<FlowRow> m_rows;
    QList<FlowRow> m_pending;
    QTimer m_tick;
    int m_capacity;
    int m_rowsPerSecond;
    bool m_paused = false;
    qint64 m_received = 0;
    qint64 m_sampledOut = 0;
    qint64 m_skippedWhilePaused = 0;
    QStringList m_origins;
    QStringList m_types;
};

} // namespace sb::console
