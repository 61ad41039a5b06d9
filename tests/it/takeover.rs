//! Issue 10: a port taken back by a supervisor, bystander clients, rekt's own callers, and
//! stopped owners. Real processes: a bash restart loop, a python script that re-forks, a
//! systemd-style cgroup, an outgoing connection, `sh -c "rekt -k PORT"` run by the holder,
//! a SIGSTOPped owner.
//!
//! As root each test runs in a network namespace of its own (the test's thread moves into
//! it, and every process it starts inherits it), so that a bare port number can only name
//! the test's own processes and a port range signals nothing outside the test. Tests that
//! signal a range, or need cgroups, need root; the others run in the shared namespace as a
//! normal user, on a port nobody uses, named with its protocol.

use crate::support;

use crate::support::{
    Group, Holder, code, fixture, is_root, json_of, output_within, rekt, rekt_bin, state, stderr,
    stdout,
};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// Every run of rekt here ends well within this, settle watch included.
const BOUND: Duration = Duration::from_secs(30);

/// Moves this test's thread (and every process it starts) into a fresh network namespace
/// as root (`support::private_netns`); returns the guard and whether it did.
fn private_netns() -> (support::NetnsGuard, bool) {
    let guard = support::private_netns();
    (guard, support::private())
}

/// A port for the test: any in a private namespace, else one nobody uses now.
fn port(private: bool) -> u16 {
    if private {
        12345
    } else {
        support::unused_port()
    }
}

fn sockhold() -> String {
    fixture("sockhold").display().to_string()
}

/// `rekt -t PORT/tcp` on a program that `supervisor` starts again: exit 3, the newcomer
/// named with its PID and its parent, and the command that stops the restarts.
fn a_restart_is_caught(supervisor: Group, port: u16, kind: &str, parent: Option<&str>) {
    let first = supervisor.ready();
    let restarter = supervisor.pid();
    // The name it goes by (`python3`, as ps says), read once it runs its program.
    let comm = std::fs::read_to_string(format!("/proc/{restarter}/comm")).unwrap();
    let parent_name = comm.trim_end().to_owned();
    if let Some(expected) = parent {
        assert_eq!(parent_name, expected);
    }
    let spec = format!("{port}/tcp");
    let out = rekt(&["-t", &spec]);
    let err = stderr(&out);
    let newcomer = supervisor.ready();
    assert_ne!(newcomer, first);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains(&format!("terminated {first} (sockhold)")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "port {spec} was taken again {}",
            if err.contains("after it was free") {
                ""
            } else {
                "by"
            }
        )),
        "{err}"
    );
    assert!(err.contains(&format!("by {newcomer} (sockhold)")), "{err}");
    assert!(
        err.contains(&format!("started by {restarter} ({parent_name})")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "to stop it for good: kill {restarter}, then run rekt again"
        )),
        "{err}"
    );
    assert!(
        !err.contains("is free"),
        "rekt never says free when it is not: {err}"
    );

    // JSON says the same.
    let out = rekt(&["--json", "-t", &spec]);
    let doc = json_of(&out);
    let again = supervisor.ready();
    assert_eq!(code(&out), 3, "{doc}");
    assert_eq!(doc["exit_code"], 3);
    let port_status = &doc["ports"][0];
    assert_eq!(port_status["free"], false, "{doc}");
    let taker = &port_status["retaken_by"][0];
    assert_eq!(taker["pid"], again, "{doc}");
    assert_eq!(taker["parents"][0]["pid"], restarter, "{doc}");
    assert_eq!(taker["supervisor"]["kind"], kind, "{doc}");
    assert_eq!(taker["supervisor"]["pid"], restarter, "{doc}");
    assert_eq!(
        taker["supervisor"]["stop_command"],
        format!("kill {restarter}"),
        "{doc}"
    );
}

#[test]
fn a_bash_restart_loop_is_caught_and_named() {
    let (_netns, private) = private_netns();
    let port = port(private);
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        &format!("while true; do {} tcp 127.0.0.1:{port}; done", sockhold()),
    ]);
    a_restart_is_caught(
        Group::spawn(cmd, &[(port, "tcp")]),
        port,
        "shell",
        Some("bash"),
    );
}

