#pragma once

// Lenient readers of one field of a JSON object, for the console's parsers of
// what the server and Redis send (shared/wire.cpp, the console's types): a field
// that is missing or of another type reads as empty, 0 or false, never fails.
// The server's strict readers, which refuse a bad frame, are in shared/codec.h.

#include <QJsonObject>
#include <QString>

namespace sb::json {

QString str(const QJsonObject &o, const char *key);
qint64 integer(const QJsonObject &o, const char *key);
double number(const QJsonObject &o, const char *key);
bool boolean(const QJsonObject &o, const char *key);

} // namespace sb::json
