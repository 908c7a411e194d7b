#pragma once

// The operator's message-flow log: the last N (default 5000) sampled frames
// from every watched instance, appended in one batch per 250 ms tick with the
// oldest rows dropped in one block. Pausing freezes the view; samples that
// arrive meanwhile are counted, not kept. Exports as JSON Lines. Owned by
// OperatorSession.

#include "services/operatortypes.h"

#include <QAbstractTableModel>
#include <QList>
#include <QTimer>

class QIODevice;

namespace sb::console {

class FlowModel final : public QAbstractTableModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FlowModel)
public:
    enum Column { Time, Direction, Type, Room, Session, Origin, Size, ColumnCount };

    explicit FlowModel(int capacity = 5000, QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void addSample(const FlowSample &sample);
    void flush();
    void clear();

    void setPaused(bool paused);
    bool isPaused() const { return m_paused; }
    qint64 droppedWhilePaused() const { return m_dropped; }
    qint64 totalReceived() const { return m_received; }
    int capacity() const { return m_capacity; }
    const FlowSample &sampleAt(int row) const { return m_rows.at(row); }

    // One JSON object per line; `rows` empty means all rows.
    QByteArray toJsonLines(const QList<int> &rows = {}) const;

Q_SIGNALS:
    void countersChanged();

private:
    QList<FlowSample> m_rows;
    QList<FlowSample> m_pending;
    QTimer m_tick;
    int m_capacity;
    bool m_paused = false;
    qint64 m_dropped = 0;
    qint64 m_received = 0;
};

} // namespace sb::console
