#include "procstats.h"

#include <QByteArray>
#include <QFile>
#include <QList>

#include <unistd.h>

namespace sbbench {

namespace {

QByteArray readProcFile(qint64 pid, const char *name)
{
    const QString path = pid > 0 ? QStringLiteral("/proc/%1/%2").arg(pid).arg(QLatin1StringView(name))
                                 : QStringLiteral("/proc/self/%1").arg(QLatin1StringView(name));
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return file.readAll(); // /proc files report size 0: read until the end
}

qint64 statusKiB(const QByteArray &status, const QByteArray &key)
{
    const qsizetype at = status.indexOf('\n' + key + ':');
    if (at < 0)
        return 0;
    const qsizetype end = status.indexOf('\n', at + 1);
    const QByteArray value = status.mid(at + key.size() + 2, end - at - key.size() - 2).trimmed();
    return value.left(value.indexOf(' ')).toLongLong(); // "1234 kB"
}

} // namespace

ProcessSample sampleProcess(qint64 pid)
{
    ProcessSample sample;
    const QByteArray stat = readProcFile(pid, "stat");
    const QByteArray status = readProcFile(pid, "status");
    // The command name (field 2) may hold spaces; fields after it start past ')'.
    const qsizetype close = stat.lastIndexOf(')');
    if (close < 0 || status.isEmpty())
        return sample;
    const QList<QByteArray> fields = stat.mid(close + 2).split(' ');
    // Fields 14 (utime) and 15 (stime) are the 12th and 13th after the name.
    if (fields.size() < 13)
        return sample;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    sample.cpuSeconds = static_cast<double>(fields.at(11).toLongLong() + fields.at(12).toLongLong()) / ticks;
    sample.rssKiB = statusKiB(status, "VmRSS");
    sample.peakRssKiB = statusKiB(status, "VmHWM");
    sample.ok = true;
    return sample;
}

QString processName(qint64 pid)
{
    return QString::fromUtf8(readProcFile(pid, "comm").trimmed());
}

} // namespace sbbench
