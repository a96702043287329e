# Puts Node.js 24 LTS first on PATH for every Trellis command. Sourced (by lib.sh), never run.
# shellcheck shell=bash
#
# A machine whose own `node` is already 24 or newer keeps it. Otherwise the pinned release comes from
# the npm registry's `node-linux-<arch>` package (the one source of Node binaries an offline machine
# can reach), unpacked once into $TRELLIS_CACHE/node/, outside the repository so `git clean` and
# `pnpm install` never cost a download. A second run only stats one file.
#
# npm is not in that package: the machine's npm (any 10+/11) runs on whichever node comes first on
# PATH, which is then this one.

TRELLIS_NODE_VERSION=24.22.3
TRELLIS_NODE_MIN_MAJOR=24

# Prints the major version of the `node` on PATH, or 0.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

use_node24() {
  if [ "$(node_major)" -ge "$TRELLIS_NODE_MIN_MAJOR" ]; then
    return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) die "no Node.js $TRELLIS_NODE_VERSION package for $(uname -m) on the npm registry" ;;
  esac
  local home="$TRELLIS_CACHE/node/v$TRELLIS_NODE_VERSION-linux-$arch"
  if [ ! -x "$home/bin/node" ]; then
    install_node_from_npm "$arch" "$home" >&2
  fi
  export PATH="$home/bin:$PATH"
  # Native addons (node-gyp) must compile against this Node's headers, not a system nodedir.
  export npm_config_nodedir="$home"
  [ "$(node_major)" -ge "$TRELLIS_NODE_MIN_MAJOR" ] || die "Node.js in $home does not run"
}

install_node_from_npm() {
  local arch=$1 home=$2 tmp started=$SECONDS
  command -v npm >/dev/null || die "npm is needed to fetch Node.js $TRELLIS_NODE_VERSION (found node $(node --version 2>/dev/null || echo none))"
  step "Node.js $TRELLIS_NODE_VERSION (this machine has $(node --version 2>/dev/null || echo none)): fetching node-linux-$arch from the npm registry"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/trellis-node.XXXXXX")
  # npm pack prints nothing while it downloads ~50 MB; a ticker shows it is alive.
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$TRELLIS_NODE_VERSION" >/dev/null) &
  local pack=$!
  while kill -0 "$pack" 2>/dev/null; do
    sleep 2
    kill -0 "$pack" 2>/dev/null && printf '    downloading… %s s, %s so far\n' $((SECONDS - started)) \
      "$(du -sh "$tmp" 2>/dev/null | cut -f1)"
  done
  wait "$pack" || { rm -rf "$tmp"; die "npm pack node-linux-$arch@$TRELLIS_NODE_VERSION failed"; }
  printf '    unpacking\n'
  tar xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$tmp"
  "$tmp/package/bin/node" --version >/dev/null || { rm -rf "$tmp"; die "the downloaded node does not run here"; }
  mkdir -p "$(dirname "$home")"
  rm -rf "$home.partial" && mv "$tmp/package" "$home.partial" && rm -rf "$home" && mv "$home.partial" "$home"
  rm -rf "$tmp"
  ok "Node.js $("$home/bin/node" --version) in $home ($((SECONDS - started)) s)"
}
