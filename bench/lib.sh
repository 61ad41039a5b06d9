# bench/lib.sh: what compare.sh and scale.sh share. Source it after setting RUN (a
# directory for the state file) and NAME (the script's name, for messages).
# Starts and stops bench/machine-state.py and checks reported PIDs against its state file.

log() { printf '== %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$NAME" "$*" >&2; exit 1; }

GEN_PID=

# stop_state: SIGTERMs the generator, which SIGKILLs every process it started.
stop_state() {
  if [ -n "$GEN_PID" ] && kill -0 "$GEN_PID" 2>/dev/null; then
    kill -TERM "$GEN_PID"
    for _ in $(seq 300); do kill -0 "$GEN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$GEN_PID" 2>/dev/null && log "generator $GEN_PID did not stop; kill it by hand"
  fi
  GEN_PID=
}

# start_state ARGS...: starts machine-state.py and waits until every process is ready.
start_state() {
  rm -f "$RUN/state.json"
  python3 bench/machine-state.py "$@" --state "$RUN/state.json" >"$RUN/state.log" 2>&1 &
  GEN_PID=$!
  for _ in $(seq 1200); do
    [ -f "$RUN/state.json" ] && break
    kill -0 "$GEN_PID" 2>/dev/null || die "machine-state.py failed: $(tail -3 "$RUN/state.log")"
    sleep 0.5
  done
  [ -f "$RUN/state.json" ] || die "machine state not ready after 10 minutes"
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["ready"] else 1)' \
    "$RUN/state.json" || die "machine-state.py: not every process became ready"
}

# targets NAME: the PIDs machine-state.py started for a target, sorted, one line.
targets() {
  python3 -c 'import json,sys; print(" ".join(map(str, sorted(json.load(open(sys.argv[1]))["targets"][sys.argv[2]]))))' \
    "$RUN/state.json" "$1"
}

sorted_pids() { tr -s ' \t\n' '\n' | grep -E '^[0-9]+$' | sort -n | uniq | paste -sd' ' -; }

# table_pids: the PID column of rekt's table on stdin, sorted, one line.
table_pids() { awk 'NR>1{print $2}' | sorted_pids; }

# check WHAT WANT GOT: stops the run when a tool reports the wrong owners; a fast wrong
# tool is not measured.
check() {
  [ "$2" = "$3" ] || die "$1 reported PIDs '$3', expected '$2'"
  log "  ok: $1 -> $3"
}
