#!/usr/bin/env bash
# A real Switchboard cluster on this machine, all on loopback: a Redis, a
# PostgreSQL (initdb'd on first run), N switchboard-server instances and
# HAProxy with cookie stickiness in front, and — when there is a display
# (DISPLAY or WAYLAND_DISPLAY) — the operator console attached to it (its
# Redis and every instance). Prints the addresses, tails the logs, and stops
# everything it started on Ctrl-C. With --redis sentinel, Redis is a master
# and two replicas watched by three Sentinels (ports 6390-6392, 26390-26392)
# and the instances use a redis-sentinel:// URL: kill the master
# (kill $(cat DATA/run/redis-0.pid)) and watch them follow the failover.
# With --redis cluster, Redis is a Redis Cluster of six nodes (ports
# 6390-6395: three masters, three replicas) and the instances use a
# redis-cluster:// URL: kill a master (kill -9 $(cat DATA/run/redis-0.pid))
# and its replica takes over within a few seconds.
#
#   packaging/cluster.sh [-n N] [--lb-port PORT] [--base-port PORT] [--data DIR] [--redis single|sentinel|cluster]
#                        [--no-build] [--console|--no-console] [--blue-green]
#
# --blue-green: the N instances are the blue colour, and HAProxy also
# declares N green servers (app-N+1…, the next ports) in maintenance; then
#   packaging/promote.sh --config DATA/run/promote.env [--rollback]
# switches the cluster between the colours (docs/operations.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=3
lb_port=8080
base_port=8081
redis_port=6390
pg_port=5440
sentinel_port=26390
redis_mode=single
# The console by default when there is a screen to show it on.
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then console=1; else console=0; fi
build=1
bluegreen=0
if [ "$(id -u)" -eq 0 ]; then data=/var/lib/switchboard/cluster; else data=${XDG_DATA_HOME:-$HOME/.local/share}/switchboard/cluster; fi
while [ $# -gt 0 ]; do
    case "$1" in
        -n) count=$2; shift 2 ;;
        --lb-port) lb_port=$2; shift 2 ;;
        --base-port) base_port=$2; shift 2 ;;
        --data) data=$2; shift 2 ;;
        --redis) redis_mode=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --console) console=1; shift ;;
        --no-console) console=0; shift ;;
        --blue-green) bluegreen=1; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$redis_mode" in
    single|sentinel|cluster) ;;
    *) echo "--redis takes single, sentinel or cluster, not $redis_mode" >&2; exit 2 ;;
esac

if [ "$build" -eq 1 ]; then
    "$root/packaging/install-deps.sh"
    "$root/packaging/build.sh"
fi
bin=${SB_BUILD_DIR:-$root/build}
export SB_OPERATOR_KEY=${SB_OPERATOR_KEY:-dev-operator-key}
mkdir -p "$data/logs" "$data/run"
pids=()

