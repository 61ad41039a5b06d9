#!/usr/bin/env bash
# private-podman.sh DIR [stop]: rootful Podman with storage of the tests' own, isolated from
# the machine's (the counterpart of private-dockerd.sh):
#   - it runs in a new network namespace (with rekt), so its bridge and firewall rules stay
#     there;
#   - its storage (--root, --runroot, vfs) and its configuration (DIR/containers.conf, which
#     every podman command here reads through CONTAINERS_CONF: cgroupfs, netavark, events in
#     a file, tmpdir and network configuration under DIR) are its own: nothing of the
#     machine's systemd, journal, /run/libpod or /var/lib/cni is used;
#   - an image `rekt-test/busybox` is imported offline from busybox-static.
# SERVICE=1 also serves Podman's API (`podman system service`) on DIR/podman.sock.
# Writes DIR/env.sh, which exports NETNS_PID, CONTAINERS_CONF and PODMAN (podman with the
# storage options); run podman in the namespace with:  nsenter -t "$NETNS_PID" -n -- $PODMAN ...
# Containers need `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024` here: Podman's
# defaults are above this machine's hard limits.
# `private-podman.sh DIR stop` removes the containers, stops the service and the namespace.
# Needs root, podman and busybox-static (.ci/run installs them).
set -eu
DIR=$(mkdir -p "${1:?DIR}" && cd "$1" && pwd)
export CONTAINERS_CONF=$DIR/containers.conf
PODMAN=(podman --root "$DIR/root" --runroot "$DIR/runroot" --storage-driver vfs)
if [ "${2:-}" = stop ]; then
  if [ -f "$DIR/holder.pid" ] && kill -0 "$(cat "$DIR/holder.pid")" 2>/dev/null; then
    timeout 60 nsenter -t "$(cat "$DIR/holder.pid")" -n -- "${PODMAN[@]}" rm -f -t 0 -a >/dev/null 2>&1 || true
  fi
  if [ -f "$DIR/service.pid" ]; then
    pid=$(cat "$DIR/service.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  [ -f "$DIR/holder.pid" ] && kill -KILL "$(cat "$DIR/holder.pid")" 2>/dev/null || true
  # Whatever the cleanup left mounted under DIR (a container's /dev/shm).
  grep -o " $DIR/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  exit 0
fi
command -v podman >/dev/null || { echo "private-podman: podman is not installed (apt-get install podman)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "private-podman: /bin/busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$DIR/networks" "$DIR/tmp"
cat > "$CONTAINERS_CONF" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$DIR/events.log"
tmp_dir = "$DIR/tmp"
[network]
network_backend = "netavark"
network_config_dir = "$DIR/networks"
CONF
# A process that holds the new network namespace open; podman and its containers join it.
unshare -n sh -c 'ip link set lo up; echo $$ > "$1"; exec sleep infinity' _ "$DIR/holder.pid" </dev/null >"$DIR/holder.log" 2>&1 &
for _ in $(seq 100); do [ -s "$DIR/holder.pid" ] && break; sleep 0.05; done
NETNS_PID=$(cat "$DIR/holder.pid")
R=$DIR/rootfs; mkdir -p "$R/bin" "$R/www"; cp /bin/busybox "$R/bin/"
for a in sh httpd nc sleep; do ln -sf busybox "$R/bin/$a"; done
# An import writes podman's blob-info cache under /var/lib/containers whatever the storage:
# in a mount namespace of its own, that is a scratch directory.
mkdir -p "$DIR/scratch-lib"
tar -C "$R" -c . | nsenter -t "$NETNS_PID" -n -- unshare -m --propagation private sh -c \
  'mount --bind "$1" /var/lib && shift && exec "$@"' _ "$DIR/scratch-lib" \
  "${PODMAN[@]}" import - rekt-test/busybox >"$DIR/import.log" 2>&1 ||
  { echo "private-podman: podman import failed: $(tail -3 "$DIR/import.log")" >&2; exit 1; }
if [ "${SERVICE:-}" = 1 ]; then
  # nsenter (network namespace only) runs podman in its own process: $! is podman.
  nsenter -t "$NETNS_PID" -n -- "${PODMAN[@]}" system service --time=0 "unix://$DIR/podman.sock" </dev/null >"$DIR/service.log" 2>&1 &
  echo $! > "$DIR/service.pid"
  ok=
  for _ in $(seq 300); do
    if [ -S "$DIR/podman.sock" ] && python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n"); sys.exit(0 if b" 200 " in s.recv(100) else 1)' "$DIR/podman.sock" 2>/dev/null; then
      ok=1; break
    fi
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "private-podman: the API did not start: $(tail -3 "$DIR/service.log")" >&2; exit 1; }
fi
printf 'export NETNS_PID=%q\nexport CONTAINERS_CONF=%q\nexport PODMAN=%q\n' "$NETNS_PID" "$CONTAINERS_CONF" "${PODMAN[*]}" > "$DIR/env.sh"
echo "podman ready: source $DIR/env.sh"
