#!/usr/bin/env bash
# The Dockerfile's runtime stage: installs the switchboard-server .deb from
# the build stage (apt resolves exactly the libraries its Depends name) and
# curl for the health check, and creates the unprivileged user the container
# runs as, owning the data directory.
#
#   packaging/container/runtime-stage.sh switchboard-server_*.deb
set -euo pipefail
deb=${1:?usage: runtime-stage.sh PACKAGE.deb}
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$deb" curl ca-certificates >/dev/null
rm -rf /var/lib/apt/lists/*
useradd --uid 10001 --user-group --home-dir /var/lib/switchboard --no-create-home --shell /usr/sbin/nologin switchboard
install -d -o switchboard -g switchboard -m 0750 /var/lib/switchboard
