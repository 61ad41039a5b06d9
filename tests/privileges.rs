//! What rekt says when it cannot see or must not touch an owner. These tests need root to
//! set the scene (another user, another PID namespace); they skip with a reason otherwise.
#![cfg(target_os = "linux")]

mod common;
use common::{Holder, code, example, pids_in_table, rekt_as, stderr, stdout};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const NOBODY: u32 = 65534;

#[test]
fn a_root_owner_is_explained_to_an_unprivileged_user() {
    require_root!();
    let h = Holder::tcp("127.0.0.1:0");
    let out = rekt_as(NOBODY, &[&h.spec()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(pids_in_table(&out).is_empty(), "{}", stdout(&out));
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "rekt: port {}/tcp is held by a process of uid 0 (root) that you cannot see; try sudo",
            h.port
        )
    );
    // Asking to kill it signals nothing and still exits 3.
    let out = rekt_as(NOBODY, &["-k", &h.spec()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(!stderr(&out).contains("killed"), "{}", stderr(&out));
    assert!(common::alive(h.pid()));
}

/// Runs `cmd` inside the PID and mount namespaces of `host_pid`.
fn in_namespace(host_pid: u32) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.args(["-t", &host_pid.to_string(), "-p", "-m", "--"]);
    cmd
}

#[test]
fn pid_1_is_refused_and_the_others_are_still_signalled() {
    require_root!();
    // A fresh PID namespace where a socket holder is PID 1.
    let mut init = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(example("sockhold"))
        .args(["--reuseport", "tcp", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("unshare");
    let mut line = String::new();
    BufReader::new(init.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[..2], ["READY", "1"], "{line}");
    let port = words[2];
    let host_pid: u32 = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", init.id()))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // A second holder of the same port in that namespace.
    let mut other = in_namespace(host_pid)
        .arg(example("sockhold"))
        .args(["--reuseport", "tcp", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(other.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let other_pid: u32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();

    let out = in_namespace(host_pid)
        .arg(env!("CARGO_BIN_EXE_rekt"))
        .args(["-k", port])
        .output()
        .unwrap();
    let err = stderr(&out);
    let _ = init.kill();
    assert_eq!(code(&out), 3, "{err}");
    assert_eq!(pids_in_table(&out), vec![1, other_pid], "{}", stdout(&out));
    assert!(
        err.contains("refusing to signal 1 (sockhold): PID 1 is init"),
        "{err}"
    );
    assert!(
        err.contains(&format!("killed {other_pid} (sockhold)")),
        "{err}"
    );
    let status = other.wait().unwrap();
    assert!(!status.success(), "the other holder was killed");
    let _ = init.wait();
}
