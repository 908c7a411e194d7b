#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is missing,
# builds, starts a private Redis and PostgreSQL on free loopback ports, runs
# every CTest test against them, and stops everything it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/packaging/install-deps.sh"
"$root/packaging/build.sh"
build=${SB_BUILD_DIR:-$root/build}

source "$root/tests/services.sh"
trap sb_services_stop EXIT
sb_services_start

# In CI a test that needs a service must run, never skip.
export CI=${CI:-}
cd "$build"
ctest --output-on-failure --timeout 600 -j 2 "$@"
if [ -n "$CI" ] || [ "${SB_FUZZ:-}" = 1 ]; then "$root/fuzz/run.sh"; fi  # libFuzzer targets, ~5 min (docs/reliability.md)
