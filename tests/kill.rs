//! Ending owners: real processes, real signals, and a check that they are gone.
#![cfg(target_os = "linux")]

mod common;
use common::{Holder, code, example, gone_within, pids_in_table, rekt, stderr};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn terminate_ends_a_process_that_exits_on_sigterm() {
    let mut h = Holder::tcp("127.0.0.1:0");
    let out = rekt(&["-t", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![h.pid()]);
    assert!(
        stderr(&out).contains(&format!("terminated {} (sockhold)", h.pid())),
        "{}",
        stderr(&out)
    );
    assert!(h.exited_within(Duration::from_secs(5)));
    assert_eq!(code(&rekt(&[&h.spec()])), 1, "port is free");
}

#[test]
fn kill_ends_a_process_that_ignores_sigterm() {
    let mut h = Holder::spawn(&["--ignore-term", "tcp", "127.0.0.1:0"], 1);
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("killed {} (sockhold)", h.pid())),
        "{}",
        stderr(&out)
    );
    assert!(h.exited_within(Duration::from_secs(5)));
}

#[test]
fn terminate_reports_a_survivor_and_exits_3() {
    let mut h = Holder::spawn(&["--ignore-term", "udp", "127.0.0.1:0"], 1);
    let out = rekt(&["-t", "--timeout", "300ms", &h.spec()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{} (sockhold) is still running after 300ms; use -k or --escalate",
            h.pid()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!h.exited_within(Duration::from_millis(100)));
}

#[test]
fn kill_wins_when_both_flags_are_given() {
    let mut h = Holder::spawn(&["--ignore-term", "tcp", "127.0.0.1:0"], 1);
    let out = rekt(&["-t", "-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(h.exited_within(Duration::from_secs(5)));
}

#[test]
fn kill_ends_a_whole_reuseport_group() {
    let mut a = Holder::spawn(&["--reuseport", "tcp", "127.0.0.1:0"], 1);
    let mut b = Holder::spawn(&["--reuseport", "tcp", &format!("127.0.0.1:{}", a.port)], 1);
    let out = rekt(&["-k", &a.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out).len(), 2);
    assert!(a.exited_within(Duration::from_secs(5)));
    assert!(b.exited_within(Duration::from_secs(5)));
    assert_eq!(code(&rekt(&[&a.spec()])), 1);
}

#[test]
fn each_owner_is_signalled_once_even_with_several_sockets() {
    let h = Holder::spawn(
        &["tcp", "127.0.0.1:0", "tcp", "[::1]:0", "udp", "127.0.0.1:0"],
        1,
    );
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("killed").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn forked_workers_are_all_killed() {
    let h = Holder::spawn(&["--fork", "tcp", "127.0.0.1:0"], 2);
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for &pid in &h.pids {
        assert!(gone_within(pid, Duration::from_secs(5)), "{pid} survived");
    }
}

#[test]
fn escalate_kills_what_ignores_sigterm_and_the_port_is_free() {
    let mut h = Holder::spawn(&["--ignore-term", "tcp", "127.0.0.1:0"], 1);
    let port = h.port.to_string();
    let out = rekt(&["-t", "--timeout", "300ms", "--escalate", &h.spec()]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    let who = format!("{} (sockhold)", h.pid());
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            format!("terminated {who}"),
            format!("{who} is still running after 300ms; killing it"),
            format!("killed {who}"),
            format!("port {port}/tcp is free"),
        ]
    );
    assert!(h.exited_within(Duration::from_secs(2)));
}

#[test]
fn the_port_check_reports_every_port_after_a_signal() {
    let mut h = Holder::spawn(&["tcp", "127.0.0.1:0", "udp", "127.0.0.1:0"], 1);
    let out = rekt(&["-t", &h.spec(), &format!("{}/udp", h.port)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("port {}/tcp is free", h.port)),
        "{err}"
    );
    assert!(
        err.contains(&format!("port {}/udp is free", h.port)),
        "{err}"
    );
    assert!(h.exited_within(Duration::from_secs(2)));
}

#[test]
fn the_port_check_names_every_survivor() {
    // Two processes share one socket and both ignore SIGTERM.
    let h = Holder::spawn(&["--fork", "--ignore-term", "tcp", "127.0.0.1:0"], 2);
    let out = rekt(&["-t", "--timeout", "200ms", &h.spec()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "port {}/tcp is still held by PIDs {} (sockhold), {} (sockhold)",
            h.port, h.pids[0], h.pids[1]
        )),
        "{err}"
    );
}

#[test]
fn rekts_parent_is_refused() {
    // sockhold binds a port, then runs `rekt -k PORT` as its child: the owner is rekt's
    // parent, which must not be signalled.
    let out = Command::new(example("sockhold"))
        .args([
            "tcp",
            "127.0.0.1:0",
            "--then-run",
            env!("CARGO_BIN_EXE_rekt"),
            "-k",
            "{port}",
        ])
        .output()
        .unwrap();
    let holder: u32 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .expect("READY line");
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains(&format!(
            "refusing to signal {holder} (sockhold): it is rekt's parent"
        )),
        "{err}"
    );
    assert!(!err.contains("killed"), "{err}");
}

#[test]
fn interactive_is_refused_without_a_terminal() {
    let h = Holder::tcp("127.0.0.1:0");
    let out = Command::new(env!("CARGO_BIN_EXE_rekt"))
        .args(["-k", "-i", &h.spec()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("needs a terminal"),
        "{}",
        stderr(&out)
    );
    assert!(common::alive(h.pid()));
}

/// Runs `rekt ARGS` on a pseudo-terminal (util-linux `script`), typing `input`.
fn on_terminal(args: &str, input: &str) -> std::process::Output {
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("{} {args}", env!("CARGO_BIN_EXE_rekt")),
            "/dev/null",
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn interactive_asks_and_respects_the_answer() {
    let mut h = Holder::tcp("127.0.0.1:0");
    let port = h.spec();
    let no = on_terminal(&format!("-k -i {port}"), "n\n");
    let text = common::stdout(&no);
    assert!(
        text.contains(&format!("kill {} (sockhold)? [y/N]", h.pid())),
        "{text}"
    );
    assert!(
        text.contains(&format!("skipped {} (sockhold)", h.pid())),
        "{text}"
    );
    assert_eq!(code(&no), 3, "declined: the port is still held");
    assert!(common::alive(h.pid()));
    let yes = on_terminal(&format!("-k -i {port}"), "y\n");
    assert_eq!(code(&yes), 0, "{}", common::stdout(&yes));
    assert!(h.exited_within(Duration::from_secs(2)));
}

#[test]
fn an_owner_that_exits_before_the_signal_is_already_gone() {
    let mut h = Holder::tcp("127.0.0.1:0");
    let dir = std::env::temp_dir().join(format!("rekt-gone-{}", h.pid()));
    std::fs::create_dir_all(&dir).unwrap();
    let rekt = Command::new(env!("CARGO_BIN_EXE_rekt"))
        .args(["-k", &h.spec()])
        .env("REKT_TEST_PAUSE_DIR", &dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    while !dir.join("paused").exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    h.child.kill().unwrap();
    h.child.wait().unwrap();
    std::fs::write(dir.join("resume"), b"").unwrap();
    let out = rekt.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{} (sockhold) already exited or let go of the port; not signalled",
            h.pid()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("port {}/tcp is free", h.port)),
        "{err}"
    );
    assert_eq!(code(&out), 0, "a vanished owner is not an error: {err}");
}
