//! Hardening: rekt as an unprivileged user next to root's processes, owners in odd states
//! (thousands of fds, stopped, zombies), no netlink, and no fd leaks over many lookups.
//! Every scene is real processes holding real sockets. Runs that must not hang are bounded
//! by a timeout (tests/it/support). Tests that set the scene as another user need root; they
//! skip with a reason otherwise (CI runs as root). Every test runs in a private network
//! namespace as root, and signals by `PORT/PROTO` of its own holder otherwise.

use crate::support;

use crate::support::{
    Holder, Rerun, code, fd_count, fixture, json_here, json_of, output_within, paused_rekt,
    pids_in_table, private_netns, rekt, rekt_as, setpriv, state, stderr, stdout, unused_port, v4,
    world_readable_copy,
};
use serde_json::Value;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

const FIVE_S: Duration = Duration::from_secs(5);

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// The real uid of a process, from /proc/PID/status.
fn uid_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------
// 1. Root owns the port; rekt runs as a normal user.
// (tests/it/privileges.rs checks the plain lookup's message; this covers the rest.)

#[test]
fn a_user_is_told_about_roots_sockets_and_signals_nothing() {
    require_root!();
    let _net = private_netns();
    let mut h = Holder::spawn(&["tcp", &v4(), "udp", "127.0.0.1:0"], 1);
    let port = h.port.to_string();
    let hidden = [
        format!(
            "rekt: port {port}/tcp is held by a process of uid 0 (root) that you cannot see; try sudo"
        ),
        format!(
            "rekt: port {port}/udp is held by a process of uid 0 (root) that you cannot see; try sudo"
        ),
    ];
    for args in [vec!["-k"], vec!["-t"], vec!["-t", "--escalate"], vec![]] {
        let mut args = args.clone();
        args.push(&port);
        let out = rekt_as(NOBODY, &args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}: no owner to list");
        assert_eq!(
            lines(&stderr(&out)),
            hidden,
            "{args:?}: only the explanation"
        );
        assert!(h.alive(), "{args:?}: root's process survives");
    }

    // --json as that user: no owners, both sockets hidden with their uid, nothing signalled.
    let p = port.as_str();
    for args in [["--json", "-k", p], ["--json", "-v", p]] {
        let out = rekt_as(NOBODY, &args);
        assert_eq!(code(&out), 3, "{}", stderr(&out));
        assert_eq!(stderr(&out), "", "JSON mode writes nothing else");
        let doc = json_here(json_of(&out));
        assert_eq!(doc["exit_code"], 3);
        assert_eq!(doc["owners"], serde_json::json!([]));
        assert_eq!(doc["incomplete"], true);
        let hidden = doc["hidden"].as_array().unwrap();
        let kinds: Vec<(&str, u64, u64)> = hidden
            .iter()
            .map(|s| {
                (
                    s["protocol"].as_str().unwrap(),
                    s["port"].as_u64().unwrap(),
                    s["uid"].as_u64().unwrap(),
                )
            })
            .collect();
        let p = u64::from(h.port);
        assert_eq!(kinds, [("tcp", p, 0), ("udp", p, 0)], "{doc}");
        // Each port says it is held by a process that cannot be seen; nothing was
        // signalled, so none was "held before".
        let ports: Vec<(&str, &str, bool, Option<&Value>)> = doc["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["protocol"].as_str().unwrap(),
                    p["status"].as_str().unwrap(),
                    p["hidden"].as_bool().unwrap(),
                    p.get("was_held"),
                )
            })
            .collect();
        assert_eq!(
            ports,
            [("tcp", "hidden", true, None), ("udp", "hidden", true, None)],
            "{doc}"
        );
        assert!(
            hidden.iter().all(|s| s["reason"] == "other_user"
                && s["message"]
                    .as_str()
                    .unwrap()
                    .ends_with("that you cannot see; try sudo")),
            "{doc}"
        );
    }

    // List mode (every listener on the machine) shows them with PID '-' and says why.
    let out = rekt_as(NOBODY, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ours: Vec<Vec<String>> = stdout(&out)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|r| r.first() == Some(&port))
        .collect();
    // PORT PROTO ADDRESS PID NAME USER STATE
    assert_eq!(ours.len(), 2, "{}", stdout(&out));
    if support::private() {
        // Alone in its namespace: these two are the whole list.
        assert_eq!(stdout(&out).lines().count(), 1 + 2, "{}", stdout(&out));
    }
    for row in &ours {
        assert_eq!((row[3].as_str(), row[5].as_str()), ("-", "root"), "{row:?}");
    }
    let note = stderr(&out);
    assert!(
        note.starts_with("rekt: ")
            && note.contains(" shown with PID '-': their owner is another user's process, which you cannot see; try sudo"),
        "{note}"
    );
    assert!(h.alive(), "{}", h.context());
}

