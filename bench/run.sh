#!/usr/bin/env bash
# bench/run.sh: the fan-out benchmark of docs/benchmarks.md. Installs what it
# needs, builds Release, then starts each stack on a loopback port in turn —
# switchboard-server, FastAPI/uvicorn and Node `ws`, each as one process, or
# as two processes sharing a Redis (MODE=cluster) — runs the same
# sb-fanout-bench load against it and prints the tables.
#
#   bench/run.sh                              one process per stack, 200 msg/s, 3 runs each
#   MODE=cluster bench/run.sh                 2 instances + Redis (+ PostgreSQL for switchboard),
#                                             100, 200, 400 and 800 msg/s x 1000 members, 10 posters
#   MODE=cluster RATES="200 800" REPEAT=1 bench/run.sh   the cluster rows, quickly
#
# Settings (environment):
#   MODE=single    single: STACKS defaults to the one-process stacks below.
#                  cluster: STACKS="switchboard-cluster node-redis python-redis",
#                  POSTERS=10, RATES="100 200 400 800", and each run lasts
#                  DURATION=5 s (MESSAGES = rate x DURATION / POSTERS per poster)
#   CLIENTS=1000 ROOMS=1 POSTERS=5 MESSAGES=200 RATE=200 TEXT_SIZE=64 THREADS=1
#   RATES="$RATE"  rates (msg/s over all posters) to run each stack at, in turn
#   STACKS="switchboard switchboard-tmpfs python node"   which stacks, in order;
#                  switchboard-tmpfs keeps its store on /dev/shm, to show what the
#                  fsync before each ack costs (not a way to run it).
#                  Two processes each (clients take turns over them):
#                  switchboard-cluster: 2 switchboard-server instances, Redis
#                    backplane, PostgreSQL store (initdb'd in a temporary directory
#                    on the root disk, fsync on: the ack waits for the commit)
#                  node-redis, python-redis: the reference servers with REDIS_URL
#                    (seq from INCR, messages through Redis pub/sub, nothing stored)
#                  Server CPU is summed over the stack's processes: both servers,
#                  redis-server, and PostgreSQL's (postmaster and its children).
#                  switchboard-redis and switchboard-rcluster run the instance on
#                  a Redis backplane (store on /dev/shm too): one redis-server, or
#                  a Redis Cluster of 3 masters + 3 replicas, so every message
#                  goes out through Redis and back (PUBLISH vs sharded SPUBLISH),
#                  e.g. STACKS="switchboard-redis switchboard-rcluster" ROOMS=100
#   REPEAT=3       runs of each stack, interleaved (the machine is shared: medians)
#   LARGE=0        1: also a full-speed run (RATE=0, closed loop) with LARGE_* below
#   LARGE_POSTERS=10 LARGE_MESSAGES=200 LARGE_WINDOW=4
#   BUILD_DIR=<repo>/build-bench  JOBS=1  SKIP_INSTALL=0  SKIP_BUILD=0
#   RESULTS=<file>  JSON lines of every run are appended here (default: a temp file)
#
# Ports: servers from 18300, the cluster stacks' Redis 18390 and PostgreSQL
# 18391, switchboard-redis/-rcluster's Redis from 20000 (10 a run);
# everything started here is stopped on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${MODE:=single}"
case "$MODE" in
single) : "${STACKS:=switchboard switchboard-tmpfs python node}" ;;
cluster) : "${STACKS:=switchboard-cluster node-redis python-redis}" "${POSTERS:=10}" "${RATES:=100 200 400 800}" \
    "${DURATION:=5}" ;;
*) echo "MODE is single or cluster, not $MODE" >&2; exit 2 ;;
esac
: "${CLIENTS:=1000}" "${ROOMS:=1}" "${POSTERS:=5}" "${RATE:=200}" "${RATES:=$RATE}" "${DURATION:=}"
[[ -n "$DURATION" ]] || : "${MESSAGES:=200}"
: "${TEXT_SIZE:=64}" "${THREADS:=1}" "${REPEAT:=3}"
: "${LARGE:=0}" "${LARGE_POSTERS:=10}" "${LARGE_MESSAGES:=200}" "${LARGE_WINDOW:=4}"
: "${BUILD_DIR:=$repo/build-bench}" "${JOBS:=1}" "${SKIP_INSTALL:=0}" "${SKIP_BUILD:=0}"
: "${RESULTS:=$(mktemp /tmp/sb-fanout-results.XXXXXX.jsonl)}"
python=/usr/bin/python3 # Debian's, where python3-fastapi & co. install
port_base=18300
redis_port=18390
pg_port=18391

