#!/usr/bin/env bash
# Ensures a working mediasoup-worker binary and prints its path on stdout (progress goes to stderr).
#
# Order: a cached binary; mediasoup's prebuilt release download (machines with internet); else a
# build from the npm tarball's C++ sources against Debian 12's libraries (offline machines). The
# binary is cached outside the repository, keyed by mediasoup version and by the hash of everything
# that shapes the build (patch, subproject shims, RECIPE), so `pnpm install`/`git clean` never cost a
# rebuild and a changed patch never reuses a stale binary.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
exec 3>&1 1>&2 # keep stdout for the path alone

HERE="$TRELLIS_ROOT/scripts/mediasoup"
VERSION=$MEDIASOUP_PKG_VERSION
# Bump RECIPE when a change to the build steps below changes the binary.
RECIPE="release ndebug c++20 unordered_dense-from-debian v2"
KEY=$( (echo "$RECIPE"; cat "$HERE/debian12-system-libs.patch"; find "$HERE/shims" -type f | sort | xargs cat) \
  | sha256sum | cut -c1-12)
CACHE_DIR="$TRELLIS_CACHE/mediasoup-worker"
BUILT="$CACHE_DIR/$VERSION-debian12-$KEY/mediasoup-worker"
PREBUILT="$CACHE_DIR/$VERSION-prebuilt/mediasoup-worker"

# Run bare (not spawned by mediasoup's Node side), a healthy worker exits with code 41.
# MEDIASOUP_VERSION must be absent: with it the worker believes Node spawned it.
smoke() {
  local rc=0
  env -u MEDIASOUP_VERSION "$1" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 41 ]
}

for bin in "$PREBUILT" "$BUILT"; do
  if [ -x "$bin" ] && smoke "$bin"; then
    ok "mediasoup-worker $VERSION cached: $bin"
    echo "$bin" >&3
    exit 0
  fi
done

# Debian runtime libraries of the source build; also wanted by nothing else, so listed here.
# Since 3.2x the worker has its own SCTP stack (no usrsctp) and no JSON library (no nlohmann-json).
BUILD_DEPS=(meson ninja-build pkg-config g++ make patch curl ca-certificates xz-utils
  libuv1-dev libssl-dev libsrtp2-dev libabsl-dev flatbuffers-compiler libflatbuffers-dev)