// ---------------------------------------------------------------------------------------
// 2. The user's process and a root process share a port.
//
// The kernel refuses a SO_REUSEPORT group across users: a socket joins a group only if its
// owner uid equals the group's (inet_csk_bind_conflict, udp_lib_lport_inuse), and plain
// SO_REUSEADDR does not let a second TCP listener bind either. Sharing across users happens
// in two ways, and both are tested:
// - TCP: root creates the sockets of one SO_REUSEPORT group and hands one to a process that
//   drops to the user (a pre-forking server whose workers run as www-data). Both sockets
//   have uid 0; the user's process is the user's (real uid, dumpable, /proc/PID/fd theirs).
// - UDP: with SO_REUSEADDR on both, a user's own socket may bind the same address and port
//   as root's (sockhold always sets SO_REUSEADDR). Here each socket has its owner's uid.

/// A TCP listener on 127.0.0.1:`port` in a SO_REUSEPORT group, created by this (root)
/// process, so its uid is 0. Close-on-exec, like every fd this process opens.
fn reuseport_listener(port: u16) -> OwnedFd {
    // SAFETY: plain socket calls on a new fd that the OwnedFd then owns; sockaddr_in is
    // plain data, fully initialised.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let one: libc::c_int = 1;
        let rc = libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "SO_REUSEPORT: {}", std::io::Error::last_os_error());
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        assert_eq!(libc::listen(fd.as_raw_fd(), 16), 0);
        fd
    }
}

/// Starts `cmd` with `fd` inherited (close-on-exec cleared in the child only, so no other
/// test's child can inherit it), then closes this process's copy.
fn spawn_holding(mut cmd: Command, fd: OwnedFd) -> Holder {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl is async-signal-safe; it changes the child's copy of the fd table only.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(raw, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = support::spawn(cmd.stdin(Stdio::null())).expect("spawn");
    drop(fd);
    Holder::adopt(child, &format!("{cmd:?}"))
}

/// Waits until `pid` holds a socket fd (setpriv has exec'd the program) and runs as `uid`.
fn wait_until_holding(pid: u32, uid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let holds = std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|d| {
            d.flatten().any(|e| {
                std::fs::read_link(e.path())
                    .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
            })
        });
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if holds && uid_of(pid) == Some(uid) && !exe.ends_with("setpriv") {
            return;
        }
        assert!(Instant::now() < deadline, "{pid} never held the socket");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_users_worker_in_roots_reuseport_group_is_killed_and_root_is_left_alone() {
    require_root!();
    let _net = private_netns();
    let mut root = Holder::spawn(&["--reuseport", "tcp", &v4()], 1);
    let port = root.port.to_string();
    // The worker: a second socket of root's group, inherited by a process of the user's.
    let mut worker = setpriv(NOBODY);
    worker.args(["sleep", "1000"]);
    let mut worker = spawn_holding(worker, reuseport_listener(root.port));
    wait_until_holding(worker.pid(), NOBODY);
    // Someone else's process that holds another port, for "nothing else is touched".
    let mut bystander = Holder::spawn_as(NOBODY, &["tcp", &v4()], 1);

    let out = rekt_as(NOBODY, &["-k", &port]);
    assert_eq!(pids_in_table(&out), vec![worker.pid()], "{}", stdout(&out));
    assert_eq!(
        lines(&stderr(&out)),
        [
            format!(
                "rekt: port {port}/tcp is held by a process of uid 0 (root) that you cannot see; \
                 try sudo"
            ),
            format!("killed {} (sleep)", worker.pid()),
            format!("port {port}/tcp is still held by a process you cannot see"),
        ]
    );
    assert_eq!(code(&out), 3, "root's socket still holds the port");
    worker.assert_exits_within(FIVE_S);
    assert!(root.alive(), "root's process was not touched");
    assert!(bystander.alive(), "the bystander was not touched");
    // Root sees what is left: its own process, alone.
    assert_eq!(pids_in_table(&rekt(&[&port])), vec![root.pid()]);
}

