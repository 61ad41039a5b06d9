//! Windows end to end: real sockhold processes, real sockets, and the exact PIDs rekt
//! reports; then real WM_CLOSE and TerminateProcess, and a check that the owner is gone and
//! the port free. CI runs these under wine 8.0, which names a socket's owning PID only while
//! one of the owner's threads is blocked on it (sockhold blocks on every socket it holds);
//! listeners and a server's accepted connections show PID 0 there (see the README).
#![cfg(windows)]

mod common;
use common::{Holder, code, pids_in_table, rekt, stderr, stdout, tables_name_listener_owners};
use rekt::internals::{Backend, Handle, Os};
use rekt::model::{AcquireError, Owner};
use std::net::UdpSocket;
use std::time::Duration;

/// The owners of a UDP port, through the library, as `rekt PORT/udp` finds them.
fn udp_owners(port: u16) -> Vec<Owner> {
    let spec = format!("{port}/udp").parse().unwrap();
    let found = rekt::lookup(&rekt::Query::ports(vec![spec])).expect("lookup");
    found.ownership.owners
}

/// Binds a UDP socket in this process with a thread blocked in `recv_from` on it, so that
/// wine's table names this process as the owner; returns the socket and the thread, which
/// ends (returning the datagram's length) when something is sent to the socket.
fn hold_udp_here() -> (UdpSocket, std::thread::JoinHandle<std::io::Result<usize>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let reader = sock.try_clone().unwrap();
    let blocked = std::thread::spawn(move || reader.recv_from(&mut [0u8; 8]).map(|(n, _)| n));
    let port = sock.local_addr().unwrap().port();
    let me = std::process::id();
    let named = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        udp_owners(port).iter().map(|o| o.pid).eq([me])
    });
    assert!(named, "the table never named this process as the owner");
    (sock, blocked)
}

/// Unblocks the thread of `hold_udp_here` and closes the socket.
fn release(sock: UdpSocket, blocked: std::thread::JoinHandle<std::io::Result<usize>>) {
    let addr = sock.local_addr().unwrap();
    sock.send_to(b"bye", addr).unwrap();
    assert_eq!(blocked.join().unwrap().unwrap(), 3);
}

/// The table row for `port` (verbose output), split into columns.
fn row(out: &std::process::Output, port: u16) -> Vec<String> {
    let text = stdout(out);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&port.to_string()))
        .unwrap_or_else(|| panic!("no row for {port} in {text:?}"));
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn a_udp_owner_is_found_by_its_exact_pid() {
    let h = Holder::udp("127.0.0.1:0");
    let port = h.port.to_string();
    let out = rekt(&[&port]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![h.pid()]);

    let out = rekt(&["-v", &port]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let cells = row(&out, h.port);
    // PORT PID NAME USER TYPE STATE ADDRESS ROLE PARENTS UNIT SUPERVISOR
    assert_eq!(cells[1], h.pid().to_string());
    assert_eq!(cells[2], "sockhold.exe");
    assert!(cells[3].contains('\\'), "USER is DOMAIN\\user: {cells:?}");
    assert_eq!(cells[4..7], ["udp", "UNCONN", &format!("127.0.0.1:{port}")]);
    assert_eq!(cells[7], "holder");
}

#[test]
fn ipv4_and_ipv6_owners_of_one_port_are_both_listed() {
    let v4 = Holder::udp("127.0.0.1:0");
    let v6 = Holder::udp(&format!("[::1]:{}", v4.port));
    let port = v4.port.to_string();
    let mut both = vec![v4.pid(), v6.pid()];
    both.sort_unstable();
    assert_eq!(pids_in_table(&rekt(&[&port])), both);
    assert_eq!(pids_in_table(&rekt(&["-4", &port])), vec![v4.pid()]);
    assert_eq!(pids_in_table(&rekt(&["-6", &port])), vec![v6.pid()]);
    assert_eq!(
        code(&rekt(&["--tcp", &port])),
        1,
        "no TCP socket on the port"
    );

    let out = rekt(&["-v", "-6", &port]);
    assert_eq!(
        row(&out, v6.port)[4..7],
        ["udp6", "UNCONN", &format!("[::1]:{port}")]
    );
}

#[test]
fn kill_ends_the_owner_and_frees_the_port() {
    let mut h = Holder::udp("127.0.0.1:0");
    let port = h.port.to_string();
    let out = rekt(&["-k", &port]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![h.pid()]);
    assert!(
        stderr(&out).contains(&format!("killed {} (sockhold.exe)", h.pid())),
        "{}",
        stderr(&out)
    );
    assert!(h.exited_within(Duration::from_secs(5)));
    assert_eq!(code(&rekt(&[&port])), 1, "port is free");
    UdpSocket::bind(("127.0.0.1", h.port)).expect("the port can be bound again");
}

#[test]
fn terminate_closes_the_windows_of_a_windowed_owner() {
    let mut h = Holder::spawn(&["--window", "udp", "127.0.0.1:0"], 1);
    let port = h.port.to_string();
    let out = rekt(&["-t", &port]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("terminated {} (sockhold.exe)", h.pid())),
        "{}",
        stderr(&out)
    );
    assert!(h.exited_within(Duration::from_secs(5)));
    assert_eq!(code(&rekt(&[&port])), 1, "port is free");
}

