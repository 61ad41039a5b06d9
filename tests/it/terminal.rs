//! Terminal conventions: colour only on a terminal and only without NO_COLOR or TERM=dumb. Each test
//! runs in a private network namespace as root (see tests/it/support).

use crate::support::{Holder, on_terminal, private_netns, rekt, rekt_command, run, stdout, v4};

#[test]
fn colour_on_a_terminal_only() {
    let _net = private_netns();
    let h = Holder::tcp(&v4());
    let port = h.spec();
    let tty = stdout(&on_terminal(&[&port], "", false));
    assert!(
        tty.contains("\x1b[1mPORT"),
        "bold header on a terminal: {tty:?}"
    );
    let plain = stdout(&on_terminal(&[&port], "", true));
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
    assert!(plain.contains(&h.pid().to_string()), "{plain:?}");
    // A pipe (the test harness) gets no escape codes even without NO_COLOR.
    let piped = run(rekt_command(&[&port]).env_remove("NO_COLOR"));
    assert!(!stdout(&piped).contains('\x1b'));
    assert_eq!(stdout(&piped), stdout(&rekt(&[&port])));
}

#[test]
fn term_dumb_gets_no_bold_as_no_color_does() {
    let _net = private_netns();
    let h = Holder::tcp(&v4());
    let line = format!("{} {}", crate::support::rekt_bin(&[&h.spec()]), h.spec());
    let on_tty = |term: &str| {
        let out = run(std::process::Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env_remove("NO_COLOR")
            .env("TERM", term)
            .stdin(std::process::Stdio::null()));
        stdout(&out)
    };
    // Not vacuous: the same terminal with another TERM gets bold.
    assert!(
        on_tty("xterm").contains("\x1b[1mPORT"),
        "{:?}",
        on_tty("xterm")
    );
    let dumb = on_tty("dumb");
    assert!(!dumb.contains('\x1b'), "TERM=dumb: {dumb:?}");
    assert!(dumb.contains(&h.pid().to_string()), "{dumb:?}");
}

#[test]
fn columns_line_up() {
    let _net = private_netns();
    let a = Holder::tcp(&v4());
    let b = Holder::spawn(&["udp", &v4(), "udp", "[::1]:0"], 1);
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
