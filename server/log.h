#pragma once

// Installs the process's log format: one line per event with the instance id,
// as text or as JSON lines (SB_LOG).

#include <QString>

namespace sb {
void installLogHandler(const QString &instanceId, bool json);
}
