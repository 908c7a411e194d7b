#!/usr/bin/env bash
# Configures and builds Switchboard into build/ (or $SB_BUILD_DIR). Arguments
# go to the CMake configure step, e.g. -DSB_BUILD_CONSOLE=OFF for a
# server-only build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SB_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${SB_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
