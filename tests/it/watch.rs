//! The kill path (issue 17): rekt watches a freed port only while something could bind it
//! again, `-t` is done when the port is, a restart is told from a process that was
//! already running, a brief bind is not "a process you cannot see", and a port that rekt
//! cannot free gets no signal at all.
//!
//! Every test runs in a private network namespace as root (`support::private_netns`), on
//! processes it starts; tests that need one (a bare port signalled by a process of the
//! test's own, tmux) need root. The watch's reason comes from `--debug`, so no test asserts
//! on time.

use crate::support;

use crate::support::{
    Group, Holder, TempDir, Tmux, alive, code, fixture, json_of, rekt_bin, stderr, stdout,
};
use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(30);

/// rekt with `--debug`, bounded; the command line passes the tests' signal guard.
fn rekt(args: &[&str]) -> Output {
    support::rekt_with_env(args, &[("REKT_DEBUG", "1")])
}

fn sockhold() -> String {
    fixture("sockhold").display().to_string()
}

/// The settle watch's line in `--debug`, or "no watch".
fn watch_line(err: &str) -> &str {
    err.lines()
        .find(|l| l.contains("settle: watched") || l.contains("settle: no watch"))
        .unwrap_or_else(|| panic!("no settle line: {err}"))
}

#[test]
fn an_owner_nothing_can_restart_is_answered_without_a_watch() {
    let _net = support::private_netns();
    // The test is the holder's parent, and rekt's caller: nothing left to restart it.
    let mut h = Holder::tcp(&support::v4());
    let out = rekt(&["-k", "--json", &h.spec()]);
    let doc = json_of(&out);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(watch_line(&err).contains("no watch"), "{err}");
    assert!(doc["ports"][0].get("watched_ms").is_none(), "{doc}");
    h.assert_exits_within(Duration::from_secs(5));
}

#[test]
fn a_wrapper_that_exits_with_its_child_ends_the_watch() {
    let _net = support::private_netns();
    let port = support::unused_port();
    // `sh -c 'server; true'`: sh could start it again, until it exits right after it.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("{} tcp 127.0.0.1:{port}; true", sockhold())]);
    let g = Group::spawn(cmd, &[(port, "tcp")]);
    let server = g.ready();
    let out = rekt(&["-k", &format!("{port}/tcp")]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains(&format!("killed {server}")), "{err}");
    let line = watch_line(&err);
    assert!(
        line.contains("nothing that could start an owner again is left"),
        "{err}"
    );
    assert!(err.contains("is free"), "{err}");
}

