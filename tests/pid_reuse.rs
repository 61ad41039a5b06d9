//! The PID-reuse guard: an owner exits after the lookup, a newcomer gets the same PID (and
//! the same fd number, on the same port) before the signal, and rekt must not touch it.
//! The scene is set in a private PID namespace, where writing ns_last_pid decides the next
//! PID; that needs root, so the test skips otherwise.
#![cfg(target_os = "linux")]

mod common;
use common::example;
use std::process::Command;

const SCENE: &str = r#"
set -u
SOCKHOLD=$1 REKT=$2 DIR=$3
"$SOCKHOLD" tcp 127.0.0.1:0 > "$DIR/old.out" &
OLD=$!
until grep -q READY "$DIR/old.out"; do sleep 0.01; done
PORT=$(awk '{print $3}' "$DIR/old.out")
REKT_TEST_PAUSE_DIR="$DIR" "$REKT" -k "$PORT" > "$DIR/rekt.out" 2> "$DIR/rekt.err" &
REKT_PID=$!
until [ -e "$DIR/paused" ]; do sleep 0.01; done
# rekt has found OLD. Replace it with a newcomer that gets the same PID.
kill -9 "$OLD"; wait "$OLD"
echo $((OLD - 1)) > /proc/sys/kernel/ns_last_pid
"$SOCKHOLD" tcp "127.0.0.1:$PORT" > "$DIR/new.out" &
NEW=$!
until grep -q READY "$DIR/new.out"; do sleep 0.01; done
echo "$OLD $NEW $PORT" > "$DIR/pids"
touch "$DIR/resume"
wait "$REKT_PID"; echo $? > "$DIR/rekt.code"
if kill -0 "$NEW" 2>/dev/null; then echo alive; else echo dead; fi > "$DIR/new.state"
kill -9 "$NEW" 2>/dev/null || true
"#;

#[test]
fn a_recycled_pid_is_never_signalled() {
    require_root!();
    let dir = std::env::temp_dir().join(format!("rekt-reuse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "bash",
            "-c",
            SCENE,
            "scene",
        ])
        .arg(example("sockhold"))
        .arg(env!("CARGO_BIN_EXE_rekt"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "the scene script failed");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let pids: Vec<String> = read("pids").split_whitespace().map(str::to_owned).collect();
    let (old, new, port) = (&pids[0], &pids[1], &pids[2]);
    assert_eq!(old, new, "setup: the newcomer must reuse the owner's PID");
    let (err, rekt_code, new_state) = (read("rekt.err"), read("rekt.code"), read("new.state"));
    let _ = std::fs::remove_dir_all(&dir);

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
