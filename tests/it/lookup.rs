//! Finding owners: real listeners in real processes, and the exact PIDs rekt reports. Every
//! test runs in a private network namespace as root (see tests/it/support), and binds ports
//! from `unused_port()` otherwise.

use crate::support::{
    Holder, code, pids_in_table, private_netns, rekt, rekt_with_env, stderr, stdout, unused_port,
    unused_ports, v4, v6,
};
use std::net::TcpStream;

/// `rekt EXTRA... SPEC`, where SPEC is a holder's `PORT/PROTO` or a bare port.
fn lookup(spec: &str, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = extra.to_vec();
    args.push(spec);
    rekt(&args)
}

#[test]
fn tcp_ipv4_listener() {
    let _net = private_netns();
    let h = Holder::tcp(&v4());
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
    let _net = private_netns();
    let h = Holder::tcp(&v6());
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
    let _net = private_netns();
    let h = Holder::udp(&v4());
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
    let _net = private_netns();
    let a = Holder::spawn(&["--reuseport", "tcp", &v4()], 1);
    let b = Holder::spawn(&["--reuseport", "tcp", &format!("127.0.0.1:{}", a.port)], 1);
    let out = lookup(&a.spec(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut want = vec![a.pid(), b.pid()];
    want.sort_unstable();
    assert_eq!(pids_in_table(&out), want);
}

#[test]
fn forked_workers_sharing_one_socket_are_all_found() {
    let _net = private_netns();
    let h = Holder::spawn(&["--fork", "tcp", &v4()], 2);
    assert_eq!(h.pids.len(), 2);
    assert!(h.pids.contains(&h.pid()));
    let out = lookup(&h.spec(), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), h.pids);
}

#[test]
fn established_connection_server_side() {
    let _net = private_netns();
    let mut h = Holder::spawn(&["--accept-one", "tcp", &v4()], 1);
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
    // As root, in a PID namespace of its own: rekt's search for a namespace that holds the
    // port sees none of the machine's (which may hold any port), so the line is exact.
    pid_sandbox!();
    let _net = private_netns();
    let port = unused_port();
    let out = lookup(&port.to_string(), &[]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert_eq!(stderr(&out), format!("rekt: nothing holds port {port}\n"));
}

#[test]
fn verbose_shows_name_user_and_every_type() {
    let _net = private_netns();
    // One process holding tcp, tcp6 and udp on the same port.
    let h = Holder::spawn(
        &[
            "--v6only",
            "tcp",
            &v4(),
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
    let _net = private_netns();
    // Two ports side by side, so that the range holds these two and nothing else.
    let [lo, hi] = unused_ports::<2>();
    let a = Holder::tcp(&format!("127.0.0.1:{hi}"));
    let b = Holder::udp(&format!("127.0.0.1:{lo}"));
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
        .collect();
    assert_eq!(rows, [(lo, b.pid()), (hi, a.pid())], "{}", stdout(&out));
    // Specs in any order: sorted by port too.
    let out = rekt(&[&a.spec(), &b.spec()]);
    assert_eq!(pids_in_table(&out), [b.pid(), a.pid()]);
}

#[test]
fn listen_mode_skips_connections_but_keeps_udp() {
    let _net = private_netns();
    let mut server = Holder::spawn(&["--accept-one", "tcp", &v4()], 1);
    let _client = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    server.expect_line("ACCEPTED");
    // Only an ESTABLISHED socket holds the port now: -l does not count it.
    assert_eq!(
        pids_in_table(&lookup(&server.spec(), &[])),
        vec![server.pid()]
    );
    assert_eq!(code(&lookup(&server.spec(), &["-l"])), 1);
    let udp = Holder::udp(&v4());
    assert_eq!(
        pids_in_table(&lookup(&udp.spec(), &["-l"])),
        vec![udp.pid()]
    );
    let listener = Holder::tcp(&v4());
    assert_eq!(
        pids_in_table(&lookup(&listener.spec(), &["--listen"])),
        vec![listener.pid()]
    );
}

#[test]
fn netlink_and_proc_net_give_the_same_answer() {
    let _net = private_netns();
    let a = Holder::spawn(&["--fork", "tcp", &v4(), "tcp", "[::1]:0"], 2);
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
