#!/usr/bin/env bash
# package-windows.sh: the Windows zip (CI runs this in its Windows leg).
#
#   bash scripts/windows-env.sh [ENV_DIR]          (once)
#   bash scripts/package-windows.sh [ENV_DIR]      (ENV_DIR defaults to target/windows-env)
#
# Cross-builds the release rekt.exe for x86_64-pc-windows-gnu and zips it with the PowerShell
# completion (assets/completions/rekt.ps1), the README and docs/ into
# target/dist/rekt-VERSION-x86_64-pc-windows-gnu.zip. Then checks the zip as a user gets it:
# unpacked into a scratch directory, the rekt.exe from the zip runs under wine 8.0 and
# prints its version, and the PowerShell script it generates is the one in the zip.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_DIR=${1:-target/windows-env}
# shellcheck disable=SC1091
source "$ENV_DIR/env.sh"
TARGET=x86_64-pc-windows-gnu

say() { printf 'package-windows: %s\n' "$*"; }
fail() { printf 'package-windows: FAIL: %s\n' "$*" >&2; exit 1; }

version=$(cargo metadata --no-deps --format-version 1 |
          python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="rekt"))')

say "cargo build --release --target $TARGET"
# shellcheck disable=SC2086
$CARGO build --quiet --locked --release --target $TARGET $BUILD_STD --bin rekt
exe=target/$TARGET/release/rekt.exe
[ -f "$exe" ] || fail "no $exe"

zip=target/dist/rekt-$version-$TARGET.zip
mkdir -p target/dist
rm -f "$zip"
say "zip $zip"
python3 - "$zip" "$exe" <<'EOF'
import glob, sys, zipfile
out, exe = sys.argv[1], sys.argv[2]
files = [(exe, "rekt.exe"), ("assets/completions/rekt.ps1", "rekt.ps1"), ("README.md", "README.md")]
files += [(p, p) for p in sorted(glob.glob("docs/*.md"))]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for src, name in files:
        z.write(src, name)
EOF

say "contents:"
python3 -m zipfile -l "$zip"
scratch=$(mktemp -d /tmp/rekt-package-windows.XXXXXX)
trap 'rm -rf "$scratch"; wineserver -k 2>/dev/null || true' EXIT
python3 -m zipfile -e "$zip" "$scratch"
for name in rekt.exe rekt.ps1 README.md; do
  [ -f "$scratch/$name" ] || fail "the zip has no $name"
done
cmp -s "$scratch/rekt.exe" "$exe" || fail "rekt.exe in the zip is not the build"

# The zip's rekt.exe runs, and generates the PowerShell script that the zip ships.
got=$(wine "$scratch/rekt.exe" --version | tr -d '\r')
[ "$got" = "rekt $version" ] || fail "rekt.exe --version under wine says '$got', not 'rekt $version'"
wine "$scratch/rekt.exe" completions powershell >"$scratch/generated.ps1"
cmp -s "$scratch/generated.ps1" "$scratch/rekt.ps1" ||
  fail "rekt.exe completions powershell differs from the zip's rekt.ps1 (assets/completions/rekt.ps1)"
say "rekt.exe from the zip runs under wine: $got; rekt.ps1 is what it generates"
say "ok: $zip ($(stat -c %s "$zip") bytes)"
