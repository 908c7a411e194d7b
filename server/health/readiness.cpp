#include "readiness.h"

namespace sb {

QString readinessName(Readiness readiness)
{
    switch (readiness) {
    case Readiness::Starting: return QStringLiteral("starting");
    case Readiness::Ready: return QStringLiteral("ready");
    case Readiness::Draining: return QStringLiteral("draining");
    case Readiness::BackplaneDown: return QStringLiteral("backplane_down");
    case Readiness::StoreDown: return QStringLiteral("store_down");
    }
    return {};
}

QString readinessReason(Readiness readiness)
{
    switch (readiness) {
    case Readiness::Starting: return QStringLiteral("the store or the backplane is not connected yet");
    case Readiness::Ready: return {};
    case Readiness::Draining: return QStringLiteral("the instance is draining");
    case Readiness::BackplaneDown: return QStringLiteral("the backplane is unreachable");
    case Readiness::StoreDown: return QStringLiteral("the store is unreachable");
    }
    return {};
}

} // namespace sb
