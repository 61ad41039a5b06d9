//! The live view, `rekt -i` (issue 19), end to end: run in a tmux server of the test's own,
//! driven with `send-keys` and read with `capture-pane`, in a private network namespace,
//! on listeners the test starts. Every test needs root (the namespace, and tmux in it);
//! without root each skips through `support::skip`. Nothing here asserts on time beyond
//! generous bounds.

use crate::support::{
    self, Holder, TempDir, Tmux, fixture, fixture_named, prompt, rekt_bin, stderr, stdout, v4,
};
use std::process::Command;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(30);

/// Waits until the view is up (its footer is drawn).
fn wait_view(tmux: &Tmux) -> String {
    tmux.wait_for("the view", |s| {
        s.contains("type: filter") || s.contains("[y/N]")
    })
}

/// The line of the screen that shows `pid` in the PID column, if any.
fn row_of(screen: &str, pid: u32) -> Option<&str> {
    screen
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(pid.to_string().as_str()))
}

/// The child of `parent` (the pane's shell) that runs rekt.
fn rekt_child_of(parent: u32) -> u32 {
    let deadline = Instant::now() + BOUND;
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid: Option<u32> = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
            if ppid == Some(parent) && stat.contains("(rekt)") {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "no rekt under {parent}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rows_appear_filter_and_enter_then_y_ends_the_owner() {
    require_root!();
    let _net = support::private_netns();
    let mut a = Holder::tcp(&v4());
    let mut b = Holder::udp(&v4());
    let tmux = Tmux::shell(120, 30);
    tmux.type_text(&format!("{} -i", rekt_bin(&["-i"])));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("both rows", |s| {
        row_of(s, a.pid()).is_some() && row_of(s, b.pid()).is_some()
    });
    let row = row_of(&screen, a.pid()).unwrap();
    assert!(
        row.contains(&a.port.to_string()) && row.contains("tcp"),
        "{row}"
    );
    assert!(row.contains("sockhold") && row.contains("holder"), "{row}");
    assert!(
        row_of(&screen, b.pid()).unwrap().contains("udp"),
        "{screen}"
    );
    assert!(screen.starts_with("rekt -i: 2 "), "{screen}");

    // A new listener shows up by itself.
    let c = Holder::tcp(&v4());
    tmux.wait_for("the new listener", |s| row_of(s, c.pid()).is_some());

    // Typing filters at once, by port.
    tmux.type_text(&a.port.to_string());
    let screen = tmux.wait_for("the filtered rows", |s| {
        row_of(s, b.pid()).is_none() && row_of(s, c.pid()).is_none()
    });
    assert!(row_of(&screen, a.pid()).is_some(), "{screen}");
    assert!(screen.contains(&format!("filter: {}", a.port)), "{screen}");

    // Enter asks, saying exactly what will happen; anything but y is no.
    tmux.keys(&["Enter"]);
    let question = format!("SIGTERM process: {} (sockhold)? [y/N]", a.pid());
    tmux.wait_for("the question", |s| s.contains(&question));
    tmux.keys(&["n"]);
    tmux.wait_for("the question to go", |s| s.contains("Ctrl-K"));
    assert!(a.alive(), "no y, no signal");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the question again", |s| s.contains(&question));
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("the outcome", |s| {
        s.contains(&format!("port {}/tcp is free", a.port))
    });
    assert!(
        screen.contains(&format!("terminated {} (sockhold)", a.pid())),
        "{screen}"
    );
    a.assert_exits_within(BOUND);
    tmux.wait_for("the row to go", |s| row_of(s, a.pid()).is_none());
    assert!(b.alive(), "only the selected owner is signalled");

    // Esc clears the filter, and Esc again quits to the prompt.
    tmux.keys(&["Escape"]);
    tmux.wait_for("every row again", |s| row_of(s, b.pid()).is_some());
    tmux.keys(&["Escape"]);
    tmux.wait_for("the prompt", prompt);
    assert_eq!(tmux.display("#{alternate_on}"), "0");
}

/// An owner that exits while a child it forked keeps the socket: the socket table does not
/// change, yet its row goes and the child's stays.
#[test]
fn an_owner_that_exits_leaving_its_socket_to_a_child_goes() {
    require_root!();
    let _net = support::private_netns();
    let mut h = Holder::spawn(&["tcp", &v4(), "--fork"], 2);
    let parent = h.child.id();
    let child = *h
        .pids
        .iter()
        .find(|&&p| p != parent)
        .expect("the forked child");
    let tmux = Tmux::shell(120, 30);
    tmux.type_text(&format!("{} -i", rekt_bin(&["-i"])));
    tmux.keys(&["Enter"]);
    tmux.wait_for("both rows", |s| {
        row_of(s, parent).is_some() && row_of(s, child).is_some()
    });
    h.child.kill().unwrap();
    h.child.wait().unwrap();
    let screen = tmux.wait_for("the parent's row to go", |s| row_of(s, parent).is_none());
    assert!(row_of(&screen, child).is_some(), "{screen}");
    tmux.keys(&["C-c"]);
}

/// A terminal that goes away (its tmux killed, its window closed) ends the view, rather than
/// leaving it to spin on a terminal that can no longer be read.
#[test]
fn the_view_ends_when_its_terminal_goes() {
    require_root!();
    let _net = support::private_netns();
    let h = Holder::tcp(&v4());
    let tmux = Tmux::start(100, 20, &format!("{} -i", rekt_bin(&["-i"])));
    let view: u32 = tmux.display("#{pane_pid}").parse().unwrap();
    tmux.wait_for("the view", |s| row_of(s, h.pid()).is_some());
    tmux.run(&["kill-server"]);
    let gone = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| stat.contains(") Z "))
    };
    let deadline = Instant::now() + BOUND;
    while !gone(view) {
        assert!(
            Instant::now() < deadline,
            "the view {view} runs on without a terminal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_caller_row_is_marked_and_refused() {
    require_root!();
    let _net = support::private_netns();
    let port = support::unused_port();
    // sockhold binds, then runs the view: its own parent holds the port.
    let command = format!(
        "{} tcp 127.0.0.1:{port} --then-run {} -i {port}",
        fixture("sockhold").display(),
        rekt_bin(&["-i"])
    );
    let tmux = Tmux::start(120, 30, &command);
    let holder: u32 = tmux.display("#{pane_pid}").parse().unwrap();
    let screen = tmux.wait_for("the caller's row", |s| row_of(s, holder).is_some());
    let row = row_of(&screen, holder).unwrap();
    assert!(row.contains("caller!"), "{row}");
    assert!(row.contains("it is rekt's parent (sockhold)"), "{row}");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the refusal", |s| s.contains("refusing to signal"));
    assert!(!screen.contains("[y/N]"), "nothing to ask: {screen}");
    assert!(
        screen.contains(&format!(
            "refusing to signal {holder} (sockhold): it is rekt's parent (sockhold)"
        )),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("port {port}/tcp is still held by PID {holder}")),
        "{screen}"
    );
    assert!(
        std::path::Path::new(&format!("/proc/{holder}")).exists(),
        "the caller lives"
    );
    tmux.keys(&["C-c"]);
}

