# syntax=docker/dockerfile:1.7
# SFU node (mediasoup workers). Build from the repository root:
#   docker build -f infra/docker/sfu.Dockerfile -t trellis/sfu .
ARG NODE_IMAGE=node:24-bookworm-slim
ARG PNPM_VERSION=10.34.9

# ---- worker: the mediasoup worker exactly as the README's set-up gets it (scripts/mediasoup-worker.sh):
# mediasoup's prebuilt binary when GitHub answers, else a build from the npm tarball's sources against
# Debian 12's libraries (the script installs the build tools; about 5 minutes on 2 cores).
FROM ${NODE_IMAGE} AS worker
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/ scripts/
RUN TRELLIS_CACHE=/cache scripts/mediasoup-worker.sh >/tmp/worker-path \
 && install -D -m 0755 "$(cat /tmp/worker-path)" /opt/mediasoup/mediasoup-worker

# ---- build: the workspace's dependencies. mediasoup's own postinstall never runs (it is not in
# pnpm-workspace.yaml's onlyBuiltDependencies): the worker comes from the stage above.
FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION
RUN npm install -g "pnpm@${PNPM_VERSION}"
WORKDIR /app
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile

# ---- runtime: Debian's shared libraries the source-built worker links against (OFFLINE.md).
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1 libssl3 libsrtp2-1 libabsl20220623 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    MEDIASOUP_WORKER_BIN=/opt/mediasoup/mediasoup-worker \
    METRICS_PORT=9465
WORKDIR /app
COPY --from=worker /opt/mediasoup/mediasoup-worker /opt/mediasoup/mediasoup-worker
COPY --from=build /app/package.json /app/tsconfig.base.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages packages
COPY --from=build /app/services/sfu services/sfu
USER node
# RTC: one UDP+TCP port per worker from SFU_RTC_PORT; pipes: UDP SFU_PIPE_PORT_MIN-MAX.
EXPOSE 20000/udp 20000/tcp 9465
# SIGTERM drains: calls get SFU_DRAIN_TIMEOUT_MS to move to other nodes before the workers close.
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "services/sfu/src/main.ts"]
