#include "log.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace sb {

namespace {

QString g_instance;
bool g_json = false;

const char *levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg: return "debug";
    case QtInfoMsg: return "info";
    case QtWarningMsg: return "warning";
    case QtCriticalMsg: return "error";
    case QtFatalMsg: return "fatal";
    }
    return "info";
}

void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const QString ts = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
    const QString category = QString::fromLatin1(context.category ? context.category : "default");
    QByteArray line;
    if (g_json) {
        line = QJsonDocument(QJsonObject{{QLatin1StringView("ts"), ts},
                                         {QLatin1StringView("level"), QLatin1StringView(levelName(type))},
                                         {QLatin1StringView("instance"), g_instance},
                                         {QLatin1StringView("category"), category},
                                         {QLatin1StringView("msg"), message}})
                   .toJson(QJsonDocument::Compact);
    } else {
        line = (ts + QLatin1Char(' ') + g_instance + QLatin1Char(' ') + QLatin1StringView(levelName(type))
                + QLatin1Char(' ') + category + QStringLiteral(": ") + message)
                   .toUtf8();
    }
    line += '\n';
    std::fwrite(line.constData(), 1, static_cast<size_t>(line.size()), stderr);
    std::fflush(stderr);
    if (type == QtFatalMsg)
        std::abort();
}

} // namespace

void installLogHandler(const QString &instanceId, bool json)
{
    g_instance = instanceId;
    g_json = json;
    qInstallMessageHandler(handler);
}

} // namespace sb