say() { printf '\n### %s\n' "$*" >&2; }

install_deps() {
    if ! "$python" -c 'import fastapi, uvicorn, websockets, redis.asyncio' 2>/dev/null; then
        say "installing python3-fastapi python3-uvicorn python3-websockets python3-redis"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-fastapi python3-uvicorn python3-websockets \
            python3-redis jq
    fi
    command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq
    if [[ " $STACKS " == *-cluster* || " $STACKS " == *-redis* ]] && ! command -v redis-server >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
    fi
    if [[ " $STACKS " == *switchboard-cluster* ]] && ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
    fi
    if [[ ! -d "$here/reference/node/node_modules/ws" || ! -d "$here/reference/node/node_modules/ioredis" ]]; then
        say "npm ci (ws, ioredis)"
        (cd "$here/reference/node" && npm ci --no-audit --no-fund)
    fi
}

build() {
    say "building Release in $BUILD_DIR"
    cmake -S "$repo" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_BENCH=ON >/dev/null
    ninja -C "$BUILD_DIR" -j"$JOBS" switchboard-server sb-fanout-bench
}

server_pids=() # the stack's server processes (and its Redis), stopped after each run
redis_pids=() # the Redis servers of a switchboard-redis/-rcluster run
workdir=$(mktemp -d /tmp/sb-fanout.XXXXXX)
shmdir=$(mktemp -d /dev/shm/sb-fanout.XXXXXX)
pgdir= pg_bin= run_as=()
stop_server() {
    local pid
    for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${server_pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    server_pids=()
    stop_redis
}

stop_redis() {
    local pid
    for pid in "${redis_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    redis_pids=()
}

# start_redis PORT: one redis-server, nothing persisted.
start_redis() {
    redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no >"$workdir/redis-$1.log" 2>&1 &
    redis_pids+=($!)
    wait_for_port "$1"
}

# start_redis_cluster PORT: six cluster nodes on PORT…PORT+5 (bus ports 1000
# above), three masters with a replica each.
start_redis_cluster() {
    local port nodes=()
    for port in $(seq "$1" $(($1 + 5))); do
        rm -rf "$workdir/rc-$port" # an earlier run's nodes.conf would make it a member already
        mkdir -p "$workdir/rc-$port"
        redis-server --port "$port" --cluster-port $((port + 1000)) --bind 127.0.0.1 --cluster-enabled yes \
            --cluster-config-file nodes.conf --cluster-node-timeout 2000 --save '' --appendonly no \
            --dir "$workdir/rc-$port" >"$workdir/redis-$port.log" 2>&1 &
        redis_pids+=($!)
        nodes+=("127.0.0.1:$port")
    done
    for port in $(seq "$1" $(($1 + 5))); do wait_for_port "$port"; done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$workdir/rc-create.log"
    for port in $(seq "$1" $(($1 + 5))); do
        for _ in $(seq 100); do
            redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && break
            sleep 0.1
        done
    done
}
stop_postgres() {
    [[ -n "$pgdir" ]] || return 0
    "${run_as[@]}" "$pg_bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
    pgdir=
}
trap 'stop_server; stop_postgres; rm -rf "$workdir" "$shmdir"' EXIT

wait_for_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not come up" >&2
    return 1
}

# PostgreSQL for switchboard-cluster: one server for the whole script, with its
# defaults (fsync on, synchronous_commit on), in a temporary directory on the
# root disk; each run gets a database of its own (new_database).
start_postgres() {
    [[ -z "$pgdir" ]] || return 0
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    pgdir=$(mktemp -d /tmp/sb-fanout-pg.XXXXXX)
    if [[ "$(id -u)" -eq 0 ]]; then # initdb and postgres refuse root
        run_as=(runuser -u postgres --)
        chown postgres "$pgdir"
    fi
    say "PostgreSQL in $pgdir on port $pg_port"
    "${run_as[@]}" "$pg_bin/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
    "${run_as[@]}" "$pg_bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w \
        -o "-p $pg_port -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null
}