#[test]
fn a_python_supervisor_that_reforks_is_caught_and_named() {
    let (_netns, private) = private_netns();
    let port = port(private);
    let script = format!(
        "import subprocess, sys\n\
         while True:\n    subprocess.run([{:?}, 'tcp', '127.0.0.1:{port}'])\n",
        sockhold()
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-u", "-c", &script]);
    a_restart_is_caught(Group::spawn(cmd, &[(port, "tcp")]), port, "process", None);
}

#[test]
fn without_a_restart_the_port_is_free_after_the_settle_time() {
    let (_netns, private) = private_netns();
    let h = Holder::tcp(&format!("127.0.0.1:{}", port(private)));
    let started = Instant::now();
    let out = rekt(&["--json", "-t", "--settle", "300ms", &h.spec()]);
    let doc = json_of(&out);
    assert_eq!(code(&out), 0, "{doc}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(doc["ports"][0]["free"], true, "{doc}");
    assert_eq!(doc["ports"][0]["watched_ms"], 300, "{doc}");
    // --settle 0s: no watch at all.
    let h = Holder::tcp(&format!("127.0.0.1:{}", h.port));
    let doc = json_of(&rekt(&["--json", "-k", "--settle", "0s", &h.spec()]));
    assert_eq!(doc["ports"][0]["free"], true, "{doc}");
    assert_eq!(doc["ports"][0].get("watched_ms"), None, "{doc}");
}

/// A cgroup directory named the way systemd names a service, in one cgroup hierarchy;
/// removed (after its processes) when dropped.
struct Unit {
    dir: std::path::PathBuf,
    slice: std::path::PathBuf,
    root: std::path::PathBuf,
}

impl Unit {
    /// Under `root` (a mounted hierarchy), or None when it is not mounted.
    fn create(root: &str, name: &str) -> Option<Unit> {
        let root = std::path::PathBuf::from(root);
        if !root.join("cgroup.procs").exists() {
            return None;
        }
        let slice = root.join(format!("rekt-test-{}.slice", std::process::id()));
        let dir = slice.join(name);
        std::fs::create_dir_all(&dir).ok()?;
        Some(Unit { dir, slice, root })
    }

    fn adopt(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string())
            .unwrap_or_else(|e| panic!("moving {pid} into {}: {e}", self.dir.display()));
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        // Move whatever is left back to the root, then remove the directories.
        if let Ok(procs) = std::fs::read_to_string(self.dir.join("cgroup.procs")) {
            for pid in procs.split_whitespace() {
                let _ = std::fs::write(self.root.join("cgroup.procs"), pid);
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
        let _ = std::fs::remove_dir(&self.slice);
    }
}

#[test]
fn a_systemd_unit_is_shown_from_the_cgroup_and_named_as_the_supervisor() {
    let (_netns, private) = private_netns();
    if !is_root() {
        support::skip("this test needs root (cgroups)");
        return;
    }
    let me = std::process::id();
    let service = format!("rekt-test-{me}.service");
    // cgroup v1's name=systemd hierarchy (the hybrid layout) and cgroup v2.
    let mut tried = 0;
    for root in [
        "/sys/fs/cgroup/systemd",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ] {
        let Some(unit) = Unit::create(root, &service) else {
            continue;
        };
        tried += 1;
        let mut h = Holder::tcp(&format!("127.0.0.1:{}", port(private)));
        unit.adopt(h.pid());
        let out = rekt(&["-v", &h.spec()]);
        let table = stdout(&out);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
        let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
        let at = |col: &str| header.iter().position(|h| *h == col).unwrap();
        // PARENTS holds spaces (`PID (name)`): count the last columns from the end.
        let from_end = |col: &str| row[row.len() - (header.len() - at(col))];
        assert_eq!(from_end("UNIT"), service, "{root}: {table}");
        assert_eq!(
            from_end("SUPERVISOR"),
            format!("systemd:{service}"),
            "{table}"
        );
        assert!(
            stderr(&out).contains(&format!(
                "runs under systemd unit {service}, which may start it again; to stop it for \
                 good: systemctl stop {service}"
            )),
            "{}",
            stderr(&out)
        );
        let doc = json_of(&rekt(&["--json", &h.spec()]));
        let owner = &doc["owners"][0];
        assert_eq!(owner["unit"]["name"], service, "{doc}");
        assert_eq!(owner["unit"]["scope"], "system", "{doc}");
        assert_eq!(owner["supervisor"]["kind"], "systemd", "{doc}");
        assert_eq!(
            owner["supervisor"]["stop_command"],
            format!("systemctl stop {service}"),
            "{doc}"
        );
        // Signalling it says so up front.
        let out = rekt(&["-k", "--settle", "0s", &h.spec()]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("systemctl stop {service}")),
            "{}",
            stderr(&out)
        );
        assert!(h.exited_within(Duration::from_secs(5)));
        drop(unit);
    }
    assert!(tried > 0, "no cgroup hierarchy to test with");
}

#[test]
fn an_ephemeral_client_is_shown_not_signalled_and_the_listener_is() {
    let (_netns, private) = private_netns();
    if !private {
        support::skip("this test needs root (a range must not reach others' processes)");
        return;
    }
    let mut server = Holder::tcp("127.0.0.1:12000");
    // A client connected to the server: its local port is an ephemeral one.
    let mut client = Holder::spawn(&["--connect", "tcp", "127.0.0.1:12000"], 1);
    let ephemeral = client.port;
    assert!(ephemeral > 12000, "{ephemeral}");
    // Both, and nothing else: the range from the listener to the client's port.
    let range = format!("12000-{ephemeral}/tcp");
    let out = rekt(&[&range]);
    let table = stdout(&out);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["PORT", "PID", "ROLE"], "{table}");
    assert!(
        table.contains(&format!("{ephemeral}  {}  client", client.pid())),
        "{table}"
    );
    let doc = json_of(&rekt(&["--json", &range]));
    let role = |pid: u32| {
        doc["owners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["pid"] == pid)
            .map(|o| o["role"].clone())
    };
    assert_eq!(role(client.pid()), Some("client".into()), "{doc}");

    let out = rekt(&["-k", "--settle", "0s", &range]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains(&format!("killed {} (sockhold)", server.pid())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "not signalling {} (sockhold): it is a client",
            client.pid()
        )),
        "{err}"
    );
    // The server's side of the connection lingers (FIN_WAIT2 or TIME_WAIT): said, with
    // nothing to signal; the client's port is still held, by the client left alone.
    assert!(
        err.contains("port 12000/tcp: its owners are gone, but"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "port {ephemeral}/tcp is still held by PID {} (sockhold)",
            client.pid()
        )),
        "{err}"
    );
    assert!(server.exited_within(Duration::from_secs(5)));
    assert!(
        !client.exited_within(Duration::from_millis(200)),
        "the client lives"
    );

    // Asked for, clients are signalled too.
    let out = rekt(&["-k", "--include-clients", "--settle", "0s", &range]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(client.exited_within(Duration::from_secs(5)));
}

#[test]
fn a_range_that_would_signal_many_asks_and_refuses_without_a_terminal() {
    let (_netns, private) = private_netns();
    if !private {
        support::skip("this test needs root (a range must not reach others' processes)");
        return;
    }
    let mut holders: Vec<Holder> = (0..9)
        .map(|i| Holder::tcp(&format!("127.0.0.1:{}", 13000 + i)))
        .collect();
    let out = rekt(&["-k", "13000-13008"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("would signal 9 processes on ports 13000-13008") && err.contains("--yes"),
        "{err}"
    );
    assert!(!err.contains("killed"), "{err}");
    for h in &mut holders {
        assert!(!h.exited_within(Duration::from_millis(10)));
    }
    // Eight is not many; and --yes signals them all.
    let out = rekt(&["-k", "--settle", "0s", "13001-13008"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = rekt(&["-k", "--yes", "--settle", "0s", "13000-13008"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for h in &mut holders {
        assert!(h.exited_within(Duration::from_secs(5)));
    }
}

#[test]
fn the_holder_that_runs_rekt_through_sh_is_its_caller_and_survives() {
    let (_netns, private) = private_netns();
    if !private {
        support::skip(
            "this test needs root (rekt run by a fixture signals in a private namespace only)",
        );
        return;
    }
    let port = port(private);
    // sockhold binds, then runs `sh -c "rekt -k PORT/tcp"`: the holder is rekt's
    // grandparent.
    let spec = format!("{port}/tcp");
    let rekt_bin = rekt_bin(&["-k", &spec]);
    let out = output_within(
        Command::new(fixture("sockhold"))
            .args([
                "tcp",
                &format!("127.0.0.1:{port}"),
                "--then-run",
                "sh",
                "-c",
                &format!("{rekt_bin} -k {spec}"),
            ])
            .env("NO_COLOR", "1"),
        BOUND,
    );
    let holder: u32 = stdout(&out)
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .expect("READY line");
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains(&format!(
            "refusing to signal {holder} (sockhold): it is rekt's caller (sockhold)"
        )),
        "{err}"
    );
    assert!(!err.contains("killed"), "{err}");
    // It ran to the end (and exited with rekt's code), never signalled.
    assert!(
        err.contains(&format!("port {port}/tcp is still held by PID {holder}")),
        "{err}"
    );
}

#[test]
fn rekt_never_lists_itself_when_it_inherited_the_socket() {
    let (_netns, private) = private_netns();
    if !private {
        support::skip(
            "this test needs root (rekt run by a fixture signals in a private namespace only)",
        );
        return;
    }
    let port = port(private);
    // python holds the port with an inheritable fd and runs `sh -c 'echo $$; exec rekt'`:
    // rekt (PID $$) inherits the socket, and its parent holds it too.
    let script = format!(
        "import socket, subprocess\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port})); s.listen(); s.set_inheritable(True)\n\
         print('HOLDER', __import__('os').getpid(), flush=True)\n\
         r = subprocess.run(['sh', '-c', 'echo REKT $$; exec {} --json -k {port}/tcp'], close_fds=False)\n\
         raise SystemExit(r.returncode)\n",
        rekt_bin(&["--json", "-k", &format!("{port}/tcp")])
    );
    let out = output_within(Command::new("python3").args(["-c", &script]), BOUND);
    let text = stdout(&out);
    let pid_after = |tag: &str| -> u32 {
        text.lines()
            .find_map(|l| l.strip_prefix(tag)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {tag} line: {text}\n{}", stderr(&out)))
    };
    let (holder, me) = (pid_after("HOLDER "), pid_after("REKT "));
    let doc: Value = serde_json::from_str(&text[text.find('{').expect("JSON")..])
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    let owners: Vec<u64> = doc["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(owners, vec![u64::from(holder)], "never rekt ({me}): {doc}");
    assert_eq!(doc["owners"][0]["role"], "caller", "{doc}");
    assert_eq!(doc["owners"][0]["outcome"], "refused", "{doc}");
    let message = doc["owners"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("it is rekt's parent (python3"), "{doc}");
    assert_eq!(doc["exit_code"], 3, "{doc}");
}

#[test]
fn a_stopped_owner_is_continued_and_exits_at_once() {
    let (_netns, private) = private_netns();
    let mut h = Holder::tcp(&format!("127.0.0.1:{}", port(private)));
    let pid = h.pid();
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) }, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while state(pid) != Some('T') {
        assert!(Instant::now() < deadline, "{pid} did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = rekt(&["-t", "--settle", "0s", &h.spec()]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains(&format!(
            "terminated {pid} (sockhold); it was stopped, so rekt also sent SIGCONT"
        )),
        "{err}"
    );
    // Not continued, it would still be stopped after the 5 s wait: exit 3, "still running".
    assert!(!err.contains("still running"), "{err}");
    assert!(h.exited_within(Duration::from_secs(5)));
}
