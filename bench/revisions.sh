#!/usr/bin/env bash
# bench/revisions.sh: two revisions of rekt side by side, in one hyperfine run per machine
# state, to see what a change costs. See bench/README.md.
#
#   bash bench/revisions.sh OLD [NEW] [STATE...]    NEW: default HEAD (the working tree's
#                                                    commit); STATE: a c (default) or a b c
#
# Needs root (it fills the machine with processes) and hyperfine. Builds each revision in a
# temporary git worktree (release profile) and writes bench/results/revisions.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OLD=${1:?usage: bench/revisions.sh OLD [NEW] [STATE...]}
NEW=${2:-HEAD}
shift $(($# < 2 ? $# : 2))
STATES=("$@")
[ ${#STATES[@]} -gt 0 ] || STATES=(a c)
RUN=$ROOT/bench/run
OUT=$ROOT/bench/results/revisions.md

NAME=revisions.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh
[ "$(id -u)" = 0 ] || die "run as root"
command -v hyperfine >/dev/null || die "needs hyperfine (apt-get install hyperfine)"
mkdir -p "$RUN" "$ROOT/bench/results"
trap 'stop_state; for t in "$RUN"/rev-*; do git worktree remove --force "$t" 2>/dev/null || true; done' EXIT

# build REV: builds REV in a worktree and prints the binary's path.
build() {
  local short tree
  short=$(git rev-parse --short "$1")
  tree=$RUN/rev-$short
  [ -d "$tree" ] || git worktree add --detach -q "$tree" "$short"
  (cd "$tree" && CARGO_TARGET_DIR=$RUN/target-$short cargo build --release --quiet) >&2
  echo "$RUN/target-$short/release/rekt"
}

old_short=$(git rev-parse --short "$OLD")
new_short=$(git rev-parse --short "$NEW")
log "building $old_short and $new_short"
OLD_BIN=$(build "$OLD")
NEW_BIN=$(build "$NEW")

declare -A ARGS=([a]="--n 0" [b]="--n 300 --k 50" [c]="--n 1000 --k 100")
{
  echo "Measured by \`bench/revisions.sh $OLD $NEW\` on $(date -u +%F)" \
    "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, as root):"
  echo "$old_short ($(git log -1 --format=%s "$OLD" | cut -c1-60)...) against" \
    "$new_short ($(git log -1 --format=%s "$NEW" | cut -c1-60)...)."
} >"$OUT"
for state in "${STATES[@]}"; do
  [ -n "${ARGS[$state]:-}" ] || die "unknown state $state (a, b or c)"
  log "state $state: machine-state.py ${ARGS[$state]}"
  # shellcheck disable=SC2086
  start_state ${ARGS[$state]}
  want=$(targets tcp18080)
  check "$old_short 18080" "$want" "$("$OLD_BIN" 18080 | table_pids)"
  check "$new_short 18080" "$want" "$("$NEW_BIN" 18080 | table_pids)"
  hyperfine -N -i --warmup 5 --min-runs 40 --export-markdown "$RUN/rev-$state.md" \
    -n "$old_short: rekt 18080" "$OLD_BIN 18080" -n "$new_short: rekt 18080" "$NEW_BIN 18080" \
    -n "$old_short: rekt 18099 (free)" "$OLD_BIN 18099" -n "$new_short: rekt 18099 (free)" "$NEW_BIN 18099" \
    -n "$old_short: rekt -l 18080" "$OLD_BIN -l 18080" -n "$new_short: rekt -l 18080" "$NEW_BIN -l 18080" >&2
  stop_state
  { echo; echo "### State $state: machine-state.py ${ARGS[$state]}"; echo; cat "$RUN/rev-$state.md"; } >>"$OUT"
done
log "wrote $OUT"
