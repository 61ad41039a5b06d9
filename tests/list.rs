//! List mode (`rekt` with no port): every listener and its owner.
#![cfg(target_os = "linux")]

mod common;
use common::{Holder, code, rekt, stderr, stdout};
use std::process::Command;

/// The rows of the list table as (port, proto, address, pid, name, user).
fn rows(out: &std::process::Output) -> Vec<Vec<String>> {
    stdout(out)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn lists_listeners_with_their_owners() {
    let tcp = Holder::tcp("127.0.0.1:0");
    let udp = Holder::udp("[::1]:0");
    let out = rekt(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let header: Vec<String> = stdout(&out)
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, ["PORT", "PROTO", "ADDRESS", "PID", "NAME", "USER"]);
    let rows = rows(&out);
    // By port and protocol: another process may use the same number in the other one.
    let find = |port: u16, proto: &str| {
        rows.iter()
            .find(|r| r[0] == port.to_string() && r[1] == proto)
            .cloned()
    };
    let t = find(tcp.port, "tcp").expect("tcp listener listed");
    assert_eq!(
        t[1..5],
        [
            "tcp".to_string(),
            format!("127.0.0.1:{}", tcp.port),
            tcp.pid().to_string(),
            "sockhold".to_string()
        ]
    );
    let u = find(udp.port, "udp6").expect("udp socket listed");
    assert_eq!(u[1], "udp6");
    assert_eq!(u[3], udp.pid().to_string());
    // Sorted by port.
    let ports: Vec<u32> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(ports.is_sorted(), "{ports:?}");
}

#[test]
fn filters_apply_to_the_list() {
    let tcp = Holder::tcp("127.0.0.1:0");
    let udp = Holder::udp("127.0.0.1:0");
    // Whether the list has a row for this holder's port and PID.
    let has = |out: &std::process::Output, h: &Holder| {
        rows(out)
            .iter()
            .any(|r| r[0] == h.port.to_string() && r[3] == h.pid().to_string())
    };
    let only_udp = rekt(&["--udp"]);
    assert!(has(&only_udp, &udp) && !has(&only_udp, &tcp));
    let only_tcp = rekt(&["--tcp"]);
    assert!(has(&only_tcp, &tcp) && !has(&only_tcp, &udp));
    let only_v6 = rekt(&["-6"]);
    assert!(!has(&only_v6, &tcp) && !has(&only_v6, &udp));
}

#[test]
fn connections_are_not_listeners() {
    let mut server = Holder::spawn(&["--accept-one", "tcp", "127.0.0.1:0"], 1);
    let _client = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    server.expect_line("ACCEPTED");
    let out = rekt(&[]);
    assert!(
        !rows(&out).iter().any(|r| r[0] == server.port.to_string()),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_empty_list_still_exits_0() {
    require_root!();
    // A fresh network namespace has no sockets at all.
    let out = Command::new("unshare")
        .args(["-n", env!("CARGO_BIN_EXE_rekt")])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn hidden_owners_show_a_dash_and_one_footnote() {
    require_root!();
    let h = Holder::tcp("127.0.0.1:0");
    let out = common::rekt_as(65534, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let row = rows(&out)
        .into_iter()
        .find(|r| r[0] == h.port.to_string())
        .expect("root's listener is listed");
    assert_eq!(row[3..], ["-", "-", "root"]);
    let err = stderr(&out);
    let notes: Vec<&str> = err.lines().collect();
    assert_eq!(notes.len(), 1, "one footnote: {notes:?}");
    assert!(notes[0].contains("shown with PID '-'"), "{}", notes[0]);
    assert!(notes[0].contains("try sudo"), "{}", notes[0]);
}
