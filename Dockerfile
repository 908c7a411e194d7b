# syntax=docker/dockerfile:1
# switchboard-server in a container: a build stage that compiles the server
# and packs its .deb (packaging/container/build-stage.sh), and a slim runtime
# stage that installs that .deb (packaging/container/runtime-stage.sh) and
# runs it as an unprivileged user. Settings are SB_* environment variables
# (README, "Settings"); compose.yaml runs a whole cluster.
#
#   docker build -t switchboard-server .

FROM debian:12 AS build
WORKDIR /src
COPY . /src
RUN packaging/container/build-stage.sh /out

FROM debian:12-slim AS runtime
COPY --from=build /out/ /tmp/pkg/
COPY packaging/container/runtime-stage.sh /tmp/pkg/
RUN /tmp/pkg/runtime-stage.sh /tmp/pkg/switchboard-server_*.deb && rm -rf /tmp/pkg
USER switchboard
WORKDIR /var/lib/switchboard
# Listen on every interface inside the container; the embedded store (used
# without SB_DATABASE_URL) lives in the volume.
ENV SB_LISTEN=0.0.0.0:8080 \
    SB_DATA=/var/lib/switchboard \
    SB_LOG=json
VOLUME ["/var/lib/switchboard"]
EXPOSE 8080
# SIGTERM drains (clients reconnect elsewhere over SB_DRAIN_S, 30 s by
# default): give `docker stop` a longer grace period, e.g. --time 45.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=2 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["/usr/bin/switchboard-server"]
