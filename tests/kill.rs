//! Ending owners: real processes, real signals, and a check that they are gone.
#![cfg(target_os = "linux")]

mod common;
use common::{Holder, code, gone_within, pids_in_table, rekt, stderr};
use std::time::Duration;

#[test]
fn terminate_ends_a_process_that_exits_on_sigterm() {
    let mut h = Holder::tcp("127.0.0.1:0");
    let out = rekt(&["-t", &h.port.to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![h.pid()]);
    assert!(
        stderr(&out).contains(&format!("terminated {} (sockhold)", h.pid())),
        "{}",
        stderr(&out)
    );
    assert!(h.exited_within(Duration::from_secs(5)));
    assert_eq!(code(&rekt(&[&h.port.to_string()])), 1, "port is free");
}

#[test]
fn kill_ends_a_process_that_ignores_sigterm() {
    let mut h = Holder::spawn(&["--ignore-term", "tcp", "127.0.0.1:0"], 1);
    let out = rekt(&["-k", &h.port.to_string()]);
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
    let out = rekt(&["-t", &h.port.to_string()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{} (sockhold) is still running", h.pid())),
        "{}",
        stderr(&out)
    );
    assert!(!h.exited_within(Duration::from_millis(100)));
}

#[test]
fn kill_wins_when_both_flags_are_given() {
    let mut h = Holder::spawn(&["--ignore-term", "tcp", "127.0.0.1:0"], 1);
    let out = rekt(&["-t", "-k", &h.port.to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(h.exited_within(Duration::from_secs(5)));
}

#[test]
fn kill_ends_a_whole_reuseport_group() {
    let mut a = Holder::spawn(&["--reuseport", "tcp", "127.0.0.1:0"], 1);
    let mut b = Holder::spawn(&["--reuseport", "tcp", &format!("127.0.0.1:{}", a.port)], 1);
    let out = rekt(&["-k", &a.port.to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out).len(), 2);
    assert!(a.exited_within(Duration::from_secs(5)));
    assert!(b.exited_within(Duration::from_secs(5)));
    assert_eq!(code(&rekt(&[&a.port.to_string()])), 1);
}

#[test]
fn each_owner_is_signalled_once_even_with_several_sockets() {
    let h = Holder::spawn(
        &["tcp", "127.0.0.1:0", "tcp", "[::1]:0", "udp", "127.0.0.1:0"],
        1,
    );
    let out = rekt(&["-k", &h.port.to_string()]);
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
    let out = rekt(&["-k", &h.port.to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for &pid in &h.pids {
        assert!(gone_within(pid, Duration::from_secs(5)), "{pid} survived");
    }
}
