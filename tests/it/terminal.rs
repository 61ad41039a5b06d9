//! Terminal conventions: colour only on a terminal and only without NO_COLOR or TERM=dumb. Each test
//! runs in a private network namespace as root (see tests/it/support).

use crate::support::{
    Holder, TempDir, Tmux, fixture_named, on_terminal, private_netns, prompt, rekt, rekt_bin,
    rekt_command, run, stdout, v4,
};

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

/// On a terminal (tmux, 100 columns), `-v` rows fit: a 200-character executable name and a
/// long PARENTS chain are cut with an ellipsis, the nearest parents kept, and a column with
/// nothing in it may go; piped, every byte stays. `TERM=dumb` in the same terminal gets no
/// bold.
#[test]
fn verbose_rows_fit_the_terminal_and_pipes_keep_everything() {
    require_root!();
    let _net = private_netns();
    let dir = TempDir::new("width");
    let long = "s".repeat(200);
    let exe = fixture_named("sockhold", &dir, std::ffi::OsStr::new(&long));
    // Six shells deep, none of which execs its last command: a long PARENTS chain.
    let mut line = format!("'{}' tcp {}; true", exe.display(), v4());
    for _ in 0..6 {
        line = format!(
            "bash -c {}; true",
            rekt::text::shell_word(&rekt::text::Text::from(line.as_str()))
        );
    }
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["-c", &line]);
    let h = Holder::spawn_command(cmd, 1);

    let piped = stdout(&rekt(&["-v", &h.spec()]));
    assert!(
        piped.contains(&long),
        "piped output keeps the name: {piped}"
    );
    let parents = piped.lines().nth(1).unwrap_or_default();
    assert!(parents.matches("(bash)").count() >= 6, "setup: {piped}");

    let tmux = Tmux::shell(100, 20);
    tmux.send(&format!("TERM=dumb {} -v {}", rekt_bin(&[]), h.spec()));
    let screen = tmux.wait_for("the table", |s| {
        s.lines().any(|l| l.starts_with(&h.port.to_string()))
    });
    let table: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("PORT"))
        .take_while(|l| !l.trim().is_empty() && !prompt(l))
        .collect();
    assert_eq!(
        table.len(),
        2,
        "one header and one row, unwrapped:\n{screen}"
    );
    let row = table[1];
    assert!(row.contains("ss\u{2026} "), "the name is cut: {screen}");
    assert!(
        row.contains(" < \u{2026}"),
        "the nearest parents, then an ellipsis: {screen}"
    );
    assert!(row.contains(&format!(" {} ", h.pids[0])), "{screen}");
    for l in &table {
        assert!(rekt::text::width(l) <= 100, "{l:?}");
    }
    // The screen has no bold to show, but tmux keeps what it was sent: ask for the
    // escapes too.
    let raw = stdout(&tmux.run(&["capture-pane", "-p", "-e", "-t", "0"]));
    assert!(!raw.contains("\x1b[1m"), "TERM=dumb: {raw:?}");
}