/// Waits (bounded) until some child of `parent` holds `port` (a `READY` line is not
/// available from a pane), and returns it.
fn child_holding(parent: u32, port: u16) -> u32 {
    let deadline = Instant::now() + BOUND;
    loop {
        let out = support::rekt(&["--json", &format!("{port}/tcp")]);
        if let Ok(doc) = serde_json::from_str::<Value>(&stdout(&out))
            && let Some(pid) = doc["owners"][0]["pid"].as_u64()
        {
            let pid = pid as u32;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid: Option<u32> = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
            if ppid == Some(parent) {
                return pid;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing of {parent} holds {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_server_typed_at_an_interactive_shell_needs_no_watch() {
    require_root!();
    let _net = support::private_netns();
    let tmux = Tmux::shell(120, 30);
    let shell = tmux.pane_pid();
    for (background, port) in [
        (false, support::unused_port()),
        (true, support::unused_port()),
    ] {
        let amp = if background { " &" } else { "" };
        tmux.send(&format!("{} tcp 127.0.0.1:{port}{amp}", sockhold()));
        let server = child_holding(shell, port);
        let out = rekt(&["-k", "--json", &format!("{port}/tcp")]);
        let err = stderr(&out);
        let doc = json_of(&out);
        assert_eq!(code(&out), 0, "{err}");
        assert_eq!(doc["owners"][0]["pid"], server, "{doc}");
        // In the foreground the shell waits for the server, then takes its terminal
        // back: the watch ends as soon as it is at its prompt. In the background it is at
        // its prompt already: no watch at all.
        let line = watch_line(&err);
        assert!(
            line.contains("no watch") || line.contains("nothing that could start"),
            "background {background}: {err}"
        );
        assert!(!alive(server));
        assert!(alive(shell), "the shell is left alone");
    }
}

/// `rekt -k` on a loop that sleeps before it starts its server again: exit 3, the loop
/// named as what started it again.
fn a_loop_that_sleeps_first_is_caught(script: &str) {
    let _net = support::private_netns();
    let port = support::unused_port();
    let script = script.replace("SRV", &format!("{} tcp 127.0.0.1:{port}", sockhold()));
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script]);
    let g = Group::spawn(cmd, &[(port, "tcp")]);
    let first = g.ready();
    let spec = format!("{port}/tcp");
    let out = rekt(&["-k", &spec]);
    let err = stderr(&out);
    let again = g.ready();
    assert_eq!(code(&out), 3, "{err}");
    assert!(err.contains(&format!("killed {first} (sockhold)")), "{err}");
    assert!(
        err.contains(&format!("by {again} (sockhold)")),
        "the restart is named: {err}"
    );
    assert!(
        err.contains(&format!(
            "the shell {} (bash) started it again; to stop it for good: kill {}",
            g.pid(),
            g.pid()
        )),
        "{err}"
    );
    assert!(!err.contains("is free"), "{err}");
}

#[test]
fn a_restart_loop_that_sleeps_one_second_is_caught() {
    a_loop_that_sleeps_first_is_caught("while true; do SRV; sleep 1; done");
}

#[test]
fn an_until_loop_that_sleeps_two_seconds_is_caught() {
    a_loop_that_sleeps_first_is_caught("until SRV; do sleep 2; done");
}

/// A server that closes its listener on SIGTERM and then drains for `secs` seconds.
fn draining_server(port: u16, secs: u32) -> Group {
    let script = format!(
        "import os, signal, socket, sys, time\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port}))\n\
         s.listen()\n\
         signal.signal(signal.SIGTERM, lambda *a: s.close())\n\
         print('READY', os.getpid(), {port}, flush=True)\n\
         time.sleep({secs})\n"
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &script]);
    Group::spawn(cmd, &[(port, "tcp")])
}

#[test]
fn terminate_is_done_when_the_port_is_free_and_escalate_spares_a_draining_server() {
    let _net = support::private_netns();
    for escalate in [false, true] {
        let port = support::unused_port();
        let g = draining_server(port, 20);
        let server = g.ready();
        let spec = format!("{port}/tcp");
        let mut args = vec!["-t", "--json", "--timeout", "10s"];
        if escalate {
            args.push("--escalate");
        }
        args.push(&spec);
        let out = rekt(&args);
        let doc = json_of(&out);
        assert_eq!(code(&out), 0, "{doc}");
        assert_eq!(doc["owners"][0]["outcome"], "released", "{doc}");
        assert_eq!(doc["ports"][0]["free"], true, "{doc}");
        assert!(
            alive(server),
            "the draining server is left to finish (escalate {escalate})"
        );
        // And the human line says so.
        drop(g);
    }
    let port = support::unused_port();
    let g = draining_server(port, 20);
    let server = g.ready();
    let out = rekt(&["-t", &format!("{port}/tcp")]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains(&format!("{server} (python3")) && err.contains("let go of the port"),
        "{err}"
    );
    assert!(!err.contains("still running after"), "{err}");
}

/// A process started before the signal that binds the port once it is free.
fn waiting_binder(port: u16) -> Group {
    let script = format!(
        "import os, socket, time\n\
         print('READY', os.getpid(), {port}, flush=True)\n\
         while True:\n\
         \x20   s = socket.socket()\n\
         \x20   try:\n\
         \x20       s.bind(('127.0.0.1', {port})); s.listen(); break\n\
         \x20   except OSError:\n\
         \x20       s.close(); time.sleep(0.01)\n\
         print('BOUND', os.getpid(), {port}, flush=True)\n\
         time.sleep(60)\n"
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &script]);
    Group::spawn(cmd, &[(port, "tcp")])
}

#[test]
fn a_process_already_running_that_takes_the_port_is_not_called_a_restart() {
    let _net = support::private_netns();
    let mut h = Holder::tcp(&support::v4());
    let g = waiting_binder(h.port);
    let waiter = g.ready();
    let spec = format!("{}/tcp", h.port);
    let out = rekt(&["-k", "--settle", "3s", &spec]);
    let err = stderr(&out);
    g.next("BOUND");
    h.assert_exits_within(Duration::from_secs(5));
    assert_eq!(code(&out), 3, "{err}");
    assert!(err.contains(&format!("{waiter} (python3")), "{err}");
    assert!(err.contains("already running before the signal"), "{err}");
    assert!(
        !err.contains("started it again"),
        "no restart is blamed: {err}"
    );
    let me = std::process::id();
    assert!(
        !err.contains(&format!("kill {me}")),
        "never the caller: {err}"
    );

    // JSON: a newcomer that did not restart.
    drop(g);
    let mut h = Holder::tcp(&support::v4());
    let g = waiting_binder(h.port);
    let waiter = g.ready();
    let out = rekt(&["-k", "--json", "--settle", "3s", &format!("{}/tcp", h.port)]);
    let doc = json_of(&out);
    g.next("BOUND");
    h.assert_exits_within(Duration::from_secs(5));
    let port = &doc["ports"][0];
    assert_eq!(port["retaken_by"][0]["pid"], waiter, "{doc}");
    assert_eq!(port["retaken_by"][0]["restarted"], false, "{doc}");
    assert_eq!(port["retaken_by"][0]["supervisor"], Value::Null, "{doc}");
}

#[test]
fn a_prober_that_binds_for_2ms_is_never_a_process_you_cannot_see() {
    let _net = support::private_netns();
    let mut h = Holder::tcp(&support::v4());
    let port = h.port;
    let script = format!(
        "import os, socket, time\n\
         print('READY', os.getpid(), {port}, flush=True)\n\
         while True:\n\
         \x20   s = socket.socket()\n\
         \x20   try:\n\
         \x20       s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(0.002)\n\
         \x20   except OSError:\n\
         \x20       pass\n\
         \x20   s.close(); time.sleep(0.030)\n"
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &script]);
    let g = Group::spawn(cmd, &[(port, "tcp")]);
    let prober = g.ready();
    let out = rekt(&["-k", "--json", "--settle", "2s", &format!("{port}/tcp")]);
    let doc = json_of(&out);
    assert!(!doc.to_string().contains("cannot see"), "{doc}");
    let port_doc = &doc["ports"][0];
    match port_doc["status"].as_str().unwrap_or_default() {
        // Caught with its socket: named, and already running.
        "held" => {
            assert_eq!(port_doc["retaken_by"][0]["pid"], prober, "{doc}");
            assert_eq!(port_doc["retaken_by"][0]["restarted"], false, "{doc}");
        }
        // Gone before it could be named: bound briefly, and said so.
        "bound_briefly" => {
            assert!(port_doc["bound_briefly_after_ms"].is_u64(), "{doc}");
            assert!(port_doc.get("retaken_after_ms").is_none(), "{doc}");
        }
        other => panic!("{other}: {doc}"),
    }
    assert_eq!(code(&out), 3, "{doc}");
    h.assert_exits_within(Duration::from_secs(5));
    drop(g);
}

