#include "framedecoder.h"

#include "codec.h"

#include <QJsonArray>

namespace sb::console {

DecodedFrame decodeFrame(const QString &text, quint64 generation)
{
    DecodedFrame out;
    out.generation = generation;
    out.frame = decodeObject(text.toUtf8());
    if (out.frame) {
        const QJsonValue list = out.frame->value(QLatin1StringView("connections"));
        if (list.isArray()) {
            const QJsonArray array = list.toArray();
            out.connections.reserve(array.size());
            for (const QJsonValue &c : array)
                out.connections.append(ConnectionInfo::fromJson(c.toObject()));
            // The list now lives in `connections`; do not keep it twice.
            out.frame->remove(QLatin1StringView("connections"));
        }
    }
    return out;
}

void FrameDecoder::decode(const QString &text, quint64 generation)
{
    Q_EMIT decoded(decodeFrame(text, generation));
}

} // namespace sb::console