#[test]
fn a_hostile_name_is_escaped_and_leaves_the_title_alone() {
    require_root!();
    let _net = support::private_netns();
    let dir = TempDir::new("view-hostile");
    let name = std::ffi::OsStr::new("evil\x1b]0;pwned\x07\x1b[2Jx");
    let mut cmd = Command::new(fixture_named("sockhold", &dir, name));
    cmd.args(["tcp", &v4()]);
    let h = Holder::spawn_command(cmd, 1);
    let tmux = Tmux::shell(200, 30);
    let title = tmux.display("#{pane_title}");
    tmux.type_text(&format!("{} -i", rekt_bin(&["-i"])));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the row", |s| row_of(s, h.pid()).is_some());
    let row = row_of(&screen, h.pid()).unwrap();
    assert!(row.contains(r"evil\e]0;pwned\a\e[2Jx"), "{row}");
    assert_eq!(
        tmux.display("#{pane_title}"),
        title,
        "the title is unchanged"
    );
    tmux.keys(&["C-c"]);
    tmux.wait_for("the prompt", prompt);
    assert_eq!(tmux.display("#{pane_title}"), title);
}

#[test]
fn forty_by_ten_and_smaller_do_not_crash() {
    require_root!();
    let _net = support::private_netns();
    let h = Holder::tcp(&v4());
    let _u = Holder::udp(&v4());
    let tmux = Tmux::shell(40, 10);
    tmux.type_text(&format!("{} -i", rekt_bin(&["-i"])));
    tmux.keys(&["Enter"]);
    wait_view(&tmux);
    let screen = tmux.wait_for("the row", |s| row_of(s, h.pid()).is_some());
    for line in screen.lines() {
        assert!(line.chars().count() <= 40, "{line}");
    }
    for keys in [
        &["Tab"][..],
        &["Down", "Down", "End", "Home"],
        &["PageDown"],
        &["Tab"],
    ] {
        tmux.keys(keys);
    }
    for (w, h) in [("20", "5"), ("5", "2"), ("1", "1"), ("40", "10")] {
        tmux.run(&["resize-window", "-t", "0", "-x", w, "-y", h]);
        std::thread::sleep(Duration::from_millis(300));
        assert!(tmux.alive(), "{w}x{h}");
    }
    tmux.wait_for("the row again", |s| row_of(s, h.pid()).is_some());
    assert_eq!(tmux.display("#{alternate_on}"), "1");
    tmux.keys(&["C-c"]);
    tmux.wait_for("the prompt", prompt);
}

