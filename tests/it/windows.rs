//! Windows end to end: real sockhold processes, real sockets, and the exact PIDs rekt
//! reports; then real WM_CLOSE and TerminateProcess, and a check that the owner is gone and
//! the port free. CI runs these under wine 8.0, which names a socket's owning PID only while
//! one of the owner's threads is blocked on it (sockhold blocks on every socket it holds);
//! listeners and a server's accepted connections show PID 0 there (see the README).

use crate::support;

use crate::support::{
    Holder, code, json_of, pids_in_table, rekt, stderr, stdout, tables_name_listener_owners,
};
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
    let doc = json_of(&out);
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
    let dir = support::TempDir::new("forwarders");
    for (file, says) in [
        ("wslrelay.exe", "WSL 2"),
        ("com.docker.backend.exe", "Docker Desktop"),
        ("vpnkit.exe", "Docker Desktop"),
    ] {
        let exe = support::fixture_named("sockhold", &dir, std::ffi::OsStr::new(file));
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

/// A TCP socket that is bound but neither listening nor connected is missing from the
/// tables (Windows leaves it out; wine reads /proc/net/tcp, which does too), yet a bind()
/// fails on its port: rekt probes before it calls the port free, and says what it found.
#[test]
fn a_bound_socket_the_tables_leave_out_is_found_by_a_bind_probe() {
    let mut h = Holder::spawn(&["--bind-only", "tcp", "0.0.0.0:0"], 1);
    let spec = format!("{}/tcp", h.port);
    let out = rekt(&[&spec]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert_eq!(pids_in_table(&out), Vec::<u32>::new(), "{}", stdout(&out));
    assert!(
        err.contains(&format!(
            "port {}/tcp is held by a socket the tables do not show",
            h.port
        )),
        "{err}"
    );
    let doc = json_of(&rekt(&["--json", &spec]));
    let hidden = doc["hidden"].as_array().expect("hidden sockets");
    assert_eq!(hidden.len(), 1, "{doc}");
    assert_eq!(hidden[0]["reason"], "unlisted");
    assert_eq!(hidden[0]["port"], h.port);
    // Nothing can be signalled, and the port stays held.
    let out = rekt(&["-k", &spec]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(!h.exited_within(Duration::from_millis(200)));
    // Once it is gone the probe finds the port free, and leaves it so.
    h.child.kill().unwrap();
    h.child.wait().unwrap();
    assert_eq!(code(&rekt(&[&spec])), 1, "free now");
    std::net::TcpListener::bind(("0.0.0.0", h.port)).expect("the probe left nothing behind");
}

/// conhost makes a console's window look as if it belonged to the console's first process,
/// and WM_CLOSE there ends every process in that console. Wine's console window belongs to
/// its conhost instead (class WineConsoleClass), so here a window of the class Windows
/// gives a console's window, ConsoleWindowClass, stands in for it: if rekt posted WM_CLOSE
/// to it, the fixture would exit.
#[test]
fn terminate_never_closes_a_console_window() {
    let mut h = Holder::spawn(
        &[
            "--window",
            "--window-class",
            "ConsoleWindowClass",
            "udp",
            "127.0.0.1:0",
        ],
        1,
    );
    let spec = h.spec();
    let out = rekt(&["-t", &spec]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains(&format!(
            "could not ask {} (sockhold.exe) to exit: it is a console program, and Windows \
             has no polite signal for one",
            h.pid()
        )),
        "{err}"
    );
    assert!(err.contains("use -k, or -t --escalate"), "{err}");
    assert!(
        !h.exited_within(Duration::from_millis(500)),
        "its console window was closed"
    );
    let doc = json_of(&rekt(&["--json", "-t", &spec]));
    assert_eq!(doc["owners"][0]["outcome"], "console_only", "{doc}");
    assert!(!h.exited_within(Duration::from_millis(300)));

    // --escalate forces it instead, at once.
    let out = rekt(&["-t", "--escalate", &spec]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains(&format!(
            "killing {} (sockhold.exe) instead (--escalate)",
            h.pid()
        )),
        "{err}"
    );
    assert!(h.exited_within(Duration::from_secs(5)));
}

/// Ends the heir of `sockhold --handoff` (it exits on a datagram), even if the test fails.
struct Heir(u16);

impl Drop for Heir {
    fn drop(&mut self) {
        if let Ok(s) = UdpSocket::bind("127.0.0.1:0") {
            let _ = s.send_to(b"bye", ("127.0.0.1", self.0));
        }
    }
}

/// A process that binds a socket, hands it to a child and exits. Windows' table keeps
/// naming the binder (the PID that "issued a context bind"), and rekt then names the child
/// as the likely holder; wine 8.0 names the process that holds the socket, the child,
/// directly. Either way rekt names the child, and never reports the port as let go.
#[test]
fn a_socket_left_to_a_child_is_found_with_the_child() {
    let mut h = Holder::spawn(&["--handoff", "udp", "127.0.0.1:0"], 1);
    let heir = h.pids[0];
    let _end = Heir(h.port);
    assert_ne!(heir, h.pid());
    assert!(h.exited_within(Duration::from_secs(5)), "the binder exits");
    let spec = h.spec();
    // Wine names an owner only once its thread blocks in recv_from.
    let mut out = rekt(&["-v", &spec]);
    for _ in 0..50 {
        if pids_in_table(&out).contains(&heir) || stderr(&out).contains("likely holder") {
            break;
        }
        std::thread::sleep(Duration::from_millis(40));
        out = rekt(&["-v", &spec]);
    }
    let err = stderr(&out);
    if pids_in_table(&out) == [heir] {
        // Wine 8.0: the table names the holder.
        assert_eq!(code(&out), 0, "{err}");
        assert_eq!(row(&out, h.port)[2], "sockhold.exe");
    } else {
        // Windows: the binder is gone, and its child is named.
        assert_eq!(code(&out), 3, "{err}");
        assert!(
            err.contains(&format!(
                "held by a socket that PID {} created and that outlived it",
                h.pid()
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "the likely holder is its child {heir} (sockhold.exe)"
            )),
            "{err}"
        );
    }
    assert!(
        !err.contains("already exited or let go of the port"),
        "{err}"
    );
}

/// The command line is read (on Windows 8.1 and later from the system's copy; where that
/// is not known, as under wine 8.0, from the process's PEB) and shown in JSON.
#[test]
fn json_shows_the_owners_command_line() {
    let h = Holder::udp("127.0.0.1:0");
    let out = rekt(&["--json", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json_of(&out);
    let cmdline = doc["owners"][0]["cmdline"]
        .as_array()
        .expect("a command line");
    assert!(
        cmdline[0]
            .as_str()
            .is_some_and(|a| a.ends_with("sockhold.exe")),
        "{cmdline:?}"
    );
    assert_eq!(cmdline[1..], ["udp", "127.0.0.1:0"]);
}

/// nodemon is a node.exe running nodemon's script, known by its command line: a copy of
/// sockhold named node.exe, given the script's path as its first argument, stands in for
/// it and starts the server, a sockhold of its own.
#[test]
fn nodemon_is_named_from_its_command_line() {
    let dir = support::TempDir::new("nodemon");
    let node = support::fixture_named("sockhold", &dir, std::ffi::OsStr::new("node.exe"));
    let sockhold = support::fixture("sockhold");
    let mut cmd = std::process::Command::new(&node);
    cmd.arg(r"C:\app\node_modules\nodemon\bin\nodemon.js")
        .arg("--then-run")
        .arg(&sockhold)
        .args(["udp", "127.0.0.1:0"]);
    let mut h = Holder::spawn_command(cmd, 2);
    let nodemon = h.pid();
    let server = *h.pids.iter().find(|&&p| p != nodemon).unwrap();
    let spec = format!("{}/udp", h.port);

    let out = rekt(&["-v", &spec]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), [server]);
    let cells = row(&out, h.port);
    assert_eq!(
        cells.last().map(String::as_str),
        Some(format!("nodemon:{nodemon}").as_str()),
        "{cells:?}"
    );

    let out = rekt(&["-k", &spec]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains(&format!(
            "{server} (sockhold.exe) runs under nodemon {nodemon} (node.exe), which starts it \
             again when a watched file changes"
        )),
        "{err}"
    );
    // The stand-in exits with its server.
    assert!(h.exited_within(Duration::from_secs(5)));
}
