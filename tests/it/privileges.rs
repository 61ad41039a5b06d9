//! What rekt says when it cannot see or must not touch an owner. These tests need root to
//! set the scene (another user, another PID namespace); they skip with a reason otherwise.
//! Each runs in a private network namespace (see tests/it/support).

use crate::support;

use crate::support::{
    Holder, code, fixture, pids_in_table, private_netns, rekt_as, run, stderr, stdout, v4,
};
use std::process::Command;
use std::time::Duration;

const NOBODY: u32 = 65534;

#[test]
fn a_root_owner_is_explained_to_an_unprivileged_user() {
    require_root!();
    let _net = private_netns();
    let mut h = Holder::tcp(&v4());
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
    assert!(h.alive(), "{}", h.context());
}

/// Runs `cmd` inside the PID and mount namespaces of `host_pid` (and in this thread's
/// network namespace, which nsenter leaves alone).
fn in_namespace(host_pid: u32) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.args(["-t", &host_pid.to_string(), "-p", "-m", "--"]);
    cmd
}

#[test]
fn pid_1_is_refused_and_the_others_are_signalled_only_with_partial() {
    require_root!();
    let _net = private_netns();
    // A fresh PID namespace where a socket holder is PID 1. Its READY lines give PIDs in
    // there, so these holders are "foreign": dropping them kills unshare and nsenter, and
    // unshare's --kill-child takes the whole namespace down.
    let mut init = Command::new("unshare");
    init.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(fixture("sockhold"))
        .args(["--reuseport", "tcp", &v4()]);
    let init = Holder::spawn_foreign(init, 1);
    assert_eq!(init.pids, [1], "{}", init.context());
    let port = init.port.to_string();
    let children = format!("/proc/{0}/task/{0}/children", init.pid());
    let host_pid: u32 = std::fs::read_to_string(&children)
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{children}: {e}"));

    // A second holder of the same port in that namespace.
    let mut other = in_namespace(host_pid);
    other
        .arg(fixture("sockhold"))
        .args(["--reuseport", "tcp", &format!("127.0.0.1:{port}")]);
    let mut other = Holder::spawn_foreign(other, 1);
    let other_pid = other.pids[0];

    // PID 1 keeps the port held whatever rekt does to the other holder: it is held back.
    let out = run(in_namespace(host_pid)
        .arg(support::rekt_bin(&["-k", &port]))
        .args(["-k", &port]));
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert_eq!(pids_in_table(&out), vec![1, other_pid], "{}", stdout(&out));
    assert!(
        err.contains("refusing to signal 1 (sockhold): PID 1 is init"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "not signalling {other_pid} (sockhold): port {port}/tcp stays held by 1 (sockhold)"
        )),
        "{err}"
    );
    assert!(other.alive(), "the held-back holder was not signalled");

    // --partial signals it anyway.
    let out = run(in_namespace(host_pid)
        .arg(support::rekt_bin(&["-k", "--partial", &port]))
        .args(["-k", "--partial", &port]));
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains(&format!("killed {other_pid} (sockhold)")),
        "{err}"
    );
    // nsenter waited for the killed holder and ends the same way.
    let status = other.wait_within(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| !s.success()),
        "the other holder was killed: {status:?}; {}",
        other.context()
    );
}

#[test]
fn a_free_port_that_needs_privilege_is_said_so_to_a_normal_user() {
    require_root!();
    let _net = private_netns();
    // The kernel is the oracle: as nobody, a bind() on port 80 fails with EACCES here.
    let probe = run(setpriv_nobody().args([
        // Debian's own: another user may not read a pyenv shim under /root.
        "/usr/bin/python3",
        "-c",
        "import socket\ntry:\n  socket.socket().bind(('0.0.0.0', 80))\nexcept PermissionError:\n  raise SystemExit(13)",
    ]));
    assert_eq!(code(&probe), 13, "{}", stderr(&probe));
    let out = rekt_as(NOBODY, &["80/tcp"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert!(
        err.contains(
            "port 80/tcp needs privilege: nothing holds it, but only a privileged user may bind"
        ),
        "{err}"
    );
    let doc = support::json_of(&rekt_as(NOBODY, &["--json", "80/tcp"]));
    assert_eq!(doc["ports"][0]["free"], false, "{doc}");
    assert_eq!(doc["ports"][0]["needs_privilege"], true, "{doc}");
    // Root may bind it: free, and nothing more is said.
    let root = support::rekt(&["80/tcp"]);
    assert_eq!(stderr(&root), "rekt: nothing holds port 80/tcp\n");
    // A port from ip_unprivileged_port_start on is free for nobody too.
    let high = rekt_as(NOBODY, &["1024/tcp"]);
    assert!(
        !stderr(&high).contains("needs privilege"),
        "{}",
        stderr(&high)
    );
}

fn setpriv_nobody() -> std::process::Command {
    support::setpriv(NOBODY)
}
