# syntax=docker/dockerfile:1
# One build for the whole workspace, one small runtime image per binary:
#   docker build --target gateway          -t vibesflow/gateway .
#   docker build --target ingest           -t vibesflow/ingest .
#   docker build --target session-registry -t vibesflow/session-registry .
#   docker build --target srs-supervisor   -t vibesflow/srs-supervisor .
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
ARG NGINX_IMAGE=nginx:1.27.5-bookworm

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
      -p gateway -p ingest -p session-registry -p srs-supervisor \
 && rm -rf target/release/.fingerprint/gateway-* target/release/.fingerprint/ingest-* \
           target/release/.fingerprint/session-registry-* target/release/.fingerprint/srs-supervisor-* \
           target/release/.fingerprint/vibes-* \
 && rm -rf services/*/src shared/*/src
# 2) the real sources (only what the four binaries need; .dockerignore trims the rest)
COPY Cargo.toml Cargo.lock ./
COPY services ./services
COPY shared ./shared
RUN find services shared -name '*.rs' -exec touch {} + \
 && cargo build --release --locked \
      -p gateway -p ingest -p session-registry -p srs-supervisor \
 && mkdir /out \
 && cp target/release/gateway target/release/ingest target/release/session-registry \
       target/release/srs-supervisor /out/

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
# Services bind 127.0.0.1 by default; in a container they must listen on all interfaces.
ENV VIBES_SERVER__HOST=0.0.0.0
USER 10001:10001

########## gateway ##########
FROM runtime AS gateway
COPY --from=builder /out/gateway /usr/local/bin/gateway
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/gateway"]

########## session-registry ##########
FROM runtime AS session-registry
COPY --from=builder /out/session-registry /usr/local/bin/session-registry
EXPOSE 3001
ENTRYPOINT ["/usr/local/bin/session-registry"]

########## srs-supervisor ##########
# Runs in docker mode (compose: manages the SRS container through the Docker
# socket) or observe mode (k8s); it carries no engine binary of its own.
FROM runtime AS srs-supervisor
COPY --from=builder /out/srs-supervisor /usr/local/bin/srs-supervisor
EXPOSE 3003
ENTRYPOINT ["/usr/local/bin/srs-supervisor"]

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
ENV VIBES_SERVER__HOST=0.0.0.0
COPY --from=builder /out/ingest /usr/local/bin/ingest
USER 10001:10001
EXPOSE 3002
ENTRYPOINT ["/usr/local/bin/ingest"]

########## web: the pages' players, vendored from the npm registry ##########
# The same script as on a developer machine, so the players and their pinned
# versions are listed once (scripts/bundle-web, web/package-lock.json).
FROM ${NODE_IMAGE} AS web
WORKDIR /src
COPY scripts/bundle-web scripts/lib.sh scripts/
COPY web web
RUN PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 scripts/bundle-web

########## edge: nginx with the web pages ##########
# The config template and its render script come from ConfigMaps (k8s) or
# mounts (compose), so a config change needs no new image.
FROM ${NGINX_IMAGE} AS edge
COPY --from=web /src/web/index.html /src/web/listen.html /src/web/create.html /opt/vibesflow/web/
COPY --from=web /src/web/assets /opt/vibesflow/web/assets
COPY --from=web /src/web/vendor /opt/vibesflow/web/vendor
