#!/usr/bin/env bash
# bench/kill.sh: the kill path, side by side: `rekt -k`, `rekt -t`, `fuser -k` and
# `killport` on a fresh listener per run, in one hyperfine run per way the listener was
# started (see bench/kill-prepare.py):
#   orphan   its parent is gone (init adopted it): nothing can start it again
#   shell    typed at an interactive bash (in tmux), which takes its terminal back
#   wrapper  the child of `sh -c 'server; true'`, which exits with it
# In none of them can anything bind the port again, so rekt should answer as soon as the
# owner is gone. Runs in a private network namespace of its own (root), so that only the
# benchmark's listeners are there.
#
#   bash bench/kill.sh              writes bench/results/kill.md and the README's table
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=$ROOT/bench/results
PORT=18180
NAME=kill.sh
log() { printf '== %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$NAME" "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"

if [ -z "${REKT_BENCH_NETNS:-}" ]; then
  log "installing tools"
  need=()
  for pair in hyperfine:hyperfine fuser:psmisc tmux:tmux setsid:util-linux; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  fi
  [ -x bench/.tools/bin/killport ] || cargo install killport --locked --root bench/.tools
  cargo build --release --quiet
  log "entering a private network namespace"
  exec env REKT_BENCH_NETNS=1 unshare -n bash "$0" "$@"
fi

ip link set lo up
REKT=$ROOT/target/release/rekt
KILLPORT=$ROOT/bench/.tools/bin/killport
TMUX_SOCKET=rekt-bench-$$
mkdir -p "$RESULTS"
cleanup() { tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true; }
trap cleanup EXIT
tmux -L "$TMUX_SOCKET" new-session -d -x 200 -y 50 "bash --norc --noprofile"

prepare() { # MODE: the prepare command for hyperfine
  local extra=""
  [ "$1" = shell ] && extra=" $TMUX_SOCKET"
  echo "python3 $ROOT/bench/kill-prepare.py $1 $PORT$extra"
}

free() { python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$PORT))" 2>/dev/null; }

# Each tool must end the listener, or it is not measured.
verify() { # MODE NAME CMD...
  local mode=$1 name=$2; shift 2
  eval "$(prepare "$mode")"
  "$@" >/dev/null 2>&1 || true
  for _ in $(seq 100); do free && break; sleep 0.02; done
  free || die "$name left port $PORT held ($mode)"
  log "  ok: $name frees it ($mode)"
}

run_mode() {
  local mode=$1
  log "mode $mode"
  verify "$mode" "rekt -k" "$REKT" -k $PORT
  verify "$mode" "rekt -t" "$REKT" -t $PORT
  verify "$mode" "fuser -k" fuser -k $PORT/tcp
  verify "$mode" "killport" "$KILLPORT" $PORT
  hyperfine --warmup 3 --runs 30 -N --style basic --prepare "$(prepare "$mode")" \
    --export-markdown "$RESULTS/kill-$mode.md" --export-json "$RESULTS/kill-$mode.json" \
    -n "rekt -k $PORT" "$REKT -k $PORT" \
    -n "rekt -t $PORT" "$REKT -t $PORT" \
    -n "fuser -k $PORT/tcp" "fuser -k $PORT/tcp" \
    -n "killport $PORT" "$KILLPORT $PORT" >&2
}

for mode in orphan shell wrapper; do
  run_mode $mode
done

{
  echo "Measured by \`bench/kill.sh\` on $(date -u +%Y-%m-%d) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(uname -r), commit $(git rev-parse --short HEAD)), as root, in a private network namespace, otherwise idle; a fresh Python listener per run."
  for mode in orphan shell wrapper; do
    echo
    case $mode in
      orphan) echo "**An orphan** (init adopted it):" ;;
      shell) echo "**Typed at an interactive bash** (in tmux):" ;;
      wrapper) echo "**The child of \`sh -c 'server; true'\`**:" ;;
    esac
    echo
    sed -e "s#$ROOT/target/release/##g" -e "s#$ROOT/bench/.tools/bin/##g" "$RESULTS/kill-$mode.md"
  done
} >"$RESULTS/kill.md"

# The README gets one summary table (mean ± σ in ms per command, per way the listener was
# started, from the JSON exports); the full hyperfine tables stay in bench/results/kill.md.
python3 - "$ROOT/README.md" "$RESULTS" "$(head -1 "$RESULTS/kill.md")" <<'PY'
import json, sys
readme, results, measured = sys.argv[1], sys.argv[2], sys.argv[3]
modes = [("orphan", "an orphan"), ("shell", "typed at an interactive bash"),
         ("wrapper", "child of `sh -c 'server; true'`")]
rows = []
header = None
for mode, label in modes:
    data = json.load(open(f"{results}/kill-{mode}.json"))["results"]
    cells = {r["command"].split(" 18")[0]: r for r in data}
    if header is None:
        header = list(cells)
    ms = lambda r: f"{r['mean'] * 1000:.1f} ± {r['stddev'] * 1000:.1f}"
    ratio = cells["rekt -k"]["mean"] / cells["killport"]["mean"]
    rows.append(f"| {label} | " + " | ".join(ms(cells[c]) for c in header) + f" | {ratio:.2f}× |")
table = "\n".join([
    measured.replace("Measured by", "Killing a port's owner, measured by", 1),
    "Mean ± σ in ms; full tables in [bench/results/kill.md](bench/results/kill.md).",
    "",
    "| listener | " + " | ".join(f"`{c}`" for c in header) + " | rekt -k / killport |",
    "|:---|" + "---:|" * (len(header) + 1),
    *rows,
])
text = open(readme).read()
start, end = "<!-- kill:start -->", "<!-- kill:end -->"
if start in text and end in text:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    open(readme, "w").write(head + start + "\n" + table.rstrip() + "\n" + end + tail)
    print("README.md: kill table updated", file=sys.stderr)
else:
    print("README.md has no kill markers; the table is in bench/results/kill.md", file=sys.stderr)
PY
