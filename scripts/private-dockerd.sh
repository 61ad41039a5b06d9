#!/usr/bin/env bash
# private-dockerd.sh DIR [stop]: a Docker daemon of the tests' own, isolated from the machine's
# (adapted from ../shared/tools/private-dockerd.sh):
#   - it runs in a new network namespace, so its bridge and iptables rules stay there;
#   - its bridge has a name of its own (rekt-br0, or $BRIDGE; made here, not docker0), always
#     on 172.31.7.0/24: two daemons (each in its own namespace) give their first containers
#     the same address, 172.31.7.2;
#   - data root, exec root, pidfile and socket all live under DIR;
#   - an image `rekt-test/busybox` is imported offline from busybox-static.
# USERLAND_PROXY=false starts it with --userland-proxy=false; API_PORT=N also serves its API
# on tcp://127.0.0.1:N (inside the namespace).
# Writes DIR/env.sh, which exports DOCKER_HOST and NETNS_PID; run commands in the daemon's
# network namespace with:  nsenter -t "$NETNS_PID" -n -- CMD
# `private-dockerd.sh DIR stop` stops the daemon (and its containers) and the namespace.
# Needs root, docker.io and busybox-static (.ci/run installs them).
set -eu
DIR=$(mkdir -p "${1:?DIR}" && cd "$1" && pwd)
if [ "${2:-}" = stop ]; then
  # The daemon would give each container its stop timeout (10 s) on the way down.
  if [ -S "$DIR/docker.sock" ]; then
    ids=$(DOCKER_HOST=unix://$DIR/docker.sock timeout 10 docker ps -q 2>/dev/null || true)
    [ -n "$ids" ] && DOCKER_HOST=unix://$DIR/docker.sock timeout 10 docker kill $ids >/dev/null 2>&1 || true
  fi
  if [ -f "$DIR/dockerd.pid" ]; then
    pid=$(cat "$DIR/dockerd.pid")
    # A test may have stopped it (SIGSTOP) to play a hung engine.
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  [ -f "$DIR/holder.pid" ] && kill -KILL "$(cat "$DIR/holder.pid")" 2>/dev/null || true
  # Containers' mounts live under the data root; dockerd unmounts them when it stops, but not
  # the host-network sandbox's namespace file (exec/netns/default) of a `--network host`
  # container: whatever is left mounted under DIR goes.
  grep -o " $DIR/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  exit 0
fi
command -v dockerd >/dev/null || { echo "private-dockerd: dockerd is not installed (apt-get install docker.io)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "private-dockerd: /bin/busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
PROXY=${USERLAND_PROXY:-true}
BRIDGE=${BRIDGE:-rekt-br0}
# A process that holds the new network namespace open; dockerd joins it.
unshare -n sh -c 'ip link set lo up; ip link add "$2" type bridge; ip addr add 172.31.7.1/24 dev "$2"; ip link set "$2" up; echo $$ > "$1"; exec sleep infinity' _ "$DIR/holder.pid" "$BRIDGE" </dev/null >"$DIR/holder.log" 2>&1 &
for _ in $(seq 100); do [ -s "$DIR/holder.pid" ] && break; sleep 0.05; done
NETNS_PID=$(cat "$DIR/holder.pid")
SOCK=unix://$DIR/docker.sock
EXTRA=()
[ -n "${API_PORT:-}" ] && EXTRA=(-H "tcp://127.0.0.1:$API_PORT")
nsenter -t "$NETNS_PID" -n -- dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" \
  --pidfile "$DIR/dockerd.pid" -H "$SOCK" --bridge "$BRIDGE" --userland-proxy="$PROXY" \
  "${EXTRA[@]}" </dev/null >"$DIR/dockerd.log" 2>&1 &
for _ in $(seq 300); do DOCKER_HOST=$SOCK docker info >/dev/null 2>&1 && break; sleep 0.1; done
DOCKER_HOST=$SOCK docker info >/dev/null 2>&1 || { echo "private-dockerd: dockerd did not start: $(tail -3 "$DIR/dockerd.log")" >&2; exit 1; }
if ! DOCKER_HOST=$SOCK docker image inspect rekt-test/busybox >/dev/null 2>&1; then
  R=$DIR/rootfs; mkdir -p "$R/bin" "$R/www"; cp /bin/busybox "$R/bin/"
  for a in sh httpd nc sleep; do ln -sf busybox "$R/bin/$a"; done
  tar -C "$R" -c . | DOCKER_HOST=$SOCK docker import - rekt-test/busybox >/dev/null
fi
printf 'export DOCKER_HOST=%q\nexport NETNS_PID=%q\n' "$SOCK" "$NETNS_PID" > "$DIR/env.sh"
echo "dockerd ready: source $DIR/env.sh"
