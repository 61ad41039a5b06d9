#!/usr/bin/env bash
# bench/view.sh: what the live view (`rekt -i`) costs to keep open on a busy machine. With
# bench/machine-state.py --n 300 --k 50 running (300 processes, about 600 listeners and
# 15,000 fds), the view runs in tmux and its CPU time (utime + stime from /proc/PID/stat)
# is sampled over 10 s, twice:
#   steady   nothing changes: each refresh is one dump of the socket table
#   churn    a listener comes and one goes every second, in one process: each change
#            costs a look at the fds of the owner that gained a socket last
#   spawn    a new process with a listener every second (and one ends): each costs a
#            look at the last owners' fds, then a scan of every process for the socket
# The goal (issue 19): at most 5% of one core. Runs in a private network namespace of its
# own (root), so that only the benchmark's sockets are there.
#
#   bash bench/view.sh          writes bench/results/view.md
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=$ROOT/bench/results
NAME=view.sh
SECONDS_SAMPLED=${REKT_VIEW_SECONDS:-10}
N=${REKT_VIEW_N:-300}
K=${REKT_VIEW_K:-50}
log() { printf '== %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$NAME" "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"

if [ -z "${REKT_BENCH_NETNS:-}" ]; then
  command -v tmux >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tmux >/dev/null
  }
  cargo build --release --quiet
  log "entering a private network namespace"
  exec env REKT_BENCH_NETNS=1 unshare -n bash "$0" "$@"
fi

ip link set lo up
REKT=$ROOT/target/release/rekt
RUN=$(mktemp -d)
TMUX_SOCKET=rekt-view-bench-$$
CHURN_PID=
# shellcheck source=bench/lib.sh
. bench/lib.sh
cleanup() {
  [ -n "$CHURN_PID" ] && kill "$CHURN_PID" 2>/dev/null || true
  tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
  stop_state
  rm -rf "$RUN"
}
trap cleanup EXIT

log "machine state: --n $N --k $K"
start_state --n "$N" --k "$K"
sockets=$(grep -c . /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 | awk -F: '{s+=$2-1} END {print s}')

tmux -L "$TMUX_SOCKET" new-session -d -x 160 -y 50 "$REKT -i"
VIEW=$(tmux -L "$TMUX_SOCKET" display -p -t 0 '#{pane_pid}')
for _ in $(seq 300); do
  tmux -L "$TMUX_SOCKET" capture-pane -p -t 0 | grep -q 'type: filter' && break
  sleep 0.1
done
tmux -L "$TMUX_SOCKET" capture-pane -p -t 0 | grep -q 'type: filter' || die "the view did not start"
shown=$(tmux -L "$TMUX_SOCKET" capture-pane -p -t 0 | head -1)
log "$shown"

ticks() { # PID: utime + stime, in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
HZ=$(getconf CLK_TCK)

# sample: the view's CPU share over SECONDS_SAMPLED, in percent of one core.
sample() {
  local before after
  before=$(ticks "$VIEW")
  sleep "$SECONDS_SAMPLED"
  after=$(ticks "$VIEW")
  awk -v d=$((after - before)) -v hz="$HZ" -v s="$SECONDS_SAMPLED" \
    'BEGIN { printf "%.1f", 100 * d / hz / s }'
}

sleep 2 # the first full lookup is behind us
log "steady: sampling $SECONDS_SAMPLED s"
steady=$(sample)
log "steady: $steady% of one core"

# A listener that comes and one that goes every second.
python3 - >/dev/null 2>&1 <<'EOF' &
import socket, time
held = []
port = 19500
while True:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen()
    held.append(s); port += 1
    if len(held) > 3:
        held.pop(0).close()
    time.sleep(1)
EOF
CHURN_PID=$!
sleep 1
log "churn: sampling $SECONDS_SAMPLED s"
churn=$(sample)
log "churn: $churn% of one core"
kill "$CHURN_PID"
wait "$CHURN_PID" 2>/dev/null || true

# A new process with a listener every second; the oldest of three ends. SIGTERM ends the
# loop and its children.
python3 - >/dev/null 2>&1 <<'EOF' &
import os, signal, socket, sys, time
kids = []
def stop(*_):
    for k in kids:
        os.kill(k, signal.SIGKILL)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
port = 19600
while True:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port)); s.listen()
        signal.pause()
        os._exit(0)
    kids.append(pid); port += 1
    if len(kids) > 3:
        old = kids.pop(0); os.kill(old, signal.SIGKILL); os.waitpid(old, 0)
    time.sleep(1)
EOF
CHURN_PID=$!
sleep 1
log "spawn: sampling $SECONDS_SAMPLED s"
spawn=$(sample)
log "spawn: $spawn% of one core"

mkdir -p "$RESULTS"
# The start-up comparison below the table is measured apart (hyperfine of two builds): kept.
kept=$(sed -n '/^## `rekt PORT` start-up/,$p' "$RESULTS/view.md" 2>/dev/null || true)
{
  echo "# The live view's cost (bench/view.sh)"
  echo
  echo "\`rekt -i\` open in tmux (160x50), in a private network namespace with"
  echo "\`machine-state.py --n $N --k $K\` running ($sockets sockets in the tables); CPU time"
  echo "(utime + stime, /proc/PID/stat) over $SECONDS_SAMPLED s, in percent of one core."
  echo
  echo "| state | CPU |"
  echo "|--|--|"
  echo "| steady (nothing changes) | $steady% |"
  echo "| churn (a listener comes and one goes every second, in one process) | $churn% |"
  echo "| spawn (a new process with a listener every second, and one ends) | $spawn% |"
  echo
  echo "Header: \`$shown\`"
  echo
  echo "$(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%d)."
  [ -z "$kept" ] || printf '\n%s\n' "$kept"
} >"$RESULTS/view.md"
cat "$RESULTS/view.md"
