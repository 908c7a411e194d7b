#pragma once

// The chat log of the room being shown: delivered messages in seq order
// (duplicates by seq ignored), notices (such as "messages could not be
// recovered") where they happened, and at the end the user's own messages not
// yet acknowledged, marked pending (or failed, with the reason). Keeps every
// joined room's log so switching rooms is instant. Owned by ParticipantSession.

#include "services/participanttypes.h"

#include <QAbstractListModel>
#include <QHash>
#include <QList>

namespace sb::console {

class MessagesModel final : public QAbstractListModel
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MessagesModel)
public:
    enum class Kind { Message, Notice, Pending, Failed };
    enum Roles { KindRole = Qt::UserRole + 1, SeqRole, FromRole, TextRole, TimeRole, OriginRole, MineRole, NonceRole, ErrorRole };

    explicit MessagesModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;

    void setOwnClientId(const QString &clientId) { m_ownClientId = clientId; }
    void setRoom(const QString &room);
    QString room() const { return m_room; }
    void removeRoom(const QString &room);

    void appendMessages(const QString &room, const QList<ChatMessage> &messages);
    void addHistory(const QString &room, const QList<ChatMessage> &messages, bool replace);
    void addNotice(const QString &room, const QString &text);
    void addPending(const PendingMessage &message);
    void confirmPending(const QString &nonce);
    void failPending(const QString &nonce, const QString &why);

    // For tests and the view: the seqs of the room's delivered messages.
    QList<qint64> seqs(const QString &room) const;
    int pendingCount(const QString &room) const;
    qint64 oldestSeq(const QString &room) const;

private:
    struct Item
    {
        Kind kind = Kind::Message;
        ChatMessage message; // for pending: room, text, ts; seq 0
        QString nonce;
        QString error;
    };
    struct Log
    {
        QList<Item> items;   // messages and notices, ordered
        QList<Item> pending; // unsent, in typing order
    };
    const Item *itemAt(int row) const;
    int visibleRows(const Log &log) const { return static_cast<int>(log.items.size() + log.pending.size()); }
    // Inserts sorted by seq into `log.items`, skipping known seqs; returns
    // the rows touched (first, count) when the log is the shown one.
    void merge(const QString &room, const QList<ChatMessage> &messages);

    QHash<QString, Log> m_logs;
    QString m_room;
    QString m_ownClientId;
};

} // namespace sb::console
