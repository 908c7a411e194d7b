#pragma once

// The console's command line: which mode (operator console by default,
// participant client with --client), the instances, the cluster's Redis or
// the server to use, the operator key, and the hidden --screenshot used to
// produce documentation images. Parsed without side effects so tests can
// check it.

#include <QList>
#include <QString>
#include <QStringList>
#include <QUrl>

namespace sb::console {

// Why the console cannot watch the Redis of `url` (empty when it can): a
// redis:// server or a redis-cluster:// cluster.
QString redisUrlProblem(const QString &url);

struct LaunchOptions
{
    enum class Mode { Ask, Operator, Client };
    Mode mode = Mode::Ask;
    QList<QUrl> instanceUrls;
    QString redisUrl;    // --redis: discover instances and watch the backplane
    QString operatorKey; // --operator-key, else SB_OPERATOR_KEY
    QUrl serverUrl;
    QString user;
    QStringList rooms;
    QString screenshotPath;
    int screenshotDelayMs = 4000;
    QString error; // non-empty: the command line was wrong

    // `arguments` includes the program name; `environmentKey` is SB_OPERATOR_KEY.
    static LaunchOptions parse(const QStringList &arguments, const QString &environmentKey);
};

} // namespace sb::console
