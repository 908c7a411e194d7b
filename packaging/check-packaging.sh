#!/usr/bin/env bash
# Checks everything that runs Switchboard "like every other service", from
# the suite's build directory (build/, or $SB_BUILD_DIR), and fails on the
# first problem. tests/run-all.sh runs it after the test suite.
#
#  1. CPack builds switchboard-server and switchboard-console .debs; their
#     contents, conffiles and computed dependencies are as expected;
#     server.env lists every setting of `switchboard-server --help`.
#  2. lintian finds nothing beyond the tags justified in
#     packaging/debian/lintian-overrides.
#  3. The packages install with dpkg -i; systemd-analyze verifies the
#     installed units; the server starts from the installed files the way its
#     unit does (ExecStart, Environment, EnvironmentFile, LimitNOFILE, an
#     unprivileged user), becomes ready and exits 0 on SIGTERM; both
#     packages purge without leaving a file behind.
#  4. haproxy -c and nginx -t accept the load-balancer configurations.
#  5. promtool checks the Prometheus configuration and rules and runs the
#     rules' unit tests; the Grafana dashboard shows every contract metric.
#  6. compose.yaml and the Prometheus files pass yamllint; the Dockerfile has
#     its required instructions and its stage scripts work (the build stage
#     packs from build/; the full build stage too under CI or with
#     SB_CONTAINER_BUILD=1).
# It installs nothing but what packaging/install-deps.sh installs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SB_BUILD_DIR:-$root/build}
pkg=$root/packaging
work=$(mktemp -d /tmp/sb-check-packaging.XXXXXX)
chmod 755 "$work"
server_pid=

