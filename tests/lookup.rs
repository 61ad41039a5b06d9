//! Finding owners: real listeners in real processes, and the exact PIDs rekt reports.
#![cfg(target_os = "linux")]

mod common;
use common::{Holder, code, pids_in_table, rekt, rekt_with_env, stderr, stdout};
use std::net::{TcpListener, TcpStream};

/// `rekt EXTRA... SPEC`, where SPEC is a holder's `PORT/PROTO` or a bare port.
fn lookup(spec: &str, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = extra.to_vec();
    args.push(spec);
    rekt(&args)
}

#[test]
fn tcp_ipv4_listener() {
    let h = Holder::tcp("127.0.0.1:0");
    let out = lookup(&h.spec(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![h.pid()]);
    let table = stdout(&out);
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["PORT", "PID"]
    );
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        [h.port.to_string(), h.pid().to_string()]
    );
}

#[test]
fn tcp_ipv6_listener_on_loopback() {
    let h = Holder::tcp("[::1]:0");
    let out = lookup(&h.spec(), &["-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![h.pid()]);
    assert!(stdout(&out).contains(&format!("[::1]:{}", h.port)));
    assert!(stdout(&out).contains(" tcp6 "), "{}", stdout(&out));
    // The family filters see it only as IPv6.
    assert_eq!(pids_in_table(&lookup(&h.spec(), &["-6"])), vec![h.pid()]);
    assert_eq!(code(&lookup(&h.spec(), &["-4"])), 1);
}

#[test]
fn udp_socket() {
    let h = Holder::udp("127.0.0.1:0");
    let out = lookup(&h.spec(), &["-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![h.pid()]);
    assert!(stdout(&out).contains(" udp "), "{}", stdout(&out));
    // Protocol filters and per-spec protocols apply.
    // A bare port with --tcp: the UDP socket must not count.
    assert_eq!(code(&lookup(&h.port.to_string(), &["--tcp"])), 1);
    assert_eq!(code(&rekt(&[&format!("{}/tcp", h.port)])), 1);
    assert_eq!(
        pids_in_table(&rekt(&[&format!("{}/udp", h.port)])),
        vec![h.pid()]
    );
}

#[test]
fn reuseport_group_is_found_whole() {
    let a = Holder::spawn(&["--reuseport", "tcp", "127.0.0.1:0"], 1);
    let b = Holder::spawn(&["--reuseport", "tcp", &format!("127.0.0.1:{}", a.port)], 1);
    let out = lookup(&a.spec(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut want = vec![a.pid(), b.pid()];
    want.sort_unstable();
    assert_eq!(pids_in_table(&out), want);
}

#[test]
fn forked_workers_sharing_one_socket_are_all_found() {
    let h = Holder::spawn(&["--fork", "tcp", "127.0.0.1:0"], 2);
    assert_eq!(h.pids.len(), 2);
    assert!(h.pids.contains(&h.pid()));
    let out = lookup(&h.spec(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), h.pids);
}

#[test]
fn established_connection_server_side() {
    let mut h = Holder::spawn(&["--accept-one", "tcp", "127.0.0.1:0"], 1);
    let _client = TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    h.expect_line("ACCEPTED");
    // The listener is closed: only the accepted connection holds the port now.
    let out = lookup(&h.spec(), &["-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![h.pid()]);
    assert!(stdout(&out).contains("ESTABLISHED"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("LISTEN"), "{}", stdout(&out));
}

#[test]
fn free_port_exits_1_with_one_line() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = lookup(&port.to_string(), &[]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert_eq!(stderr(&out), format!("rekt: nothing holds port {port}\n"));
}

#[test]
fn verbose_shows_name_user_and_every_type() {
    // One process holding tcp, tcp6 and udp on the same port.
    let h = Holder::spawn(
        &[
            "--v6only",
            "tcp",
            "127.0.0.1:0",
            "tcp",
            "[::1]:0",
            "udp",
            "127.0.0.1:0",
        ],
        1,
    );
    let out = rekt(&["-v", &format!("{}/tcp", h.port), &format!("{}/udp", h.port)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "one row per (port, pid): {table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "PORT",
            "PID",
            "NAME",
            "USER",
            "TYPE",
            "STATE",
            "ADDRESS",
            "ROLE",
            "PARENTS",
            "UNIT",
            "SUPERVISOR"
        ]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], h.port.to_string());
    assert_eq!(row[1], h.pid().to_string());
    assert_eq!(row[2], "sockhold");
    assert_eq!(row[3], current_user());
    assert_eq!(row[4], "tcp,tcp6,udp");
    assert_eq!(row[5], "LISTEN,UNCONN");
    // Each distinct address once: the UDP socket shares the TCP one's address.
    assert_eq!(row[6], format!("127.0.0.1:{0},[::1]:{0}", h.port));
    assert_eq!(row[7], "holder");
    // This test process started it: `PID (name)` first in its parent chain.
    assert_eq!(row[8], std::process::id().to_string(), "{table}");
}

#[test]
fn several_ports_and_ranges_sort_by_port_then_pid() {
    let a = Holder::tcp("127.0.0.1:0");
    let b = Holder::udp("127.0.0.1:0");
    let (lo, hi) = (a.port.min(b.port), a.port.max(b.port));
    let out = rekt(&[&format!("{lo}-{hi}")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Vec<(u16, u32)> = stdout(&out)
        .lines()
        .skip(1)
        .map(|l| {
            let mut w = l.split_whitespace();
            (
                w.next().unwrap().parse().unwrap(),
                w.next().unwrap().parse().unwrap(),
            )
        })
        // Only our two: another process may use one of these numbers in the other protocol.
        .filter(|&(_, pid)| pid == a.pid() || pid == b.pid())
        .collect();
    let mut want = vec![(a.port, a.pid()), (b.port, b.pid())];
    want.sort_unstable();
    assert_eq!(rows, want);
    let out = rekt(&[&a.spec(), &b.spec()]);
    assert_eq!(pids_in_table(&out).len(), 2);
}

#[test]
fn listen_mode_skips_connections_but_keeps_udp() {
    let mut server = Holder::spawn(&["--accept-one", "tcp", "127.0.0.1:0"], 1);
    let _client = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    server.expect_line("ACCEPTED");
    // Only an ESTABLISHED socket holds the port now: -l does not count it.
    assert_eq!(
        pids_in_table(&lookup(&server.spec(), &[])),
        vec![server.pid()]
    );
    assert_eq!(code(&lookup(&server.spec(), &["-l"])), 1);
    let udp = Holder::udp("127.0.0.1:0");
    assert_eq!(
        pids_in_table(&lookup(&udp.spec(), &["-l"])),
        vec![udp.pid()]
    );
    let listener = Holder::tcp("127.0.0.1:0");
    assert_eq!(
        pids_in_table(&lookup(&listener.spec(), &["--listen"])),
        vec![listener.pid()]
    );
}

#[test]
fn netlink_and_proc_net_give_the_same_answer() {
    let a = Holder::spawn(&["--fork", "tcp", "127.0.0.1:0", "tcp", "[::1]:0"], 2);
    let b = Holder::spawn(&["--reuseport", "udp", &format!("127.0.0.1:{}", a.port)], 1);
    for flags in [&[][..], &["-l"], &["-6"], &["--udp"]] {
        let mut args: Vec<&str> = vec!["-v"];
        args.extend_from_slice(flags);
        let port = a.port.to_string();
        args.push(&port);
        let netlink = rekt(&args);
        let procfs = rekt_with_env(&args, &[("REKT_SOCKETS", "proc")]);
        assert_eq!(stdout(&netlink), stdout(&procfs), "{args:?}");
        assert_eq!(
            code(&netlink),
            code(&procfs),
            "{args:?}\nnetlink: {}\nprocfs: {}",
            stderr(&netlink),
            stderr(&procfs)
        );
        assert!(!stdout(&netlink).is_empty(), "{args:?}");
    }
    let all = pids_in_table(&rekt(&[&a.port.to_string()]));
    let mut want = a.pids.clone();
    want.push(b.pid());
    want.sort_unstable();
    assert_eq!(all, want);
}

fn current_user() -> String {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2) == Some(&uid.to_string().as_str())).then(|| f[0].to_owned())
        })
        .unwrap_or_else(|| uid.to_string())
}
