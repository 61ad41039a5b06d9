//! The PID-reuse guard: an owner exits after the lookup, a newcomer gets the same PID (and
//! the same fd number, on the same port) before the signal, and rekt must not touch it.
//! The scene is set in a private PID namespace, where writing ns_last_pid decides the next
//! PID, inside the test's private network namespace; that needs root, so the test skips
//! otherwise.

use crate::support::{TempDir, fixture, private_netns, run, stderr, stdout};
use std::process::Command;

const SCENE: &str = r#"
set -u
SOCKHOLD=$1 REKT=$2 DIR=$3
# Every wait here is bounded: wait_for FILE PATTERN gives up after 30 s.
wait_for() {
  for _ in $(seq 3000); do
    if [ -z "$2" ]; then [ -e "$1" ] && return 0; else grep -q "$2" "$1" 2>/dev/null && return 0; fi
    sleep 0.01
  done
  echo "scene: gave up waiting for $1 ${2:+to say $2}" >&2
  exit 1
}
"$SOCKHOLD" tcp 127.0.0.1:0 > "$DIR/old.out" 2> "$DIR/old.err" &
OLD=$!
wait_for "$DIR/old.out" READY
PORT=$(awk '{print $3}' "$DIR/old.out")
REKT_TEST_PAUSE_DIR="$DIR" "$REKT" -k "$PORT/tcp" > "$DIR/rekt.out" 2> "$DIR/rekt.err" &
REKT_PID=$!
wait_for "$DIR/paused" ""
# rekt has found OLD. Replace it with a newcomer that gets the same PID.
kill -9 "$OLD"; wait "$OLD"
echo $((OLD - 1)) > /proc/sys/kernel/ns_last_pid
"$SOCKHOLD" tcp "127.0.0.1:$PORT" > "$DIR/new.out" 2> "$DIR/new.err" &
NEW=$!
wait_for "$DIR/new.out" READY
echo "$OLD $NEW $PORT" > "$DIR/pids"
touch "$DIR/resume"
wait "$REKT_PID"; echo $? > "$DIR/rekt.code"
if kill -0 "$NEW" 2>/dev/null; then echo alive; else echo dead; fi > "$DIR/new.state"
kill -9 "$NEW" 2>/dev/null || true
"#;

#[test]
fn a_recycled_pid_is_never_signalled() {
    require_root!();
    let _net = private_netns();
    let dir = TempDir::new("reuse");
    // --kill-child: if the scene hangs and is killed, everything in it goes too.
    let scene = run(Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "bash",
            "-c",
            SCENE,
            "scene",
        ])
        .arg(fixture("sockhold"))
        .arg(crate::support::rekt_bin(&["-k", "PORT/tcp"]))
        .arg(&dir.0));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    assert!(
        scene.status.success(),
        "the scene script failed: {}{}\nold sockhold: {}\nnew sockhold: {}",
        stdout(&scene),
        stderr(&scene),
        read("old.err"),
        read("new.err")
    );
    let pids: Vec<String> = read("pids").split_whitespace().map(str::to_owned).collect();
    let (old, new, port) = (&pids[0], &pids[1], &pids[2]);
    assert_eq!(old, new, "setup: the newcomer must reuse the owner's PID");
    let (err, rekt_code, new_state) = (read("rekt.err"), read("rekt.code"), read("new.state"));

    assert!(
        err.contains(&format!(
            "{old} (sockhold) already exited or let go of the port; not signalled"
        )),
        "{err}"
    );
    assert!(!err.contains("killed"), "{err}");
    // The newcomer holds the port now, and rekt says so instead of calling it free.
    assert!(
        err.contains(&format!(
            "port {port}/tcp is still held by PID {new} (sockhold)"
        )),
        "{err}"
    );
    assert_eq!(rekt_code.trim(), "3", "the port is still held");
    assert_eq!(new_state.trim(), "alive", "the newcomer was not signalled");
}
