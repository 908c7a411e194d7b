#pragma once

// Storing chats: SqlStore's group commit hands a batch to appendChatsIn(),
// which stores it in a fixed number of statements (appendChatBatch()) when it
// can, else one chat at a time, each under its own savepoint. Also the shape
// of a message row, which the store's reads share.

#include "sqlconnection.h"
#include "store.h"

#include <QList>

#include <optional>

namespace sb {


// A resent chat with the same (client_id, nonce) within this window is a duplicate.
inline constexpr qint64 ChatNonceWindowMs = 10 * 60 * 1000;

// Stores `drafts` in one statement per kind of row (nonce lookups, nonce
// claims, messages) plus one seq reservation per room, whatever the batch's
// size: on PostgreSQL each statement is a round trip, and the room's row lock
// is held from its reservation to the commit. Rooms are reserved in name
// order, so two instances' batches cannot deadlock.
//
// Returns nothing, and leaves the transaction as it found it, when one chat
// of the batch needs to be stored alone: a statement failed, or another
// instance claimed one of the nonces meanwhile. The caller then stores the
// chats one by one. A lost connection is thrown, as by SqlConnection::exec().
// The columns of a message row, in the order messageFromRow() reads them.
const QString &messageColumns();
ChatMessage messageFromRow(const SqlRow &row);

// Stores a batch of chats inside the caller's transaction and answers each.
// `committing` is set while the COMMIT is on its way (a loss then is in doubt).
QList<StoreResult<AppendResult>> appendChatsIn(SqlConnection &db, const QList<ChatDraft> &drafts, bool *committing);

std::optional<QList<StoreResult<AppendResult>>> appendChatBatch(SqlConnection &db, const QList<ChatDraft> &drafts);

} // namespace sb