#[test]
fn a_socket_shared_by_roots_master_and_a_users_worker_is_still_held_after_the_kill() {
    require_root!();
    let _net = private_netns();
    // One socket, held by a root process (the master) and a process of the user's (the
    // worker), as a pre-forking server that drops privileges in its workers has it. The
    // user cannot read the master's fds, and the socket has a visible owner, so the lookup
    // names the worker only; after the kill, the port check must not call the port free.
    let port = unused_port();
    let socket = reuseport_listener(port);
    let mut master = Command::new("sleep");
    master.arg("1000");
    let mut master = spawn_holding(master, socket.try_clone().unwrap());
    wait_until_holding(master.pid(), 0);
    let mut worker = setpriv(NOBODY);
    worker.args(["sleep", "1000"]);
    let mut worker = spawn_holding(worker, socket);
    wait_until_holding(worker.pid(), NOBODY);

    let spec = format!("{port}/tcp");
    let out = rekt_as(NOBODY, &[&spec]);
    assert_eq!(pids_in_table(&out), vec![worker.pid()], "{}", stderr(&out));
    // The socket is root's: rekt says root's processes may hold it unseen.
    let shared = format!(
        "rekt: port {spec}: the socket belongs to uid 0 (root), whose processes may hold it \
         too without your seeing them; try sudo"
    );
    assert_eq!(lines(&stderr(&out)), std::slice::from_ref(&shared));
    assert_eq!(code(&out), 0, "the lookup found an owner");
    let out = rekt_as(NOBODY, &["-k", &spec]);
    assert_eq!(pids_in_table(&out), vec![worker.pid()], "{}", stderr(&out));
    assert_eq!(
        lines(&stderr(&out)),
        [
            shared,
            format!("killed {} (sleep)", worker.pid()),
            format!("port {spec} is still held by a process you cannot see"),
        ]
    );
    assert_eq!(code(&out), 3);
    worker.assert_exits_within(FIVE_S);
    assert!(master.alive(), "root's process was not touched");
    // Root sees the master.
    assert_eq!(pids_in_table(&rekt(&[&spec])), vec![master.pid()]);
}

#[test]
fn a_users_own_socket_next_to_roots_is_killed_and_json_says_what_is_hidden() {
    require_root!();
    let _net = private_netns();
    let mut root = Holder::udp(&v4());
    let addr = format!("127.0.0.1:{}", root.port);
    let mut user = Holder::spawn_as(NOBODY, &["udp", &addr], 1);
    assert_eq!(uid_of(user.pid()), Some(NOBODY));

    let out = rekt_as(NOBODY, &["--json", "-k", &root.port.to_string()]);
    assert_eq!(stderr(&out), "");
    let doc = json_here(json_of(&out));
    assert_eq!(code(&out), 3, "{doc}");
    assert_eq!(doc["exit_code"], 3);
    let owners = doc["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 1, "{doc}");
    assert_eq!(owners[0]["pid"], user.pid());
    assert_eq!(owners[0]["user"], "nobody");
    assert_eq!(owners[0]["sockets"][0]["uid"], NOBODY);
    assert_eq!(owners[0]["signal"], "kill");
    assert_eq!(owners[0]["outcome"], "exited");
    assert_eq!(doc["incomplete"], true);
    assert_eq!(
        doc["hidden"],
        serde_json::json!([{"protocol": "udp", "family": "ipv4", "type": "udp",
            "address": "127.0.0.1", "port": root.port, "state": "UNCONN", "uid": 0,
            "reason": "other_user",
            "message": format!("port {}/udp is held by a process of uid 0 (root) that you \
                cannot see; try sudo", root.port)}])
    );
    assert_eq!(
        doc["ports"],
        serde_json::json!([
            {"port": root.port, "protocol": "tcp", "status": "free", "free": true,
                "held_by": [], "hidden": false, "was_held": false},
            {"port": root.port, "protocol": "udp", "status": "hidden", "free": false,
                "held_by": [], "hidden": true, "was_held": true,
                "hidden_by": [{"protocol": "udp", "family": "ipv4", "type": "udp",
                    "address": "127.0.0.1", "port": root.port, "state": "UNCONN", "uid": 0,
                    "reason": "other_user",
                    "message": format!("port {}/udp is held by a process of uid 0 (root) that \
                        you cannot see; try sudo", root.port)}]}
        ])
    );
    user.assert_exits_within(FIVE_S);
    assert!(root.alive(), "root's process was not touched");
}

/// Whether this process may hand CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH down (a container
/// may have dropped them).
fn has_ptrace_caps() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    // Bit numbers from linux/capability.h.
    const CAP_DAC_READ_SEARCH: u32 = 2;
    const CAP_SYS_PTRACE: u32 = 19;
    let wanted = (1u64 << CAP_SYS_PTRACE) | (1u64 << CAP_DAC_READ_SEARCH);
    eff & wanted == wanted
}

