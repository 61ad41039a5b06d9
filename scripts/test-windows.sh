#!/usr/bin/env bash
# test-windows.sh: run `cargo test` for x86_64-pc-windows-gnu under wine, in a private
# network namespace so that the socket tables hold only the tests' sockets (wine's tables get
# very slow with thousands of host sockets). Needs root (unshare -n) and scripts/windows-env.sh.
#
#   bash scripts/test-windows.sh [ENV_DIR] [-- CARGO TEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_DIR=target/windows-env
if [ $# -gt 0 ] && [ "$1" != "--" ]; then ENV_DIR=$1; shift; fi
[ "${1:-}" = "--" ] && shift
# shellcheck disable=SC1091
source "$ENV_DIR/env.sh"
TARGET=x86_64-pc-windows-gnu

# Build outside the namespace (cargo may need the network), then run inside it. The test
# fixtures (tests/fixtures/, examples to cargo) are built explicitly: a filtered
# `cargo test --test it X` would not rebuild sockhold, and the tests would run a stale one.
# shellcheck disable=SC2086
$CARGO build --target $TARGET $BUILD_STD --examples
# shellcheck disable=SC2086
$CARGO test --target $TARGET $BUILD_STD --no-run "$@"

# A wineserver started outside would serve the tests from the host's network namespace.
wineserver -k 2>/dev/null || true
wineserver -w 2>/dev/null || true
# Inside the namespace, before any test: a wineserver that stays up for the whole run, and
# wine's desktop (explorer.exe), started by a notepad of our own with /dev/null for its
# stdio. Wine starts the desktop from the first process that needs a window, and the
# desktop inherits that process's handles: started from a test's rekt or fixture, it held
# their stdout pipes open and the test waited for EOF for ever (and a process started
# while the desktop came up sometimes failed with ERROR_INTERNAL_ERROR).
# shellcheck disable=SC2016
unshare -n bash -c '
  ip link set lo up
  wineserver -p
  wine notepad.exe </dev/null >/dev/null 2>&1 &
  me=$(readlink /proc/self/ns/net)
  desktop_up() {
    for p in $(pgrep -f "explorer.exe /desktop"); do
      [ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$me" ] && return 0
    done
    return 1
  }
  for _ in $(seq 200); do desktop_up && break; sleep 0.05; done
  desktop_up || echo "test-windows: wine desktop did not start; tests may hang" >&2
  "$@"
  rc=$?
  wineserver -k
  exit $rc' bash \
  $CARGO test --target $TARGET $BUILD_STD "$@"
