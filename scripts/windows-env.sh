#!/usr/bin/env bash
# windows-env.sh: make this Debian 12 x86_64 machine able to build Rust for x86_64-pc-windows-gnu
# and run the resulting .exe files (and `cargo test`) under wine 8.0.
#
#   bash scripts/windows-env.sh [DIR]   (DIR defaults to ./target/windows-env; everything it makes lives there)
#   source DIR/env.sh              exports WINEPREFIX, the cargo runner/linker, and CARGO / BUILD_STD
#   $CARGO test --target x86_64-pc-windows-gnu $BUILD_STD   (scripts/test-windows.sh does this
#                                                            in a private network namespace)
#
# Steps (tested on a fresh machine of this kind: about 65 s on the rustup route):
#   1. apt: the mingw-w64 linker and wine 8.0 (64-bit only).
#   2. Rust std for the target: `rustup target add x86_64-pc-windows-gnu` (answers here). If it
#      cannot, the script falls back to Debian's rustc-web/cargo-web 1.96 + rust-web-src, which are
#      unpacked under DIR and used with -Zbuild-std (about 2.5 min more).
#   3. wine 8.0 has no bcryptprimitives.dll, but Rust std >= 1.78 imports ProcessPrng from it, so every
#      Rust .exe fails to load (status c0000135, exit code 53, no message with WINEDEBUG=-all). A
#      12 KB stand-in built with mingw goes into the prefix's system32.
#   4. A wine prefix under DIR (wineboot), set to wine's null graphics driver, then
#      `wineserver -w` so later runs start clean.
#
# Facts about wine 8.0 that the tests must respect (seen here):
#   - GetExtendedTcpTable reports owning PID 0 for LISTEN sockets and for a server's accepted
#     connections. The real PID appears only for sockets that a thread of that process is blocked on
#     (a UDP socket in recv_from, a TCP client in read). Wine 9.17+ fixed this; Debian 12 has 8.0.
#   - Wine PIDs are small Windows-style numbers (32, 40, ...), not Linux PIDs. Linux-native sockets
#     show up in the tables with PID 0.
#   - The tables get slow with thousands of host sockets (a scan took over 20 s once). Run the
#     wine tests in a private network namespace, started before the wineserver:
#       wineserver -k; unshare -n bash -c 'ip link set lo up && exec CMD...'
#   - No X server is needed. Console programs need none at all; windows (the sockhold fixture's
#     --window, which `rekt -t` closes with WM_CLOSE) need wine's null graphics driver
#     (HKCU\Software\Wine\Drivers Graphics=null): without it CreateWindowExW fails.
set -euo pipefail

DIR=$(realpath -m "${1:-target/windows-env}")
TARGET=x86_64-pc-windows-gnu
mkdir -p "$DIR"
LOG=$DIR/setup.log
: >"$LOG"
q() { "$@" >>"$LOG" 2>&1 || { echo "windows-env: failed: $*; see $LOG" >&2; tail -20 "$LOG" >&2; return 1; }; }
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -q -y -o DPkg::Lock::Timeout=600)

echo "windows-env: apt packages (mingw-w64, wine 8.0)"
q "${APT[@]}" update
q "${APT[@]}" install --no-install-recommends gcc-mingw-w64-x86-64 wine wine64 iproute2

CARGO=cargo BUILD_STD="" EXTRA=""
if timeout 180 rustup target add "$TARGET" >>"$LOG" 2>&1; then
  echo "windows-env: rust std for $TARGET from rustup"
else
  echo "windows-env: rustup could not fetch $TARGET; using Debian's rustc-web with -Zbuild-std"
  debroot=$DIR/debroot debs=$DIR/debs
  mkdir -p "$debroot" "$debs"
  pkgs=$(apt-get install -s --no-install-recommends rustc-web cargo-web rust-web-src 2>/dev/null |
         awk '/^Inst /{print $2}')
  (cd "$debs" && q apt-get download $pkgs)
  for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$debroot"; done
  CARGO=$debroot/usr/bin/cargo
  BUILD_STD="-Zbuild-std=std,panic_abort"
  EXTRA="export LD_LIBRARY_PATH=$debroot/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export RUSTC=$debroot/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_HOME=$DIR/cargo-home"
fi

echo "windows-env: bcryptprimitives.dll stand-in"
mkdir -p "$DIR/shim"
cat >"$DIR/shim/bcryptprimitives.c" <<'EOF'
/* bcryptprimitives.dll stand-in for wine < 9: Rust std imports ProcessPrng from it. */
#include <windows.h>
#include <ntsecapi.h> /* RtlGenRandom is advapi32!SystemFunction036 */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, n)) return FALSE;
        data += n; len -= n;
    }
    return TRUE;
}
EOF
q x86_64-w64-mingw32-gcc -O2 -shared -s -o "$DIR/shim/bcryptprimitives.dll" \
  "$DIR/shim/bcryptprimitives.c" -ladvapi32

cat >"$DIR/env.sh" <<EOF
# source me: environment for building and testing x86_64-pc-windows-gnu under wine
export WINEPREFIX=$DIR/wineprefix WINEDEBUG=-all WINEARCH=win64
unset DISPLAY
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
export CARGO=$CARGO BUILD_STD="$BUILD_STD"
$EXTRA
EOF

echo "windows-env: wine prefix"
# shellcheck disable=SC1091
source "$DIR/env.sh"
[ -f "$WINEPREFIX/system.reg" ] || q wineboot --init
cp "$DIR/shim/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
q wine reg add 'HKCU\Software\Wine\Drivers' /v Graphics /d null /f
q wineserver -w
echo "windows-env: ready. Next: source $DIR/env.sh && \$CARGO test --target $TARGET \$BUILD_STD"
