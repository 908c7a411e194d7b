#!/usr/bin/env bash
# The Dockerfile's build stage (also run by packaging/check-packaging.sh):
# installs the server's build dependencies (unless --no-apt), builds
# switchboard-server alone (no console, tests or benchmarks) and packs the
# switchboard-server .deb into OUT, which the runtime stage installs.
#
#   packaging/container/build-stage.sh [--no-apt] [--reuse BUILD_DIR] OUT
# --reuse packs from an existing build directory instead of building (the
# packaging check uses the suite's build/ so as not to build twice).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
apt=1
reuse=
while [ $# -gt 1 ]; do
    case "$1" in
        --no-apt) apt=0; shift ;;
        --reuse) reuse=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
out=${1:?usage: build-stage.sh [--no-apt] [--reuse BUILD_DIR] OUT}

if [ "$apt" -eq 1 ] && [ -z "$reuse" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The build (README "Dependencies") minus the console, the tests and the
    # fuzzers; dpkg-dev and file let CPack compute the package dependencies.
    apt-get install -y -qq --no-install-recommends \
        cmake ninja-build g++ pkg-config qt6-base-dev qt6-base-private-dev qt6-websockets-dev \
        libsqlite3-dev libhiredis-dev libpq-dev dpkg-dev file >/dev/null
fi
build=${reuse:-${SB_BUILD_DIR:-$root/build-container}}
if [ -z "$reuse" ]; then
    SB_BUILD_DIR=$build "$root/packaging/build.sh" \
        -DSB_BUILD_CONSOLE=OFF -DBUILD_TESTING=OFF -DSB_BUILD_BENCH=OFF
fi
mkdir -p "$out"
(cd "$build" && cpack -G DEB -D CPACK_COMPONENTS_ALL=server -B "$out/cpack" >/dev/null)
mv "$out"/cpack/switchboard-server_*.deb "$out/"
rm -rf "$out/cpack"
ls "$out"/switchboard-server_*.deb
