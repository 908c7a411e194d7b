#!/usr/bin/env bash
# bench/connections.sh: the connection-scale runs of docs/benchmarks.md on one
# embedded instance: CLIENTS idle connections (memory per connection, ramp),
# the memory left once they are gone, then CLIENTS connections joining one
# room (join ramp, presence traffic) followed by a chat to every member.
#
# Settings (environment):
#   CLIENTS=10000   connections of each run (the open-files hard limit of both
#                   processes must allow it: `ulimit -Hn`)
#   BUILD_DIR=<repo>/build   a build with switchboard-server and sb-fanout-bench
#   RESULTS=<file>  JSON lines of every run are appended here
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${CLIENTS:=10000}" "${BUILD_DIR:=$repo/build}"
: "${RESULTS:=$(mktemp /tmp/sb-connections-results.XXXXXX.jsonl)}"
server_bin=$BUILD_DIR/server/switchboard-server
bench_bin=$BUILD_DIR/bench/sb-fanout-bench
port=18500
workdir=$(mktemp -d /tmp/sb-connections.XXXXXX)
server_pid=

say() { printf '\n### %s\n' "$*" >&2; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

start_server() {
    rm -rf "$workdir/data" && mkdir -p "$workdir/data"
    "$server_bin" --listen "127.0.0.1:$port" --data "$workdir/data" --ticker off --msg-rate 0 \
        --connect-rate 1000000/60 --instance-id bench "$@" >"$workdir/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server did not become ready" >&2
    exit 1
}
stop_server() {
    [[ -n "$server_pid" ]] || return 0
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    port=$((port + 1))
}
trap 'stop_server; rm -rf "$workdir"' EXIT

ulimit -n "$(ulimit -Hn)"
say "idle: $CLIENTS connections (token, upgrade, welcome), then all gone"
start_server
"$bench_bin" --url "http://127.0.0.1:$port" --label idle --idle --clients "$CLIENTS" \
    --server-pid "$server_pid" --json "$RESULTS"
sleep 5 # the wave of closes is over; the server hands freed memory back
echo "server memory after every client left: $(rss_mib "$server_pid") MiB" >&2
grep 'released freed memory' "$workdir/server.log" | sed 's/^.*sb.sessions: /  /' >&2 || true
stop_server

say "big room: $CLIENTS connections join one room, then 5 posters send 4 messages each"
start_server
"$bench_bin" --url "http://127.0.0.1:$port" --label big-room --clients "$CLIENTS" --rooms 1 \
    --posters 5 --messages 4 --rate 20 --settle-ms 1500 --server-pid "$server_pid" --json "$RESULTS"
stop_server
echo "results: $RESULTS" >&2
