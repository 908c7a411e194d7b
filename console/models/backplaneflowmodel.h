#pragma once

// The live list of backplane envelopes seen on Redis (time, origin, channel,
// type, target, size, latency). Bounded twice so the console never falls
// behind or grows: at most `rowsPerSecond` rows are kept per second (evenly
// sampled from what arrived, the rest only counted) and at most `capacity`
// rows are held (the oldest go in one block). Rows arrive in one insertion per
// 250 ms tick. Pausing freezes the list; what arrives meanwhile is counted.
// Exports as JSON Lines. Owned by OperatorSession, fed by RedisMonitor.

#include "services/backplanetypes.h"

#include <QAbstractTableModel>
#include <QList>
#include <QStringList>
#include <QTimer>

namespace sb::console {

class BackplaneFlowModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(BackplaneFlowModel)
public:
    enum Column { Time, Origin, Channel, Type, Target, Size, Latency, ColumnCount };
    enum Roles { SortRole = Qt::UserRole + 1, OriginRole, TypeRole };

    explicit BackplaneFlowModel(int capacity = 10000, int rowsPerSecond = 200, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void addEnvelopes(const QList<BackplaneEnvelope> &envelopes);
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
    const BackplaneEnvelope &envelopeAt(int row) const { return m_rows.at(row); }
    // Origins and frame types seen so far, sorted (for the filter boxes).
    QStringList origins() const { return m_origins; }
    QStringList types() const { return m_types; }

    // One JSON object per line; `rows` empty means all rows.
    QByteArray toJsonLines(const QList<int> &rows = {}) const;

Q_SIGNALS:
    void countersChanged();
    void vocabularyChanged(); // a new origin or type appeared

private:
    qsizetype tickBudget() const; // rows kept per tick

    QList<BackplaneEnvelope> m_rows;
    QList<BackplaneEnvelope> m_pending;
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
