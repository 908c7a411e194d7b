#include "tokenendpoint.h"

#include "backplane/backplane.h"
#include "codec.h"
#include "config.h"
#include "metrics/metrics.h"

#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QUuid>

Q_LOGGING_CATEGORY(lcToken, "sb.token")

namespace sb {

namespace {

QString newToken()
{
    QByteArray bytes(32, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()), bytes.size() / 4);
    return QString::fromLatin1(bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

// Compares every byte whatever the first difference, so the time taken says
// nothing about how much of a guess was right.
bool constantTimeEquals(const QByteArray &given, const QByteArray &expected)
{
    const qsizetype n = qMax(given.size(), expected.size());
    unsigned diff = given.size() == expected.size() ? 0u : 1u;
    for (qsizetype i = 0; i < n; ++i) {
        const auto a = i < given.size() ? static_cast<uchar>(given[i]) : 0u;
        const auto b = i < expected.size() ? static_cast<uchar>(expected[i]) : 0u;
        diff |= a ^ b;
    }
    return diff == 0;
}

bool isValidClientId(const QString &id)
{
    if (id.isEmpty() || id.size() > 64)
        return false;
    for (const QChar ch : id) {
        const char16_t c = ch.unicode();
        if (!((c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9') || c == u'-'
              || c == u'_' || c == u'.'))
            return false;
    }
    return true;
}

} // namespace

TokenEndpoint::TokenEndpoint(const Config &config, Metrics &metrics, Backplane &backplane)
    : m_config(config)
    , m_metrics(metrics)
    , m_backplane(backplane)
{
}

void TokenEndpoint::handle(const HttpRequest &request, const QString &remote, Answer answer)
{
    // Every request counts toward SB_CONNECT_RATE, whatever its answer: a
    // wrong operator key costs an attempt like any other.
    m_backplane.hitRateLimit(remote, m_config.connectRate, [this, request, remote, answer](bool allowed, int retry) {
        if (!allowed) {
            m_metrics.rateLimited->inc();
            m_metrics.tokensRejected->inc({QStringLiteral("rate_limited")});
            answer(HttpResponse::rateLimited(retry));
            return;
        }
        issue(request, remote, answer);
    });
}

void TokenEndpoint::issue(const HttpRequest &request, const QString &remote, const Answer &answer)
{
    const auto bad = [this, answer](const QString &message) {
        m_metrics.tokensRejected->inc({QStringLiteral("bad_request")});
        answer(HttpResponse::error(400, QStringLiteral("bad_request"), message));
    };
    const auto object = decodeObject(request.body);
    if (!object) {
        bad(QStringLiteral("the body must be a JSON object"));
        return;
    }
    QString user;
    std::optional<QString> clientId;
    std::optional<QString> role;
    if (auto e = fields::requiredString(*object, QLatin1StringView("user"), &user)) {
        bad(e->message);
        return;
    }
    if (!isValidUser(user)) {
        bad(QStringLiteral("\"user\" must be 1-32 characters of A-Z, a-z, 0-9, '_', '.', '-'"));
        return;
    }
    if (auto e = fields::optionalString(*object, QLatin1StringView("client_id"), &clientId)) {
        bad(e->message);
        return;
    }
    if (clientId && !isValidClientId(*clientId)) {
        bad(QStringLiteral("\"client_id\" must be 1-64 characters of A-Z, a-z, 0-9, '-', '_', '.'"));
        return;
    }
    if (auto e = fields::optionalString(*object, QLatin1StringView("role"), &role)) {
        bad(e->message);
        return;
    }
    const QString roleName = role.value_or(QStringLiteral("participant"));
    if (roleName != QLatin1StringView("participant") && roleName != QLatin1StringView("operator")) {
        bad(QStringLiteral("\"role\" must be participant or operator"));
        return;
    }
    if (roleName == QLatin1StringView("operator")) {
        const QByteArray expected = "Bearer " + m_config.operatorKey.toUtf8();
        const QByteArray given = request.header("authorization");
        if (m_config.operatorKey.isEmpty() || !constantTimeEquals(given, expected)) {
            m_metrics.tokensRejected->inc({QStringLiteral("operator_key")});
            qCWarning(lcToken).noquote() << "operator token refused for" << remote << "(wrong or missing key)";
            answer(HttpResponse::error(403, QStringLiteral("forbidden"), QStringLiteral("operator key required")));
            return;
        }
    }

    const TokenRecord record{user, clientId.value_or(QUuid::createUuid().toString(QUuid::WithoutBraces)), roleName,
                             m_config.instanceId};
    const QString token = newToken();
    m_backplane.storeToken(token, record, m_config.tokenTtlS, [this, token, record, answer](bool ok) {
        if (!ok) {
            answer(HttpResponse::error(503, QStringLiteral("backplane_unavailable"),
                                       QStringLiteral("cannot issue tokens while the backplane is down")));
            return;
        }
        answer(HttpResponse::json(200, encode({{QLatin1StringView("token"), token},
                                               {QLatin1StringView("expires_in"), m_config.tokenTtlS},
                                               {QLatin1StringView("client_id"), record.clientId},
                                               {QLatin1StringView("instance"), m_config.instanceId}})));
    });
}

} // namespace sb
