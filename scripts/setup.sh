#!/usr/bin/env bash
# Brings a fresh Debian 12 machine (any Node.js with npm) to where Trellis runs and tests: Node.js 24,
# Debian packages, pnpm, workspace dependencies, the mediasoup worker. Idempotent: a second run only
# checks. Sourced by ./trellis, so the PATH and MEDIASOUP_WORKER_BIN it sets reach every command.
# Usage: scripts/setup.sh [run|test]   (test also installs what only the tests need)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TRELLIS_ROOT"
purpose=${1:-run}

step "Node.js $TRELLIS_NODE_MIN_MAJOR"
use_node24
ok "node $(node --version) ($(command -v node))"

step "Debian packages"
# Data stores of the local cluster and of the tests. PostgreSQL's server binaries are used directly
# (throwaway clusters in temp dirs), never the packaged system service.
packages=(redis-server postgresql curl ca-certificates)
# ffmpeg makes the load tester's pre-encoded media (`trellis load`), once.
packages+=(ffmpeg)
if [ "$purpose" = test ]; then
  # Browser flows run in headless Debian Chromium; the relay-only ICE test runs a local coturn.
  packages+=(chromium coturn)
fi
apt_ensure "${packages[@]}"

step "pnpm $PNPM_VERSION"
use_pnpm
ok "pnpm $(pnpm --version)"

step "workspace dependencies"
# mediasoup's own postinstall (GitHub download, else pip) is disabled in pnpm-workspace.yaml.
pnpm install --frozen-lockfile --prefer-offline --reporter=append-only 2>&1 \
  | sed -E '/^(Progress|Packages):/d; s/^/    /'
ok "dependencies installed"

step "Prisma client"
# Generated from packages/db/prisma/schema.prisma into src/generated (not committed), again only
# when the schema or the generators changed. The schema engine cannot be downloaded here and
# generate never runs it, but Prisma insists the variable names an existing file.
prisma_stamp=packages/db/src/generated/.schema-hash
prisma_hash=$(cat packages/db/prisma/schema.prisma packages/db/prisma/dmmf-generator.mjs packages/db/package.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$prisma_stamp" 2>/dev/null || true)" != "$prisma_hash" ]; then
  (cd packages/db && PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$PWD/package.json}" \
    ./node_modules/.bin/prisma generate 2>&1 | sed '/^$/d; s/^/    /')
  echo "$prisma_hash" >"$prisma_stamp"
fi
ok "Prisma client generated"

step "mediasoup worker"
MEDIASOUP_WORKER_BIN=$("$TRELLIS_ROOT/scripts/mediasoup-worker.sh")
export MEDIASOUP_WORKER_BIN
