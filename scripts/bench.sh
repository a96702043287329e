#!/usr/bin/env bash
# Runs one benchmark of bench/ on Node.js 24, whichever node the caller's shell has
# (`pnpm bench:sfu` and `./trellis bench sfu` both end here). JSON on stdout, progress on stderr.
# Usage: scripts/bench.sh NAME [args]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TRELLIS_ROOT"
name=${1:?usage: scripts/bench.sh NAME [args]}
shift
case "$name" in
  bus | cascade | signaling | persist | transition | load | chaos) dir=$name ;;
  sfu) dir=sfu-forwarding ;;
  *) die "unknown benchmark: $name (bus, sfu, cascade, signaling, persist, transition, load, chaos)" ;;
esac
use_node24 >&2
exec node --import tsx "bench/$dir/run.ts" "$@"