# new_database NAME: an empty database, so no run sees an earlier run's history.
new_database() {
    "${run_as[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "$1"
    echo "postgresql://postgres@127.0.0.1:$pg_port/$1"
}

# PostgreSQL's processes now: the postmaster and its children (backends, WAL
# writer, checkpointer…). A backend that starts during the run is not counted.
postgres_pids() {
    local postmaster
    postmaster=$(head -n 1 "$pgdir/data/postmaster.pid")
    echo "$postmaster" $(ps -o pid= --ppid "$postmaster")
}

# A Redis of the run's own, nothing persisted; its pid joins server_pids.
start_redis() {
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --logfile "$workdir/redis.log" &
    server_pids+=($!)
    wait_for_port "$redis_port"
    redis_url="redis://127.0.0.1:$redis_port"
}

# start_stack NAME PORT: starts the stack's processes in the background; sets
# server_pids, pids (every process to measure, comma-separated), url (the
# servers' addresses, comma-separated) and protocol.
run_number=0
start_stack() {
    local log="$workdir/$1.log" port=$2
    run_number=$((run_number + 1))
    case "$1" in
    switchboard-cluster)
        start_postgres
        start_redis
        local database_url n
        database_url=$(new_database "sbrun$run_number")
        url=
        for n in 1 2; do
            rm -rf "$workdir/data-$n"
            SB_INSTANCE_ID="bench-$n" SB_REDIS_URL="$redis_url" SB_DATABASE_URL="$database_url" \
                SB_DATA="$workdir/data-$n" \
                "$BUILD_DIR/server/switchboard-server" --listen "127.0.0.1:$((port + n - 1))" --ticker off \
                --msg-rate 0 --connect-rate 100000/60 >"$workdir/$1-$n.log" 2>&1 &
            server_pids+=($!)
            url+="${url:+,}http://127.0.0.1:$((port + n - 1))"
        done
        wait_for_port "$port" && wait_for_port $((port + 1))
        sleep 1 # let them finish starting (store, backplane) before PostgreSQL's backends are listed
        pids=$(IFS=,; echo "${server_pids[*]}")
        pids+=",$(postgres_pids | tr ' ' ',')"
        protocol=switchboard
        return ;;
    python-redis | node-redis)
        start_redis
        local n
        url=
        for n in 1 2; do
            if [[ "$1" == python-redis ]]; then
                REDIS_URL="$redis_url" "$python" -m uvicorn server:app --app-dir "$here/reference/python" \
                    --host 127.0.0.1 --port $((port + n - 1)) --ws websockets --log-level warning \
                    >"$workdir/$1-$n.log" 2>&1 &
            else
                REDIS_URL="$redis_url" node "$here/reference/node/server.js" $((port + n - 1)) 127.0.0.1 \
                    >"$workdir/$1-$n.log" 2>&1 &
            fi
            server_pids+=($!)
            url+="${url:+,}ws://127.0.0.1:$((port + n - 1))"
        done
        wait_for_port "$port" && wait_for_port $((port + 1))
        sleep 0.5 # let them subscribe
        pids=$(IFS=,; echo "${server_pids[*]}")
        protocol=simple
        return ;;
    esac
    case "$1" in
    switchboard | switchboard-tmpfs)
        local data="$workdir/data"
        [[ "$1" == switchboard-tmpfs ]] && data="$shmdir/data"
        rm -rf "$data"
        "$BUILD_DIR/server/switchboard-server" --listen "127.0.0.1:$2" --ticker off --msg-rate 0 \
            --connect-rate 100000/60 --data "$data" >"$log" 2>&1 &
        url="http://127.0.0.1:$2" protocol=switchboard ;;
    switchboard-redis | switchboard-rcluster)
        # A port range of its own for each run (PORT is port_base + the run number).
        local data="$shmdir/data" redis_port=$((20000 + ($2 - port_base) * 10)) redis_url
        rm -rf "$data"
        if [[ "$1" == switchboard-redis ]]; then
            start_redis "$redis_port"
            redis_url="redis://127.0.0.1:$redis_port"
        else
            start_redis_cluster "$redis_port"
            redis_url="redis-cluster://127.0.0.1:$redis_port,127.0.0.1:$((redis_port + 1))"
        fi
        "$BUILD_DIR/server/switchboard-server" --listen "127.0.0.1:$2" --ticker off --msg-rate 0 \
            --connect-rate 100000/60 --data "$data" --redis-url "$redis_url" >"$log" 2>&1 &
        url="http://127.0.0.1:$2" protocol=switchboard ;;
    python)
        "$python" -m uvicorn server:app --app-dir "$here/reference/python" --host 127.0.0.1 --port "$2" --ws websockets \
            --log-level warning >"$log" 2>&1 &
        url="ws://127.0.0.1:$2" protocol=simple ;;
    node)
        node "$here/reference/node/server.js" "$2" 127.0.0.1 >"$log" 2>&1 &
        url="ws://127.0.0.1:$2" protocol=simple ;;
    *) echo "unknown stack $1" >&2; return 1 ;;
    esac
    server_pids+=($!)
    pids=$!
    wait_for_port "$2"
    sleep 0.5 # let it finish starting (switchboard opens its store)
    if [[ "$1" == switchboard-redis || "$1" == switchboard-rcluster ]]; then
        for _ in $(seq 100); do
            curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && break
            sleep 0.1
        done
    fi
}

