#pragma once

#include "backplane.h"

#include <memory>

namespace sb {
// SB_REDIS_URL set: the Redis backplane; unset: the in-process one.
std::unique_ptr<Backplane> makeBackplane(const Config &config);
}
