#!/usr/bin/env bash
# package-deb.sh: the Linux install paths, checked the way a user meets them (CI runs this).
#
#   bash scripts/package-deb.sh        (as root on Debian 12; installs cargo-deb if missing)
#
# 1. `cargo install --path .` into a temporary --root, then runs the installed rekt.
# 2. `cargo deb` (metadata in Cargo.toml), and checks with `dpkg-deb -c` that the package holds
#    the binary, the man page and the bash/zsh/fish completions at Debian's paths, and that
#    they are the committed assets (tests/it/assets.rs keeps those equal to what rekt generates).
# 3. Installs the .deb with dpkg into a scratch root (--instdir, and a copy of this machine's
#    dpkg database as --admindir, so that dpkg checks the dependencies against what is really
#    installed), runs what it installed, lists it with dpkg -L, removes it with dpkg -r and
#    checks that nothing is left. The machine's own dpkg database is never written.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
say() { printf 'package-deb: %s\n' "$*"; }
fail() { printf 'package-deb: FAIL: %s\n' "$*" >&2; exit 1; }

scratch=$(mktemp -d /tmp/rekt-package-deb.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
version=$(cargo metadata --no-deps --format-version 1 |
          python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="rekt"))')

say "cargo install --path . --root $scratch/cargo-root"
cargo install --quiet --locked --path . --root "$scratch/cargo-root"
got=$("$scratch/cargo-root/bin/rekt" --version)
[ "$got" = "rekt $version" ] || fail "cargo-installed rekt --version says '$got', not 'rekt $version'"
say "installed: $got"

if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  say "cargo install cargo-deb $CARGO_DEB_VERSION"
  cargo install --quiet --locked cargo-deb --version "$CARGO_DEB_VERSION"
fi

say "cargo deb"
deb=$(cargo deb 2>"$scratch/cargo-deb.log" | tail -1) || { cat "$scratch/cargo-deb.log" >&2; fail "cargo deb failed"; }
[ -f "$deb" ] || { cat "$scratch/cargo-deb.log" >&2; fail "cargo deb made no package ('$deb')"; }
say "built $deb"

say "dpkg-deb -c $deb"
dpkg-deb -c "$deb" | tee "$scratch/contents"
# Each file the package must hold, with its mode.
for want in "-rwxr-xr-x ./usr/bin/rekt" \
            "-rw-r--r-- ./usr/share/man/man1/rekt.1.gz" \
            "-rw-r--r-- ./usr/share/bash-completion/completions/rekt" \
            "-rw-r--r-- ./usr/share/zsh/vendor-completions/_rekt" \
            "-rw-r--r-- ./usr/share/fish/vendor_completions.d/rekt.fish"; do
  mode=${want%% *} path=${want#* }
  awk -v m="$mode" -v p="$path" '$1 == m && $NF == p { found = 1 } END { exit !found }' \
    "$scratch/contents" || fail "the package has no $path with mode $mode"
done
control=$(dpkg-deb -f "$deb" Package Version Architecture)
say "control: $(echo "$control" | tr '\n' ' ')"
echo "$control" | grep -qx "Version: $version-1" || fail "package version is not $version-1"

say "dpkg -i into a scratch root"
root=$scratch/root admin=$scratch/admin
mkdir -p "$root"
cp -a /var/lib/dpkg "$admin"
rm -f "$admin"/lock "$admin"/lock-frontend "$admin"/triggers/Lock
dpkg_scratch() { dpkg --admindir="$admin" --instdir="$root" --no-triggers "$@"; }
dpkg_scratch -i "$deb"
dpkg --admindir="$admin" -s rekt | grep -qx 'Status: install ok installed' ||
  fail "dpkg does not call rekt installed"
dpkg --admindir="$admin" -L rekt >"$scratch/listed"
for path in /usr/bin/rekt /usr/share/man/man1/rekt.1.gz \
            /usr/share/bash-completion/completions/rekt \
            /usr/share/zsh/vendor-completions/_rekt \
            /usr/share/fish/vendor_completions.d/rekt.fish; do
  grep -qx "$path" "$scratch/listed" || fail "dpkg -L rekt does not list $path"
  [ -f "$root$path" ] || fail "$path was not installed"
done

# What was installed is what the repository holds, and it works.
got=$("$root/usr/bin/rekt" --version)
[ "$got" = "rekt $version" ] || fail "installed rekt --version says '$got'"
"$root/usr/bin/rekt" --help | grep -q '^Exit codes:' || fail "installed rekt --help has no exit codes"
zcat "$root/usr/share/man/man1/rekt.1.gz" | cmp -s - assets/rekt.1 || fail "the man page is not assets/rekt.1"
cmp -s "$root/usr/share/bash-completion/completions/rekt" assets/completions/rekt.bash || fail "bash completion differs"
cmp -s "$root/usr/share/zsh/vendor-completions/_rekt" assets/completions/_rekt || fail "zsh completion differs"
cmp -s "$root/usr/share/fish/vendor_completions.d/rekt.fish" assets/completions/rekt.fish || fail "fish completion differs"
"$root/usr/bin/rekt" man | cmp -s - assets/rekt.1 || fail "installed rekt man differs from assets/rekt.1"
if command -v man >/dev/null; then
  MANWIDTH=80 man -l "$root/usr/share/man/man1/rekt.1.gz" 2>/dev/null | grep -q 'EXIT STATUS' ||
    fail "man -l does not render the installed page"
fi
# shellcheck disable=SC2016
bash -c 'source "$1" && complete -p rekt' bash "$root/usr/share/bash-completion/completions/rekt" \
  >/dev/null || fail "the bash completion does not register for rekt"
if command -v zsh >/dev/null; then
  zsh -n "$root/usr/share/zsh/vendor-completions/_rekt" || fail "zsh cannot parse _rekt"
fi
if command -v fish >/dev/null; then
  fish -n "$root/usr/share/fish/vendor_completions.d/rekt.fish" || fail "fish cannot parse rekt.fish"
fi
say "installed and working: $got, man page, completions"

say "dpkg -r rekt"
dpkg_scratch -r rekt
left=$(find "$root" -type f | head -5)
[ -z "$left" ] || fail "dpkg -r left files behind: $left"
dpkg --admindir="$admin" -s rekt 2>/dev/null | grep -q 'Status: install ok installed' &&
  fail "dpkg still calls rekt installed"
say "removed cleanly"
say "ok: $deb"