# run_load NAME PORT [extra sb-fanout-bench flags...]
run_load() {
    local name=$1 port=$2
    shift 2
    start_stack "$name" "$port"
    echo "uptime: $(uptime)" >&2
    "$BUILD_DIR/bench/sb-fanout-bench" --url "$url" --protocol "$protocol" --label "$name" \
        --clients "$CLIENTS" --rooms "$ROOMS" --text-size "$TEXT_SIZE" --threads "$THREADS" \
        --server-pid "$pids" --json "$RESULTS" "$@" || echo "($name: incomplete run, see above)" >&2
    stop_server
}

# jq helpers: CPU µs per delivery of the processes whose name matches a regex
# (the servers, redis-server, PostgreSQL's), and the servers' summed peak RSS.
jq_defs='def median: sort | .[(length - 1) / 2 | floor];
    def r1: . * 10 | round / 10;
    def us(names): ((.processes // []) | map(select(.name | test(names))) | map(.cpu_s) | add // 0) * 1e6
        / ([.delivered, 1] | max);
    def servers: "^(switchboard|node|python)";
    def server_rss: if (.processes // [] | length) > 1
        then .processes | map(select(.name | test(servers)) | .peak_rss_mib) | add // 0
        else .server_peak_rss_mib end;
    def run: "\(.posters)x\(.messages) @ \(if .rate > 0 then "\(.rate)/s" else "max (w\(.window))" end)";'

# One row per stack and run kind: the median of each column over the repeats.
median_table() {
    echo "| stack | run | runs | servers | connections/s | deliveries/s | p50 ms | p95 ms | p99 ms | max ms | lost | duplicates | out of order | server CPU s | CPU µs/delivery | generator CPU s | server peak RSS MiB |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    jq -rs "$jq_defs"'
        group_by([.label, .rate, .posters, .messages]) | sort_by(.[0].rate == 0) | .[]
        | "| \(.[0].label) | \(.[0] | run) | \(length) | \(.[0].servers // 1) | \(map(.connect_per_s // (.ready / .connect_s)) | median | round)"
          + " | \(map(.deliveries_per_s) | median | round) | \(map(.latency_ms.p50) | median | r1)"
          + " | \(map(.latency_ms.p95) | median | r1) | \(map(.latency_ms.p99) | median | r1) | \(map(.latency_ms.max) | median | r1)"
          + " | \(map(.lost) | add) | \(map(.duplicates) | add) | \(map(.out_of_order) | add) | \(map(.server_cpu_s) | median * 100 | round / 100)"
          + " | \(map(.server_cpu_s * 1e6 / ([.delivered, 1] | max)) | median * 100 | round / 100)"
          + " | \(map(.generator_cpu_s) | median * 100 | round / 100) | \(map(server_rss) | median | r1) |"' "$1"
}

table() {
    echo "| stack | run | connect s | connections/s | sent | deliveries/s | p50 ms | p95 ms | p99 ms | max ms | lost | duplicates | out of order | server CPU s | CPU µs/delivery | generator CPU s | server peak RSS MiB | load before |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    jq -r "$jq_defs"'"| \(.label) | \(.clients) cl, \(.rooms) room, \(run) | \(.connect_s*100|round/100) | \(.connect_per_s // (.ready / .connect_s) | round) | \(.sent) | \(.deliveries_per_s|round) | \(.latency_ms.p50 | r1) | \(.latency_ms.p95 | r1) | \(.latency_ms.p99 | r1) | \(.latency_ms.max | r1) | \(.lost) | \(.duplicates) | \(.out_of_order) | \(.server_cpu_s*100|round/100) | \(.server_cpu_s * 1e6 / ([.delivered, 1] | max) * 100 | round / 100) | \(.generator_cpu_s*100|round/100) | \(server_rss | r1) | \(.load_before) |"' "$1"
}

# Where the CPU went, per run of a stack with several processes: µs per delivery.
cpu_table() {
    echo "| stack | run | servers µs | redis-server µs | PostgreSQL µs | total µs/delivery | ack p50 ms | ack p99 ms | load before | load after |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---|---|"
    jq -r "$jq_defs"'select((.processes // [] | length) > 1)
        | "| \(.label) | \(run) | \(us(servers) * 100 | round / 100) | \(us("^redis-server") * 100 | round / 100)"
          + " | \(us("^postgres") * 100 | round / 100) | \(.server_cpu_s * 1e6 / ([.delivered, 1] | max) * 100 | round / 100)"
          + " | \(if .protocol == "switchboard" then (.ack_ms.p50 | r1) else "–" end)"
          + " | \(if .protocol == "switchboard" then (.ack_ms.p99 | r1) else "–" end) | \(.load_before) | \(.load_after) |"' "$1"
}

[[ "$SKIP_INSTALL" == 1 ]] || install_deps
[[ "$SKIP_BUILD" == 1 ]] || build
# Every client is a socket on both ends; the default 1024 descriptors is not enough.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -n 65536 2>/dev/null || true

# Servers take ports from 18300 (two per run), wrapping before Redis's and PostgreSQL's.
port_of() { echo $((port_base + (2 * $1) % 80)); }

i=0
for repeat in $(seq "$REPEAT"); do
    for rate in $RATES; do
        messages=${MESSAGES:-$(awk -v r="$rate" -v d="$DURATION" -v p="$POSTERS" 'BEGIN { m = int(r * d / p + 0.5); print (m < 1 ? 1 : m) }')}
        for stack in $STACKS; do
            say "$stack ($repeat/$REPEAT): $CLIENTS clients, $POSTERS posters x $messages messages at $rate msg/s"
            run_load "$stack" "$(port_of $i)" --posters "$POSTERS" --messages "$messages" --rate "$rate"
            i=$((i + 1))
        done
    done
done
if [[ "$LARGE" == 1 ]]; then
    for repeat in $(seq "$REPEAT"); do
        for stack in $STACKS; do
            say "$stack ($repeat/$REPEAT): full speed, $LARGE_POSTERS posters x $LARGE_MESSAGES messages, window $LARGE_WINDOW"
            run_load "$stack" "$(port_of $i)" --posters "$LARGE_POSTERS" --messages "$LARGE_MESSAGES" --rate 0 \
                --window "$LARGE_WINDOW"
            i=$((i + 1))
        done
    done
fi

say "every run ($RESULTS)"
table "$RESULTS"
say "medians over the runs (lost, duplicates and out of order: totals)"
median_table "$RESULTS"
if jq -e 'select((.processes // [] | length) > 1)' "$RESULTS" >/dev/null 2>&1; then
    say "server CPU per delivery by process, for the stacks of several processes"
    cpu_table "$RESULTS"
fi
