//! Ending owners: real processes, real signals, and a check that they are gone. Every test
//! runs in a private network namespace as root (see tests/it/support), and signals by
//! `PORT/PROTO` of its own holder otherwise.

use crate::support;

use crate::support::{
    Holder, code, on_terminal, paused_rekt, pids_in_table, private_netns, rekt, run, stderr, v4, v6,
};
use std::process::Command;
use std::time::Duration;

const FIVE_S: Duration = Duration::from_secs(5);

#[test]
fn terminate_ends_a_process_that_exits_on_sigterm() {
    let _net = private_netns();
    let mut h = Holder::tcp(&v4());
    let out = rekt(&["-t", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![h.pid()]);
    assert!(
        stderr(&out).contains(&format!("terminated {} (sockhold)", h.pid())),
        "{}",
        stderr(&out)
    );
    h.assert_exits_within(FIVE_S);
    assert_eq!(code(&rekt(&[&h.spec()])), 1, "port is free");
}

#[test]
fn kill_ends_a_process_that_ignores_sigterm() {
    let _net = private_netns();
    let mut h = Holder::spawn(&["--ignore-term", "tcp", &v4()], 1);
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("killed {} (sockhold)", h.pid())),
        "{}",
        stderr(&out)
    );
    h.assert_exits_within(FIVE_S);
}

#[test]
fn terminate_reports_a_survivor_and_exits_3() {
    let _net = private_netns();
    let mut h = Holder::spawn(&["--ignore-term", "udp", &v4()], 1);
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
    h.assert_runs_for(Duration::from_millis(100));
}

#[test]
fn kill_wins_when_both_flags_are_given() {
    let _net = private_netns();
    let mut h = Holder::spawn(&["--ignore-term", "tcp", &v4()], 1);
    let out = rekt(&["-t", "-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    h.assert_exits_within(FIVE_S);
}

#[test]
fn kill_ends_a_whole_reuseport_group() {
    let _net = private_netns();
    let mut a = Holder::spawn(&["--reuseport", "tcp", &v4()], 1);
    let mut b = Holder::spawn(&["--reuseport", "tcp", &format!("127.0.0.1:{}", a.port)], 1);
    let out = rekt(&["-k", &a.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut both = vec![a.pid(), b.pid()];
    both.sort_unstable();
    assert_eq!(pids_in_table(&out), both);
    a.assert_exits_within(FIVE_S);
    b.assert_exits_within(FIVE_S);
    assert_eq!(code(&rekt(&[&a.spec()])), 1);
}

#[test]
fn each_owner_is_signalled_once_even_with_several_sockets() {
    let _net = private_netns();
    let mut h = Holder::spawn(&["tcp", &v4(), "tcp", "[::1]:0", "udp", "127.0.0.1:0"], 1);
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("killed").count(),
        1,
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(&format!("killed {} (sockhold)", h.pid())),
        "{}",
        stderr(&out)
    );
    h.assert_exits_within(FIVE_S);
}

#[test]
fn forked_workers_are_all_killed() {
    let _net = private_netns();
    let h = Holder::spawn(&["--fork", "tcp", &v4()], 2);
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), h.pids);
    h.assert_all_gone_within(FIVE_S);
}

#[test]
fn escalate_kills_what_ignores_sigterm_and_the_port_is_free() {
    let _net = private_netns();
    let mut h = Holder::spawn(&["--ignore-term", "tcp", &v4()], 1);
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
    h.assert_exits_within(FIVE_S);
}

#[test]
fn the_port_check_reports_every_port_after_a_signal() {
    let _net = private_netns();
    let mut h = Holder::spawn(&["tcp", &v4(), "udp", "127.0.0.1:0"], 1);
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
    h.assert_exits_within(FIVE_S);
}

#[test]
fn the_port_check_names_every_survivor() {
    let _net = private_netns();
    // Two processes share one socket and both ignore SIGTERM.
    let h = Holder::spawn(&["--fork", "--ignore-term", "tcp", &v4()], 2);
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
    let _net = private_netns();
    // sockhold binds a port, then runs `rekt -k PORT/tcp` as its child: the owner is rekt's
    // parent, which must not be signalled.
    if !support::private() {
        support::skip(
            "this test needs root (rekt run by a fixture signals in a private namespace only)",
        );
        return;
    }
    let out = run(Command::new(support::fixture("sockhold")).args([
        "tcp",
        &v4(),
        "--then-run",
        support::rekt_bin(&["-k", "{port}/tcp"]),
        "-k",
        "{port}/tcp",
    ]));
    let holder: u32 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no READY line: {}", stderr(&out)));
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
    let _net = private_netns();
    let mut h = Holder::tcp(&v6());
    // rekt's stdin is empty (not a terminal).
    let out = rekt(&["-k", "-i", &h.spec()]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("needs a terminal"),
        "{}",
        stderr(&out)
    );
    assert!(h.alive(), "{}", h.context());
}

#[test]
fn interactive_asks_and_respects_the_answer() {
    let _net = private_netns();
    let mut h = Holder::tcp(&v4());
    let port = h.spec();
    let no = on_terminal(&["-k", "-i", &port], "n\n", true);
    let text = support::stdout(&no);
    assert!(
        text.contains(&format!("kill {} (sockhold)? [y/N]", h.pid())),
        "{text}"
    );
    assert!(
        text.contains(&format!("skipped {} (sockhold)", h.pid())),
        "{text}"
    );
    assert_eq!(code(&no), 3, "declined: the port is still held");
    assert!(h.alive(), "{}", h.context());
    let yes = on_terminal(&["-k", "-i", &port], "y\n", true);
    assert_eq!(code(&yes), 0, "{}", support::stdout(&yes));
    h.assert_exits_within(Duration::from_secs(2));
}

#[test]
fn an_owner_that_exits_before_the_signal_is_already_gone() {
    let _net = private_netns();
    let mut h = Holder::tcp(&v4());
    let rekt = paused_rekt(&["-k", &h.spec()]);
    h.child.kill().unwrap();
    h.assert_exits_within(FIVE_S);
    let out = rekt.resume();
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
