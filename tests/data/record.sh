#!/usr/bin/env bash
# Re-records the kernel samples in tests/data/ (README.md there says what each one is).
# Needs root (for `unshare -n`), python3 and iproute2. Run from anywhere:
#   bash tests/data/record.sh
# It opens a known set of sockets in a fresh network namespace, so the recordings hold
# those sockets and nothing else of the machine, then copies the /proc/net tables and
# records sock_diag replies with the ignored test `sock_diag::tests::record_replies`.
# The unit tests check exact ports, states and addresses; after re-recording, the inodes
# (and the order of rows) change, so update the expected inodes in proc_net.rs and
# sock_diag.rs.
set -euo pipefail
data=$(cd "$(dirname "$0")" && pwd)
cd "$data/../.."

build=$(cargo test --lib --no-run 2>&1) || { echo "$build" >&2; exit 1; }
bin=$(sed -n 's/.*Executable unittests src\/lib.rs (\(.*\))/\1/p' <<<"$build")
[ -x "$bin" ] || { echo "record.sh: no unit test binary" >&2; exit 1; }

# The sockets, held by an unprivileged user (uid 65534) so that the uid column is not 0.
holder=$(mktemp)
chmod 644 "$holder"
trap 'rm -f "$holder"' EXIT
cat >"$holder" <<'PY'
import socket as s, sys, time
V4, V6 = s.AF_INET, s.AF_INET6
keep = []
def sock(fam, typ, addr, v6only=False):
    x = s.socket(fam, typ)
    x.setsockopt(s.SOL_SOCKET, s.SO_REUSEADDR, 1)
    if v6only:
        x.setsockopt(s.IPPROTO_IPV6, s.IPV6_V6ONLY, 1)
    x.bind(addr)
    keep.append(x)
    return x
def listener(fam, addr, v6only=False):
    x = sock(fam, s.SOCK_STREAM, addr, v6only)
    x.listen(8)
    return x
def pair(fam, server, client):
    l = listener(fam, server)
    c = sock(fam, s.SOCK_STREAM, client)
    c.connect(server)
    a, _ = l.accept()
    keep.append(a)
    return l, c, a
listener(V4, ("0.0.0.0", 47001))
listener(V6, ("::", 47002), v6only=True)
pair(V4, ("127.0.0.1", 47003), ("127.0.0.1", 47004))
pair(V6, ("::1", 47005), ("::1", 47006))
listener(V6, ("::", 47007))  # dual-stack: one socket, listed in tcp6 only
listener(V4, ("192.0.2.10", 47008))
listener(V6, ("2001:db8::1:2:3:4", 47009), v6only=True)
sock(V4, s.SOCK_DGRAM, ("0.0.0.0", 47011))
sock(V6, s.SOCK_DGRAM, ("::1", 47012), v6only=True)
sock(V4, s.SOCK_DGRAM, ("127.0.0.1", 47013)).connect(("127.0.0.1", 47011))
sock(V6, s.SOCK_DGRAM, ("2001:db8::1:2:3:4", 47014), v6only=True)
# A connection its client closes first: the client's end stays in TIME_WAIT, inode 0.
l, c, a = pair(V4, ("127.0.0.1", 47020), ("127.0.0.1", 47021))
c.close(); time.sleep(0.1); a.close(); l.close(); time.sleep(0.2)
print("READY", flush=True)
time.sleep(3600)
PY

unshare -n bash -euo pipefail -c '
  data=$1; bin=$2; holder=$3
  ip link set lo up
  ip addr add 192.0.2.10/32 dev lo
  ip -6 addr add 2001:db8::1:2:3:4/128 dev lo nodad
  fifo=$(mktemp -u); mkfifo "$fifo"
  setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$holder" >"$fifo" &
  holder_pid=$!
  read -r ready <"$fifo"; rm -f "$fifo"
  [ "$ready" = READY ] || { echo "record.sh: holder failed" >&2; exit 1; }
  rm -rf "$data/proc_net" "$data/proc_net_no_ipv6" "$data/sock_diag"
  mkdir -p "$data/proc_net" "$data/proc_net_no_ipv6"
  for t in tcp tcp6 udp udp6; do cat /proc/net/$t >"$data/proc_net/$t"; done
  # An IPv6-less kernel (ipv6.disable=1) has no tcp6 and udp6 at all.
  cp "$data/proc_net/tcp" "$data/proc_net/udp" "$data/proc_net_no_ipv6/"
  REKT_RECORD_SOCK_DIAG="$data/sock_diag" "$bin" --ignored --exact \
    platform::linux::sock_diag::tests::record_replies >/dev/null
  kill "$holder_pid"
' record "$data" "$bin" "$holder"
ls -l "$data"/proc_net "$data"/proc_net_no_ipv6 "$data"/sock_diag
