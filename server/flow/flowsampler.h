#pragma once

// Flow samples for operators (admin.flow, PROTOCOL.md section 4): one frame in
// a hundred, and at least one a second, of what comes in, is published and is
// delivered on this instance. Costs nothing while no operator listens.

#include <QJsonObject>
#include <QString>

#include <functional>

namespace sb {

class FlowSampler final
{
    Q_DISABLE_COPY_MOVE(FlowSampler)
public:
    using Listener = std::function<void(const QJsonObject &flowFrame)>;

    FlowSampler() = default;

    // The one listener (the operator service while a subscriber asked for
    // flow); an empty one stops sampling.
    void setListener(Listener listener) { m_listener = std::move(listener); }
    bool isListened() const { return bool(m_listener); }

    // `dir` is "in", "publish" or "deliver"; `size` the frame's bytes on the wire.
    void sample(const char *dir, const QString &frameType, const QString &room, const QString &sessionId,
                const QString &origin, qsizetype size);

private:
    Listener m_listener;
    quint64 m_counter = 0;
    qint64 m_lastMs = 0;
};

} // namespace sb
