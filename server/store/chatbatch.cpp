#include "chatbatch.h"

#include "sqlconnection.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QMap>

#include <algorithm>
#include <limits>

namespace sb {

namespace {

const QString kBatchSavepoint = QStringLiteral("append_batch");
const QString kSavepoint = QStringLiteral("append_chat");

// The batch travels as one JSON array parameter (jsonArrayRows).

// client_id holds no line break (it is [A-Za-z0-9._-]), so this is unique.
QString nonceKey(const ChatDraft &draft)
{
    return draft.clientId + QLatin1Char('\n') + draft.nonce;
}


// The message a fresh (client_id, nonce) was first used for, if any. When
// retention already dropped that message, its seq is still the answer.
std::optional<ChatMessage> findByNonce(SqlConnection &db, const ChatDraft &draft)
{
    const SqlRows rows = db.exec(
        QStringLiteral("SELECT n.room, n.seq, m.from_user, m.client_id, m.text, m.ts, m.origin"
                       " FROM chat_nonces n LEFT JOIN messages m ON m.room = n.room AND m.seq = n.seq"
                       " WHERE n.client_id = $1 AND n.nonce = $2 AND n.created_at >= $3"),
        {draft.clientId, draft.nonce, draft.ts - ChatNonceWindowMs});
    if (rows.isEmpty())
        return std::nullopt;
    const SqlRow &row = rows.first();
    if (row.value(2).isNull())
        return ChatMessage{row.value(0).toString(), row.value(1).toLongLong(), draft.from, draft.clientId,
                           draft.text, draft.ts, draft.origin};
    return messageFromRow(row);
}

// Stores one chat inside the batch's transaction, within the savepoint
// kSavepoint that appendChatsIn() opened for it.
AppendResult appendChatIn(SqlConnection &db, const ChatDraft &draft)
{
    const bool hasNonce = !draft.nonce.isEmpty();
    if (hasNonce) {
        if (std::optional<ChatMessage> original = findByNonce(db, draft))
            return {*original, true};
    }

    // On PostgreSQL the upsert locks the room's row until commit, which
    // serialises writers to one room across instances: seq stays gap-free.
    const SqlRows seqRows = db.exec(QStringLiteral("INSERT INTO rooms (name, last_seq) VALUES ($1, 1)"
                                                   " ON CONFLICT (name) DO UPDATE SET last_seq = rooms.last_seq + 1"
                                                   " RETURNING last_seq"),
                                    {draft.room});
    if (seqRows.isEmpty())
        throw SqlError(QStringLiteral("no seq returned for room %1").arg(draft.room));
    const ChatMessage message{draft.room, seqRows.first().value(0).toLongLong(), draft.from, draft.clientId,
                              draft.text,  draft.ts,                             draft.origin};

    if (hasNonce) {
        // Claims the nonce unless a fresh claim exists: another instance may
        // have stored the same resend since the check above. Then that one
        // wins and this chat (with its seq) is rolled back to the savepoint.
        const SqlRows claimed =
            db.exec(QStringLiteral("INSERT INTO chat_nonces (client_id, nonce, room, seq, created_at)"
                                   " VALUES ($1, $2, $3, $4, $5)"
                                   " ON CONFLICT (client_id, nonce) DO UPDATE SET room = excluded.room,"
                                   " seq = excluded.seq, created_at = excluded.created_at"
                                   " WHERE chat_nonces.created_at < $6"
                                   " RETURNING seq"),
                    {draft.clientId, draft.nonce, draft.room, message.seq, draft.ts, draft.ts - ChatNonceWindowMs});
        if (claimed.isEmpty()) {
            db.exec(QStringLiteral("ROLLBACK TO SAVEPOINT ") + kSavepoint);
            qCDebug(lcStore).noquote() << "nonce" << draft.nonce << "of" << draft.clientId
                                       << "was stored concurrently; answering with that message";
            if (std::optional<ChatMessage> original = findByNonce(db, draft))
                return {*original, true};
            throw SqlError(QStringLiteral("nonce %1 is taken but its message is not found").arg(draft.nonce));
        }
    }

    db.exec(QStringLiteral("INSERT INTO messages (") + messageColumns()
                + QStringLiteral(") VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            {message.room, message.seq, message.from, message.clientId, message.text, message.ts, message.origin});
    return {message, false};
}

} // namespace

const QString &messageColumns()
{
    static const QString columns = QStringLiteral("room, seq, from_user, client_id, text, ts, origin");
    return columns;
}

ChatMessage messageFromRow(const SqlRow &row)
{
    return {row.value(0).toString(), row.value(1).toLongLong(), row.value(2).toString(), row.value(3).toString(),
            row.value(4).toString(),  row.value(5).toLongLong(), row.value(6).toString()};
}

// Stores a batch of chats in one transaction, so that one commit (one fsync)
// covers them all: in a few statements (appendChatBatch) when it can, else one
// by one. Then each chat gets a savepoint: one that fails is undone alone
// and answered with its error. Rooms are taken in name order (each room's
// chats in the order they came), so two instances' batches lock PostgreSQL's
// room rows in the same order and cannot deadlock.
QList<StoreResult<AppendResult>> appendChatsIn(SqlConnection &db, const QList<ChatDraft> &drafts, bool *committing)
{
    SqlTransaction transaction(db);
    // A connection lost during the commit leaves the outcome unknown: the
    // server may have committed before the answer was lost.
    const auto commit = [&transaction, committing] {
        *committing = true;
        transaction.commit();
        *committing = false;
    };
    if (std::optional<QList<StoreResult<AppendResult>>> stored = appendChatBatch(db, drafts)) {
        commit();
        return *std::move(stored);
    }
    QList<qsizetype> order(drafts.size());
    std::iota(order.begin(), order.end(), qsizetype(0));
    std::stable_sort(order.begin(), order.end(),
                     [&drafts](qsizetype a, qsizetype b) { return drafts.at(a).room < drafts.at(b).room; });
    QList<StoreResult<AppendResult>> results(drafts.size());
    for (const qsizetype i : std::as_const(order)) {
        db.exec(QStringLiteral("SAVEPOINT ") + kSavepoint);
        try {
            results[i].value = appendChatIn(db, drafts.at(i));
            results[i].ok = true;
        } catch (const SqlError &error) {
            if (error.connectionLost() || !db.isOpen())
                throw; // the whole batch fails
            qCWarning(lcStore).noquote() << "appendChat to" << drafts.at(i).room << "failed:" << error.message();
            results[i].error = error.message();
            db.exec(QStringLiteral("ROLLBACK TO SAVEPOINT ") + kSavepoint);
        }
        db.exec(QStringLiteral("RELEASE SAVEPOINT ") + kSavepoint);
    }
    commit();
    return results;
}

std::optional<QList<StoreResult<AppendResult>>> appendChatBatch(SqlConnection &db, const QList<ChatDraft> &drafts)
{
    const qsizetype count = drafts.size();
    QList<StoreResult<AppendResult>> results(count);
    // A nonce used twice in one batch: the later use answers as a resend of
    // the first.
    QList<qsizetype> resendOf(count, -1);
    QHash<QString, qsizetype> firstUse;
    QJsonArray lookups;
    qint64 oldest = std::numeric_limits<qint64>::max();
    for (qsizetype i = 0; i < count; ++i) {
        const ChatDraft &draft = drafts.at(i);
        oldest = std::min(oldest, draft.ts);
        if (draft.nonce.isEmpty())
            continue;
        const QString key = nonceKey(draft);
        if (const auto first = firstUse.constFind(key); first != firstUse.cend()) {
            resendOf[i] = first.value();
            continue;
        }
        firstUse.insert(key, i);
        lookups.append(QJsonObject{{QLatin1StringView("i"), i},
                                   {QLatin1StringView("c"), draft.clientId},
                                   {QLatin1StringView("n"), draft.nonce}});
    }

    db.exec(QStringLiteral("SAVEPOINT ") + kBatchSavepoint);
    try {
        // Nonces already stored within the window: the answer is the original
        // message (or just its seq, when retention dropped the message).
        QList<bool> stored(count, false);
        if (!lookups.isEmpty()) {
            const SqlRows rows = db.exec(
                QStringLiteral("SELECT CAST(j.value->>'i' AS BIGINT), n.room, n.seq, m.from_user, m.client_id, m.text,"
                               " m.ts, m.origin FROM ")
                    + jsonArrayRows(db.dialect(), 1)
                    + QStringLiteral(" JOIN chat_nonces n ON n.client_id = j.value->>'c' AND n.nonce = j.value->>'n'"
                                     " LEFT JOIN messages m ON m.room = n.room AND m.seq = n.seq"
                                     " WHERE n.created_at >= $2"),
                {jsonArrayParameter(lookups), oldest - ChatNonceWindowMs});
            for (const SqlRow &row : rows) {
                const qsizetype i = row.value(0).toLongLong();
                const ChatDraft &draft = drafts.at(i);
                ChatMessage original{row.value(1).toString(), row.value(2).toLongLong(), draft.from, draft.clientId,
                                     draft.text, draft.ts, draft.origin};
                if (!row.value(3).isNull())
                    original = {original.room,           original.seq,          row.value(3).toString(),
                                row.value(4).toString(), row.value(5).toString(), row.value(6).toLongLong(),
                                row.value(7).toString()};
                results[i] = {true, {}, {original, true}};
                stored[i] = true;
            }
        }

        // The rest get their seq, room by room in name order.
        QMap<QString, QList<qsizetype>> freshByRoom;
        for (qsizetype i = 0; i < count; ++i) {
            if (resendOf.at(i) < 0 && !stored.at(i))
                freshByRoom[drafts.at(i).room].append(i);
        }
        QJsonArray messages;
        QJsonArray claims;
        for (auto room = freshByRoom.cbegin(); room != freshByRoom.cend(); ++room) {
            const qint64 taken = room.value().size();
            const SqlRows last = db.exec(QStringLiteral("INSERT INTO rooms (name, last_seq) VALUES ($1, $2)"
                                                        " ON CONFLICT (name) DO UPDATE"
                                                        " SET last_seq = rooms.last_seq + excluded.last_seq"
                                                        " RETURNING last_seq"),
                                         {room.key(), taken});
            if (last.isEmpty())
                throw SqlError(QStringLiteral("no seq returned for room %1").arg(room.key()));
            qint64 seq = last.first().value(0).toLongLong() - taken;
            for (const qsizetype i : room.value()) {
                const ChatDraft &draft = drafts.at(i);
                const ChatMessage message{draft.room, ++seq,    draft.from,  draft.clientId,
                                          draft.text, draft.ts, draft.origin};
                results[i] = {true, {}, {message, false}};
                messages.append(QJsonObject{{QLatin1StringView("room"), message.room},
                                            {QLatin1StringView("seq"), message.seq},
                                            {QLatin1StringView("from"), message.from},
                                            {QLatin1StringView("c"), message.clientId},
                                            {QLatin1StringView("text"), message.text},
                                            {QLatin1StringView("ts"), message.ts},
                                            {QLatin1StringView("origin"), message.origin}});
                if (!draft.nonce.isEmpty())
                    claims.append(QJsonObject{{QLatin1StringView("c"), draft.clientId},
                                              {QLatin1StringView("n"), draft.nonce},
                                              {QLatin1StringView("room"), message.room},
                                              {QLatin1StringView("seq"), message.seq},
                                              {QLatin1StringView("ts"), draft.ts}});
            }
        }

        // Claims the nonces unless a fresh claim exists: another instance may
        // have stored the same resend since the lookup. Then the one-by-one
        // path sorts out which chat that was.
        if (!claims.isEmpty()) {
            const SqlRows claimed = db.exec(
                QStringLiteral("INSERT INTO chat_nonces (client_id, nonce, room, seq, created_at)"
                               " SELECT j.value->>'c', j.value->>'n', j.value->>'room', CAST(j.value->>'seq' AS BIGINT),"
                               " CAST(j.value->>'ts' AS BIGINT) FROM ")
                    + jsonArrayRows(db.dialect(), 1)
                    + QStringLiteral(" WHERE true ON CONFLICT (client_id, nonce) DO UPDATE SET room = excluded.room,"
                                     " seq = excluded.seq, created_at = excluded.created_at"
                                     " WHERE chat_nonces.created_at < excluded.created_at - $2"
                                     " RETURNING seq"),
                {jsonArrayParameter(claims), ChatNonceWindowMs});
            if (claimed.size() != claims.size())
                throw SqlError(QStringLiteral("a nonce of the batch was stored concurrently"));
        }
        if (!messages.isEmpty())
            db.exec(QStringLiteral("INSERT INTO messages (room, seq, from_user, client_id, text, ts, origin)"
                                   " SELECT j.value->>'room', CAST(j.value->>'seq' AS BIGINT), j.value->>'from',"
                                   " j.value->>'c', j.value->>'text', CAST(j.value->>'ts' AS BIGINT),"
                                   " j.value->>'origin' FROM ")
                        + jsonArrayRows(db.dialect(), 1),
                    {jsonArrayParameter(messages)});
        db.exec(QStringLiteral("RELEASE SAVEPOINT ") + kBatchSavepoint);
    } catch (const SqlError &error) {
        if (error.connectionLost() || !db.isOpen())
            throw;
        qCDebug(lcStore).noquote() << "batch of" << count << "chats stored one by one:" << error.message();
        db.exec(QStringLiteral("ROLLBACK TO SAVEPOINT ") + kBatchSavepoint);
        db.exec(QStringLiteral("RELEASE SAVEPOINT ") + kBatchSavepoint);
        return std::nullopt;
    }

    for (qsizetype i = 0; i < count; ++i) {
        if (resendOf.at(i) >= 0) {
            results[i] = results.at(resendOf.at(i));
            results[i].value.duplicate = true;
        }
    }
    return results;
}

} // namespace sb
