#!/usr/bin/env bash
# bench/ramp.sh: the connection ramp the way users deploy: CLIENTS idle
# connections through the token flow (POST /api/token, upgrade, welcome) over
# INSTANCES switchboard-server instances joined by Redis, with PostgreSQL as
# the store (tests/services.sh: a private Redis and PostgreSQL on loopback
# ports). Every load generator takes turns over all instances; they start
# together, and the ramp is all connections over the slowest generator's
# connect time. Then each instance's memory with every connection open, and
# the CPU time the instances, generators, PostgreSQL and Redis spent on it.
#
# No process may hold more sockets than the open-files hard limit
# (`ulimit -Hn`): when CLIENTS over INSTANCES would need more, the script runs
# more instances, and it splits the clients over as many generators as needed;
# it says so in both cases.
#
# Settings (environment):
#   CLIENTS=50000 INSTANCES=2
#   BUILD_DIR=<repo>/build   a build with switchboard-server and sb-fanout-bench
#   RESULTS=<file>           the generators' JSON lines are appended here
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${CLIENTS:=50000}" "${INSTANCES:=2}" "${BUILD_DIR:=$repo/build}"
: "${RESULTS:=$(mktemp /tmp/sb-ramp-results.XXXXXX.jsonl)}"
server_bin=$BUILD_DIR/server/switchboard-server
bench_bin=$BUILD_DIR/bench/sb-fanout-bench
base_port=18600
headroom=500 # the server's own files: listener, Redis, PostgreSQL, store, logs

say() { printf '\n### %s\n' "$*" >&2; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz}' "/proc/$1/stat"; }
# CPU seconds of every process named $1 (PostgreSQL runs one per connection).
cpu_named() {
    local pid
    for pid in $(pgrep -x "$1"); do cpu_s "$pid" 2>/dev/null && echo; done | awk '{total += $1} END {printf "%.2f", total}'
}

ulimit -n "$(ulimit -Hn)"
limit=$(ulimit -n)
per_process=$((limit - headroom))
# The fewest processes that can hold CLIENTS sockets: the generators, and at
# least as many instances.
generators=$(((CLIENTS + per_process - 1) / per_process))
if ((generators > INSTANCES)); then
    say "$CLIENTS connections over $INSTANCES instances need more than $per_process sockets each (open-files hard limit $limit): running $generators instances"
    INSTANCES=$generators
fi
# Every connection to an instance takes two local ports (the token request,
# then the upgrade) from the one loopback address.
read -r first_port last_port </proc/sys/net/ipv4/ip_local_port_range
if ((2 * ((CLIENTS + INSTANCES - 1) / INSTANCES) > last_port - first_port - 1000)); then
    say "the ephemeral port range $first_port-$last_port is too small for $((CLIENTS / INSTANCES)) connections to one address; widen it with: sysctl -w net.ipv4.ip_local_port_range=\"1024 65000\""
fi

workdir=$(mktemp -d /tmp/sb-ramp.XXXXXX)
server_pids=()
generator_pids=()
source "$repo/tests/services.sh"
cleanup() {
    local pid
    for pid in "${generator_pids[@]}" "${server_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    sb_services_stop
    rm -rf "$workdir"
}
trap cleanup EXIT
sb_services_start

urls=
for n in $(seq "$INSTANCES"); do
    port=$((base_port + n - 1))
    SB_INSTANCE_ID="ramp-$n" SB_REDIS_URL="$SB_TEST_REDIS_URL" SB_DATABASE_URL="$SB_TEST_DATABASE_URL" \
        "$server_bin" --listen "127.0.0.1:$port" --data "$workdir/data-$n" --ticker off --msg-rate 0 \
        --connect-rate 1000000/60 >"$workdir/server-$n.log" 2>&1 &
    server_pids+=($!)
    urls+="${urls:+,}http://127.0.0.1:$port"
done
for n in $(seq "$INSTANCES"); do
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$((base_port + n - 1))/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
done
declare -A empty_mib cpu_before
for pid in "${server_pids[@]}"; do
    empty_mib[$pid]=$(rss_mib "$pid")
    cpu_before[$pid]=$(cpu_s "$pid")
done
postgres_before=$(cpu_named postgres)
redis_before=$(cpu_named redis-server)

say "ramp: $CLIENTS connections over $INSTANCES instances (Redis + PostgreSQL), $generators generator(s); load $(cut -d' ' -f1-3 /proc/loadavg)"
# Each generator holds its connections until every one has reported.
linger_ms=$((30000 + CLIENTS / 2))
for g in $(seq "$generators"); do
    share=$((CLIENTS / generators + (g <= CLIENTS % generators ? 1 : 0)))
    "$bench_bin" --url "$urls" --label "ramp-$g" --idle --clients "$share" --linger-ms "$linger_ms" \
        --json "$workdir/generators.jsonl" >"$workdir/generator-$g.log" 2>&1 &
    generator_pids+=($!)
done
reported=()
for _ in $(seq $((linger_ms / 250))); do
    [[ -f "$workdir/generators.jsonl" ]] && mapfile -t reported <"$workdir/generators.jsonl"
    ((${#reported[@]} >= generators)) && break
    sleep 0.25
done
for pid in "${server_pids[@]}"; do
    echo "instance pid $pid: $(rss_mib "$pid") MiB with its connections open (empty: ${empty_mib[$pid]} MiB)," \
        "CPU $(awk -v a="${cpu_before[$pid]}" -v b="$(cpu_s "$pid")" 'BEGIN {printf "%.1f", b - a}') s" >&2
done
for pid in "${generator_pids[@]}"; do echo "generator pid $pid: CPU $(cpu_s "$pid") s" >&2; done
echo "PostgreSQL: CPU $(awk -v a="$postgres_before" -v b="$(cpu_named postgres)" 'BEGIN {printf "%.1f", b - a}') s;" \
    "Redis: CPU $(awk -v a="$redis_before" -v b="$(cpu_named redis-server)" 'BEGIN {printf "%.1f", b - a}') s" >&2
cat "$workdir/generators.jsonl" >>"$RESULTS"
echo "results: $RESULTS" >&2
# Fails when a connection did not come up; the generators are stopped on exit.
python3 - "$workdir/generators.jsonl" "$CLIENTS" "$INSTANCES" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
ready, wanted = sum(r["ready"] for r in runs), int(sys.argv[2])
slowest = max(r["connect_s"] for r in runs)
print(f"ramp: {ready} of {wanted} connections over {sys.argv[3]} instances in {slowest:.1f} s: "
      f"{ready / slowest:.0f} connections/s")
sys.exit(0 if ready == wanted else 1)
PY
