# Shared helpers for Trellis's set-up scripts. Sourced, never run.
# shellcheck shell=bash

TRELLIS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TRELLIS_CACHE=${TRELLIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis}
MEDIASOUP_PKG_VERSION=3.27.1
PNPM_VERSION=10.34.9

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
ok() { printf '    \033[32m✓\033[0m %s\n' "$*"; }
warn() { printf '    \033[33m!\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages that are missing, and only those: a second run costs one dpkg query.
apt_ensure() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    ok "apt packages present ($#)"
    return
  fi
  step "apt-get install ${missing[*]}"
  # The package lists of a fresh machine are empty; refresh once per hour at most.
  local stamp=/var/lib/apt/periodic/trellis-update-stamp
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +60 2>/dev/null)" ]; then
    as_root apt-get update -q | sed 's/^/    /'
    as_root mkdir -p "$(dirname "$stamp")" && as_root touch "$stamp"
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    | grep -E '^(Setting up|Unpacking)' | sed 's/^/    /'
  ok "installed ${#missing[@]} apt packages"
}

. "$TRELLIS_ROOT/scripts/node.sh"

# pnpm lives in the cache too, beside the Node it runs on: nothing global is installed or replaced.
use_pnpm() {
  local home="$TRELLIS_CACHE/pnpm/$PNPM_VERSION"
  if [ ! -x "$home/node_modules/.bin/pnpm" ]; then
    step "pnpm $PNPM_VERSION (into $home)"
    npm install --prefix "$home" --no-fund --no-audit --no-save --loglevel=error "pnpm@$PNPM_VERSION" 2>&1 | sed 's/^/    /'
  fi
  export PATH="$home/node_modules/.bin:$PATH"
}
