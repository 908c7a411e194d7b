#include "flowsampler.h"

#include "codec.h"
#include "wire.h"
#include "protocol.h"

#include <QDateTime>

namespace sb {

void FlowSampler::sample(const char *dir, const QString &frameType, const QString &room, const QString &sessionId,
                         const QString &origin, qsizetype size)
{
    if (!m_listener || frameType.startsWith(QLatin1StringView("admin.")))
        return;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    ++m_counter;
    if (m_counter % 100 != 1 && now - m_lastMs < 1000 && m_counter > 100)
        return;
    m_lastMs = now;
    const FlowSample flow{QString::fromLatin1(dir), frameType, room, sessionId, origin, size, now};
    m_listener(makeFrame(MessageType::AdminFlow, flow.toJson()));
}

} // namespace sb
