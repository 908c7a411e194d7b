#include "closingtimeout.h"

#include <QAbstractSocket>
#include <QTimer>

namespace sb {

void abortIfOpenAfter(QAbstractSocket *socket, int ms)
{
    auto *timer = new QTimer(socket);
    timer->setSingleShot(true);
    QObject::connect(timer, &QTimer::timeout, socket, [socket] {
        if (socket->state() != QAbstractSocket::UnconnectedState)
            socket->abort();
    });
    timer->start(ms);
}

} // namespace sb
