#!/usr/bin/env bash
# ci-strangers.sh: the end-to-end tests on a busy machine, next to strangers that hold the
# very ports the tests use. Fails if any test fails or any stranger dies. As root.
#
#   bash scripts/ci-strangers.sh [RUNS]        (default 2 runs of the suite)
#   STATE_ARGS="--n 1000 --k 100" bash scripts/ci-strangers.sh 10     (a busier machine)
#
# 1. bench/machine-state.py --n 300 --k 50 (or STATE_ARGS) fills the machine (about 380 processes and 16k
#    fds; ../shared/tools/machine-state.py if the repo's copy is missing);
# 2. scripts/strangers.py holds TCP and UDP on every port of 10000..18000 (where
#    unused_port() draws from) in the machine's network namespace, the same ports in a
#    "container" namespace, and a few ephemeral ones, some as another user;
# 3. the integration tests run RUNS times (REKT_REQUIRE_ROOT_TESTS=1: no test may skip);
# 4. every process of steps 1 and 2 must still be running, with the same start time.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-2}
STATE_ARGS=${STATE_ARGS:---n 300 --k 50}
NAME=ci-strangers

[ "$(id -u)" = 0 ] || { echo "$NAME: needs root" >&2; exit 1; }
STATE_PY=bench/machine-state.py
[ -f "$STATE_PY" ] || STATE_PY=../shared/tools/machine-state.py

RUN=$(mktemp -d /tmp/rekt-strangers.XXXXXX)
GEN_PID= STRANGERS_PID=
# stop PID: SIGTERM (each generator SIGKILLs what it started), then wait for it, bounded.
stop() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  stop "$STRANGERS_PID"
  stop "$GEN_PID"
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE PID LOG: until the generator PID has written FILE (bounded, 5 minutes).
wait_for() {
  for _ in $(seq 3000); do
    [ -f "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "$NAME: $3 failed:" >&2; tail -5 "$3" >&2; exit 1; }
    sleep 0.1
  done
  echo "$NAME: $1 not written after 5 minutes" >&2
  exit 1
}

start=$SECONDS
# Build first, so that the time below is the tests' and the machine is quiet meanwhile; the
# fixtures too (tests/fixtures/, examples to cargo), which `--test it` alone would not build.
cargo build --examples -q
cargo test --test it --no-run -q

# shellcheck disable=SC2086
python3 "$STATE_PY" $STATE_ARGS --state "$RUN/state.json" >"$RUN/state.log" 2>&1 &
GEN_PID=$!
python3 scripts/strangers.py hold --state "$RUN/strangers.json" >"$RUN/strangers.log" 2>&1 &
STRANGERS_PID=$!
wait_for "$RUN/strangers.json" "$STRANGERS_PID" "$RUN/strangers.log"
wait_for "$RUN/state.json" "$GEN_PID" "$RUN/state.log"
python3 scripts/strangers.py snapshot "$RUN/sentinel.json" "$RUN/state.json" "$RUN/strangers.json"
echo "$NAME: $(ls /proc | grep -c '^[0-9]') processes; strangers:"
sed 's/^/  /' "$RUN/strangers.log"
echo "$NAME: machine ready after $((SECONDS - start)) s"

failed=()
for run in $(seq "$RUNS"); do
  t=$SECONDS
  if ! REKT_REQUIRE_ROOT_TESTS=1 cargo test -q --no-fail-fast --test it; then
    failed+=("tests (run $run)")
  fi
  echo "$NAME: run $run took $((SECONDS - t)) s"
  if ! python3 scripts/strangers.py check "$RUN/sentinel.json"; then
    failed+=("strangers (run $run)")
  fi
done
echo "$NAME: $((SECONDS - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "$NAME: FAILED: ${failed[*]}" >&2
  exit 1
fi
