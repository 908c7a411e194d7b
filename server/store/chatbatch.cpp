#include "chatbatch.h"

#include "sqlconnection.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>

#include <algorithm>
#include <limits>

namespace sb {

namespace {

const QString kBatchSavepoint = QStringLiteral("append_batch");

// The batch travels as one JSON array parameter, so that each statement's
// text is the same whatever the batch's size (SQLite caches prepared
// statements by their text). This names the rows of parameter $N as
// j.value, in either dialect; both read fields with ->>.
QString jsonRows(const SqlConnection &db, int param)
{
    return db.dialect() == SqlDialect::Postgres
        ? QStringLiteral("json_array_elements(CAST($%1 AS json)) AS j(value)").arg(param)
        : QStringLiteral("json_each($%1) AS j").arg(param);
}

QString compact(const QJsonArray &rows)
{
    return QString::fromUtf8(QJsonDocument(rows).toJson(QJsonDocument::Compact));
}

// client_id holds no line break (it is [A-Za-z0-9._-]), so this is unique.
QString nonceKey(const ChatDraft &draft)
{
    return draft.clientId + QLatin1Char('\n') + draft.nonce;
}

} // namespace

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
                    + jsonRows(db, 1)
                    + QStringLiteral(" JOIN chat_nonces n ON n.client_id = j.value->>'c' AND n.nonce = j.value->>'n'"
                                     " LEFT JOIN messages m ON m.room = n.room AND m.seq = n.seq"
                                     " WHERE n.created_at >= $2"),
                {compact(lookups), oldest - ChatNonceWindowMs});
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
                    + jsonRows(db, 1)
                    + QStringLiteral(" WHERE true ON CONFLICT (client_id, nonce) DO UPDATE SET room = excluded.room,"
                                     " seq = excluded.seq, created_at = excluded.created_at"
                                     " WHERE chat_nonces.created_at < excluded.created_at - $2"
                                     " RETURNING seq"),
                {compact(claims), ChatNonceWindowMs});
            if (claimed.size() != claims.size())
                throw SqlError(QStringLiteral("a nonce of the batch was stored concurrently"));
        }
        if (!messages.isEmpty())
            db.exec(QStringLiteral("INSERT INTO messages (room, seq, from_user, client_id, text, ts, origin)"
                                   " SELECT j.value->>'room', CAST(j.value->>'seq' AS BIGINT), j.value->>'from',"
                                   " j.value->>'c', j.value->>'text', CAST(j.value->>'ts' AS BIGINT),"
                                   " j.value->>'origin' FROM ")
                        + jsonRows(db, 1),
                    {compact(messages)});
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