#[test]
fn terminate_of_an_owner_without_windows_says_to_use_kill() {
    let mut h = Holder::udp("127.0.0.1:0");
    let port = h.port.to_string();
    let out = rekt(&["-t", &port]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains(&format!("could not ask {} (sockhold.exe) to exit", h.pid())),
        "{err}"
    );
    assert!(
        err.contains("no windows to close") && err.contains("use -k"),
        "{err}"
    );
    assert!(!h.exited_within(Duration::from_millis(300)), "left alone");
    assert_eq!(pids_in_table(&rekt(&[&port])), vec![h.pid()]);
}

#[test]
fn terminate_that_is_ignored_reports_the_survivor() {
    // --ignore-term makes the window ignore WM_CLOSE, as an unsaved-changes prompt would.
    let mut h = Holder::spawn(&["--window", "--ignore-term", "udp", "127.0.0.1:0"], 1);
    let port = h.port.to_string();
    let out = rekt(&["-t", "--timeout", "300ms", &port]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(err.contains(&format!("terminated {}", h.pid())), "{err}");
    assert!(
        err.contains(&format!(
            "{} (sockhold.exe) is still running after 300ms; use -k",
            h.pid()
        )),
        "{err}"
    );
    assert!(!h.exited_within(Duration::from_millis(100)));
}

#[test]
fn a_tcp_client_blocked_in_read_is_found_by_its_local_port() {
    let mut server = Holder::spawn(&["--accept-one", "tcp", "127.0.0.1:0"], 1);
    let target = format!("127.0.0.1:{}", server.port);
    let client = Holder::spawn(&["--connect", "tcp", &target], 1);
    server.expect_line("ACCEPTED");
    let out = rekt(&["-v", &client.port.to_string()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![client.pid()]);
    assert_eq!(
        row(&out, client.port)[4..7],
        ["tcp", "ESTABLISHED", &format!("127.0.0.1:{}", client.port)]
    );

    // The server's end of the connection, on the server's port.
    let expected = if tables_name_listener_owners() {
        server.pid()
    } else {
        0
    };
    let out = rekt(&[&server.port.to_string()]);
    assert_eq!(pids_in_table(&out), vec![expected], "{}", stdout(&out));
}

#[test]
fn a_listener_shown_as_pid_0_is_reported_and_never_signalled() {
    let mut h = Holder::tcp("127.0.0.1:0");
    let port = h.port.to_string();
    let out = rekt(&["-v", &port]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    if tables_name_listener_owners() {
        // Real Windows (or wine 9.17+): the listener's own PID, which -k may end.
        assert_eq!(pids_in_table(&out), vec![h.pid()]);
        assert_eq!(code(&rekt(&["-k", &port])), 0);
        assert!(h.exited_within(Duration::from_secs(5)));
        return;
    }
    // wine before 9.17: the table says PID 0, and rekt says so rather than guessing.
    assert_eq!(pids_in_table(&out), vec![0]);
    let cells = row(&out, h.port);
    assert_eq!(cells[2..5], ["System", "Idle", "Process"], "{cells:?}");
    assert_eq!(
        // ... STATE ADDRESS, then ROLE and no PARENTS, UNIT or SUPERVISOR.
        cells[cells.len() - 6..],
        [
            "LISTEN",
            &format!("127.0.0.1:{port}"),
            "protected",
            "-",
            "-",
            "-"
        ]
    );

    let out = rekt(&["-k", &port]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert_eq!(pids_in_table(&out), vec![0]);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "the refusal and the port check: {err}");
    assert!(
        lines[0].starts_with("refusing to signal 0 (System Idle Process): PID 0 is"),
        "{err}"
    );
    assert_eq!(
        lines[1],
        format!("port {port}/tcp is still held by PID 0 (System Idle Process)")
    );
    assert!(
        !h.exited_within(Duration::from_millis(300)),
        "nothing was killed"
    );
    assert_eq!(pids_in_table(&rekt(&[&port])), vec![0], "still listening");
}

#[test]
fn rekt_refuses_to_signal_its_parent() {
    // This test process is rekt's parent, and the table names it as the socket's owner.
    let (sock, blocked) = hold_udp_here();
    let port = sock.local_addr().unwrap().port().to_string();
    let me = std::process::id();
    let out = rekt(&["-k", &port]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert_eq!(pids_in_table(&out), vec![me]);
    assert!(err.contains(&format!("refusing to signal {me}")), "{err}");
    assert!(err.contains("rekt's parent"), "{err}");
    release(sock, blocked);
}

#[test]
fn an_owner_is_pinned_only_while_it_still_holds_the_socket() {
    let mut h = Holder::udp("127.0.0.1:0");
    let owners = udp_owners(h.port);
    assert_eq!(owners.iter().map(|o| o.pid).collect::<Vec<_>>(), [h.pid()]);
    let target = Os::pin(&owners[0]).expect("a live owner is pinned");
    assert!(!target.has_exited());
    drop(target);

    // It exits between the lookup and the pinning: never signalled.
    h.child.kill().unwrap();
    h.child.wait().unwrap();
    assert!(matches!(Os::pin(&owners[0]), Err(AcquireError::Gone)));
}

#[test]
fn an_owner_that_let_go_of_the_socket_is_not_pinned() {
    // This process owns the socket, then closes it and lives on: the fresh table read in
    // acquire must notice, as it would for a PID recycled by an unrelated process.
    let (sock, blocked) = hold_udp_here();
    let port = sock.local_addr().unwrap().port();
    let owners = udp_owners(port);
    release(sock, blocked);
    assert!(matches!(Os::pin(&owners[0]), Err(AcquireError::Released)));
}

#[test]
fn escalate_forces_an_owner_that_ignores_wm_close() {
    let mut h = Holder::spawn(&["--window", "--ignore-term", "udp", "127.0.0.1:0"], 1);
    let port = h.port.to_string();
    let out = rekt(&["-t", "--timeout", "300ms", "--escalate", &port]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains("is still running after 300ms; killing it"),
        "{err}"
    );
    assert!(
        err.contains(&format!("killed {} (sockhold.exe)", h.pid())),
        "{err}"
    );
    assert!(err.contains(&format!("port {port}/udp is free")), "{err}");
    assert!(h.exited_within(Duration::from_secs(5)));
}

#[test]
fn escalate_forces_an_owner_without_windows_at_once() {
    let mut h = Holder::udp("127.0.0.1:0");
    let port = h.port.to_string();
    let out = rekt(&["-t", "--escalate", &port]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("no windows to close"), "{err}");
    assert!(
        err.contains(&format!(
            "killing {} (sockhold.exe) instead (--escalate)",
            h.pid()
        )),
        "{err}"
    );
    assert!(err.contains(&format!("port {port}/udp is free")), "{err}");
    assert!(h.exited_within(Duration::from_secs(5)));
}

#[test]
fn list_mode_shows_a_udp_owner() {
    let h = Holder::udp("127.0.0.1:0");
    let out = rekt(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = stdout(&out);
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with(&format!("{} ", h.port)))
        .unwrap_or_else(|| panic!("port {} not listed: {table}", h.port))
        .split_whitespace()
        .collect();
    assert_eq!(
        row[1..5],
        [
            "udp",
            &format!("127.0.0.1:{}", h.port),
            &h.pid().to_string(),
            "sockhold.exe"
        ]
    );
}

#[test]
fn json_names_the_owner_and_the_outcome() {
    let mut h = Holder::udp("127.0.0.1:0");
    let port = h.port.to_string();
    let out = rekt(&["--json", "-k", &port]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let owner = &doc["owners"][0];
    assert_eq!(owner["pid"], h.pid());
    assert_eq!(owner["name"], "sockhold.exe");
    assert!(owner["exe"].as_str().unwrap().ends_with("sockhold.exe"));
    assert_eq!(owner["sockets"][0]["protocol"], "udp");
    assert_eq!(owner["sockets"][0]["port"], h.port);
    assert_eq!(owner["outcome"], "exited");
    assert_eq!(doc["ports"][0]["free"], true);
    assert!(h.exited_within(Duration::from_secs(5)));
}

/// Processes that only carry a port for something else (WSL's relay, Docker Desktop's
/// helpers) are named with what frees the port, and never signalled unless asked for: a
/// copy of sockhold under each of their names stands in for them.
#[test]
fn forwarders_are_explained_and_signalled_only_when_asked_for() {
    let dir = common::TempDir::new("forwarders");
    for (file, says) in [
        ("wslrelay.exe", "WSL 2"),
        ("com.docker.backend.exe", "Docker Desktop"),
        ("vpnkit.exe", "Docker Desktop"),
    ] {
        let exe = common::example_named("sockhold", &dir, std::ffi::OsStr::new(file));
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["udp", "127.0.0.1:0"]);
        let mut h = Holder::spawn_command(cmd, 1);
        let spec = h.spec();
        let out = rekt(&["-v", &spec]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let cells = row(&out, h.port);
        assert!(cells.contains(&"forwarder".to_owned()), "{file}: {cells:?}");

        let out = rekt(&["-k", &spec]);
        let err = stderr(&out);
        assert_eq!(code(&out), 3, "{file}: the port stays held: {err}");
        assert!(
            err.contains(&format!("not signalling {} ({file}): it is", h.pid())),
            "{err}"
        );
        assert!(err.contains(says), "{file}: {err}");
        assert!(err.contains("--include-forwarders"), "{err}");
        assert!(!h.exited_within(Duration::from_millis(200)), "{file} lives");

        let out = rekt(&["-k", "--include-forwarders", &spec]);
        assert_eq!(code(&out), 0, "{file}: {}", stderr(&out));
        assert!(h.exited_within(Duration::from_secs(5)), "{file} was ended");
    }
}
