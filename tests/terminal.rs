//! Terminal conventions: colour only on a terminal and only without NO_COLOR.
#![cfg(target_os = "linux")]

mod common;
use common::{Holder, rekt, stdout};
use std::process::Command;

/// Runs rekt on a pseudo-terminal (util-linux `script`) with NO_COLOR set or not.
fn on_terminal(args: &str, no_color: bool) -> String {
    let mut cmd = Command::new("script");
    cmd.args([
        "-qec",
        &format!("{} {args}", env!("CARGO_BIN_EXE_rekt")),
        "/dev/null",
    ])
    .env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd.output().expect("script(1) from util-linux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colour_on_a_terminal_only() {
    let h = Holder::tcp("127.0.0.1:0");
    let port = h.spec();
    let tty = on_terminal(&port, false);
    assert!(
        tty.contains("\x1b[1mPORT"),
        "bold header on a terminal: {tty:?}"
    );
    let plain = on_terminal(&port, true);
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
    assert!(plain.contains(&h.pid().to_string()));
    // A pipe (the test harness) gets no escape codes even without NO_COLOR.
    let piped = Command::new(env!("CARGO_BIN_EXE_rekt"))
        .arg(&port)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!stdout(&piped).contains('\x1b'));
    assert_eq!(stdout(&piped), stdout(&rekt(&[&port])));
}

#[test]
fn columns_line_up() {
    let a = Holder::tcp("127.0.0.1:0");
    let b = Holder::spawn(&["udp", "127.0.0.1:0", "udp", "[::1]:0"], 1);
    let out = stdout(&rekt(&["-v", &a.spec(), &b.spec()]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    // Every column starts at the same offset in every line.
    let header = lines[0];
    for name in ["PID", "NAME", "USER", "TYPE", "STATE", "ADDRESS"] {
        let col = header.find(name).unwrap();
        for line in &lines[1..] {
            let before = &line[..col];
            assert!(before.ends_with("  "), "{name} misaligned in {line:?}");
            assert_ne!(line.as_bytes()[col], b' ', "{name} misaligned in {line:?}");
        }
    }
}
