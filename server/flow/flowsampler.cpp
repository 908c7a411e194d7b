#include "flowsampler.h"

#include "codec.h"
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
    m_listener(makeFrame(MessageType::AdminFlow, {{QLatin1StringView("dir"), QLatin1StringView(dir)},
                                                  {QLatin1StringView("frame_type"), frameType},
                                                  {QLatin1StringView("room"), room},
                                                  {QLatin1StringView("session_id"), sessionId},
                                                  {QLatin1StringView("origin"), origin},
                                                  {QLatin1StringView("size"), static_cast<qint64>(size)},
                                                  {QLatin1StringView("ts"), now}}));
}

} // namespace sb