step() { echo "check-packaging: $*"; }
fail() { echo "check-packaging: FAILED: $*" >&2; exit 1; }
cleanup() {
    [ -z "$server_pid" ] || kill -KILL "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

"$pkg/install-deps.sh"
[ -x "$build/server/switchboard-server" ] || "$pkg/build.sh"
# The packaged files the build makes (man pages, help.txt) are up to date.
cmake --build "$build" --target sb_package_files >/dev/null

# 1. packages ---------------------------------------------------------------
step "building the packages with CPack from $build"
(cd "$build" && cpack -G DEB -B "$work/debs" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack"; }
server_deb=$(ls "$work"/debs/switchboard-server_*.deb)
console_deb=$(ls "$work"/debs/switchboard-console_*.deb 2>/dev/null || true)
debs=("$server_deb")
if [ -n "$console_deb" ]; then
    debs+=("$console_deb")
elif grep -q '^SB_BUILD_CONSOLE:BOOL=ON' "$build/CMakeCache.txt"; then
    fail "no switchboard-console package although the console is built"
fi
for deb in "${debs[@]}"; do
    echo "  $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
    dpkg-deb -f "$deb" Depends | grep -q libqt6 || fail "$(basename "$deb"): no computed library dependencies"
done
dpkg-deb -c "$server_deb" | awk '{print $6}' >"$work/server.files"
for f in ./usr/bin/switchboard-server ./lib/systemd/system/switchboard-server.service \
         ./lib/systemd/system/switchboard-server@.service ./etc/switchboard/server.env \
         ./usr/share/man/man1/switchboard-server.1.gz ./usr/share/doc/switchboard-server/help.txt \
         ./usr/share/doc/switchboard-server/copyright; do
    grep -qxF "$f" "$work/server.files" || fail "switchboard-server lacks $f"
done
dpkg-deb -I "$server_deb" conffiles | grep -qx /etc/switchboard/server.env \
    || fail "/etc/switchboard/server.env is not a conffile"
if [ -n "$console_deb" ]; then
    dpkg-deb -c "$console_deb" | awk '{print $6}' >"$work/console.files"
    for f in ./usr/bin/switchboard-console ./usr/share/applications/org.switchboard.Console.desktop \
             ./usr/share/metainfo/org.switchboard.Console.metainfo.xml \
             ./usr/share/icons/hicolor/scalable/apps/switchboard-console.svg \
             ./usr/share/icons/hicolor/16x16/apps/switchboard-console.png \
             ./usr/share/icons/hicolor/256x256/apps/switchboard-console.png; do
        grep -qxF "$f" "$work/console.files" || fail "switchboard-console lacks $f"
    done
    desktop-file-validate "$root/resources/org.switchboard.Console.desktop" || fail "desktop-file-validate"
    # As installed: the metainfo names the desktop file and is named after its id.
    dpkg-deb -x "$console_deb" "$work/console-root"
    appstreamcli validate-tree --no-net "$work/console-root" || fail "appstreamcli validate-tree"
fi
# server.env: every setting --help lists, commented, with its default.
"$build/server/switchboard-server" --help | grep -o 'SB_[A-Z_]*' | sort -u >"$work/settings"
while read -r setting; do
    grep -q "^#$setting=" "$pkg/server.env" || fail "server.env does not list $setting"
done <"$work/settings"
step "$(wc -l <"$work/settings") settings in server.env, packages: $(cd "$work/debs" && ls ./*.deb | xargs -n1 basename | tr '\n' ' ')"

# 2. lintian ----------------------------------------------------------------
step "lintian"
lintian --fail-on error,warning --suppress-tags-from-file "$pkg/debian/lintian-overrides" \
    --display-info "${debs[@]}" || fail "lintian (justified tags: packaging/debian/lintian-overrides)"

# 3. install, verify the units, run the server as its unit does, purge ------
step "installing with dpkg -i"
for p in switchboard-console switchboard-server; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
        "${sudo_cmd[@]}" dpkg --purge "$p" >/dev/null
    fi
done
"${sudo_cmd[@]}" dpkg -i "${debs[@]}" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i"; }
installed_files=$(for p in switchboard-server ${console_deb:+switchboard-console}; do dpkg-query -L "$p"; done)

unit=/lib/systemd/system/switchboard-server.service
step "systemd-analyze verify"
# The template is verified through an instance of it.
ln -s "/lib/systemd/system/switchboard-server@.service" "$work/switchboard-server@check.service"
systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
(cd "$work" && systemd-analyze verify "$work/switchboard-server@check.service") \
    || fail "systemd-analyze verify switchboard-server@.service"
systemd-analyze security --offline=true --threshold=30 "$unit" | tail -n 1 \
    || fail "systemd-analyze security: the unit's exposure is above 3.0"

step "starting the installed server the way $unit does"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
env_files=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")
nofile=$(sed -n 's/^LimitNOFILE=//p' "$unit")
[ "$(sed -n 's/^KillSignal=//p' "$unit")" = SIGTERM ] || fail "KillSignal is not SIGTERM"
stop_timeout=$(sed -n 's/^TimeoutStopSec=//p' "$unit")
drain=$(sed -n 's/^#\{0,1\}SB_DRAIN_S=//p' /etc/switchboard/server.env)
[ "$stop_timeout" -gt "$drain" ] || fail "TimeoutStopSec ($stop_timeout) is not above SB_DRAIN_S ($drain)"
[ "$(sed -n 's/^Environment=SB_DATA=//p' "$unit")" = "/var/lib/$(sed -n 's/^StateDirectory=//p' "$unit")" ] \
    || fail "the unit's SB_DATA is not its StateDirectory"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$work/data"
chown nobody "$work/data"
{
    echo "set -a"
    sed -n 's/^Environment=//p' "$unit"
    for f in $env_files; do echo ". $f"; done
    # Only what differs on this machine: a free port and a private data directory.
    echo "SB_LISTEN=127.0.0.1:$port SB_DATA=$work/data SB_TICKER=off"
    echo "exec $exec_start"
} >"$work/run-unit.sh"
[ "$nofile" -ge 50000 ] || fail "LimitNOFILE=$nofile does not allow 50 000 connections"
# systemd (PID 1) may raise the hard limit; this shell can only go up to its own.
hard=$(ulimit -Hn)
applied=$nofile
if [ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ]; then
    applied=$hard
    step "note: this machine's hard open-file limit ($hard) is below the unit's LimitNOFILE=$nofile; running with $hard"
fi
(
    ulimit -n "$applied"
    exec setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin bash "$work/run-unit.sh"
) >"$work/server.log" 2>&1 &
server_pid=$!
ready=0
for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then ready=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.2
done
[ "$ready" -eq 1 ] || { cat "$work/server.log" >&2; fail "the installed server did not become ready"; }
[ "$(ps -o user= -p "$server_pid")" = nobody ] || fail "the server does not run as nobody"
[ "$(awk '/Max open files/ {print $4}' "/proc/$server_pid/limits")" = "$applied" ] || fail "the open-file limit was not applied"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=
[ "$status" -eq 0 ] || { cat "$work/server.log" >&2; fail "the installed server exited $status after SIGTERM"; }
step "installed server: ready on 127.0.0.1:$port as nobody with $applied files, exit 0 after SIGTERM"

step "purging the packages"
"${sudo_cmd[@]}" dpkg --purge switchboard-server ${console_deb:+switchboard-console} >"$work/dpkg.log" 2>&1 \
    || { cat "$work/dpkg.log" >&2; fail "dpkg --purge"; }
left=()
while read -r f; do
    [ -n "$f" ] && [ ! -d "$f" ] && [ -e "$f" ] && left+=("$f")
done <<<"$installed_files"
for d in /etc/switchboard /var/lib/switchboard /var/lib/private/switchboard; do
    [ -e "$d" ] && left+=("$d")
done
[ ${#left[@]} -eq 0 ] || fail "left behind after purge: ${left[*]}"
dpkg-query -W switchboard-server >/dev/null 2>&1 && fail "switchboard-server still known to dpkg"

# 4. load balancers ---------------------------------------------------------
step "haproxy -c, nginx -t"
haproxy -c -q -f "$pkg/haproxy.cfg" || fail "haproxy -c packaging/haproxy.cfg"
# The compose file's servers are container names, unresolvable here (HAProxy warns).
haproxy -c -q -f "$pkg/container/haproxy.cfg" 2>/dev/null || fail "haproxy -c packaging/container/haproxy.cfg"
sed -e "s|@BIND@|127.0.0.1:$port|" -e "s|@RUN@|$work|" \
    -e "s|^@SERVERS@$|    server app-1 127.0.0.1:8081 cookie app-1 check|" "$pkg/haproxy.cfg.in" >"$work/haproxy.cfg"
haproxy -c -q -f "$work/haproxy.cfg" || fail "haproxy -c packaging/haproxy.cfg.in"
mkdir "$work/nginx"
nginx -q -t -c "$pkg/nginx.conf.example" -p "$work/nginx" || fail "nginx -t packaging/nginx.conf.example"

# 5. monitoring -------------------------------------------------------------
step "promtool check config, check rules, test rules"
promtool check config "$pkg/prometheus/prometheus.yml" >/dev/null || fail "promtool check config"
promtool check rules "$pkg/prometheus/alerts.yml" >/dev/null || fail "promtool check rules"
(cd "$pkg/prometheus" && promtool test rules alerts.test.yml) || fail "promtool test rules"
python3 - "$pkg/grafana/switchboard.json" "$pkg/prometheus/alerts.yml" "$pkg/prometheus/alerts.test.yml" <<'PY' || fail "dashboard or alerts"
import json, re, sys, yaml
dash = json.load(open(sys.argv[1]))
exprs = " ".join(t["expr"] for p in dash["panels"] for t in p.get("targets", []))
# PROTOCOL sections 6 and 8: every metric of the contract.
contract = """sb_connections_active sb_connections_total sb_frames_in_total sb_frames_out_total sb_errors_total
sb_http_requests_total sb_uptime_seconds sb_chat_messages_total sb_todos_created_total sb_todos_completed_total
sb_broadcasts_total sb_tokens_rejected_total sb_rate_limited_total sb_sticky_miss_total sb_backplane_up
sb_backplane_rtt_seconds sb_store_up sb_delivery_latency_seconds sb_send_queue_bytes
sb_slow_consumer_disconnects_total sb_limit_exceeded_total sb_presence_batches_total
sb_backplane_failovers_total sb_process_resident_bytes""".split()
missing = [m for m in contract if not re.search(r"\b" + m + r"(_bucket|_count|_sum)?\b", exprs)]
if missing:
    sys.exit("the dashboard shows no panel for: " + ", ".join(missing))
alerts = [r["alert"] for g in yaml.safe_load(open(sys.argv[2]))["groups"] for r in g["rules"]]
tested = {t["alertname"] for case in yaml.safe_load(open(sys.argv[3]))["tests"] for t in case["alert_rule_test"]
          if t.get("exp_alerts")}
untested = [a for a in alerts if a not in tested]
if untested:
    sys.exit("alerts never shown firing in alerts.test.yml: " + ", ".join(untested))
print(f"  dashboard: {len(dash['panels'])} panels cover the {len(contract)} contract metrics; "
      f"{len(alerts)} alerts, each shown firing")
PY

# 6. containers -------------------------------------------------------------
step "yamllint, compose.yaml, Dockerfile (hadolint is not packaged in Debian 12)"
yamllint -s -c "$pkg/yamllint.yml" "$root/compose.yaml" "$pkg"/prometheus/*.yml || fail "yamllint"
python3 - "$root/compose.yaml" "$root/Dockerfile" "$root" <<'PY' || fail "compose.yaml or Dockerfile"
import os, re, shlex, sys, yaml
compose = yaml.safe_load(open(sys.argv[1]))
services = compose["services"]
need = {"redis", "postgres", "app-1", "app-2", "app-3", "haproxy"}
if not need <= set(services):
    sys.exit(f"compose.yaml lacks services {sorted(need - set(services))}")
for name in ("app-1", "app-2", "app-3"):
    s, env = services[name], services[name]["environment"]
    for key in ("SB_REDIS_URL", "SB_DATABASE_URL", "SB_INSTANCE_ID", "SB_LISTEN", "SB_TRUSTED_PROXIES"):
        if key not in env:
            sys.exit(f"compose.yaml: {name} does not set {key}")
    if s.get("stop_signal") != "SIGTERM" or not s.get("stop_grace_period"):
        sys.exit(f"compose.yaml: {name} needs stop_signal SIGTERM and a stop_grace_period above SB_DRAIN_S")
lines, cont = [], ""
for raw in open(sys.argv[2]):
    line = raw.rstrip("\n")
    if not cont and (not line.strip() or line.lstrip().startswith("#")):
        continue
    if line.endswith("\\"):
        cont += line[:-1] + " "
        continue
    lines.append(cont + line)
    cont = ""
ins = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else "") for l in lines]
froms = [a for i, a in ins if i == "FROM"]
if len(froms) < 2 or not all(re.match(r"debian:12(-slim)?\b", f) for f in froms) or " AS " not in froms[0].upper():
    sys.exit(f"Dockerfile: want a named Debian 12 build stage and a runtime stage, got FROM {froms}")
if not froms[-1].startswith("debian:12-slim"):
    sys.exit("Dockerfile: the runtime stage is not debian:12-slim")
last = max(n for n, (i, _) in enumerate(ins) if i == "FROM")
runtime = ins[last:]
def one(name):
    found = [a for i, a in runtime if i == name]
    if not found:
        sys.exit(f"Dockerfile: the runtime stage has no {name}")
    return found[-1]
user = one("USER")
if user in ("root", "0") or user.startswith("0:"):
    sys.exit("Dockerfile: runs as root")
if "/readyz" not in one("HEALTHCHECK"):
    sys.exit("Dockerfile: HEALTHCHECK does not probe /readyz")
if one("STOPSIGNAL") != "SIGTERM":
    sys.exit("Dockerfile: STOPSIGNAL is not SIGTERM")
one("ENTRYPOINT")
for i, a in ins:
    if i == "RUN":
        script = shlex.split(a)[0]
        path = os.path.join(sys.argv[3], script.replace("/tmp/pkg/", "packaging/container/"))
        if not os.access(path, os.X_OK):
            sys.exit(f"Dockerfile: RUN {script}: no such executable script in the tree")
print(f"  compose.yaml: {len(services)} services; Dockerfile: {len(froms)} stages, runtime as {user}")
PY
if [ -n "${CI:-}" ] || [ "${SB_CONTAINER_BUILD:-0}" = 1 ]; then
    step "the Dockerfile's build stage, building from scratch (build-container/)"
    SB_BUILD_DIR="$root/build-container" "$pkg/container/build-stage.sh" --no-apt "$work/container" >/dev/null
else
    step "the Dockerfile's build stage, packing from $build (SB_CONTAINER_BUILD=1 builds from scratch)"
    "$pkg/container/build-stage.sh" --reuse "$build" "$work/container" >/dev/null
fi
container_deb=$(ls "$work"/container/switchboard-server_*.deb)
dpkg-deb -f "$container_deb" Package | grep -qx switchboard-server || fail "the build stage made no switchboard-server package"
step "OK"
