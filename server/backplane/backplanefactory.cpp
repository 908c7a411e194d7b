#include "backplanefactory.h"

#include "localbackplane.h"
#include "redisbackplane.h"

namespace sb {

std::unique_ptr<Backplane> makeBackplane(const Config &config)
{
    if (config.redisUrl.isEmpty())
        return std::make_unique<LocalBackplane>(config);
    return std::make_unique<RedisBackplane>(config);
}

} // namespace sb
