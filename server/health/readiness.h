#pragma once

// Whether the instance takes traffic (GET /readyz, /api/instance "ready", the
// instance record): ready once the store and the backplane have both answered
// and while neither is down and it is not draining.

#include <QString>

namespace sb {

enum class Readiness { Starting, Ready, Draining, BackplaneDown, StoreDown };

// The /readyz "status" word and the "reason" sentence beside it.
QString readinessName(Readiness readiness);
QString readinessReason(Readiness readiness);

} // namespace sb
