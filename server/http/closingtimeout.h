#pragma once

// A closing socket whose peer reads nothing must not be held forever: abort
// it if it is still open `ms` from now. The timer is the socket's child and
// goes with it. (A QTimer::singleShot with the socket as context would
// outlive it: one QObject and one registered timer per connection for the
// whole timeout, which after a wave of 10 000 connections was 10 000 timers
// in Qt's linear timer list and 1.2 MiB scattered through the heap.)

class QAbstractSocket;

namespace sb {

void abortIfOpenAfter(QAbstractSocket *socket, int ms);

} // namespace sb