#[test]
fn a_root_owner_the_user_can_see_but_not_signal_is_not_permitted() {
    require_root!();
    let _net = private_netns();
    if !has_ptrace_caps() {
        support::skip("needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to hand down");
        return;
    }
    let mut root = Holder::udp(&v4());
    let port = root.port.to_string();
    let mut user = Holder::spawn_as(NOBODY, &["udp", &format!("127.0.0.1:{port}")], 1);
    // A user who may read every process's fds (as a monitoring agent is often set up) but
    // has no right to signal root's processes: rekt sees root's owner and must say that the
    // system refused the signal.
    let bin = world_readable_copy(Path::new(support::rekt_bin(&["-k", &port])));
    let mut cmd = setpriv(NOBODY);
    cmd.args([
        "--inh-caps=+sys_ptrace,+dac_read_search",
        "--ambient-caps=+sys_ptrace,+dac_read_search",
    ])
    .arg(bin)
    .args(["-k", &port]);
    let out = output_within(&mut cmd, support::RUN_BOUND);
    let mut both = vec![root.pid(), user.pid()];
    both.sort_unstable();
    assert_eq!(pids_in_table(&out), both, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "could not signal {} (sockhold): Operation not permitted (os error 1); try sudo",
            root.pid()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("killed {} (sockhold)", user.pid())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "port {port}/udp is still held by PID {} (sockhold)",
            root.pid()
        )),
        "{err}"
    );
    assert_eq!(code(&out), 3, "{err}");
    user.assert_exits_within(FIVE_S);
    assert!(root.alive());
}

// ---------------------------------------------------------------------------------------
// 3. An owner exits between the lookup and the signal.
// (tests/it/kill.rs checks the human message; here the JSON outcome, and a sibling that is
// still there.)

#[test]
fn an_owner_gone_before_the_signal_is_already_gone_in_json() {
    let _net = private_netns();
    let mut h = Holder::tcp(&v4());
    let rekt = paused_rekt(&["--json", "-k", &h.spec()]);
    h.child.kill().unwrap();
    h.assert_exits_within(FIVE_S);
    let out = rekt.resume();
    let doc = json_here(json_of(&out));
    assert_eq!(code(&out), 0, "a vanished owner is not an error: {doc}");
    assert_eq!(doc["exit_code"], 0);
    let owner = &doc["owners"][0];
    assert_eq!(owner["pid"], h.pid());
    assert_eq!(owner["outcome"], "already_gone", "{doc}");
    assert!(owner.get("signal").is_none(), "nothing was sent: {doc}");
    assert!(owner.get("message").is_none(), "{doc}");
    assert_eq!(
        doc["ports"],
        // The spec names the protocol: one entry.
        serde_json::json!([
            {"port": h.port, "protocol": "tcp", "status": "free", "free": true,
                "held_by": [], "hidden": false, "was_held": true}
        ])
    );
}

