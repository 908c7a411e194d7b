#include "textframe.h"

#include <QtEndian>

namespace sb {

TextFrame::TextFrame(const QByteArray &utf8)
    : m_payloadSize(utf8.size())
{
    char header[10];
    int size = 0;
    header[size++] = char(0x81);
    const quint64 length = static_cast<quint64>(utf8.size());
    if (length < 126) {
        header[size++] = char(length);
    } else if (length <= 0xffff) {
        header[size++] = char(126);
        qToBigEndian(quint16(length), header + size);
        size += 2;
    } else {
        header[size++] = char(127);
        qToBigEndian(length, header + size);
        size += 8;
    }
    m_wire.reserve(size + utf8.size());
    m_wire.append(header, size);
    m_wire.append(utf8);
}

} // namespace sb
