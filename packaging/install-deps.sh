#!/usr/bin/env bash
# Installs the Debian 12 packages Switchboard needs to build, test and run,
# skipping the ones already present. Safe to run repeatedly.
set -euo pipefail

# What each package is for: README.md, "Dependencies".
packages=(
    # the build
    cmake ninja-build g++ pkg-config
    # Qt; Qt6Charts' CMake package requires Qt6OpenGL, whose CMake files are in
    # libqt6opengl6-dev, only a Recommends of qt6-base-dev
    qt6-base-dev qt6-websockets-dev qt6-charts-dev libqt6opengl6-dev qtkeychain-qt6-dev
    # QIODevicePrivate: the server's per-socket buffer sizes (server/http/socketbuffers.cpp)
    qt6-base-private-dev
    libsqlite3-dev libhiredis-dev libpq-dev
    # the fuzzers (libFuzzer and its sanitizer runtimes, llvm-symbolizer)
    clang llvm-14 libclang-rt-14-dev
    # real services for the tests and the local cluster; promtool (prometheus)
    # checks /metrics
    redis-server postgresql haproxy prometheus
    # Redis Sentinel for tests/tst_sentinel and cluster.sh --redis sentinel
    # (redis-sentinel), redis-cli to ask Sentinels and replicas and to create
    # the Redis Cluster of tst_rediscluster and cluster.sh --redis cluster (redis-tools)
    redis-sentinel redis-tools
    # tests/services.sh (free ports: python3; PostgreSQL as its own user: runuser)
    python3 util-linux
    # console screenshots; the run scripts
    xvfb xauth curl procps
    # packaging/check-packaging.sh: CPack's package dependencies (dpkg-shlibdeps
    # in dpkg-dev, file), lintian, systemd-analyze (systemd), the desktop file
    # and AppStream checks, nginx -t, yamllint and python3-yaml (compose.yaml,
    # the Prometheus files)
    dpkg-dev file lintian systemd desktop-file-utils appstream nginx yamllint python3-yaml
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# --no-install-recommends keeps prometheus from pulling in its whole web stack.
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged services are started by our own scripts on private ports, never as system services.
for svc in redis-server redis-sentinel postgresql haproxy prometheus nginx; do
    "${sudo_cmd[@]}" service "$svc" stop >/dev/null 2>&1 || true
done
