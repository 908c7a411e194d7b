# Sourced by tests/run-all.sh: starts a throw-away Redis and PostgreSQL on free
# loopback ports in a temporary directory and exports their URLs for the tests
# (SB_TEST_REDIS_URL, SB_TEST_DATABASE_URL). PostgreSQL refuses to run as root,
# so it runs as the unprivileged "postgres" user.

sb_free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

sb_services_start() {
    SB_SERVICES_DIR=$(mktemp -d /tmp/sb-services.XXXXXX)
    chmod 755 "$SB_SERVICES_DIR"

    local redis_port
    redis_port=$(sb_free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$SB_SERVICES_DIR/redis.pid" --logfile "$SB_SERVICES_DIR/redis.log"
    export SB_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"

    local pg_port pg_bin run_as=()
    pg_port=$(sb_free_port)
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    mkdir -p "$SB_SERVICES_DIR/pg"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$SB_SERVICES_DIR/pg"
        run_as=(runuser -u postgres --)
    fi
    "${run_as[@]}" "$pg_bin/initdb" -D "$SB_SERVICES_DIR/pg/data" -A trust -U postgres >/dev/null
    "${run_as[@]}" "$pg_bin/pg_ctl" -D "$SB_SERVICES_DIR/pg/data" -l "$SB_SERVICES_DIR/pg/log" -w \
        -o "-p $pg_port -k $SB_SERVICES_DIR/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    export SB_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/postgres"
    # tst_store restarts PostgreSQL with this command plus "restart" (pg_ctl reuses the start options).
    export SB_TEST_PG_CTL="${run_as[*]} $pg_bin/pg_ctl -D $SB_SERVICES_DIR/pg/data -m fast -w"
    echo "test services: $SB_TEST_REDIS_URL $SB_TEST_DATABASE_URL"
}

sb_services_stop() {
    [ -n "${SB_SERVICES_DIR:-}" ] || return 0
    if [ -f "$SB_SERVICES_DIR/redis.pid" ]; then
        kill "$(cat "$SB_SERVICES_DIR/redis.pid")" 2>/dev/null || true
    fi
    local pg_bin run_as=()
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    [ "$(id -u)" -eq 0 ] && run_as=(runuser -u postgres --)
    "${run_as[@]}" "$pg_bin/pg_ctl" -D "$SB_SERVICES_DIR/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$SB_SERVICES_DIR"
}
