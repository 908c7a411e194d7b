#include "participanttypes.h"

#include "jsonfields.h"

namespace sb::console {

using json::integer;
using json::str;

WelcomeInfo WelcomeInfo::fromJson(const QJsonObject &welcome)
{
    WelcomeInfo w;
    w.sessionId = str(welcome, "session_id");
    w.clientId = str(welcome, "client_id");
    w.user = str(welcome, "user");
    w.instance = str(welcome, "instance");
    w.color = str(welcome, "color");
    w.sticky = welcome.value(QLatin1StringView("sticky")).toBool(true);
    w.heartbeatMs = static_cast<int>(integer(welcome, "heartbeat_ms"));
    if (w.heartbeatMs <= 0)
        w.heartbeatMs = 25000;
    return w;
}

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
