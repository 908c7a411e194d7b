#pragma once

// Value types the operator service hands to models: one connection (`conn`),
// an instance's description (/api/instance), its 1 s statistics and one flow
// sample (docs/protocol.md section 4), which are the shared library's
// (shared/wire.h), and the targets of admin.inject. Parsed once from JSON so
// models never look at wire field names.

#include "wire.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace sb::console {

// The records of section 4 are the shared library's (shared/wire.h).
using sb::ConnectionInfo;
using sb::FlowSample;
using sb::InstanceInfo;
using sb::InstanceStats;

// The five inject targets of admin.inject.
struct InjectTarget
{
    enum class Kind { All, Room, Instance, ClientId, SessionId };
    Kind kind = Kind::All;
    QString value;

    QJsonObject toJson() const;
    QString toString() const;
    static QString kindName(Kind kind);
};

} // namespace sb::console