#[test]
fn a_worker_gone_before_the_signal_does_not_spare_its_sibling() {
    let _net = private_netns();
    // Two processes share one socket; the spawned one exits while rekt is paused.
    let mut h = Holder::spawn(&["--fork", "tcp", &v4()], 2);
    let first = h.pid();
    let sibling = *h.pids.iter().find(|&&p| p != first).unwrap();
    let rekt = paused_rekt(&["--json", "-k", &h.spec()]);
    h.child.kill().unwrap();
    h.assert_exits_within(FIVE_S);
    let out = rekt.resume();
    let doc = json_here(json_of(&out));
    assert_eq!(code(&out), 0, "{doc}");
    let outcome = |pid: u32| {
        doc["owners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["pid"] == pid)
            .map(|o| (o["outcome"].clone(), o["signal"].clone()))
            .unwrap_or_else(|| panic!("{pid} not listed: {doc}"))
    };
    assert_eq!(outcome(first), ("already_gone".into(), Value::Null));
    assert_eq!(outcome(sibling), ("exited".into(), "kill".into()));
    assert_eq!(doc["ports"][0]["free"], true, "{doc}");
    assert!(h.gone_within(sibling, FIVE_S), "{}", h.context());
}

// ---------------------------------------------------------------------------------------
// 4. Owners in odd states: thousands of fds, stopped, zombies.

#[test]
fn a_process_with_20k_fds_is_found_and_killed() {
    let _net = private_netns();
    let hard = {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills a valid struct.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        lim.rlim_max
    };
    if !support::is_root() && hard < 20_064 {
        support::skip(&format!(
            "RLIMIT_NOFILE's hard limit is {hard}; raising it needs root"
        ));
        return;
    }
    let mut h = Holder::spawn_fixture("oddproc", &["manyfds", "20000", &v4()], 1);
    let pid = h.pid();
    // 20,000 fds, or as many as the hard limit allows when it cannot be raised (a
    // container without CAP_SYS_RESOURCE, whose hard limit is often 20,000 or so).
    let fds = fd_count(&pid.to_string());
    assert!(fds >= 19_900, "the holder has only {fds} fds");
    let socket_fd: u32 = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .find(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        })
        .and_then(|e| e.file_name().to_str()?.parse().ok())
        .expect("the listener's fd");
    assert!(socket_fd > 19_900, "the listener sits above the others");

    let port = h.port.to_string();
    let out = rekt(&["-v", &port]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![pid]);
    assert!(stdout(&out).contains("oddproc"), "{}", stdout(&out));
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("killed {pid} (oddproc)")),
        "{}",
        stderr(&out)
    );
    h.assert_exits_within(FIVE_S);
}

#[test]
fn a_stopped_process_is_found_without_hanging_and_killed() {
    let _net = private_netns();
    let mut h = Holder::spawn(&["tcp", &v4(), "udp", "[::1]:0"], 1);
    let pid = h.pid();
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) }, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while state(pid) != Some('T') {
        assert!(Instant::now() < deadline, "{pid} did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
    let port = h.port.to_string();

    // Every detail rekt reads (fds, exe, status, cmdline) comes from a stopped process.
    let out = rekt(&["-v", &port]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out), vec![pid]);
    assert!(stdout(&out).contains("sockhold"), "{}", stdout(&out));
    let doc = json_here(json_of(&rekt(&["--json", &port])));
    assert_eq!(doc["owners"][0]["pid"], pid);
    assert_eq!(doc["owners"][0]["cmdline"][1], "tcp", "{doc}");
    assert_eq!(doc["owners"][0]["sockets"].as_array().unwrap().len(), 2);

    // (-t continues a stopped owner after the SIGTERM: tests/it/takeover.rs.)
    // SIGKILL ends a stopped process.
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("killed {pid} (sockhold)")),
        "{}",
        stderr(&out)
    );
    h.assert_exits_within(FIVE_S);
}

#[test]
fn a_zombie_child_is_not_listed_and_its_parent_is_killed() {
    let _net = private_netns();
    // The parent bound the port, then forked a child (which inherited the socket) that
    // exited at once and is never reaped.
    let mut h = Holder::spawn_fixture("oddproc", &["zombie-child", &v4()], 1);
    let (zombie, _) = h.expect_line("ZOMBIE");
    assert_eq!(state(zombie), Some('Z'), "setup: the child is a zombie");
    let port = h.port.to_string();

    let out = rekt(&["-v", &port]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        pids_in_table(&out),
        vec![h.pid()],
        "the parent, not the zombie"
    );
    assert_eq!(stderr(&out), "");
    let doc = json_here(json_of(&rekt(&["--json", &port])));
    assert_eq!(doc["owners"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["hidden"], serde_json::json!([]), "{doc}");

    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        lines(&stderr(&out)),
        [
            format!("killed {} (oddproc)", h.pid()),
            format!("port {port}/tcp is free"),
        ]
    );
    h.assert_exits_within(FIVE_S);
}

