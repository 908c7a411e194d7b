#pragma once

// The backplane's one payload format (PROTOCOL.md section 5):
// {"v":1,"origin":I,"id":…,"ts":ms,"target":…,"frame":{…}}. Every message
// between instances travels in one, so a monitor can show who sent what
// where and measure its latency.

#include <QByteArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>

#include <optional>

namespace sb {

struct Envelope
{
    QString origin;
    QString id;
    qint64 ts = 0;
    QJsonValue target;
    QJsonObject frame;
    // The encoded envelope's size, for one that was decoded (flow samples).
    qsizetype wireBytes = 0;

    static Envelope make(const QString &origin, QJsonValue target, QJsonObject frame);
    QByteArray encode() const;
    static std::optional<Envelope> decode(const QByteArray &payload);
};

QString newId();

} // namespace sb
