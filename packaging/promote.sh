#!/usr/bin/env bash
# Blue/green promotion on a cluster behind HAProxy (the local cluster, or any
# host whose HAProxy has an admin stats socket): starts the idle colour,
# waits for /readyz, smoke-tests each new instance (token, join, chat, todo;
# packaging/smoke.py), switches HAProxy to it through its runtime API (no
# reload, no dropped connection), checks that the load balancer now sends
# new clients there, then drains the old colour (SIGTERM: each client is told
# to reconnect and lands on the new colour) and waits for it to exit. When a
# step fails before the old colour is stopped, it rolls back — the old colour
# stays (or is put back) in service, the new one is stopped — and says why.
#
#   packaging/promote.sh --config FILE             promote the idle colour
#   packaging/promote.sh --config FILE --rollback  go back to the previous colour
#
# FILE (shell syntax) describes the two colours; every SB_* variable in it is
# passed to the instances this script starts (SB_REDIS_URL, SB_DATABASE_URL,
# SB_OPERATOR_KEY, …):
#   PROMOTE_SOCKET=/path/haproxy.sock   HAProxy "stats socket … level admin"
#   PROMOTE_BACKEND=instances           the HAProxy backend
#   PROMOTE_LB=http://127.0.0.1:8080    the load balancer's address
#   PROMOTE_BIN=/usr/bin/switchboard-server
#   PROMOTE_RUN=/path/run               pid files, logs, data, the active colour
#   PROMOTE_BLUE="app-1:8081 app-2:8082"     HAProxy server name = instance id : port
#   PROMOTE_GREEN="app-3:8083 app-4:8084"
#   PROMOTE_READY_TIMEOUT=30            seconds the new colour has to become ready
# A colour's instances are started with SB_INSTANCE_ID, SB_LISTEN
# 127.0.0.1:PORT, SB_COLOR and SB_DATA ($PROMOTE_RUN/ID) and their pid in
# $PROMOTE_RUN/ID.pid, which is also how the old colour is found to stop it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=
rollback=0
while [ $# -gt 0 ]; do
    case "$1" in
        --config) config=$2; shift 2 ;;
        --rollback) rollback=1; shift ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$config" ] || { echo "promote: --config FILE is required (see --help)" >&2; exit 2; }
set -a
# shellcheck source=/dev/null
. "$config"
set +a
: "${PROMOTE_SOCKET:?} ${PROMOTE_BACKEND:?} ${PROMOTE_LB:?} ${PROMOTE_RUN:?} ${PROMOTE_BLUE:?} ${PROMOTE_GREEN:?}"
PROMOTE_BIN=${PROMOTE_BIN:-/usr/bin/switchboard-server}
drain_s=${SB_DRAIN_S:-30}
mkdir -p "$PROMOTE_RUN"

say() { echo "promote: $*"; }

# hap COMMAND: one command on HAProxy's runtime API, its answer on stdout.
hap() {
    python3 - "$PROMOTE_SOCKET" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while chunk := s.recv(65536):
    out += chunk
sys.stdout.write(out.decode())
PY
}

members() { [ "$1" = blue ] && echo "$PROMOTE_BLUE" || echo "$PROMOTE_GREEN"; }
other() { [ "$1" = blue ] && echo green || echo blue; }

# set_state COLOUR ready|drain|maint: every server of the colour.
set_state() {
    local member answer
    for member in $(members "$1"); do
        answer=$(hap "set server $PROMOTE_BACKEND/${member%%:*} state $2")
        [ -z "${answer//[$'\n ']/}" ] || { say "HAProxy refused 'set server ${member%%:*} state $2': $answer"; return 1; }
    done
}

