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

# Build outside the namespace (cargo may need the network), then run inside it. The examples
# are built explicitly: a filtered `cargo test --test X` would not rebuild the sockhold
# fixture, and the tests would run a stale one.
# shellcheck disable=SC2086
$CARGO build --target $TARGET $BUILD_STD --examples
# shellcheck disable=SC2086
$CARGO test --target $TARGET $BUILD_STD --no-run "$@"

# A wineserver started outside would serve the tests from the host's network namespace.
wineserver -k 2>/dev/null || true
wineserver -w 2>/dev/null || true
# shellcheck disable=SC2016
unshare -n bash -c 'ip link set lo up && exec "$@"' bash \
  $CARGO test --target $TARGET $BUILD_STD "$@"
