#!/usr/bin/env bash
# The main job on a laptop: install what is missing, build, and run one
# switchboard-server on 127.0.0.1:8080 with the embedded store. Extra
# arguments go to the server (see --help).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/packaging/install-deps.sh"
"$root/packaging/build.sh"
exec "${SB_BUILD_DIR:-$root/build}/server/switchboard-server" "$@"