# ankerl::unordered_dense (header-only, MIT; mediasoup's maps and sets since 3.2x) is not in Debian 12,
# and GitHub, where mediasoup's wrap fetches it, is unreachable offline. Debian's archive is reachable
# and carries a 4.x copy of the very same header inside libtulip-dev (Debian unstable). Its API is
# stable across 4.x (semver), so any 4.4+ serves. Pinned by hash; when unstable moves on, the current
# file is looked up in unstable's package index and checked against the hash that index gives.
DEBIAN_MIRROR=${TRELLIS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
UD_DEB=pool/main/t/tulip/libtulip-dev_6.0.1+dfsg-4_amd64.deb
UD_SHA256=650d382165a5d0784367f64c4e2e50386f54f5fc7afe5bc9fefe96502ae3e7e4
UD_HEADER="$CACHE_DIR/deps/ankerl-unordered_dense.h"

fetch_unordered_dense() {
  [ -s "$UD_HEADER" ] && return 0
  local tmp deb=$UD_DEB sha=$UD_SHA256
  tmp=$(mktemp -d)
  step "fetching ankerl::unordered_dense 4.x from Debian's archive ($DEBIAN_MIRROR)"
  if ! curl -fsS --connect-timeout 10 --max-time 300 -o "$tmp/pkg.deb" "$DEBIAN_MIRROR/$deb"; then
    warn "$deb is gone from the archive; looking up libtulip-dev in unstable's package index"
    curl -fsS --connect-timeout 10 --max-time 300 "$DEBIAN_MIRROR/dists/sid/main/binary-amd64/Packages.xz" \
      | xz -dc >"$tmp/Packages" || { rm -rf "$tmp"; die "cannot read Debian unstable's package index"; }
    deb=$(awk '$1=="Package:"{p=$2} p=="libtulip-dev" && $1=="Filename:"{print $2; exit}' "$tmp/Packages")
    sha=$(awk '$1=="Package:"{p=$2} p=="libtulip-dev" && $1=="SHA256:"{print $2; exit}' "$tmp/Packages")
    [ -n "$deb" ] || { rm -rf "$tmp"; die "libtulip-dev (the source of unordered_dense.h) is no longer in Debian unstable"; }
    curl -fsS --connect-timeout 10 --max-time 300 -o "$tmp/pkg.deb" "$DEBIAN_MIRROR/$deb" \
      || { rm -rf "$tmp"; die "cannot download $DEBIAN_MIRROR/$deb"; }
  fi
  echo "$sha  $tmp/pkg.deb" | sha256sum -c --quiet - || { rm -rf "$tmp"; die "$deb: SHA-256 mismatch"; }
  dpkg-deb -x "$tmp/pkg.deb" "$tmp/x"
  local h="$tmp/x/usr/include/tulip/unordered_dense.h" major minor
  major=$(sed -n 's/^#define ANKERL_UNORDERED_DENSE_VERSION_MAJOR \([0-9]*\).*/\1/p' "$h")
  minor=$(sed -n 's/^#define ANKERL_UNORDERED_DENSE_VERSION_MINOR \([0-9]*\).*/\1/p' "$h")
  { [ "$major" = 4 ] && [ "$minor" -ge 4 ]; } || { rm -rf "$tmp"; die "$deb carries unordered_dense $major.$minor; mediasoup needs 4.4 or newer 4.x"; }
  mkdir -p "$(dirname "$UD_HEADER")"
  cp "$h" "$UD_HEADER.tmp" && mv "$UD_HEADER.tmp" "$UD_HEADER"
  rm -rf "$tmp"
  ok "unordered_dense $major.$minor (from $(basename "$deb"))"
}

try_prebuilt() {
  command -v curl >/dev/null || return 1
  local kernel url tmp
  kernel=$(uname -r | cut -d. -f1)
  url="https://github.com/versatica/mediasoup/releases/download/$VERSION/mediasoup-worker-$VERSION-linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')-kernel$kernel.tgz"
  step "trying mediasoup's prebuilt worker: $url"
  tmp=$(mktemp -d)
  if curl -fsSL --connect-timeout 5 --max-time 120 "$url" | tar xz -C "$tmp" 2>/dev/null \
    && [ -x "$tmp/mediasoup-worker" ] && smoke "$tmp/mediasoup-worker"; then
    mkdir -p "$(dirname "$PREBUILT")"
    mv "$tmp/mediasoup-worker" "$PREBUILT.tmp" && mv "$PREBUILT.tmp" "$PREBUILT"
    rm -rf "$tmp"
    return 0
  fi
  rm -rf "$tmp"
  warn "no prebuilt worker reachable; building from source against Debian libraries"
  return 1
}

build_from_source() {
  apt_ensure "${BUILD_DEPS[@]}"
  fetch_unordered_dense
  local work="$CACHE_DIR/build-$VERSION-$KEY"
  local log="$work.log"
  rm -rf "$work" && mkdir -p "$work"
  : >"$log"
  step "fetching mediasoup@$VERSION sources from the npm registry"
  (cd "$work" && npm pack --silent "mediasoup@$VERSION" >/dev/null && tar xzf "mediasoup-$VERSION.tgz")
  local pkg="$work/package" w="$work/package/worker"

  step "replacing meson subprojects with shims over Debian's libraries"
  local wrap name dir
  for wrap in "$w"/subprojects/*.wrap; do
    name=$(basename "$wrap" .wrap)
    [ -d "$HERE/shims/$name" ] || continue # wingetopt (Windows) stays unused
    # Meson takes an existing subprojects/<directory> as is and never downloads it.
    dir=$(sed -n 's/^directory *= *//p' "$wrap")
    rm -rf "$w/subprojects/$dir" && mkdir -p "$w/subprojects/$dir"
    cp "$HERE/shims/$name"/* "$w/subprojects/$dir/"
    echo 'int trellis_shim_empty(void) { return 0; }' >"$w/subprojects/$dir/empty.c"
  done
  local ud
  ud=$(sed -n 's/^directory *= *//p' "$w/subprojects/unordered-dense.wrap")
  mkdir -p "$w/subprojects/$ud/include/ankerl"
  cp "$UD_HEADER" "$w/subprojects/$ud/include/ankerl/unordered_dense.h"
  step "patching mediasoup's worker for Debian (libsrtp2 API, meson 1.0, KTLS-safe DTLS BIO callback)"
  patch -s -p1 -d "$pkg" <"$HERE/debian12-system-libs.patch"

  local out="$w/out/Release/build"
  step "meson setup (log: $log)"
  meson setup --buildtype release -Db_ndebug=true "$out" "$w" >>"$log" 2>&1 \
    || { tail -40 "$log"; die "meson setup failed"; }
  # The FlatBuffers headers are generated by a target libwebrtc's objects don't depend on.
  meson compile -C "$out" flatbuffers-generator >>"$log" 2>&1 || { tail -40 "$log"; die "flatbuffers generation failed"; }
  step "compiling mediasoup-worker on $(nproc) cores (about 5 minutes on 2 cores)"
  local started=$SECONDS
  set +e
  # A bash loop, not awk: mawk reads its input in blocks, which made progress lag minutes behind.
  ninja -C "$out" -j"$(nproc)" mediasoup-worker 2>&1 | tee -a "$log" | {
    next_pct=0
    while IFS= read -r line; do
      [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]] || continue
      pct=$((100 * BASH_REMATCH[1] / BASH_REMATCH[2]))
      if [ "$pct" -ge "$next_pct" ]; then
        printf '    %3d%%  %s/%s objects, %s s\n' "$pct" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" $((SECONDS - started))
        next_pct=$((pct + 10))
      fi
    done
  }
  local rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || { grep -m20 -E 'error|Error' "$log" || tail -40 "$log"; die "mediasoup-worker build failed (log: $log)"; }
  smoke "$out/mediasoup-worker" || die "built mediasoup-worker failed its smoke test"
  mkdir -p "$(dirname "$BUILT")"
  install -m 0755 "$out/mediasoup-worker" "$BUILT.tmp" && mv "$BUILT.tmp" "$BUILT"
  rm -rf "$work"
  ok "built in $((SECONDS - started)) s"
}

if [ "${TRELLIS_MEDIASOUP_NO_PREBUILT:-0}" = 1 ] || ! try_prebuilt; then
  build_from_source
  echo "$BUILT" >&3
else
  ok "prebuilt worker: $PREBUILT"
  echo "$PREBUILT" >&3
fi
