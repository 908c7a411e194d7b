#include "messagesmodel.h"

#include <QColor>
#include <QDateTime>
#include <QFont>

#include <algorithm>

namespace sb::console {

namespace {

// Messages sort by seq; a notice sorts right after the message it followed.
bool before(qint64 seqA, bool noticeA, qint64 seqB, bool noticeB)
{
    return seqA != seqB ? seqA < seqB : (!noticeA && noticeB);
}

} // namespace

MessagesModel::MessagesModel(QObject *parent)
    : QAbstractListModel(parent)
{
}

int MessagesModel::rowCount(const QModelIndex &parent) const
{
    if (parent.isValid())
        return 0;
    const auto it = m_logs.constFind(m_room);
    return it == m_logs.cend() ? 0 : visibleRows(*it);
}

const MessagesModel::Item *MessagesModel::itemAt(int row) const
{
    const auto it = m_logs.constFind(m_room);
    if (it == m_logs.cend() || row < 0)
        return nullptr;
    if (row < it->items.size())
        return &it->items.at(row);
    row -= static_cast<int>(it->items.size());
    return row < it->pending.size() ? &it->pending.at(row) : nullptr;
}

QVariant MessagesModel::data(const QModelIndex &index, int role) const
{
    const Item *item = index.isValid() ? itemAt(index.row()) : nullptr;
    if (!item)
        return {};
    const ChatMessage &m = item->message;
    switch (role) {
    case KindRole: return static_cast<int>(item->kind);
    case SeqRole: return m.seq;
    case FromRole: return m.from;
    case TextRole: return m.text;
    case TimeRole: return m.ts;
    case OriginRole: return m.origin;
    case MineRole: return item->kind != Kind::Message || m.clientId == m_ownClientId;
    case NonceRole: return item->nonce;
    case ErrorRole: return item->error;
    case Qt::DisplayRole: {
        const QString time = QDateTime::fromMSecsSinceEpoch(m.ts).toString(QStringLiteral("HH:mm"));
        switch (item->kind) {
        case Kind::Notice: return QStringLiteral("— %1 —").arg(m.text);
        case Kind::Message: return QStringLiteral("%1  %2: %3").arg(time, m.from, m.text);
        case Kind::Pending: return tr("%1  %2: %3   (not sent yet)").arg(time, m.from, m.text);
        case Kind::Failed: return tr("%1  %2: %3   (not sent: %4)").arg(time, m.from, m.text, item->error);
        }
        return {};
    }
    case Qt::ToolTipRole:
        if (item->kind == Kind::Message)
            return tr("#%1 · seq %2 · via %3 · %4")
                .arg(m.room)
                .arg(m.seq)
                .arg(m.origin, QDateTime::fromMSecsSinceEpoch(m.ts).toString(Qt::ISODate));
        return {};
    case Qt::ForegroundRole:
        switch (item->kind) {
        case Kind::Notice: return QColor(0x80, 0x60, 0x00);
        case Kind::Pending: return QColor(Qt::gray);
        case Kind::Failed: return QColor(0xc0, 0x1c, 0x28);
        case Kind::Message: return {};
        }
        return {};
    case Qt::FontRole:
        if (item->kind != Kind::Message) {
            QFont italic;
            italic.setItalic(true);
            return italic;
        }
        return {};
    default:
        return {};
    }
}

void MessagesModel::setRoom(const QString &room)
{
    if (room == m_room)
        return;
    beginResetModel();
    m_room = room;
    endResetModel();
}

void MessagesModel::removeRoom(const QString &room)
{
    if (room == m_room) {
        beginResetModel();
        m_logs.remove(room);
        m_room.clear();
        endResetModel();
    } else {
        m_logs.remove(room);
    }
}

void MessagesModel::merge(const QString &room, const QList<ChatMessage> &incoming)
{
    if (incoming.isEmpty())
        return;
    Log &log = m_logs[room];
    QList<ChatMessage> sorted = incoming;
    std::sort(sorted.begin(), sorted.end(), [](const ChatMessage &a, const ChatMessage &b) { return a.seq < b.seq; });
    const bool shown = room == m_room;

    // Fast paths: everything after the end, or everything before the start.
    const qint64 lastSeq = log.items.isEmpty() ? -1 : log.items.last().message.seq;
    const qint64 firstSeq = log.items.isEmpty() ? -1 : log.items.first().message.seq;
    const auto toItems = [](const QList<ChatMessage> &list) {
        QList<Item> out;
        qint64 previous = -1;
        for (const ChatMessage &m : list) {
            if (m.seq == previous)
                continue;
            previous = m.seq;
            out.append(Item{Kind::Message, m, {}, {}});
        }
        return out;
    };
    if (log.items.isEmpty() || sorted.first().seq > lastSeq) {
        const QList<Item> items = toItems(sorted);
        const int first = static_cast<int>(log.items.size());
        if (shown)
            beginInsertRows({}, first, first + static_cast<int>(items.size()) - 1);
        log.items.append(items);
        if (shown)
            endInsertRows();
        return;
    }
    if (sorted.last().seq < firstSeq) {
        const QList<Item> items = toItems(sorted);
        if (shown)
            beginInsertRows({}, 0, static_cast<int>(items.size()) - 1);
        log.items = items + log.items;
        if (shown)
            endInsertRows();
        return;
    }
    // Interleaved: insert one by one, skipping seqs already shown.
    for (const ChatMessage &m : std::as_const(sorted)) {
        const auto pos = std::lower_bound(log.items.begin(), log.items.end(), m.seq, [](const Item &item, qint64 seq) {
            return before(item.message.seq, item.kind == Kind::Notice, seq, false);
        });
        if (pos != log.items.end() && pos->kind == Kind::Message && pos->message.seq == m.seq)
            continue;
        const int row = static_cast<int>(pos - log.items.begin());
        if (shown)
            beginInsertRows({}, row, row);
        log.items.insert(row, Item{Kind::Message, m, {}, {}});
        if (shown)
            endInsertRows();
    }
}

void MessagesModel::appendMessages(const QString &room, const QList<ChatMessage> &messages)
{
    merge(room, messages);
}

void MessagesModel::addHistory(const QString &room, const QList<ChatMessage> &messages, bool replace)
{
    if (!replace) {
        merge(room, messages);
        return;
    }
    const bool shown = room == m_room;
    if (shown)
        beginResetModel();
    Log &log = m_logs[room];
    QList<Item> notices;
    for (const Item &item : std::as_const(log.items)) {
        if (item.kind == Kind::Notice)
            notices.append(item);
    }
    log.items.clear();
    QList<ChatMessage> sorted = messages;
    std::sort(sorted.begin(), sorted.end(), [](const ChatMessage &a, const ChatMessage &b) { return a.seq < b.seq; });
    for (const ChatMessage &m : std::as_const(sorted))
        log.items.append(Item{Kind::Message, m, {}, {}});
    // Notices stay visible at the end, where the user is looking.
    const qint64 key = log.items.isEmpty() ? 0 : log.items.last().message.seq;
    for (Item notice : std::as_const(notices)) {
        notice.message.seq = key;
        log.items.append(notice);
    }
    if (shown)
        endResetModel();
}

void MessagesModel::addNotice(const QString &room, const QString &text)
{
    Log &log = m_logs[room];
    Item item;
    item.kind = Kind::Notice;
    item.message.room = room;
    item.message.text = text;
    item.message.ts = QDateTime::currentMSecsSinceEpoch();
    item.message.seq = log.items.isEmpty() ? 0 : log.items.last().message.seq;
    const bool shown = room == m_room;
    const int row = static_cast<int>(log.items.size());
    if (shown)
        beginInsertRows({}, row, row);
    log.items.append(item);
    if (shown)
        endInsertRows();
}

void MessagesModel::addPending(const PendingMessage &message)
{
    Log &log = m_logs[message.room];
    Item item;
    item.kind = Kind::Pending;
    item.nonce = message.nonce;
    item.message.room = message.room;
    item.message.text = message.text;
    item.message.ts = message.createdAt;
    item.message.from = tr("me");
    item.message.clientId = m_ownClientId;
    const bool shown = message.room == m_room;
    const int row = visibleRows(log);
    if (shown)
        beginInsertRows({}, row, row);
    log.pending.append(item);
    if (shown)
        endInsertRows();
}

void MessagesModel::confirmPending(const QString &nonce)
{
    for (auto it = m_logs.begin(); it != m_logs.end(); ++it) {
        for (int i = 0; i < it->pending.size(); ++i) {
            if (it->pending.at(i).nonce != nonce)
                continue;
            const bool shown = it.key() == m_room;
            const int row = static_cast<int>(it->items.size()) + i;
            if (shown)
                beginRemoveRows({}, row, row);
            it->pending.removeAt(i);
            if (shown)
                endRemoveRows();
            return;
        }
    }
}

void MessagesModel::failPending(const QString &nonce, const QString &why)
{
    for (auto it = m_logs.begin(); it != m_logs.end(); ++it) {
        for (int i = 0; i < it->pending.size(); ++i) {
            if (it->pending.at(i).nonce != nonce)
                continue;
            it->pending[i].kind = Kind::Failed;
            it->pending[i].error = why;
            if (it.key() == m_room) {
                const QModelIndex changed = index(static_cast<int>(it->items.size()) + i);
                Q_EMIT dataChanged(changed, changed);
            }
            return;
        }
    }
}

QList<qint64> MessagesModel::seqs(const QString &room) const
{
    QList<qint64> out;
    const auto it = m_logs.constFind(room);
    if (it == m_logs.cend())
        return out;
    for (const Item &item : it->items) {
        if (item.kind == Kind::Message)
            out.append(item.message.seq);
    }
    return out;
}

int MessagesModel::pendingCount(const QString &room) const
{
    const auto it = m_logs.constFind(room);
    if (it == m_logs.cend())
        return 0;
    int n = 0;
    for (const Item &item : it->pending)
        n += item.kind == Kind::Pending ? 1 : 0;
    return n;
}

qint64 MessagesModel::oldestSeq(const QString &room) const
{
    const QList<qint64> s = seqs(room);
    return s.isEmpty() ? -1 : s.first();
}

} // namespace sb::console
