//! List mode (`rekt` with no port): every listener and its owner. Every test runs in a
//! private network namespace as root (see tests/it/support), where the list holds the test's
//! sockets and nothing else; as a normal user the tests find their rows among the
//! machine's.

use crate::support;

use crate::support::{Holder, code, private_netns, rekt, stderr, stdout, v4, v6};

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
    let _net = private_netns();
    let tcp = Holder::tcp(&v4());
    let udp = Holder::udp(&v6());
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
    if support::private() {
        // Alone in its namespace: these two are the whole list.
        assert_eq!(rows.len(), 2, "{}", stdout(&out));
    }
}

#[test]
fn filters_apply_to_the_list() {
    let _net = private_netns();
    let tcp = Holder::tcp(&v4());
    let udp = Holder::udp(&v4());
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
    if support::private() {
        // Alone in its namespace: nothing else is listed.
        assert_eq!(rows(&only_udp).len(), 1, "{}", stdout(&only_udp));
        assert_eq!(rows(&only_tcp).len(), 1, "{}", stdout(&only_tcp));
        assert_eq!(stdout(&only_v6), "");
    }
}

#[test]
fn connections_are_not_listeners() {
    let _net = private_netns();
    let mut server = Holder::spawn(&["--accept-one", "tcp", &v4()], 1);
    let _client = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    server.expect_line("ACCEPTED");
    let out = rekt(&[]);
    assert!(
        !rows(&out).iter().any(|r| r[0] == server.port.to_string()),
        "{}",
        stdout(&out)
    );
    // Not vacuous: the same lookup by port finds the connection.
    assert_eq!(
        support::pids_in_table(&rekt(&[&server.spec()])),
        [server.pid()]
    );
}

#[test]
fn an_empty_list_still_exits_0() {
    require_root!();
    let _net = private_netns();
    // A fresh network namespace has no sockets at all.
    assert!(support::private(), "needs a private network namespace");
    let out = rekt(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn hidden_owners_show_a_dash_and_one_footnote() {
    require_root!();
    let _net = private_netns();
    let h = Holder::tcp(&v4());
    let out = support::rekt_as(65534, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Alone in its namespace: root's listener is the whole list.
    assert_eq!(
        rows(&out),
        [[
            h.port.to_string(),
            "tcp".into(),
            format!("127.0.0.1:{}", h.port),
            "-".into(),
            "-".into(),
            "root".into()
        ]],
        "{}",
        stdout(&out)
    );
    assert_eq!(
        stderr(&out),
        "rekt: 1 socket shown with PID '-': its owner is another user's process, which you \
         cannot see; try sudo\n"
    );
}
