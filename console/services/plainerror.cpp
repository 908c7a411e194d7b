#include "plainerror.h"

#include "protocol.h"

#include <QCoreApplication>

namespace sb::console {

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("sb::console::PlainError", text);
}

QString withDetail(const QString &sentence, const QString &detail)
{
    if (detail.isEmpty())
        return sentence;
    return sentence + QStringLiteral(" (") + detail + QLatin1Char(')');
}

} // namespace

QString plainErrorText(const QString &code, const QString &detail)
{
    const std::optional<ErrorCode> known = errorCodeFromName(code);
    if (!known)
        return withDetail(tr("The server refused the request."), detail);
    switch (*known) {
    case ErrorCode::BadJson:
        return withDetail(tr("The server could not read a message from this program."), detail);
    case ErrorCode::BadRequest:
        return withDetail(tr("The server rejected a malformed request."), detail);
    case ErrorCode::UnknownType:
        return withDetail(tr("The server does not know this kind of request."), detail);
    case ErrorCode::InvalidRoom:
        return tr("Room names are 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit.");
    case ErrorCode::TooLarge:
        return withDetail(tr("The text is too long."), detail);
    case ErrorCode::RateLimited:
        return tr("You are sending too fast; the server asked to slow down.");
    case ErrorCode::NotMember:
        return tr("You are not a member of that room; join it first.");
    case ErrorCode::NotFound:
        return withDetail(tr("That item does not exist (or belongs to someone else)."), detail);
    case ErrorCode::Forbidden:
        return tr("That action needs an operator connection.");
    case ErrorCode::BackplaneUnavailable:
        return tr("The servers cannot reach each other right now; nothing was sent. It will work again shortly.");
    case ErrorCode::StoreUnavailable:
        return tr("The server's storage is unavailable; nothing was saved. Try again shortly.");
    case ErrorCode::Internal:
        return withDetail(tr("The server hit an internal error."), detail);
    case ErrorCode::LimitExceeded:
        return withDetail(tr("You reached a limit of the server (rooms joined or todos kept); remove one first."),
                          detail);
    }
    return detail;
}

QString plainCloseText(int closeCode, const QString &reason)
{
    switch (closeCode) {
    case CloseCode::Normal:
        return {};
    case 1001:
        return tr("The server is shutting down.");
    case 1006:
        return tr("The connection was lost.");
    case CloseCode::PolicyViolation:
        return tr("The server closed the connection after too many errors.");
    case CloseCode::TooLarge:
        return tr("The server closed the connection: a message was too large.");
    case CloseCode::ServiceRestart:
        return tr("The server asked this client to reconnect (it is draining or restarting).");
    case CloseCode::TryAgainLater:
        return tr("The server closed the connection because this client could not keep up.");
    case CloseCode::DisconnectedByOperator:
        return tr("An operator disconnected this session.");
    case CloseCode::Unauthorized:
        return tr("The server did not accept the sign-in token (expired or already used).");
    default:
        break;
    }
    return withDetail(tr("The connection was closed (code %1).").arg(closeCode), reason);
}

QString plainHttpText(int status, const QString &message)
{
    switch (status) {
    case 0:
        return withDetail(tr("The server could not be reached."), message);
    case 400:
        return withDetail(tr("The server rejected the sign-in details."), message);
    case 403:
        return tr("The operator key was refused.");
    case 429:
        return tr("Too many connection attempts from this address; waiting before trying again.");
    case 503:
        return withDetail(tr("The server is not accepting connections right now."), message);
    default:
        break;
    }
    return withDetail(tr("The server answered with HTTP status %1.").arg(status), message);
}

bool closeNeedsFreshToken(int closeCode)
{
    return closeCode == CloseCode::Unauthorized;
}

} // namespace sb::console
