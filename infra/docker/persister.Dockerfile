# syntax=docker/dockerfile:1.7
# Persister (BullMQ workers writing call history to PostgreSQL). Build from the repository root:
#   docker build -f infra/docker/persister.Dockerfile -t trellis/persister .
ARG NODE_IMAGE=node:24-bookworm-slim
ARG PNPM_VERSION=10.34.9

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

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    METRICS_PORT=9466
WORKDIR /app
COPY --from=build /app/package.json /app/tsconfig.base.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages packages
COPY --from=build /app/services/persister services/persister
USER node
EXPOSE 9466
CMD ["node", "--import", "tsx", "services/persister/src/main.ts"]