#[test]
fn a_listener_that_runs_rekt_on_its_own_port_spares_its_forked_handler() {
    require_root!();
    let _net = support::private_netns();
    let port = support::unused_port();
    let dir = TempDir::new("kill-path");
    let report = dir.join("rekt.out");
    // A server that accepts a connection, forks a handler for it (which inherits the
    // listener too), then runs `rekt -k PORT` on its own port.
    let script = format!(
        "import os, socket, subprocess, sys, time\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port})); s.listen()\n\
         print('READY', os.getpid(), {port}, flush=True)\n\
         conn, _ = s.accept()\n\
         pid = os.fork()\n\
         if pid == 0:\n\
         \x20   time.sleep(60); os._exit(0)\n\
         print('HANDLER', pid, flush=True)\n\
         r = subprocess.run([{rekt:?}, '-k', '{port}'], capture_output=True)\n\
         open({report:?}, 'wb').write(r.stderr + b'EXIT %d' % r.returncode)\n\
         print('DONE', flush=True)\n\
         time.sleep(60)\n",
        rekt = rekt_bin(&["-k", &port.to_string()]),
        report = report.display().to_string(),
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &script]).env("NO_COLOR", "1");
    let g = Group::spawn(cmd, &[(port, "tcp")]);
    let server = g.ready();
    let _client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let handler: u32 = g.next("HANDLER")[0].parse().unwrap();
    g.next("DONE");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.ends_with("EXIT 3"), "{text}");
    assert!(
        text.contains(&format!("refusing to signal {server}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("not signalling {handler}")) && text.contains("stays held by"),
        "{text}"
    );
    assert!(alive(handler), "the forked handler was not killed");
    assert!(alive(server));
}