#[test]
fn a_process_whose_main_thread_has_exited_is_still_found_and_killed() {
    let _net = private_netns();
    // The main thread ended alone (SYS_exit): /proc/PID shows a zombie, /proc/PID/fd is
    // empty, yet the process lives on in its other thread and holds the listener, which
    // /proc/PID/task/TID/fd shows.
    let mut h = Holder::spawn_fixture("oddproc", &["zombie-leader", &v4()], 1);
    let pid = h.pid();
    assert_eq!(state(pid), Some('Z'), "setup: the leader has exited");
    assert_eq!(
        fd_count(&pid.to_string()),
        0,
        "setup: /proc/PID/fd is empty"
    );
    let port = h.port.to_string();

    let out = rekt(&["-v", &port]);
    assert_eq!(pids_in_table(&out), vec![pid], "{}", stderr(&out));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    h.assert_exits_within(FIVE_S);
}

// ---------------------------------------------------------------------------------------
// 5. No netlink: the /proc/net fallback gives the same answer.

/// Holders of every kind of socket the two sources must agree on: TCP and UDP over IPv4
/// and IPv6, a dual-stack listener, and a SO_REUSEPORT group. Returns them and their ports.
fn socket_zoo() -> (Vec<Holder>, Vec<String>) {
    let mixed = Holder::spawn(
        &[
            "--v6only",
            "tcp",
            &v4(),
            "tcp",
            "[::1]:0",
            "udp",
            "127.0.0.1:0",
            "udp",
            "[::1]:0",
        ],
        1,
    );
    let dual = Holder::tcp(&format!("[::]:{}", unused_port()));
    let a = Holder::spawn(&["--reuseport", "tcp", &v4()], 1);
    let b = Holder::spawn(&["--reuseport", "tcp", &format!("127.0.0.1:{}", a.port)], 1);
    let ports = [mixed.port, dual.port, a.port]
        .iter()
        .map(u16::to_string)
        .collect();
    (vec![mixed, dual, a, b], ports)
}

/// The argument lists to compare, over `ports`.
fn queries(ports: &[String]) -> Vec<Vec<String>> {
    let with = |flags: &[&str], ports: &[String]| {
        flags
            .iter()
            .map(|f| f.to_string())
            .chain(ports.iter().cloned())
            .collect::<Vec<_>>()
    };
    vec![
        with(&[], ports),
        with(&["-v"], ports),
        with(&["--json"], ports),
        with(&["-l", "-v"], ports),
        with(&["-v", "-6"], &ports[..1]),
        with(&["-v", "--udp"], &ports[..1]),
    ]
}

fn rekt_via(wrapper: &[PathBuf], env: &[(&str, &str)], args: &[String]) -> Output {
    let bin = support::rekt_bin(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(bin);
            cmd
        }
        None => Command::new(bin),
    };
    cmd.args(args)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied());
    output_within(&mut cmd, support::RUN_BOUND)
}

