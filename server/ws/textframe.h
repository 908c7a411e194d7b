#pragma once

// A WebSocket text frame as a server puts it on the wire (RFC 6455 section
// 5.2: FIN and the text opcode, no mask, the length in 7, 7+16 or 7+64 bits,
// then the UTF-8 payload). A fan-out builds it once; every session it goes to
// holds a reference to the same bytes until they are written.

#include <QByteArray>

namespace sb {

class TextFrame
{
public:
    explicit TextFrame(const QByteArray &utf8);

    const QByteArray &wire() const { return m_wire; }
    qsizetype payloadSize() const { return m_payloadSize; }

private:
    QByteArray m_wire;
    qsizetype m_payloadSize;
};

} // namespace sb