stop_all() {
    trap - INT TERM EXIT
    echo
    echo "stopping the cluster…"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    # Instances packaging/promote.sh started (--blue-green).
    for pidfile in "$data"/run/promote/*.pid; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    for pidfile in "$data"/run/redis*.pid "$data"/run/sentinel-*.pid; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    "${run_as[@]}" "$pg_bin/pg_ctl" -D "$data/pg" -m fast stop >/dev/null 2>&1 || true
    wait 2>/dev/null || true
    echo "stopped."
}
trap stop_all INT TERM EXIT

# Redis: pub/sub and shared state only, nothing to persist.
rm -f "$data"/run/redis*.pid "$data"/run/sentinel-*.pid
if [ "$redis_mode" = single ]; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$data/run/redis.pid" --logfile "$data/logs/redis.log"
    redis_url="redis://127.0.0.1:$redis_port"
elif [ "$redis_mode" = cluster ]; then
    # Six nodes, each with its own nodes.conf (written by Redis, started
    # afresh every time), then three masters with a replica each.
    rm -rf "$data/run/redis-cluster"
    nodes=()
    for i in 0 1 2 3 4 5; do
        port=$((redis_port + i))
        mkdir -p "$data/run/redis-cluster/$port"
        redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
            --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
            --dir "$data/run/redis-cluster/$port" --pidfile "$data/run/redis-$i.pid" --logfile "$data/logs/redis-$i.log"
        nodes+=("127.0.0.1:$port")
    done
    for port in $(seq "$redis_port" $((redis_port + 5))); do
        for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$data/logs/redis-cluster-create.log"
    for _ in $(seq 100); do
        redis-cli -p "$redis_port" cluster info | grep -q 'cluster_state:ok' && break
        sleep 0.1
    done
    redis_url="redis-cluster://$(IFS=,; echo "${nodes[*]:0:3}")"
else
    # A master and two replicas, then three Sentinels (quorum 2) that fail
    # over within a few seconds of the master's death. Sentinels rewrite their
    # configuration, so each start writes a fresh one.
    for i in 0 1 2; do
        replica=()
        [ "$i" -eq 0 ] || replica=(--replicaof 127.0.0.1 "$redis_port")
        # --dir: a replica stores the RDB of its full sync as dump.rdb there.
        redis-server --port $((redis_port + i)) --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
            --dir "$data/run" --pidfile "$data/run/redis-$i.pid" --logfile "$data/logs/redis-$i.log" "${replica[@]}"
    done
    sentinels=()
    for i in 0 1 2; do
        port=$((sentinel_port + i))
        printf '%s\n' "port $port" "bind 127.0.0.1" "daemonize yes" "pidfile $data/run/sentinel-$i.pid" \
            "logfile $data/logs/sentinel-$i.log" "sentinel monitor sbmaster 127.0.0.1 $redis_port 2" \
            "sentinel down-after-milliseconds sbmaster 2000" "sentinel failover-timeout sbmaster 10000" \
            >"$data/run/sentinel-$i.conf"
        redis-sentinel "$data/run/sentinel-$i.conf"
        sentinels+=("127.0.0.1:$port")
    done
    redis_url="redis-sentinel://$(IFS=,; echo "${sentinels[*]}")/sbmaster"
fi

# PostgreSQL as an unprivileged user (initdb and postgres refuse root).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
run_as=()
if [ "$(id -u)" -eq 0 ]; then
    run_as=(runuser -u postgres --)
    mkdir -p "$data/pg"
    chown postgres "$data/pg"
    chmod 755 "$data" "$data/run"
    chown postgres "$data/run"
fi
if [ ! -f "$data/pg/PG_VERSION" ]; then
    echo "initialising PostgreSQL in $data/pg"
    "${run_as[@]}" "$pg_bin/initdb" -D "$data/pg" -A trust -U postgres >/dev/null
fi
"${run_as[@]}" "$pg_bin/pg_ctl" -D "$data/pg" -l "$data/run/postgres.log" -w \
    -o "-p $pg_port -k $data/run -c listen_addresses=127.0.0.1" start >/dev/null
database_url="postgresql://postgres@127.0.0.1:$pg_port/postgres"

colors=(blue green orange purple teal red)
servers=""
blue="" green=""
rm -rf "$data/run/promote"
for i in $(seq 1 "$count"); do
    port=$((base_port + i - 1))
    id="app-$i"
    color=${colors[$(((i - 1) % ${#colors[@]}))]}
    [ "$bluegreen" -eq 0 ] || color=blue
    SB_INSTANCE_ID=$id SB_LISTEN=127.0.0.1:$port SB_COLOR=$color \
    SB_REDIS_URL=$redis_url SB_DATABASE_URL=$database_url SB_DATA="$data/$id" \
        "$bin/server/switchboard-server" >"$data/logs/$id.log" 2>&1 &
    pids+=($!)
    servers+="    server $id 127.0.0.1:$port cookie $id check"$'\n'
    if [ "$bluegreen" -eq 1 ]; then
        mkdir -p "$data/run/promote"
        echo "$!" >"$data/run/promote/$id.pid"
        blue+="$id:$port "
        gid="app-$((count + i))" gport=$((base_port + count + i - 1))
        green+="$gid:$gport "
        servers+="    server $gid 127.0.0.1:$gport cookie $gid check disabled"$'\n'
    fi
done
if [ "$bluegreen" -eq 1 ]; then
    cat >"$data/run/promote.env" <<EOF
PROMOTE_SOCKET=$data/run/haproxy.sock
PROMOTE_BACKEND=instances
PROMOTE_LB=http://127.0.0.1:$lb_port
PROMOTE_BIN=$bin/server/switchboard-server
PROMOTE_RUN=$data/run/promote
PROMOTE_BLUE="${blue% }"
PROMOTE_GREEN="${green% }"
SB_REDIS_URL=$redis_url
SB_DATABASE_URL=$database_url
SB_OPERATOR_KEY=$SB_OPERATOR_KEY
EOF
fi

sed -e "s|@BIND@|127.0.0.1:$lb_port|" -e "s|@RUN@|$data/run|" "$root/packaging/haproxy.cfg.in" \
    | awk -v servers="$servers" '{ if ($0 == "@SERVERS@") printf "%s", servers; else print }' >"$data/run/haproxy.cfg"
haproxy -f "$data/run/haproxy.cfg" -db >"$data/logs/haproxy.log" 2>&1 &
pids+=($!)
haproxy_pid=$!

sleep 1
echo
echo "Switchboard cluster is up:"
echo "  load balancer  http://127.0.0.1:$lb_port   (ws://127.0.0.1:$lb_port/ws)"
for i in $(seq 1 "$count"); do echo "  app-$i          http://127.0.0.1:$((base_port + i - 1))"; done
echo "  redis          $redis_url"
[ "$redis_mode" = sentinel ] && echo "  redis master   redis://127.0.0.1:$redis_port at start (replicas on $((redis_port + 1)), $((redis_port + 2)))"
[ "$redis_mode" = cluster ] && echo "  redis cluster  nodes on ports $redis_port-$((redis_port + 5)) (redis-cli -c -p $redis_port cluster nodes)"
echo "  postgresql     $database_url"
echo "  operator key   $SB_OPERATOR_KEY"
echo "  logs           $data/logs"
if [ "$bluegreen" -eq 1 ]; then
    echo "  blue/green     blue live (${blue% }), green idle (${green% })"
    echo "                 packaging/promote.sh --config $data/run/promote.env [--rollback]"
fi
echo "Ctrl-C stops everything."
echo

if [ "$console" -eq 1 ]; then
    if [ -x "$bin/console/switchboard-console" ]; then
        # The key comes from SB_OPERATOR_KEY (exported above). SB_CONSOLE_ARGS adds
        # arguments, e.g. "--screenshot FILE --screenshot-delay MS" for the docs.
        # The console watches the instances' Redis: the one server, the master
        # the Sentinels name (followed through a failover) or the whole
        # Redis Cluster, and shows its topology (Message flow → Redis topology).
        args=(--redis "$redis_url")
        for i in $(seq 1 "$count"); do args+=(--instance "http://127.0.0.1:$((base_port + i - 1))"); done
        read -r -a extra <<<"${SB_CONSOLE_ARGS:-}"
        args+=("${extra[@]}")
        "$bin/console/switchboard-console" "${args[@]}" >"$data/logs/console.log" 2>&1 &
        pids+=($!)
        echo "operator console started (log: $data/logs/console.log); --no-console leaves it out"
    else
        echo "no console: $bin/console/switchboard-console was not built (Qt Widgets/Charts missing?)"
    fi
fi

tail -n 0 -F "$data"/logs/app-*.log &
pids+=($!)
# With --blue-green the first instance goes away on a promotion: wait on HAProxy.
if [ "$bluegreen" -eq 1 ]; then wait "$haproxy_pid" || true; else wait "${pids[0]}" || true; fi
