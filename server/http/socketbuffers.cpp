#include "socketbuffers.h"

#include <QAbstractSocket>
#include <QtCore/private/qiodevice_p.h>

namespace sb {

void shrinkSocketBuffers(QAbstractSocket *socket)
{
    auto *d = static_cast<QIODevicePrivate *>(QObjectPrivate::get(socket));
    // Channels opened later (none for a TCP socket) and the current ones.
    d->readBufferChunkSize = SocketBufferBlock;
    d->writeBufferChunkSize = SocketBufferBlock;
    for (QRingBuffer &buffer : d->readBuffers)
        buffer.setChunkSize(SocketBufferBlock);
    for (QRingBuffer &buffer : d->writeBuffers)
        buffer.setChunkSize(SocketBufferBlock);
}

} // namespace sb
