#include "participanttypes.h"

#include "jsonfields.h"

namespace sb::console {

using json::integer;
using json::str;

BroadcastMessage BroadcastMessage::fromJson(const QJsonObject &broadcast)
{
    BroadcastMessage b;
    b.kind = str(broadcast, "kind") == QLatin1StringView("announcement") ? Kind::Announcement : Kind::Ticker;
    b.text = str(broadcast, "text");
    b.from = str(broadcast, "from");
    b.ts = integer(broadcast, "ts");
    b.origin = str(broadcast, "origin");
    return b;
}

} // namespace sb::console
