#pragma once

// Turns what the server or the network said into plain sentences for people:
// error frames (by contract code), WebSocket close codes and HTTP answers.
// Free functions; used by both client services.

#include <QString>

namespace sb::console {

// `code` is the error frame's code, `detail` its message.
QString plainErrorText(const QString &code, const QString &detail);
// Why the server closed a WebSocket; empty for an ordinary close.
QString plainCloseText(int closeCode, const QString &reason);
// An HTTP answer from /api/token: status plus the body's "message".
QString plainHttpText(int status, const QString &message);

// Close codes after which reconnecting would only repeat the failure at once.
bool closeNeedsFreshToken(int closeCode);

} // namespace sb::console
