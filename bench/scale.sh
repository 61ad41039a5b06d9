#!/usr/bin/env bash
# bench/scale.sh: rekt on a crowded machine. Fills it with bench/machine-state.py, checks
# that rekt still names the right PIDs, and measures wall time (hyperfine) and peak RSS
# (/usr/bin/time -v). See bench/README.md.
#
#   sudo bash bench/scale.sh [STATE...]    STATE: c p5000 smoke (default: c p5000)
#
#   c      --n 1000 --k 100   about 1,080 processes and 103k fds (compare.sh's state c)
#   p5000  --n 5000 --k 10    about 5,080 processes and 65k fds
#   smoke  --n 20 --k 10      a few seconds; checks that the script itself works
#
# Needs root (it installs packages and fills the machine). Every process it starts is
# stopped on exit, through machine-state.py's generator (SIGTERM), even on failure.
# Writes bench/results/scale.md and bench/results/scale-STATE.json (hyperfine's export).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=$ROOT/bench/results
RUN=$ROOT/bench/run/scale
STATES=("$@")
[ ${#STATES[@]} -gt 0 ] || STATES=(c p5000)

NAME=scale.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh
[ "$(id -u)" = 0 ] || die "run as root"

need=()
for pair in hyperfine:hyperfine /usr/bin/time:time python3:python3; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
cargo build --release --quiet
REKT=$ROOT/target/release/rekt
mkdir -p "$RESULTS" "$RUN"

trap stop_state EXIT
trap 'exit 130' INT TERM

mem_available_kib() { awk '/^MemAvailable:/{print $2}' /proc/meminfo; }

# peak CMD...: runs CMD once under /usr/bin/time -v; prints "RSS_KIB WALL_MS EXIT_CODE".
# The wall time is measured around it in ms (time -v rounds to 10 ms).
peak() {
  local out rc=0 t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$RUN/time.txt" "$@" >/dev/null 2>&1 || rc=$?
  t1=$(date +%s%N)
  out=$(cat "$RUN/time.txt")
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' <<<"$out")
  wall=$(( (t1 - t0) / 1000000 ))
  local code
  code=$(awk -F': ' '/Exit status/{print $2}' <<<"$out")
  echo "${rss:-?} ${wall:-?} ${code:-$rc}"
}

describe_machine() {
  PROCS=$(find /proc -maxdepth 1 -regex '/proc/[0-9]+' | wc -l)
  FDS=$(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  # Every socket in the tables (IPv4 and IPv6), less one header line per table.
  TCP=$(( $(cat /proc/net/tcp /proc/net/tcp6 | wc -l) - 2 ))
  UDP=$(( $(cat /proc/net/udp /proc/net/udp6 | wc -l) - 2 ))
}

ROWS=()
SECTIONS=()

run_state() {
  local state=$1 args
  case $state in
    c) args=(--n 1000 --k 100) ;;
    p5000) args=(--n 5000 --k 10) ;;
    smoke) args=(--n 20 --k 10) ;;
    *) die "unknown state $state (c, p5000, smoke)" ;;
  esac
  local avail_before
  avail_before=$(mem_available_kib)
  if [ -n "${KIB_PER_PROC:-}" ]; then
    # Refuse a state that would leave less than 3 GiB free, from what the last state cost.
    local n=${args[1]} projected
    projected=$(( KIB_PER_PROC * (n + 100) ))
    if [ $(( avail_before - projected )) -lt $(( 3 * 1024 * 1024 )) ]; then
      log "state $state: skipped, it would need about $((projected / 1024)) MiB of $((avail_before / 1024)) MiB available"
      SECTIONS+=("### State $state: skipped (about $((projected / 1024)) MiB needed, $((avail_before / 1024)) MiB available)")
      return
    fi
  fi
  log "state $state: machine-state.py ${args[*]}"
  local t0=$SECONDS
  start_state "${args[@]}"
  local setup=$((SECONDS - t0))
  describe_machine
  local used=$(( (avail_before - $(mem_available_kib)) ))
  KIB_PER_PROC=$(( used / (PROCS > 0 ? PROCS : 1) + 1 ))
  log "  $PROCS processes, $FDS fds, $TCP TCP and $UDP UDP sockets; ready in ${setup}s; uses $((used / 1024)) MiB"

  # The right answers first: a fast wrong tool is not measured.
  check "rekt 18080 (tcp)" "$(targets tcp18080)" "$("$REKT" 18080 | table_pids)"
  check "rekt 18081 (udp)" "$(targets udp18081)" "$("$REKT" 18081 | table_pids)"
  check "rekt 18082 (SO_REUSEPORT)" "$(targets reuse18082)" "$("$REKT" 18082 | table_pids)"
  check "rekt 18083 (shared socket)" "$(targets shared18083)" "$("$REKT" 18083 | table_pids)"
  check "rekt 18084 (IPv6)" "$(targets v6_18084)" "$("$REKT" 18084 | table_pids)"
  local rc=0
  "$REKT" 18099 >/dev/null 2>&1 || rc=$?
  [ "$rc" = 1 ] || die "rekt 18099 (free) exited $rc, expected 1"
  log "  ok: rekt 18099 -> free (exit 1)"
  local listeners
  listeners=$("$REKT" | awk 'NR>1' | wc -l)
  [ "$listeners" -gt "${args[1]}" ] || die "rekt (list) listed $listeners sockets, expected more than ${args[1]}"
  log "  ok: rekt (list) -> $listeners listening sockets"

  log "  hyperfine"
  hyperfine -N --warmup 3 --runs 20 --style basic --ignore-failure \
    --export-json "$RESULTS/scale-$state.json" --export-markdown "$RUN/$state.md" \
    -n "rekt 18080" "$REKT 18080" \
    -n "rekt -v 18080" "$REKT -v 18080" \
    -n "rekt 18082 18083" "$REKT 18082 18083" \
    -n "rekt 18099 (free)" "$REKT 18099" \
    -n "rekt (list every listener)" "$REKT" >&2
  mean() {
    python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["results"] if x["command"]==sys.argv[2]][0]; print("%.1f ± %.1f ms" % (r["mean"] * 1000, r["stddev"] * 1000))' \
      "$RESULTS/scale-$state.json" "$1"
  }

  local p_port p_verbose p_list p_json
  read -r p_port _ _ < <(peak "$REKT" 18080)
  read -r p_verbose _ _ < <(peak "$REKT" -v 18080)
  read -r p_list _ _ < <(peak "$REKT")
  read -r p_json _ _ < <(peak "$REKT" --json)
  log "  peak RSS: rekt 18080 $p_port KiB, -v $p_verbose KiB, list $p_list KiB, --json list $p_json KiB"

  # Last, as it changes the state: kill both multi-process targets and check they are gone.
  local victims kill_rss kill_wall kill_code
  victims="$(targets reuse18082) $(targets shared18083)"
  read -r kill_rss kill_wall kill_code < <(peak "$REKT" -k 18082 18083)
  [ "$kill_code" = 0 ] || die "rekt -k 18082 18083 exited $kill_code"
  for pid in $victims; do
    if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
      die "rekt -k 18082 18083: $pid is still running"
    fi
  done
  local rc2=0
  "$REKT" 18082 18083 >/dev/null 2>&1 || rc2=$?
  [ "$rc2" = 1 ] || die "after rekt -k, 18082 and 18083 are still held (exit $rc2)"
  log "  ok: rekt -k 18082 18083 -> killed $victims in ${kill_wall} ms, peak RSS $kill_rss KiB"

  ROWS+=("| $state (\`${args[*]}\`) | $PROCS | $FDS | $TCP / $UDP | $(mean "rekt 18080") | $(mean "rekt (list every listener)") | $(mean "rekt 18099 (free)") | ${kill_wall} ms | $p_port | $p_list |")
  SECTIONS+=("### State $state: \`machine-state.py ${args[*]}\`

$PROCS processes, $FDS fds, $TCP TCP and $UDP UDP sockets; the state took ${setup} s to start
and $((used / 1024)) MiB of memory. Peak RSS (KiB): \`rekt 18080\` $p_port, \`rekt -v 18080\`
$p_verbose, \`rekt\` (list) $p_list, \`rekt --json\` (list) $p_json, \`rekt -k 18082 18083\` $kill_rss.

$(sed -e "s#$ROOT/target/release/##g" "$RUN/$state.md")
")
  stop_state
}

for state in "${STATES[@]}"; do
  run_state "$state"
done

{
  echo "# rekt at scale"
  echo
  echo "Measured by \`bench/scale.sh\` on $(date -u +%Y-%m-%d): $(nproc) cores" \
    "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/{print $2}') GiB," \
    "Linux $(uname -r), commit $(git rev-parse --short HEAD), as root. Every answer was checked" \
    "first (the targets' exact PIDs, a free port, the listener count)."
  echo
  echo "| state | processes | fds | TCP / UDP sockets | \`rekt 18080\` | \`rekt\` (list) | \`rekt 18099\` (free) | \`rekt -k 18082 18083\` | peak RSS \`rekt 18080\` (KiB) | peak RSS \`rekt\` (list, KiB) |"
  echo "|--|--|--|--|--|--|--|--|--|--|"
  printf '%s\n' "${ROWS[@]}"
  echo
  printf '%s\n' "${SECTIONS[@]}"
} >"$RESULTS/scale.md"
log "wrote bench/results/scale.md"
