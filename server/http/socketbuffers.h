#pragma once

// Per-connection buffer sizes. Every QTcpSocket keeps a read and a write
// buffer block for as long as it lives, sized by Qt's defaults (16 KiB read,
// 32 KiB write): at 50 000 mostly idle connections that is most of the
// process. Smaller blocks are kept between uses; anything a burst needs
// beyond them is allocated for that burst and freed once it is sent or read.
// Qt offers no public API for this, so it reaches into QIODevicePrivate
// (qt6-base-private-dev), checked against the Qt version the build uses.

class QAbstractSocket;

namespace sb {

inline constexpr int SocketBufferBlock = 1024;

// Sets `socket`'s read and write buffer blocks to SocketBufferBlock bytes.
void shrinkSocketBuffers(QAbstractSocket *socket);

} // namespace sb