fn same_answer(what: &str, wrapper: &[PathBuf], env: &[(&str, &str)]) {
    let (holders, ports) = socket_zoo();
    let every_pid: Vec<u32> = holders.iter().map(Holder::pid).collect();
    for args in queries(&ports) {
        let netlink = rekt_via(&[], &[], &args);
        let fallback = rekt_via(wrapper, env, &args);
        assert_eq!(code(&netlink), 0, "{args:?}: {}", stderr(&netlink));
        assert_eq!(
            (stdout(&fallback), stderr(&fallback), code(&fallback)),
            (stdout(&netlink), stderr(&netlink), code(&netlink)),
            "{what}: {args:?}"
        );
    }
    // Not vacuous: the default answer names every holder.
    let all = rekt_via(&[], &[], &ports);
    let mut listed = pids_in_table(&all);
    listed.sort_unstable();
    listed.dedup();
    let mut expected = every_pid;
    expected.sort_unstable();
    assert_eq!(listed, expected, "{}", stdout(&all));
    assert_eq!(stdout(&all).lines().count(), 1 + 4, "{}", stdout(&all));

    // Killing works the same way, down to the port check (which looks again).
    let port = ports[0].clone();
    let specs = [format!("{port}/tcp"), format!("{port}/udp")];
    let out = rekt_via(
        wrapper,
        env,
        &["-k".into(), specs[0].clone(), specs[1].clone()],
    );
    assert_eq!(code(&out), 0, "{what}: {}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("port {port}/tcp is free")),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(&format!("port {port}/udp is free")),
        "{}",
        stderr(&out)
    );
    assert!(
        holders[0].gone_within(holders[0].pid(), FIVE_S),
        "{}",
        holders[0].context()
    );
}

#[test]
fn the_proc_net_fallback_gives_the_same_answer_as_netlink() {
    let _net = private_netns();
    same_answer("REKT_SOCKETS=proc", &[], &[("REKT_SOCKETS", "proc")]);
}

#[test]
fn when_netlink_is_refused_by_seccomp_the_answer_is_the_same() {
    let _net = private_netns();
    for errno in ["eafnosupport", "eperm"] {
        let wrapper = [fixture("no_netlink"), "--errno".into(), errno.into()];
        // The filter does refuse netlink (and nothing else)...
        let probe = support::run(Command::new(&wrapper[0]).args(&wrapper[1..]).arg("--probe"));
        let text = stdout(&probe);
        assert!(probe.status.success(), "{errno}: {text}{}", stderr(&probe));
        assert!(text.contains("netlink: refused"), "{text}");
        assert!(text.contains("inet: allowed"), "{text}");
        // ...and behind it rekt gives the same answer.
        same_answer(errno, &wrapper, &[]);
    }
}

// ---------------------------------------------------------------------------------------
// 7. Scale: no fd leaks over many lookups.

/// Rounds of the leak check. Each round scans every process on the machine three times
/// (the fd scan does not stop at the namespace), which on a busy machine is what the check
/// costs; the fd count is checked after every round, so one fd leaked in any round fails
/// it at once (see `the_leak_check_catches_one_fd_per_round`).
const LEAK_ROUNDS: usize = 20;

/// Set in a rerun of `library_calls_leak_no_fds`: leak one fd per round, on purpose.
const LEAK_ON_PURPOSE: &str = "REKT_TEST_LEAK_ON_PURPOSE";

/// Fails the test if this process has more or fewer fds open than `before`.
fn assert_fds(before: usize, when: &str) {
    let now = fd_count("self");
    assert_eq!(
        now, before,
        "fds leaked: {now} open {when}, {before} before"
    );
}

