#!/usr/bin/env bash
# bench/compare.sh: rekt against fuser, lsof, ss and killport, side by side, one hyperfine
# run per machine state. See bench/README.md.
#
#   bash bench/compare.sh [STATE...]      STATE: a b c c-user (default: all four)
#
# Needs root (it installs packages, creates a user and fills the machine with processes).
# Writes bench/results/STATE.md (hyperfine's markdown) and .json, bench/results/summary.md,
# and replaces the table between the bench markers in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=$ROOT/bench/results
RUN=$ROOT/bench/run
BENCH_USER=rektbench
PORT=18080          # the TCP target of machine-state.py
FREE_PORT=18099     # nobody listens here
STATES=("$@")
[ ${#STATES[@]} -gt 0 ] || STATES=(a b c c-user)

NAME=compare.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh
[ "$(id -u)" = 0 ] || die "run as root"

log "installing tools"
export DEBIAN_FRONTEND=noninteractive
need=()
for pair in hyperfine:hyperfine fuser:psmisc lsof:lsof ss:iproute2 /usr/bin/time:time setpriv:util-linux cc:gcc; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null
fi
[ -x bench/.tools/bin/killport ] || cargo install killport --locked --root bench/.tools
KILLPORT=$ROOT/bench/.tools/bin/killport
cargo build --release --quiet
REKT=$ROOT/target/release/rekt
# The C floor: the least any program can do for `rekt PORT`'s answer (bench/floor.c).
mkdir -p bench/.tools/bin
cc -O2 -pthread -o bench/.tools/bin/floor bench/floor.c
FLOOR=$ROOT/bench/.tools/bin/floor
id "$BENCH_USER" >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin "$BENCH_USER"
# The unprivileged run executes these binaries as $BENCH_USER.
chmod o+rx "$ROOT" "$ROOT/target" "$ROOT/target/release" "$ROOT/bench" "$ROOT/bench/.tools" \
  "$ROOT/bench/.tools/bin" 2>/dev/null || true

mkdir -p "$RESULTS" "$RUN"
trap stop_state EXIT

# as_user CMD...: runs CMD as the benchmark user in the unprivileged state, else as root.
as_user() {
  if [ "$UNPRIV" = 1 ]; then setpriv --reuid="$BENCH_USER" --regid="$BENCH_USER" --clear-groups "$@"; else "$@"; fi
}

verify_tools() {
  local want
  want=$(targets tcp18080)
  check "rekt $PORT" "$want" "$(as_user "$REKT" $PORT | table_pids)"
  check "rekt -l $PORT" "$want" "$(as_user "$REKT" -l $PORT | table_pids)"
  check "rekt 18081 (udp)" "$(targets udp18081)" "$(as_user "$REKT" 18081 | table_pids)"
  check "rekt 18082 (SO_REUSEPORT)" "$(targets reuse18082)" "$(as_user "$REKT" 18082 | table_pids)"
  check "rekt 18083 (shared socket)" "$(targets shared18083)" "$(as_user "$REKT" 18083 | table_pids)"
  check "rekt 18084 (IPv6)" "$(targets v6_18084)" "$(as_user "$REKT" 18084 | table_pids)"
  local rc=0
  as_user "$REKT" $FREE_PORT >/dev/null 2>&1 || rc=$?
  [ "$rc" = 1 ] || die "rekt $FREE_PORT (free) exited $rc, expected 1"
  log "  ok: rekt $FREE_PORT -> free (exit 1)"
  check "C floor $PORT" "$want" "$(as_user "$FLOOR" $PORT | sorted_pids)"
  rc=0
  as_user "$FLOOR" $FREE_PORT >/dev/null 2>&1 || rc=$?
  [ "$rc" = 1 ] || die "C floor $FREE_PORT (free) exited $rc, expected 1"
  check "fuser $PORT/tcp" "$want" "$(as_user fuser $PORT/tcp 2>/dev/null | sorted_pids)"
  check "lsof -t -n -P -i :$PORT" "$want" "$(as_user lsof -t -n -P -i :$PORT 2>/dev/null | sorted_pids)"
  check "ss -Htlnp" "$want" "$(as_user ss -Htlnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sorted_pids)"
  # killport --dry-run names the process, not its PID: check that it finds exactly one.
  local kp
  kp=$(as_user "$KILLPORT" --dry-run $PORT 2>&1 | grep -c "Would kill process" || true)
  [ "$kp" = "$(echo "$want" | wc -w)" ] || die "killport --dry-run found $kp processes, expected $(echo "$want" | wc -w)"
  log "  ok: killport --dry-run $PORT -> $kp process"
}

describe_machine() {
  local procs fds
  procs=$(find /proc -maxdepth 1 -regex '/proc/[0-9]+' | wc -l)
  fds=$(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  echo "$procs processes, $fds fds"
}

run_state() {
  local state=$1 args user_label
  UNPRIV=0
  case $state in
    a) args=(--n 0) ;;
    b) args=(--n 300 --k 50) ;;
    c) args=(--n 1000 --k 100) ;;
    c-user) args=(--n 1000 --k 100 --target-user "$BENCH_USER"); UNPRIV=1 ;;
    *) die "unknown state $state (a, b, c, c-user)" ;;
  esac
  log "state $state: machine-state.py ${args[*]}"
  start_state "${args[@]}"
  local machine
  machine=$(describe_machine)
  log "  $machine"
  verify_tools
  user_label=root
  [ "$UNPRIV" = 1 ] && user_label="$BENCH_USER (unprivileged)"
  local hf=(hyperfine --warmup 3 --min-runs 20 -N --ignore-failure --style basic
    --export-markdown "$RESULTS/$state.md" --export-json "$RESULTS/$state.json"
    -n "rekt $PORT" "$REKT $PORT"
    -n "rekt -l $PORT" "$REKT -l $PORT"
    -n "rekt $FREE_PORT (free)" "$REKT $FREE_PORT"
    -n "C floor $PORT" "$FLOOR $PORT"
    -n "C floor $FREE_PORT (free)" "$FLOOR $FREE_PORT"
    -n "fuser $PORT/tcp" "fuser $PORT/tcp"
    -n "lsof -t -n -P -i :$PORT" "lsof -t -n -P -i :$PORT"
    -n "ss -Htlnp 'sport = :$PORT'" "ss -Htlnp 'sport = :$PORT'"
    -n "killport --dry-run $PORT" "$KILLPORT --dry-run $PORT")
  # The same one hyperfine call times every tool, as the benchmark user when unprivileged.
  if [ "$UNPRIV" = 1 ]; then
    chown -R "$BENCH_USER" "$RESULTS"
    (cd /tmp && as_user "${hf[@]}") >&2
    chown -R root "$RESULTS"
  else
    "${hf[@]}" >&2
  fi
  local rss=""
  if [ "$state" = c ]; then
    rss=$( { /usr/bin/time -v "$REKT" $PORT >/dev/null; } 2>&1 | awk -F: '/Maximum resident/{gsub(/ /,"",$2); print $2}')
    log "  peak RSS of rekt $PORT: $rss KiB"
  fi
  {
    echo "### State $state: ${args[*]}"
    echo
    echo "$(nproc) cores, $(uname -r), $machine; tools run as $user_label."
    [ -n "$rss" ] && echo "Peak RSS of \`rekt $PORT\`: $rss KiB (\`/usr/bin/time -v\`)."
    echo
    sed -e "s#$ROOT/target/release/##g" -e "s#$ROOT/bench/.tools/bin/##g" "$RESULTS/$state.md"
    echo
  } >"$RESULTS/$state.section.md"
  stop_state
}

for state in "${STATES[@]}"; do
  run_state "$state"
done

log "summary"
{
  echo "Measured by \`bench/compare.sh\` on $(date -u +%Y-%m-%d) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), commit $(git rev-parse --short HEAD))."
  echo
  for state in a b c c-user; do
    [ -f "$RESULTS/$state.section.md" ] && cat "$RESULTS/$state.section.md"
  done
} >"$RESULTS/summary.md"

python3 - "$ROOT/README.md" "$RESULTS/summary.md" <<'EOF'
import sys
readme, summary = sys.argv[1], open(sys.argv[2]).read()
text = open(readme).read()
start, end = "<!-- bench:start -->", "<!-- bench:end -->"
if start in text and end in text:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    open(readme, "w").write(head + start + "\n" + summary.rstrip() + "\n" + end + tail)
    print("README.md: benchmark tables updated", file=sys.stderr)
else:
    print("README.md has no bench markers; tables are in bench/results/summary.md", file=sys.stderr)
EOF
