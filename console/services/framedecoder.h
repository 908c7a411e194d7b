#pragma once

// Turns an operator connection's text frames into JSON objects, and the
// connections of a snapshot (admin.subscribe's ack) into ConnectionInfo
// values. A snapshot of 10 000 connections is megabytes of JSON, so frames
// this large are decoded on a thread of its own (FrameDecoder) while
// InstanceClient queues what follows them, keeping the order; small frames
// are decoded where they arrive (decodeFrame). Owned by InstanceClient.

#include "operatortypes.h"

#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>

#include <optional>

namespace sb::console {

struct DecodedFrame
{
    quint64 generation = 0;          // the socket it came from
    std::optional<QJsonObject> frame; // nullopt: not a JSON object
    QList<ConnectionInfo> connections; // of a "connections" array, when there is one
};

DecodedFrame decodeFrame(const QString &text, quint64 generation);

class FrameDecoder final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FrameDecoder)
public:
    using QObject::QObject;

    // Runs on the decoder's thread; decoded() follows.
    void decode(const QString &text, quint64 generation);

Q_SIGNALS:
    void decoded(const sb::console::DecodedFrame &frame);
};

} // namespace sb::console

Q_DECLARE_METATYPE(sb::console::DecodedFrame)
