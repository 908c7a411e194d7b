#!/usr/bin/env bash
# bench/all.sh: every scale figure of docs/benchmarks.md in one command.
#   1. MODE=cluster bench/run.sh: 2 instances + Redis + PostgreSQL against
#      Node ws + ioredis and FastAPI + redis.asyncio on the same topology, at
#      100, 200, 400 and 800 msg/s x 1000 members (deliveries/s, latency, loss,
#      duplicates, order, CPU per delivery, the connect ramp);
#   2. bench/connections.sh at each of SCALE_CLIENTS (idle memory per
#      connection, memory once they left, one big room);
#   3. bench/ramp.sh: RAMP_CLIENTS (50 000) connections through the token flow
#      over 2 instances with Redis and PostgreSQL (more instances where the
#      open-files limit requires it).
# A run asking for more connections than the open-files hard limit allows
# (`ulimit -Hn`, for the server and the generator alike) is run at the limit
# less 500, and says so.
#
# Settings (environment): SCALE_CLIENTS="10000 50000", RAMP_CLIENTS=50000, BUILD_DIR (default
# <repo>/build-bench, built Release by run.sh), and everything run.sh and
# connections.sh take.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${SCALE_CLIENTS:=10000 50000}" "${RAMP_CLIENTS:=50000}" "${BUILD_DIR:=$repo/build-bench}"
export BUILD_DIR

MODE=cluster "$here/run.sh"

limit=$(ulimit -Hn)
for clients in $SCALE_CLIENTS; do
    if ((clients + 500 > limit)); then
        printf '\n### %s connections need as many open files per process; the hard limit here is %s: running %s\n' \
            "$clients" "$limit" "$((limit - 500))" >&2
        clients=$((limit - 500))
    fi
    CLIENTS=$clients "$here/connections.sh"
done
CLIENTS=$RAMP_CLIENTS INSTANCES=2 "$here/ramp.sh"
