# syntax=docker/dockerfile:1.7
# Web app (Next.js: lobby and call page on the client SDK). Build from the repository root:
#   docker build -f infra/docker/web.Dockerfile -t trellis/web .
ARG NODE_IMAGE=node:24-bookworm-slim
ARG PNPM_VERSION=10.34.9

FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION
RUN npm install -g "pnpm@${PNPM_VERSION}"
WORKDIR /app
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile \
 && pnpm --filter @trellis/web build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    PORT=3100
WORKDIR /app
COPY --from=build /app/package.json /app/tsconfig.base.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages packages
COPY --from=build /app/services/web services/web
WORKDIR /app/services/web
USER node
EXPOSE 3100
CMD ["node", "node_modules/next/dist/bin/next", "start", "--port", "3100"]
