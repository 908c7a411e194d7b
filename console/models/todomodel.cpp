#include "todomodel.h"

#include "protocol.h"

#include <QDateTime>
#include <QFont>
#include <QPalette>

#include <algorithm>

namespace sb::console {

TodoModel::TodoModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

int TodoModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_items.size());
}

QVariant TodoModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_items.size())
        return {};
    const TodoItem &t = m_items.at(index.row());
    switch (role) {
    case IdRole: return t.id;
    case DoneRole: return t.done;
    case TitleRole:
    case Qt::DisplayRole:
    case Qt::EditRole: return t.title;
    case Qt::CheckStateRole: return t.done ? Qt::Checked : Qt::Unchecked;
    case Qt::FontRole:
        if (t.done) {
            QFont struck;
            struck.setStrikeOut(true);
            return struck;
        }
        return {};
    case Qt::ForegroundRole:
        return t.done ? QVariant(QPalette().color(QPalette::Disabled, QPalette::Text)) : QVariant();
    case Qt::ToolTipRole:
        return tr("Created %1, changed %2")
            .arg(QDateTime::fromMSecsSinceEpoch(t.createdAt).toString(QStringLiteral("yyyy-MM-dd HH:mm")),
                 QDateTime::fromMSecsSinceEpoch(t.updatedAt).toString(QStringLiteral("yyyy-MM-dd HH:mm")));
    default:
        return {};
    }
}

Qt::ItemFlags TodoModel::flags(const QModelIndex &index) const
{
    if (!index.isValid())
        return Qt::NoItemFlags;
    return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsEditable | Qt::ItemIsUserCheckable;
}

bool TodoModel::setData(const QModelIndex &index, const QVariant &value, int role)
{
    if (!index.isValid() || index.row() >= m_items.size())
        return false;
    const TodoItem &t = m_items.at(index.row());
    if (role == Qt::CheckStateRole) {
        const bool done = value.toInt() == Qt::Checked;
        if (done != t.done)
            Q_EMIT updateRequested(t.id, std::nullopt, done);
        return false; // the server's todo.changed updates the row
    }
    if (role == Qt::EditRole) {
        const QString title = value.toString().trimmed();
        if (title.isEmpty() || title == t.title || codePointLength(title) > Limits::MaxTodoTitle)
            return false;
        Q_EMIT updateRequested(t.id, title, std::nullopt);
        return false;
    }
    return false;
}

void TodoModel::setItems(const QList<TodoItem> &items)
{
    beginResetModel();
    m_items = items;
    std::sort(m_items.begin(), m_items.end(), [](const TodoItem &a, const TodoItem &b) {
        return a.createdAt != b.createdAt ? a.createdAt < b.createdAt : a.id < b.id;
    });
    endResetModel();
}

void TodoModel::apply(TodoChange change, const TodoItem &item)
{
    const int row = rowOf(item.id);
    switch (change) {
    case TodoChange::Added:
    case TodoChange::Updated:
        if (row >= 0) {
            m_items[row] = item;
            Q_EMIT dataChanged(index(row), index(row));
        } else {
            const int at = static_cast<int>(m_items.size());
            beginInsertRows({}, at, at);
            m_items.append(item);
            endInsertRows();
        }
        break;
    case TodoChange::Deleted:
        if (row >= 0) {
            beginRemoveRows({}, row, row);
            m_items.removeAt(row);
            endRemoveRows();
        }
        break;
    }
}

int TodoModel::rowOf(qint64 id) const
{
    for (int i = 0; i < m_items.size(); ++i) {
        if (m_items.at(i).id == id)
            return i;
    }
    return -1;
}

qint64 TodoModel::idAt(int row) const
{
    return row >= 0 && row < m_items.size() ? m_items.at(row).id : -1;
}

std::optional<TodoItem> TodoModel::item(qint64 id) const
{
    const int row = rowOf(id);
    if (row < 0)
        return std::nullopt;
    return m_items.at(row);
}

} // namespace sb::console
