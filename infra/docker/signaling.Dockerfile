# syntax=docker/dockerfile:1.7
# Signaling node (REST + Socket.IO, the P2P↔SFU mode machine). Build from the repository root:
#   docker build -f infra/docker/signaling.Dockerfile -t trellis/signaling .
ARG NODE_IMAGE=node:24-bookworm-slim
ARG PNPM_VERSION=10.34.9

# ---- build: the workspace's dependencies, fetched from the lockfile alone so that this layer is
# rebuilt when dependencies change, not when code does.
FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION
RUN npm install -g "pnpm@${PNPM_VERSION}"
WORKDIR /app
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
RUN pnpm fetch
COPY . .
# The Prisma client is generated, not committed (packages/db/src/generated).
RUN pnpm install --offline --frozen-lockfile \
 && pnpm --filter @trellis/db generate

# ---- runtime: the service's sources run by tsx (the workspace ships TypeScript, no build step).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=3000 \
    METRICS_PORT=9464
WORKDIR /app
COPY --from=build /app/package.json /app/tsconfig.base.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages packages
COPY --from=build /app/services/signaling services/signaling
USER node
EXPOSE 3000 9464
# SIGTERM closes sockets (clients resume on another node) and deregisters; give it time to.
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "services/signaling/src/main.ts"]
