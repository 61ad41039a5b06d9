//! The per-port verdict, checked against the kernel: rekt says a port is free exactly when a
//! fresh bind() on it would succeed. Every case of issue 11 is built with real sockets.
#![cfg(target_os = "linux")]

mod common;
use common::{code, stderr};
use std::process::Command;

/// An unreadable socket table is a failed lookup (exit 4), never "free": /proc mounted with
/// `subset=pid` (as hardened containers do) has no /proc/net at all.
#[test]
fn a_missing_socket_table_fails_the_lookup() {
    require_root!();
    let out = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t proc -o subset=pid proc /proc && exec \"$0\" 8000",
        ])
        .arg(env!("CARGO_BIN_EXE_rekt"))
        .env("REKT_SOCKETS", "proc")
        .env("NO_COLOR", "1")
        .output()
        .expect("unshare -m");
    let err = stderr(&out);
    assert_eq!(code(&out), 4, "{err}");
    assert_eq!(
        err,
        "rekt: cannot look up sockets: /proc/net/tcp: No such file or directory (os error 2)\n"
    );
}