/// Looks up, lists, reads details, and pins, signals and waits, in this process, round
/// after round: the fd count must not move. Run alone in a process of its own (in a fresh
/// network namespace as root, where the lookups see the test's sockets only), because the
/// other tests' pipes come and go in this one.
#[test]
fn library_calls_leak_no_fds() {
    if !support::rerun_alone(test_name!(), Rerun::Alone) {
        return;
    }
    let _net = private_netns();
    let on_purpose = std::env::var_os(LEAK_ON_PURPOSE).is_some();
    use rekt::Query;
    use rekt::internals::{Backend, Os, proc_net_sockets, sock_diag_sockets};
    let h = Holder::spawn(&["--fork", "tcp", &v4(), "udp", "[::1]:0"], 2);
    let query = Query::ports(vec![h.port.to_string().parse().unwrap()]);
    let free_port = unused_port();
    let free = Query::ports(vec![free_port.to_string().parse().unwrap()]);
    let mut listen = Query::ports(vec![]);
    listen.listen_only = true;
    let round = || {
        let found = rekt::lookup(&query).unwrap();
        let pids: Vec<u32> = found.ownership.owners.iter().map(|o| o.pid).collect();
        assert_eq!(pids, h.pids);
        let again = Os::owners(&found.sockets).unwrap();
        assert_eq!(again.owners.len(), 2);
        for owner in &found.ownership.owners {
            let info = Os::process_info(owner.pid);
            assert_eq!(
                info.name.as_ref().and_then(|n| n.as_str()),
                Some("sockhold")
            );
            let _ = Os::user_name(info.uid.unwrap());
        }
        assert_eq!(
            sock_diag_sockets(&query).unwrap().len(),
            proc_net_sockets(&query).unwrap().len()
        );
        assert!(rekt::lookup(&free).unwrap().ownership.owners.is_empty());
        let listed = rekt::lookup(&listen).unwrap();
        assert!(!listed.sockets.is_empty());
        if support::private() {
            // Alone in its namespace: the list is the holder's TCP and UDP sockets.
            assert_eq!(listed.sockets.len(), 2, "{:?}", listed.sockets);
        }
        if on_purpose {
            std::mem::forget(std::fs::File::open("/dev/null").unwrap());
        }
    };
    round();
    let rss = || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .unwrap();
        kib.trim().trim_end_matches(" kB").parse::<u64>().unwrap()
    };
    let fds_before = fd_count("self");
    let rss_before = rss();
    for i in 1..=LEAK_ROUNDS {
        round();
        assert_fds(fds_before, &format!("after lookup round {i}"));
    }
    let grown = rss().saturating_sub(rss_before);
    assert!(
        grown < 4 * 1024,
        "RSS grew by {grown} KiB over {LEAK_ROUNDS} rounds"
    );
    drop(h);

    // The signal path: pin (a pidfd each), signal, wait.
    let fds_before = fd_count("self");
    for i in 1..=LEAK_ROUNDS / 2 {
        let mut h = Holder::spawn(&["--fork", "tcp", &v4()], 2);
        let query = Query::ports(vec![h.port.to_string().parse().unwrap()]);
        let found = rekt::lookup(&query).unwrap();
        let (pinned, early) = rekt::kill::pin(&found.ownership.owners);
        assert!(early.is_empty());
        let policy = rekt::kill::Policy {
            signal: rekt::kill::Signal::Kill,
            timeout: Duration::from_secs(2),
            escalate: false,
        };
        let reports = rekt::kill::execute(&pinned, policy, |_| {});
        assert!(
            reports
                .iter()
                .all(|r| matches!(r.outcome, rekt::kill::Outcome::Exited)),
            "{reports:?}"
        );
        drop(pinned);
        h.assert_exits_within(FIVE_S);
        drop(h);
        assert_fds(fds_before, &format!("after kill round {i}"));
    }
}

/// The leak check is not vacuous: with one fd leaked per round on purpose, it fails.
#[test]
fn the_leak_check_catches_one_fd_per_round() {
    let out = support::rerun(
        "hardening::library_calls_leak_no_fds",
        Rerun::Alone,
        &[(LEAK_ON_PURPOSE, "1")],
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "a leak went unnoticed:\n{text}");
    assert!(
        text.contains("fds leaked: ") && text.contains(" open after lookup round 1, "),
        "{text}"
    );
}

#[test]
fn rekt_keeps_no_fd_from_the_lookup() {
    let _net = private_netns();
    // Many owners: a SO_REUSEPORT group of four and a pair sharing one socket.
    let first = Holder::spawn(&["--reuseport", "tcp", &v4()], 1);
    let addr = format!("127.0.0.1:{}", first.port);
    let mut holders = vec![first];
    for _ in 0..3 {
        holders.push(Holder::spawn(&["--reuseport", "tcp", &addr], 1));
    }
    holders.push(Holder::spawn(&["--fork", "--reuseport", "tcp", &addr], 2));
    let rekt = paused_rekt(&["-k", &holders[0].spec()]);
    // Between the lookup and the signals: whatever the lookup opened (a netlink socket,
    // /proc directories, fd directories) must be closed by now.
    let opened: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", rekt.pid()))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|l| l.to_string_lossy().into_owned())
        .filter(|l| l.starts_with("socket:") || l.starts_with("/proc") || l.contains("anon_inode"))
        .collect();
    let out = rekt.resume();
    assert_eq!(opened, Vec::<String>::new(), "fds left open by the lookup");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pids_in_table(&out).len(), 6, "{}", stdout(&out));
    for h in &holders {
        h.assert_all_gone_within(FIVE_S);
    }
}
