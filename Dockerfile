# syntax=docker/dockerfile:1
# One build for the whole workspace, one small runtime image per binary:
#   docker build --target gateway          -t vibesflow/gateway .
#   docker build --target ingest           -t vibesflow/ingest .
#   docker build --target session-registry -t vibesflow/session-registry .
#   docker build --target srs-supervisor   -t vibesflow/srs-supervisor .
#   docker build --target hls-packager     -t vibesflow/hls-packager .
#   docker build --target edge             -t vibesflow/edge .
#
# Dependency caching without extra tools (the cargo-chef idea done by hand):
# the "skeleton" stage keeps only Cargo.toml/Cargo.lock and empty stub sources,
# so the expensive dependency layer is rebuilt only when a manifest or the
# lockfile changes, not on every source edit.
#
# Base images are pinned to exact versions; pin digests (@sha256:...) too in
# the registry you publish from, and let a bot (Renovate/Dependabot) bump them.
# The builder and the runtime share Debian 12 (bookworm), so glibc matches.

ARG RUST_IMAGE=rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=debian:12.11-slim
ARG NODE_IMAGE=node:20.19.2-bookworm-slim

########## skeleton: manifests + stub sources only ##########
FROM ${RUST_IMAGE} AS skeleton
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
COPY . .
# Keep the manifests and the lockfile; replace every crate's sources by stubs.
RUN mkdir /skeleton \
 && cp Cargo.toml Cargo.lock /skeleton/ \
 && find . -name Cargo.toml -not -path './target/*' -not -path './Cargo.toml' -printf '%h\n' \
    | while read -r dir; do \
        mkdir -p "/skeleton/$dir/src"; \
        cp "$dir/Cargo.toml" "/skeleton/$dir/Cargo.toml"; \
        echo '' > "/skeleton/$dir/src/lib.rs"; \
        echo 'fn main() {}' > "/skeleton/$dir/src/main.rs"; \
      done

########## builder ##########
FROM ${RUST_IMAGE} AS builder
# reqwest uses native-tls (OpenSSL) in this workspace.
# Debian package versions are not pinned on purpose: the pinned base image
# fixes the release, and pinning exact versions breaks the build as soon as
# Debian ships a security update (the old version leaves the archive).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
ENV CARGO_TERM_COLOR=never
# 1) dependencies only (cached until a manifest or Cargo.lock changes)
COPY --from=skeleton /skeleton/ ./
RUN cargo build --release --locked \
      -p gateway -p ingest -p session-registry -p srs-supervisor -p hls-packager \
 && rm -rf target/release/.fingerprint/gateway-* target/release/.fingerprint/ingest-* \
           target/release/.fingerprint/session-registry-* target/release/.fingerprint/srs-supervisor-* \
           target/release/.fingerprint/hls-packager-* \
           target/release/.fingerprint/vibes-* \
 && rm -rf services/*/src shared/*/src
# 2) the real sources (only what the five binaries need; .dockerignore trims the rest)
COPY Cargo.toml Cargo.lock ./
COPY services ./services
COPY shared ./shared
RUN find services shared -name '*.rs' -exec touch {} + \
 && cargo build --release --locked \
      -p gateway -p ingest -p session-registry -p srs-supervisor -p hls-packager \
 && mkdir /out \
 && cp target/release/gateway target/release/ingest target/release/session-registry \
       target/release/srs-supervisor target/release/hls-packager /out/

########## common runtime base ##########
FROM ${RUNTIME_IMAGE} AS runtime
# ca-certificates + libssl3 for reqwest (native-tls). No curl: health checks
# use bash's /dev/tcp (see compose/compose.yaml), which debian-slim has.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 vibes \
 && useradd --system --uid 10001 --gid vibes --home-dir /app --shell /usr/sbin/nologin vibes \
 && mkdir -p /app \
 && chown vibes:vibes /app
WORKDIR /app
# Services bind 127.0.0.1 by default; in a container they must listen on all
# interfaces: the API, and the metrics port (GET /metrics alone).
ENV VIBES_SERVER__HOST=0.0.0.0 \
    VIBES_METRICS__HOST=0.0.0.0
USER 10001:10001

########## gateway ##########
FROM runtime AS gateway
COPY --from=builder /out/gateway /usr/local/bin/gateway
# The API and the metrics port.
EXPOSE 3000 9100
ENTRYPOINT ["/usr/local/bin/gateway"]

########## session-registry ##########
FROM runtime AS session-registry
COPY --from=builder /out/session-registry /usr/local/bin/session-registry
# The API and the metrics port.
EXPOSE 3001 9101
ENTRYPOINT ["/usr/local/bin/session-registry"]

