#include "launchoptions.h"

#include "redisaddress.h"
#include "redisurl.h"
#include "services/operatorhub.h"

#include <QCommandLineParser>
#include <QCoreApplication>

namespace sb::console {

QString redisUrlProblem(const QString &url)
{
    QString why;
    if (const std::optional<RedisUrl> parsed = RedisUrl::parse(url, &why);
        parsed && parsed->kind != RedisUrl::Kind::Single)
        return {};
    if (RedisAddress::fromUrl(url, &why))
        return {};
    return why;
}

LaunchOptions LaunchOptions::parse(const QStringList &arguments, const QString &environmentKey)
{
    LaunchOptions out;
    QCommandLineParser parser;
    parser.setApplicationDescription(QCoreApplication::translate(
        "LaunchOptions", "Switchboard console: watch and steer switchboard-server instances, or chat as a participant."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption client(QStringLiteral("client"),
                                    QCoreApplication::translate("LaunchOptions", "Start the participant client."));
    const QCommandLineOption operatorMode(QStringLiteral("operator"),
                                          QCoreApplication::translate("LaunchOptions", "Start the operator console."));
    const QCommandLineOption instance(
        QStringLiteral("instance"),
        QCoreApplication::translate("LaunchOptions", "An instance to watch (http://host:port); repeatable."),
        QStringLiteral("url"));
    const QCommandLineOption redis(
        QStringLiteral("redis"),
        QCoreApplication::translate("LaunchOptions", "The cluster's Redis (redis://host:port, Sentinels: "
                                                     "redis-sentinel://host:port,…/master, or a Redis Cluster: "
                                                     "redis-cluster://host:port,…): discover the instances, "
                                                     "watch the backplane and show the Redis topology."),
        QStringLiteral("url"));
    const QCommandLineOption key(QStringLiteral("operator-key"),
                                 QCoreApplication::translate("LaunchOptions", "The operator key (else SB_OPERATOR_KEY, "
                                                                              "the keychain, or a prompt)."),
                                 QStringLiteral("key"));
    const QCommandLineOption server(QStringLiteral("server"),
                                    QCoreApplication::translate("LaunchOptions", "Participant: server or load balancer URL."),
                                    QStringLiteral("url"));
    const QCommandLineOption user(QStringLiteral("user"),
                                  QCoreApplication::translate("LaunchOptions", "Participant: user name."),
                                  QStringLiteral("name"));
    const QCommandLineOption room(QStringLiteral("room"),
                                  QCoreApplication::translate("LaunchOptions", "Participant: a room to join; repeatable."),
                                  QStringLiteral("room"));
    QCommandLineOption screenshot(QStringLiteral("screenshot"), QString(), QStringLiteral("file"));
    screenshot.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption screenshotDelay(QStringLiteral("screenshot-delay"), QString(), QStringLiteral("ms"));
    screenshotDelay.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOptions({client, operatorMode, instance, redis, key, server, user, room, screenshot, screenshotDelay});

    if (!parser.parse(arguments)) {
        out.error = parser.errorText();
        return out;
    }
    if (parser.isSet(QStringLiteral("help")) || parser.isSet(QStringLiteral("version"))) {
        out.error = parser.isSet(QStringLiteral("help")) ? parser.helpText() : QString();
        return out;
    }
    if (parser.isSet(client) && parser.isSet(operatorMode)) {
        out.error = QCoreApplication::translate("LaunchOptions", "--client and --operator exclude each other.");
        return out;
    }
    for (const QString &text : parser.values(instance)) {
        const QUrl url = OperatorHub::normalizeUrl(text);
        if (url.isEmpty()) {
            out.error = QCoreApplication::translate("LaunchOptions", "--instance %1 is not an http:// URL.").arg(text);
            return out;
        }
        out.instanceUrls.append(url);
    }
    if (parser.isSet(redis)) {
        if (const QString why = redisUrlProblem(parser.value(redis)); !why.isEmpty()) {
            out.error = QCoreApplication::translate("LaunchOptions", "--redis %1: %2").arg(parser.value(redis), why);
            return out;
        }
        out.redisUrl = parser.value(redis);
    }
    if (parser.isSet(server)) {
        out.serverUrl = OperatorHub::normalizeUrl(parser.value(server));
        if (out.serverUrl.isEmpty()) {
            out.error = QCoreApplication::translate("LaunchOptions", "--server %1 is not an http:// URL.").arg(parser.value(server));
            return out;
        }
    }
    out.user = parser.value(user);
    out.rooms = parser.values(room);
    out.operatorKey = parser.isSet(key) ? parser.value(key) : environmentKey;
    out.screenshotPath = parser.value(screenshot);
    if (parser.isSet(screenshotDelay))
        out.screenshotDelayMs = parser.value(screenshotDelay).toInt();

    if (parser.isSet(client) || (!parser.isSet(operatorMode) && (out.serverUrl.isValid() && !out.serverUrl.isEmpty())))
        out.mode = Mode::Client;
    else if (parser.isSet(operatorMode) || !out.instanceUrls.isEmpty() || !out.redisUrl.isEmpty())
        out.mode = Mode::Operator;
    return out;
}

} // namespace sb::console