# The colour HAProxy sends clients to: its servers are neither in
# maintenance nor draining ("show stat" status UP or DOWN, i.e. only the
# health checks decide).
live_colour() {
    local stat colour member name found=""
    stat=$(hap "show stat")
    for colour in blue green; do
        for member in $(members "$colour"); do
            name=${member%%:*}
            if awk -F, -v b="$PROMOTE_BACKEND" -v n="$name" \
                '$1 == b && $2 == n && $18 !~ /^(MAINT|DRAIN)/ {ok=1} END {exit !ok}' <<<"$stat"; then
                found="$found $colour"
                break
            fi
        done
    done
    found=${found# }
    if [ -z "$found" ] || [ "$found" = "blue green" ]; then
        say "cannot tell the live colour from HAProxy (ready: ${found:-none})" >&2
        return 1
    fi
    echo "$found"
}

running() { [ -f "$PROMOTE_RUN/$1.pid" ] && kill -0 "$(cat "$PROMOTE_RUN/$1.pid")" 2>/dev/null; }

start_colour() {
    local member name port
    for member in $(members "$1"); do
        name=${member%%:*} port=${member##*:}
        if running "$name"; then
            say "$name is already running"
            continue
        fi
        mkdir -p "$PROMOTE_RUN/$name"
        SB_INSTANCE_ID=$name SB_LISTEN=127.0.0.1:$port SB_COLOR=$1 SB_DATA=$PROMOTE_RUN/$name \
            setsid "$PROMOTE_BIN" >>"$PROMOTE_RUN/$name.log" 2>&1 </dev/null &
        echo $! >"$PROMOTE_RUN/$name.pid"
        say "started $name ($1) on 127.0.0.1:$port, pid $!"
    done
}

wait_ready() {
    local member port timeout=${PROMOTE_READY_TIMEOUT:-30}
    local deadline=$((SECONDS + timeout))
    for member in $(members "$1"); do
        port=${member##*:}
        until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
            if [ $SECONDS -ge $deadline ]; then
                why="${member%%:*} did not answer /readyz with 200 within $timeout s (log: $PROMOTE_RUN/${member%%:*}.log)"
                return 1
            fi
            sleep 0.2
        done
    done
}

smoke_colour() {
    local member
    for member in $(members "$1"); do
        if ! out=$("$root/packaging/smoke.py" "http://127.0.0.1:${member##*:}" --expect-instance "${member%%:*}" 2>&1); then
            why="smoke test on ${member%%:*}: $out"
            return 1
        fi
        say "$out"
    done
}

# Until HAProxy's checks see the new servers up, new clients may still be
# refused; wait for two smoke tests in a row through the load balancer to
# land on the new colour.
check_lb() {
    local ids member deadline=$((SECONDS + 20)) streak=0
    ids=$(for member in $(members "$1"); do printf '%s,' "${member%%:*}"; done)
    while [ $SECONDS -lt $deadline ]; do
        if out=$("$root/packaging/smoke.py" "$PROMOTE_LB" --expect-instance "${ids%,}" 2>&1); then
            streak=$((streak + 1))
            [ $streak -ge 2 ] && { say "through the load balancer: $out"; return 0; }
        else
            streak=0
        fi
        sleep 0.5
    done
    why="through the load balancer new clients do not reach $1: $out"
    return 1
}

# stop_colour COLOUR: SIGTERM (drain) and wait for every instance to exit.
stop_colour() {
    local member name pid deadline=$((SECONDS + drain_s + 15)) status=0
    for member in $(members "$1"); do
        name=${member%%:*}
        running "$name" || continue
        kill -TERM "$(cat "$PROMOTE_RUN/$name.pid")"
    done
    for member in $(members "$1"); do
        name=${member%%:*}
        [ -f "$PROMOTE_RUN/$name.pid" ] || continue
        pid=$(cat "$PROMOTE_RUN/$name.pid")
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name did not finish draining within $((drain_s + 15)) s: killed"
            kill -KILL "$pid" 2>/dev/null || true
            status=1
        fi
        rm -f "$PROMOTE_RUN/$name.pid"
    done
    return $status
}

why=
live=$(live_colour)
if [ "$rollback" -eq 1 ]; then
    target=$(cat "$PROMOTE_RUN/previous-colour" 2>/dev/null || other "$live")
    [ "$target" != "$live" ] || { say "nothing to roll back: $live is live"; exit 1; }
    say "rolling back from $live to $target (on demand)"
else
    target=$(other "$live")
    say "promoting $target (live: $live)"
fi

# Up to the switch, a failure leaves the live colour untouched.
abort() {
    say "ROLLBACK: $why"
    say "$live stays live; stopping $target"
    set_state "$target" maint || true
    stop_colour "$target" || true
    exit 1
}
start_colour "$target"
wait_ready "$target" || abort
smoke_colour "$target" || abort

# The switch, through the runtime API: the new colour takes new clients, the
# old one none — not even clients whose cookie names it (they are
# redispatched) — while its established WebSockets stay open until the
# instances drain them.
set_state "$target" ready || abort
set_state "$live" maint || { set_state "$live" ready || true; abort; }
say "HAProxy: $target ready, $live in maintenance"
if ! check_lb "$target"; then
    set_state "$live" ready || true
    abort
fi

say "draining $live (SB_DRAIN_S=$drain_s)"
echo "$live" >"$PROMOTE_RUN/previous-colour"
echo "$target" >"$PROMOTE_RUN/live-colour"
stop_colour "$live" || say "warning: $live needed SIGKILL"
say "done: $target is live, $live is stopped (roll back with --rollback)"