########## srs-supervisor ##########
# Runs in docker mode (compose: manages the SRS container through the Docker
# socket) or observe mode (k8s); it carries no engine binary of its own.
FROM runtime AS srs-supervisor
COPY --from=builder /out/srs-supervisor /usr/local/bin/srs-supervisor
# The API and the metrics port.
EXPOSE 3003 9103
ENTRYPOINT ["/usr/local/bin/srs-supervisor"]

########## hls-packager ##########
# LL-HLS: reads each stream's HTTP-FLV from SRS, serves fMP4 parts and
# playlists to the edge.
FROM runtime AS hls-packager
COPY --from=builder /out/hls-packager /usr/local/bin/hls-packager
# The API and the metrics port.
EXPOSE 3004 9104
ENTRYPOINT ["/usr/local/bin/hls-packager"]

########## ingest (carries ffmpeg) ##########
FROM ${RUNTIME_IMAGE} AS ingest
# ffmpeg from Debian encodes PCM to AAC and publishes RTMP.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 vibes \
 && useradd --system --uid 10001 --gid vibes --home-dir /app --shell /usr/sbin/nologin vibes \
 && mkdir -p /app \
 && chown vibes:vibes /app
WORKDIR /app
ENV VIBES_SERVER__HOST=0.0.0.0 \
    VIBES_METRICS__HOST=0.0.0.0
COPY --from=builder /out/ingest /usr/local/bin/ingest
USER 10001:10001
# The API and the metrics port.
EXPOSE 3002 9102
ENTRYPOINT ["/usr/local/bin/ingest"]

########## web: the pages' players, vendored from the npm registry ##########
# The same script as on a developer machine, so the players and their pinned
# versions are listed once (scripts/bundle-web, web/package-lock.json).
FROM ${NODE_IMAGE} AS web
WORKDIR /src
COPY scripts/bundle-web scripts/lib.sh scripts/
COPY web web
RUN PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 scripts/bundle-web

########## edge: nginx with its Lua module, the FLV relay and the web pages ##########
# Debian's nginx on the Debian runtime image, not nginx.org's image: the Lua
# module (libnginx-mod-http-lua, which pulls the NDK module and
# lua-resty-core) is built against Debian's nginx and would not load into
# another build. The template loads it from /usr/lib/nginx/modules (the render
# script's EDGE_NGINX_MODULES_DIR default). gettext-base and openssl: envsubst
# and the OCSP "auto" detection of scripts/render-edge-config, which compose
# and k8s (its init container runs this image) run before nginx starts.
# The config template, its render script and the Lua code the template loads
# are in the image, under /opt/vibesflow laid out as in the repository (the
# script finds the template next to itself, ../nginx/edge.conf.template):
# the template, the script and the Lua modules change together, so they ship
# together in the image built from one commit. It also keeps k8s/base free
# of files from outside its folder, which kustomize refuses by default (and
# so `kubectl apply -k`, Argo CD and Flux).
# Users: the master runs as root (it binds 443/80 and reads the TLS key). The
# template has no `user` directive and Debian builds nginx without --user, so
# the workers run as nobody:nogroup (65534), not as nginx (101) as in the
# official image, nor as www-data (33) as with Debian's own nginx.conf. They
# only read (the pages and the Lua code are world-readable) and write the
# temp folders the master creates for them under EDGE_RUNTIME_DIR.
# Logs: access.log and error.log in /var/log/nginx (EDGE_RUNTIME_DIR in
# compose and k8s) go to stdout/stderr, as in the official image.
FROM ${RUNTIME_IMAGE} AS edge
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      nginx libnginx-mod-http-lua gettext-base openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx/edge.conf.template /opt/vibesflow/nginx/edge.conf.template
COPY nginx/lua /opt/vibesflow/nginx/lua
# Executable whatever the checkout's file modes (compose runs it directly).
COPY --chmod=0755 scripts/render-edge-config /opt/vibesflow/scripts/render-edge-config
COPY --from=web /src/web/index.html /src/web/listen.html /src/web/create.html /opt/vibesflow/web/
COPY --from=web /src/web/assets /opt/vibesflow/web/assets
COPY --from=web /src/web/vendor /opt/vibesflow/web/vendor
EXPOSE 443 80 8443 8088
# nginx's graceful stop: workers finish their requests first (FLV responses
# never finish on their own: the stop timeout / grace period ends them).
STOPSIGNAL SIGQUIT
# compose and k8s replace this: render the template, then nginx -c it.
CMD ["nginx", "-g", "daemon off;"]
