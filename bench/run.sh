#!/usr/bin/env bash
# bench/run.sh: the fan-out benchmark of docs/benchmarks.md. Installs what it
# needs, builds Release, then starts each stack on a loopback port in turn —
# switchboard-server, FastAPI/uvicorn and Node `ws` — runs the same
# sb-fanout-bench load against it and prints one table.
#
# Settings (environment):
#   CLIENTS=1000 ROOMS=1 POSTERS=5 MESSAGES=200 RATE=200 TEXT_SIZE=64 THREADS=1
#   STACKS="switchboard switchboard-tmpfs python node"   which stacks, in order;
#                  switchboard-tmpfs keeps its store on /dev/shm, to show what the
#                  fsync before each ack costs (not a way to run it);
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
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${CLIENTS:=1000}" "${ROOMS:=1}" "${POSTERS:=5}" "${MESSAGES:=200}" "${RATE:=200}"
: "${TEXT_SIZE:=64}" "${THREADS:=1}" "${STACKS:=switchboard switchboard-tmpfs python node}" "${REPEAT:=3}"
: "${LARGE:=0}" "${LARGE_POSTERS:=10}" "${LARGE_MESSAGES:=200}" "${LARGE_WINDOW:=4}"
: "${BUILD_DIR:=$repo/build-bench}" "${JOBS:=1}" "${SKIP_INSTALL:=0}" "${SKIP_BUILD:=0}"
: "${RESULTS:=$(mktemp /tmp/sb-fanout-results.XXXXXX.jsonl)}"
python=/usr/bin/python3 # Debian's, where python3-fastapi & co. install
port_base=18300

say() { printf '\n### %s\n' "$*" >&2; }

install_deps() {
    if ! "$python" -c 'import fastapi, uvicorn, websockets' 2>/dev/null; then
        say "installing python3-fastapi python3-uvicorn python3-websockets"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-fastapi python3-uvicorn python3-websockets jq
    fi
    command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq
    if [[ ! -d "$here/reference/node/node_modules/ws" ]]; then
        say "npm ci (ws)"
        (cd "$here/reference/node" && npm ci --no-audit --no-fund)
    fi
}

build() {
    say "building Release in $BUILD_DIR"
    cmake -S "$repo" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_BENCH=ON >/dev/null
    ninja -C "$BUILD_DIR" -j"$JOBS" switchboard-server sb-fanout-bench
}

server_pid=
redis_pids=()
workdir=$(mktemp -d /tmp/sb-fanout.XXXXXX)
shmdir=$(mktemp -d /dev/shm/sb-fanout.XXXXXX)
stop_server() {
    [[ -n "$server_pid" ]] || { stop_redis; return 0; }
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
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
trap 'stop_server; rm -rf "$workdir" "$shmdir"' EXIT

wait_for_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server on port $1 did not come up" >&2
    return 1
}

# start_stack NAME PORT: starts the server in the background; sets server_pid and url.
start_stack() {
    local log="$workdir/$1.log"
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
    server_pid=$!
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
        --server-pid "$server_pid" --json "$RESULTS" "$@" || echo "($name: incomplete run, see above)" >&2
    stop_server
}

# One row per stack and run kind: the median of each column over the repeats.
median_table() {
    echo "| stack | run | runs | deliveries/s | p50 ms | p95 ms | p99 ms | max ms | lost | out of order | server CPU s | generator CPU s | server peak RSS MiB |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    jq -rs 'def median: sort | .[(length - 1) / 2 | floor];
        group_by([.label, .rate, .posters, .messages]) | sort_by(.[0].rate == 0) | .[]
        | "| \(.[0].label) | \(.[0].posters)x\(.[0].messages) @ \(if .[0].rate > 0 then "\(.[0].rate)/s" else "max (w\(.[0].window))" end)"
          + " | \(length) | \(map(.deliveries_per_s) | median | round) | \(map(.latency_ms.p50) | median * 10 | round / 10)"
          + " | \(map(.latency_ms.p95) | median * 10 | round / 10) | \(map(.latency_ms.p99) | median * 10 | round / 10) | \(map(.latency_ms.max) | median * 10 | round / 10)"
          + " | \(map(.lost) | add) | \(map(.out_of_order) | add) | \(map(.server_cpu_s) | median * 100 | round / 100)"
          + " | \(map(.generator_cpu_s) | median * 100 | round / 100) | \(map(.server_peak_rss_mib) | median * 10 | round / 10) |"' "$1"
}

table() {
    echo "| stack | run | connect s | sent | deliveries/s | p50 ms | p95 ms | p99 ms | max ms | lost | out of order | server CPU s | generator CPU s | server peak RSS MiB | load before |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    jq -r '"| \(.label) | \(.clients) cl, \(.rooms) room, \(.posters)x\(.messages) @ \(if .rate > 0 then "\(.rate)/s" else "max (w\(.window))" end) | \(.connect_s*100|round/100) | \(.sent) | \(.deliveries_per_s|round) | \(.latency_ms.p50 * 10 | round / 10) | \(.latency_ms.p95 * 10 | round / 10) | \(.latency_ms.p99 * 10 | round / 10) | \(.latency_ms.max * 10 | round / 10) | \(.lost) | \(.out_of_order) | \(.server_cpu_s*100|round/100) | \(.generator_cpu_s*100|round/100) | \(.server_peak_rss_mib*10|round/10) | \(.load_before) |"' "$1"
}

[[ "$SKIP_INSTALL" == 1 ]] || install_deps
[[ "$SKIP_BUILD" == 1 ]] || build
# Every client is a socket on both ends; the default 1024 descriptors is not enough.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -n 65536 2>/dev/null || true

i=0
for repeat in $(seq "$REPEAT"); do
    for stack in $STACKS; do
        say "$stack ($repeat/$REPEAT): $CLIENTS clients, $POSTERS posters x $MESSAGES messages at $RATE msg/s"
        run_load "$stack" $((port_base + i)) --posters "$POSTERS" --messages "$MESSAGES" --rate "$RATE"
        i=$((i + 1))
    done
done
if [[ "$LARGE" == 1 ]]; then
    for repeat in $(seq "$REPEAT"); do
        for stack in $STACKS; do
            say "$stack ($repeat/$REPEAT): full speed, $LARGE_POSTERS posters x $LARGE_MESSAGES messages, window $LARGE_WINDOW"
            run_load "$stack" $((port_base + i)) --posters "$LARGE_POSTERS" --messages "$LARGE_MESSAGES" --rate 0 \
                --window "$LARGE_WINDOW"
            i=$((i + 1))
        done
    done
fi

say "every run ($RESULTS)"
table "$RESULTS"
say "medians over the runs (lost and out of order: totals)"
median_table "$RESULTS"
