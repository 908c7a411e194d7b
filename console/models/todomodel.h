#pragma once

// The participant's todos, oldest first, as the server last said they are.
// Editing in a view does not change a row directly: it asks (signals) for the
// change, and the row changes when the server's todo.changed arrives, so every
// window of the same client shows the same list. Owned by ParticipantSession.

#include "services/participanttypes.h"

#include <QAbstractListModel>
#include <QList>

#include <optional>

namespace sb::console {

class TodoModel final : public QAbstractListModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TodoModel)
public:
    enum Roles { IdRole = Qt::UserRole + 1, DoneRole, TitleRole };

    explicit TodoModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex &index, const QVariant &value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex &index) const override;

    void setItems(const QList<TodoItem> &items);
    void apply(TodoChange change, const TodoItem &item);

    int rowOf(qint64 id) const;
    qint64 idAt(int row) const;
    std::optional<TodoItem> item(qint64 id) const;
    const QList<TodoItem> &items() const { return m_items; }

Q_SIGNALS:
    void updateRequested(qint64 id, const std::optional<QString> &title, const std::optional<bool> &done);

private:
    QList<TodoItem> m_items;
};

} // namespace sb::console