#[test]
fn ctrl_c_sigterm_and_sighup_restore_the_terminal() {
    require_root!();
    let _net = support::private_netns();
    let h = Holder::tcp(&v4());
    let tmux = Tmux::shell(100, 20);
    let shell: u32 = tmux.display("#{pane_pid}").parse().unwrap();
    for how in ["C-c", "SIGTERM", "SIGHUP"] {
        tmux.type_text(&format!("{} -i", rekt_bin(&["-i"])));
        tmux.keys(&["Enter"]);
        tmux.wait_for("the view", |s| row_of(s, h.pid()).is_some());
        assert_eq!(tmux.display("#{alternate_on}"), "1", "{how}");
        match how {
            "C-c" => tmux.keys(&["C-c"]),
            signal => {
                let pid = rekt_child_of(shell);
                let signal = if signal == "SIGTERM" {
                    libc::SIGTERM
                } else {
                    libc::SIGHUP
                };
                // SAFETY: kill(2) on the rekt this test started.
                assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
            }
        }
        let screen = tmux.wait_for("the prompt", prompt);
        assert_eq!(tmux.display("#{alternate_on}"), "0", "{how}: {screen}");
        assert_eq!(
            tmux.display("#{cursor_flag}"),
            "1",
            "{how}: the cursor shows"
        );
        // Raw mode is off: the shell echoes and reads lines as it did.
        tmux.type_text("echo cooked-$((6*7))");
        tmux.keys(&["Enter"]);
        tmux.wait_for("the echo", |s| s.contains("cooked-42"));
        tmux.keys(&["C-l"]);
        tmux.wait_for("a clear screen", |s| !s.contains("cooked-42") && prompt(s));
    }
    wait_view_gone(&tmux);
}

/// A panic aborts a release build (`panic = "abort"`) with no destructor run: the panic
/// hook restores the terminal. A debug-build hook (`REKT_TEST_VIEW_PANIC`) panics where
/// unwinding is impossible, so that the process aborts the same way.
#[test]
fn a_panic_restores_the_terminal() {
    require_root!();
    let _net = support::private_netns();
    let h = Holder::tcp(&v4());
    let tmux = Tmux::shell(100, 20);
    tmux.type_text(&format!(
        "RUST_BACKTRACE=0 REKT_TEST_VIEW_PANIC=1 {} -i",
        rekt_bin(&["-i"])
    ));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the view", |s| row_of(s, h.pid()).is_some());
    tmux.type_text("!");
    let screen = tmux.wait_for("the prompt", prompt);
    // It aborted, as a release build would (and no destructor ran).
    assert!(screen.contains("non-unwinding panic"), "{screen}");
    assert_eq!(tmux.display("#{alternate_on}"), "0", "{screen}");
    assert_eq!(tmux.display("#{cursor_flag}"), "1", "the cursor shows");
    tmux.type_text("echo cooked-$((6*7))");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the echo", |s| s.contains("cooked-42"));
}

/// The view has quit: no footer on the screen.
fn wait_view_gone(tmux: &Tmux) {
    tmux.wait_for("no view", |s| !s.contains("Ctrl-K"));
}

#[test]
fn without_a_terminal_it_is_a_one_line_usage_error() {
    let out = support::rekt(&["-i"]);
    assert_eq!(support::code(&out), 2);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("opens the live view, which needs a terminal"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}
