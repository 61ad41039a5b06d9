//! Shared fixtures for the end-to-end tests: run rekt, and spawn real processes that hold
//! real sockets (the `sockhold` example, which `cargo test` builds).
//!
//! Isolation (Linux). A test that starts processes calls [`private_netns`] first. As root
//! that moves the test's thread into a fresh network namespace: every process it starts
//! from then on (and every socket it opens) lives there, so rekt sees the test's own sockets
//! and nothing else, and a bare port number can only ever name the test's own processes. As
//! a normal user it cannot, and the helpers hold the test to the rules for a shared
//! machine: holders bind a port from [`unused_port`], and rekt may signal only by
//! `PORT/PROTO` of a socket that one of the test's holders has (see [`rekt_command`]).
//! Tests that look across namespaces (`--all-netns`, the "held in network namespace X"
//! hint) also run in a PID namespace of their own ([`pid_sandbox!`]), where rekt sees only
//! the test's processes.
//!
//! Every wait is bounded, and a fixture that fails says why, with its stderr.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The bound on any one run of rekt or a helper program: generous, since every run takes
/// milliseconds, even on a busy machine; only a hang gets near it.
pub const RUN_BOUND: Duration = Duration::from_secs(60);

/// The bound on a fixture's READY (or ACCEPTED) line.
pub const READY_BOUND: Duration = Duration::from_secs(30);

/// The bound on a test rerun in a process of its own (see [`rerun_alone`]).
const RERUN_BOUND: Duration = Duration::from_secs(240);

/// Set to 1 (CI does, as root): a test that would skip for want of root fails instead.
pub const REQUIRE_ROOT_ENV: &str = "REKT_REQUIRE_ROOT_TESTS";

// ---------------------------------------------------------------------------------------
// Running rekt and other programs, always within a bound.

/// The rekt binary under test with `args` and `NO_COLOR=1`, after checking that a run
/// that signals is allowed here (Linux; see the module docs).
pub fn rekt_command(args: &[&str]) -> Command {
    check_signal_args(args);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rekt"));
    cmd.args(args).env("NO_COLOR", "1");
    cmd
}

/// Runs the rekt binary under test.
pub fn rekt(args: &[&str]) -> Output {
    rekt_with_env(args, &[])
}

/// Runs rekt with extra environment variables.
pub fn rekt_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    output_within(rekt_command(args).envs(env.iter().copied()), RUN_BOUND)
}

/// Runs `cmd` (stdin empty) to the end within [`RUN_BOUND`].
pub fn run(cmd: &mut Command) -> Output {
    output_within(cmd, RUN_BOUND)
}

/// Runs `cmd` to the end and returns its output; if it takes longer than `timeout`, kills
/// it and fails the test. Stdin is empty.
pub fn output_within(cmd: &mut Command, timeout: Duration) -> Output {
    let child = spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    wait_output_within(child, timeout, &format!("{cmd:?}"))
}

/// Waits for `child` (stdout and stderr piped) to end and returns its output; if it takes
/// longer than `timeout`, kills it and fails the test, with what it printed so far.
pub fn wait_output_within(mut child: Child, timeout: Duration, what: &str) -> Output {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_within(&mut child, timeout);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        // A grandchild may still hold the pipes: do not wait for them.
        panic!("{what} did not finish within {timeout:?}");
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Waits up to `timeout` for `child` to exit; its status, or None if it is still running.
pub fn wait_within(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Held shared while a child is spawned, and exclusively while [`unused_ports`] probes. A
/// child that another test thread forks holds a copy of every fd of the test process until
/// it execs (close-on-exec only closes them then), so a probe socket closed meanwhile
/// keeps its port bound for a moment, and the fixture that binds that port next fails
/// with EADDRINUSE. `Command::spawn` returns once the child has exec'd.
static FORKING: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// `cmd.spawn()`, never while a port is being probed (see [`FORKING`]). Every child a test
/// starts goes through here.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    let _forking = FORKING.read().unwrap_or_else(|e| e.into_inner());
    cmd.spawn()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// rekt's stderr, as [`here`] reads it: lines about other namespaces that hold the test's
/// port numbers through processes the test did not start read as what they say about the
/// test's own namespace.
pub fn stderr(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    #[cfg(target_os = "linux")]
    return here(&text);
    #[cfg(not(target_os = "linux"))]
    return text.into_owned();
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// The PIDs in the PID column of rekt's table, in order.
pub fn pids_in_table(out: &Output) -> Vec<u32> {
    stdout(out)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

/// The path of an example binary built next to the test binary.
pub fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let mut path = std::env::current_exe().expect("test binary path");
    path.pop();
    path.pop();
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built; run cargo test",
        path.display()
    );
    path
}

/// Runs `rekt ARGS` on a pseudo-terminal (util-linux `script`), typing `input`, with
/// `NO_COLOR=1` or without NO_COLOR.
#[cfg(target_os = "linux")]
pub fn on_terminal(args: &[&str], input: &str, no_color: bool) -> Output {
    on_terminal_with(args, input, no_color, None)
}

/// [`on_terminal`], with rekt's stderr sent to the file `stderr_to` instead of the
/// terminal when one is given.
#[cfg(target_os = "linux")]
pub fn on_terminal_with(
    args: &[&str],
    input: &str,
    no_color: bool,
    stderr_to: Option<&std::path::Path>,
) -> Output {
    check_signal_args(args);
    let redirect = stderr_to.map(|p| p.to_str().expect("a UTF-8 path"));
    for arg in args.iter().chain(redirect.as_ref()) {
        assert!(
            !arg.is_empty() && !arg.contains([' ', '\'', '"', '\\', '$']),
            "{arg:?} would need quoting for script -c"
        );
    }
    let mut line = format!("{} {}", env!("CARGO_BIN_EXE_rekt"), args.join(" "));
    if let Some(file) = redirect {
        line.push_str(&format!(" 2>{file}"));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let mut child = spawn(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("script(1) from util-linux");
    // script reads the answer from its stdin and types it on the terminal; the pipe stays
    // open until then, and closes when this end is dropped.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    wait_output_within(child, RUN_BOUND, &format!("script -c {line:?}"))
}

// ---------------------------------------------------------------------------------------
// Root, skips and reruns.

#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `REKT_REQUIRE_ROOT_TESTS=1`: no skipping for want of root.
pub fn root_tests_required() -> bool {
    std::env::var_os(REQUIRE_ROOT_ENV).is_some_and(|v| v == "1")
}

/// Skips the calling test (the caller returns) with `reason`, printed where it is seen:
/// libtest hides what a passing test prints with `eprintln!`, but not what it writes to
/// the process's stderr itself. With `REKT_REQUIRE_ROOT_TESTS=1`, fails instead.
pub fn skip(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    assert!(
        !root_tests_required(),
        "{test} would skip ({reason}), and {REQUIRE_ROOT_ENV}=1 forbids that"
    );
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {reason}");
}

/// Skips the calling test (with a printed reason) unless running as root.
macro_rules! require_root {
    () => {
        if !$crate::support::is_root() {
            $crate::support::skip("this test needs root (CI runs as root)");
            return;
        }
    };
}

/// The name of the calling test function, as libtest filters it.
macro_rules! test_name {
    () => {{
        fn f() {}
        fn name_of<T>(_: T) -> &'static str {
            std::any::type_name::<T>()
        }
        let name = name_of(f).strip_suffix("::f").unwrap();
        // Without the crate (the test binary) in front.
        name.split_once("::").map_or(name, |(_, path)| path)
    }};
}

/// As root, runs the calling test again in a process of its own, in a fresh PID namespace
/// with its own /proc and a fresh network namespace, and returns once it has passed there.
/// rekt run by the test then sees the test's processes and namespaces only, none of the
/// machine's: for `--all-netns` and the other-namespace hint, which look at every process.
/// As a normal user, the test goes on in place.
#[cfg(target_os = "linux")]
macro_rules! pid_sandbox {
    () => {
        if !$crate::support::rerun_alone(test_name!(), $crate::support::Rerun::PidSandbox) {
            return;
        }
    };
}

/// How [`rerun_alone`] runs a test again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// In a process of its own, where nothing else runs; as root, the whole process is in
    /// a fresh network namespace (every thread, so /proc/net agrees with the sockets).
    Alone,
    /// As root: in a fresh PID namespace with its own /proc, and a fresh network
    /// namespace. As a normal user: not at all, the test goes on in place.
    PidSandbox,
}

/// Set in a rerun process: the test it runs, and whether its network namespace is private.
const RERUN_ENV: &str = "REKT_TEST_RERUN";
const RERUN_NETNS_ENV: &str = "REKT_TEST_PRIVATE_NETNS";
const RERUN_PIDNS_ENV: &str = "REKT_TEST_PID_SANDBOX";

/// Runs test `name` of this test binary again, alone (`--exact --test-threads=1`), in a
/// new process set up as `how` says. Returns true in that process (the test goes on) and
/// false in the caller, once the rerun has passed; fails the test with the rerun's output
/// if it did not. See [`Rerun`].
#[cfg(target_os = "linux")]
pub fn rerun_alone(name: &str, how: Rerun) -> bool {
    if std::env::var(RERUN_ENV).is_ok_and(|n| n == name) {
        return true;
    }
    if how == Rerun::PidSandbox && !is_root() {
        return true;
    }
    let out = rerun(name, how, &[]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        out.status.success(),
        "{name}, rerun alone ({how:?}), failed:\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "{name}, rerun alone ({how:?}), did not run:\n{text}"
    );
    false
}

/// Runs test `name` of this test binary in a new process as [`rerun_alone`] does, with
/// `env` added, and returns its output (whether it passed or not).
#[cfg(target_os = "linux")]
pub fn rerun(name: &str, how: Rerun, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if is_root() {
        let mut cmd = Command::new("unshare");
        cmd.arg("--net");
        if how == Rerun::PidSandbox {
            cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
                .env(RERUN_PIDNS_ENV, "1");
        }
        cmd.arg("--").arg(&exe).env(RERUN_NETNS_ENV, "1");
        cmd
    } else {
        Command::new(&exe)
    };
    cmd.args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(RERUN_ENV, name)
        .envs(env.iter().copied());
    output_within(&mut cmd, RERUN_BOUND)
}

/// Whether this process runs in a PID namespace of its own (see [`pid_sandbox!`]).
pub fn in_pid_sandbox() -> bool {
    std::env::var_os(RERUN_PIDNS_ENV).is_some()
}

// ---------------------------------------------------------------------------------------
// Facts about other network namespaces.

/// `text` (rekt's stderr) as it would read if no other network namespace held the test's
/// port numbers: a test in a private namespace (not a PID sandbox) shares port numbers with
/// whatever the machine runs (ci-strangers.sh holds every one the tests draw, on purpose),
/// and rekt rightly says `port 12158/tcp is free here, but held in network namespace … by
/// PID 22744`. Those lines are about processes the test did not start, so they are read as
/// what they say about the test's own namespace: `port 12158/tcp is free`. Tests that are
/// about such hints run in a PID sandbox, where this changes nothing.
#[cfg(target_os = "linux")]
pub fn here(text: &str) -> String {
    if in_pid_sandbox() || !private() {
        return text.to_owned();
    }
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let bare = line.strip_prefix("rekt: ").unwrap_or(line);
        let read = match bare.split_once(" is free here, but held in network namespace ") {
            Some((port, rest))
                if rest.ends_with("; use --all-netns to see it") && foreign(rest) =>
            {
                if bare.len() == line.len() {
                    format!("{port} is free")
                } else {
                    // Before a signal the free port's line is the `nothing holds` note.
                    format!("rekt: nothing holds {port}")
                }
            }
            _ => line.to_owned(),
        };
        // Two foreign namespaces read as the same line once.
        if out.last() != Some(&read) || read == line {
            out.push(read);
        }
    }
    let mut text_out = out.join("\n");
    if !out.is_empty() {
        text_out.push('\n');
    }
    text_out
}

/// Whether the rest of a hint line (`4026531833 by PIDs 22744, 22745; use …`) names only
/// processes that this thread's test did not start.
#[cfg(target_os = "linux")]
fn foreign(rest: &str) -> bool {
    let pids: Vec<u32> = rest
        .split(|c: char| !c.is_ascii_digit())
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    !pids.is_empty() && STARTED.with_borrow(|started| pids.iter().all(|p| !started.contains(p)))
}

/// [`here`] for a JSON document: a port whose status is `elsewhere` reads `free`, without
/// its `netns`, and the hints go.
#[cfg(target_os = "linux")]
pub fn json_here(mut doc: serde_json::Value) -> serde_json::Value {
    if in_pid_sandbox() || !private() {
        return doc;
    }
    if let Some(ports) = doc.get_mut("ports").and_then(|p| p.as_array_mut()) {
        for port in ports {
            let pids: Vec<u32> = port["netns"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|place| place["pids"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| p.as_u64().map(|p| p as u32))
                .collect();
            let ours = STARTED.with_borrow(|started| pids.iter().any(|p| started.contains(p)));
            if port["status"] == "elsewhere"
                && !ours
                && let Some(map) = port.as_object_mut()
            {
                map.insert("status".into(), "free".into());
                map.remove("netns");
            }
        }
    }
    if let Some(hints) = doc.get_mut("hints").and_then(|h| h.as_array_mut()) {
        hints.retain(|hint| {
            let text = hint.as_str().unwrap_or("");
            !text
                .split_once(" is free here, but held in network namespace ")
                .is_some_and(|(_, rest)| foreign(rest))
        });
        if hints.is_empty()
            && let Some(map) = doc.as_object_mut()
        {
            map.remove("hints");
        }
    }
    doc
}

// ---------------------------------------------------------------------------------------
// Network namespaces (Linux).

/// How the calling thread's sockets and processes are kept apart from the machine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// The test has not said (no [`private_netns`] yet).
    Unset,
    /// In a network namespace of the test's own: nothing else is there.
    Private,
    /// In the machine's network namespace, shared with every other process.
    Shared,
}

#[cfg(target_os = "linux")]
thread_local! {
    static ISOLATION: std::cell::Cell<Isolation> = const { std::cell::Cell::new(Isolation::Unset) };
    /// (port, protocol) of every socket that a live holder of this thread binds.
    static HELD: std::cell::RefCell<Vec<(u16, &'static str)>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The PIDs of the fixtures this thread's test started.
    static STARTED: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The calling thread's isolation.
#[cfg(target_os = "linux")]
pub fn isolation() -> Isolation {
    ISOLATION.get()
}

/// Whether the calling thread is in a network namespace of the test's own.
#[cfg(target_os = "linux")]
pub fn private() -> bool {
    isolation() == Isolation::Private
}

/// What [`private_netns`] returns: while it lives, the thread stays where it put it.
#[cfg(target_os = "linux")]
#[must_use = "the thread goes back to its namespace when this is dropped"]
pub struct NetnsGuard {
    /// The thread's namespace before, to go back to.
    back: Option<std::os::fd::OwnedFd>,
    before: Isolation,
}

/// Moves the calling thread into a fresh network namespace with the loopback interface up
/// (root), or records that it stays in the shared one (not root; see the module docs).
/// Call it first in every test that starts processes, before any [`unused_port`] or
/// [`Holder`]: only processes started afterwards are in the namespace. The thread goes back
/// when the guard is dropped.
#[cfg(target_os = "linux")]
pub fn private_netns() -> NetnsGuard {
    let before = isolation();
    let guard = |back| NetnsGuard { back, before };
    if std::env::var_os(RERUN_NETNS_ENV).is_some() {
        // A rerun process: the whole process is in a fresh namespace already.
        lo_up();
        ISOLATION.set(Isolation::Private);
        return guard(None);
    }
    if !is_root() {
        ISOLATION.set(Isolation::Shared);
        return guard(None);
    }
    let back: std::os::fd::OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")
        .expect("/proc/thread-self/ns/net")
        .into();
    // SAFETY: unshare(CLONE_NEWNET) changes the calling thread's namespace only; the thread
    // returns to `back` when the guard is dropped.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let e = std::io::Error::last_os_error();
        assert!(
            !root_tests_required(),
            "cannot unshare a network namespace as root: {e}"
        );
        let _ = writeln!(
            std::io::stderr(),
            "note: cannot unshare a network namespace ({e}); using the shared one"
        );
        ISOLATION.set(Isolation::Shared);
        return guard(None);
    }
    lo_up();
    ISOLATION.set(Isolation::Private);
    guard(Some(back))
}

/// Holds the calling thread to the rules for a shared machine (see [`check_signal_args`])
/// even as root, for the tests of those rules. As root the thread still moves into a
/// private namespace, so that a rule that fails cannot touch the machine.
#[cfg(target_os = "linux")]
pub fn shared_netns() -> NetnsGuard {
    let guard = private_netns();
    ISOLATION.set(Isolation::Shared);
    guard
}

#[cfg(target_os = "linux")]
impl Drop for NetnsGuard {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        if let Some(back) = &self.back {
            // SAFETY: setns on a namespace fd we hold; it changes the calling thread only.
            let rc = unsafe { libc::setns(back.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 && !std::thread::panicking() {
                panic!(
                    "cannot go back to the network namespace: {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        ISOLATION.set(self.before);
    }
}

/// Brings the loopback interface of the calling thread's network namespace up, as
/// `ip link set lo up` does (SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP).
#[cfg(target_os = "linux")]
fn lo_up() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: a new socket that the OwnedFd owns; ifreq is plain data, all-zero is valid,
    // and the ioctls read and write only that struct.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (to, from) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *to = *from as libc::c_char;
        }
        let rc = libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr);
        assert_eq!(
            rc,
            0,
            "SIOCGIFFLAGS lo: {}",
            std::io::Error::last_os_error()
        );
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        let rc = libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr);
        assert_eq!(
            rc,
            0,
            "SIOCSIFFLAGS lo: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The inode of the calling thread's network namespace (its id in rekt's output).
#[cfg(target_os = "linux")]
pub fn netns_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
}

/// Panics unless a run of rekt with `args` is one a test may make here: one that signals
/// needs a private network namespace, or else names only `PORT/PROTO` of sockets that this
/// test's holders bind; `--all-netns` with a signal needs a PID sandbox too.
#[cfg(target_os = "linux")]
pub fn check_signal_args(args: &[&str]) {
    let signals = args.iter().any(|a| {
        matches!(*a, "--kill" | "--terminate" | "--escalate")
            || (a.starts_with('-') && !a.starts_with("--") && a.contains(['k', 't']))
    });
    if !signals {
        return;
    }
    let all_netns = args.contains(&"--all-netns");
    match isolation() {
        Isolation::Unset => {
            panic!("rekt {args:?} signals: call support::private_netns() first")
        }
        Isolation::Private if all_netns && !in_pid_sandbox() => panic!(
            "rekt {args:?}: --all-netns reaches the machine's namespaces; use pid_sandbox!()"
        ),
        Isolation::Private => {}
        Isolation::Shared => {
            assert!(
                !all_netns,
                "rekt {args:?}: --all-netns with a signal outside a sandbox"
            );
            let mut values = args.iter();
            while let Some(arg) = values.next() {
                if matches!(*arg, "--timeout" | "--settle") {
                    values.next();
                    continue;
                }
                if arg.starts_with('-') {
                    continue;
                }
                let held = arg.split_once('/').and_then(|(port, proto)| {
                    let port: u16 = port.parse().ok()?;
                    HELD.with_borrow(|held| held.iter().any(|&(p, q)| p == port && q == proto))
                        .then_some(())
                });
                assert!(
                    held.is_some(),
                    "rekt {args:?} signals in the shared network namespace: {arg:?} must be \
                     PORT/PROTO of a socket that this test's holder binds"
                );
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn check_signal_args(_: &[&str]) {}

// ---------------------------------------------------------------------------------------
// Ports.

/// A port nothing uses now (no TCP or UDP socket, IPv4 or IPv6), from 10000..18000. That is
/// below the kernel's ephemeral range (32768-60999 by default), so no bind to port 0, by
/// this test or one running alongside, is given it later; binding port 0 is not enough for
/// tests that look a port up by number, because the kernel may hand a SO_REUSEADDR UDP
/// socket, a SO_REUSEPORT socket or a socket on another address a port that is already
/// in use, and clients take their local ports from that range. Each call in one test
/// process returns a different port. In a private network namespace every port is free but
/// the test's own, so the next one is taken without probing; in the shared one each is
/// probed with a bind of each kind.
pub fn unused_port() -> u16 {
    unused_ports::<1>()[0]
}

/// `N` consecutive ports that nothing uses now (see [`unused_port`]), for ranges.
pub fn unused_ports<const N: usize>() -> [u16; N] {
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 8_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    #[cfg(target_os = "linux")]
    let private = match isolation() {
        Isolation::Unset => panic!("call support::private_netns() before picking ports"),
        Isolation::Private => true,
        Isolation::Shared => false,
    };
    #[cfg(not(target_os = "linux"))]
    let private = false;
    // Start where the PID says, so that two test processes rarely probe the same ports.
    let start = std::process::id() % SPAN;
    let in_use =
        |r: std::io::Result<()>| r.is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse);
    let free = |port: u16| {
        private
            || !(in_use(TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).map(drop))
                || in_use(UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).map(drop))
                || in_use(TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)).map(drop))
                || in_use(UdpSocket::bind((Ipv6Addr::UNSPECIFIED, port)).map(drop)))
    };
    let _probing = (!private).then(|| FORKING.write().unwrap_or_else(|e| e.into_inner()));
    for _ in 0..SPAN {
        let first = (start + NEXT.fetch_add(N as u32, Ordering::Relaxed)) % SPAN;
        if first + N as u32 > SPAN {
            continue;
        }
        let ports: [u16; N] = std::array::from_fn(|i| (LOW + first + i as u32) as u16);
        if ports.iter().all(|&p| free(p)) {
            return ports;
        }
    }
    panic!("no {N} unused consecutive ports in {LOW}..{}", LOW + SPAN)
}

/// `127.0.0.1:PORT` with a port from [`unused_port`].
pub fn v4() -> String {
    format!("127.0.0.1:{}", unused_port())
}

/// `[::1]:PORT` with a port from [`unused_port`].
pub fn v6() -> String {
    format!("[::1]:{}", unused_port())
}

// ---------------------------------------------------------------------------------------
// Holders: processes that hold sockets.

/// A running fixture process that holds sockets (sockhold, oddproc, or a program run
/// through setpriv, unshare, ip netns exec...), killed when dropped.
///
/// Its stdout is read by a thread, line by line, and each READY line waited for within
/// [`READY_BOUND`]; its stderr is collected by another thread and is part of every
/// failure message about it.
pub struct Holder {
    pub child: Child,
    /// Every PID that reported READY, sorted.
    pub pids: Vec<u32>,
    pub port: u16,
    /// The protocol of the first socket (`tcp` or `udp`).
    pub proto: &'static str,
    /// Whether `pids` are PIDs in this test's PID namespace: false for a holder in a PID
    /// namespace of its own, whose READY lines give PIDs in there.
    ours: bool,
    /// The command, for messages.
    what: String,
    lines: Option<Receiver<String>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Closed (disconnected) when both reader threads have finished.
    readers_done: Option<Receiver<()>>,
    /// A pidfd for each READY PID (Linux), so that dropping the holder can never signal a
    /// process that reuses the PID of one that has exited.
    #[cfg(target_os = "linux")]
    pidfds: Vec<(u32, std::os::fd::OwnedFd)>,
    /// (port, protocol) of the sockets it binds, registered for `check_signal_args`.
    binds: Vec<(u16, &'static str)>,
}

impl Holder {
    /// Spawns `sockhold ARGS` and waits for `ready` READY lines.
    pub fn spawn(args: &[&str], ready: usize) -> Holder {
        let mut cmd = Command::new(example("sockhold"));
        cmd.args(args);
        Holder::spawn_command(cmd, ready)
    }

    pub fn tcp(addr: &str) -> Holder {
        Holder::spawn(&["tcp", addr], 1)
    }

    pub fn udp(addr: &str) -> Holder {
        Holder::spawn(&["udp", addr], 1)
    }

    /// Spawns another example program that prints READY lines (`oddproc`, for one).
    pub fn spawn_example(name: &str, args: &[&str], ready: usize) -> Holder {
        let mut cmd = Command::new(example(name));
        cmd.args(args);
        Holder::spawn_command(cmd, ready)
    }

    /// Spawns `sockhold ARGS` as user `uid` (root only), through `setpriv`.
    #[cfg(target_os = "linux")]
    pub fn spawn_as(uid: u32, args: &[&str], ready: usize) -> Holder {
        let mut cmd = setpriv(uid);
        cmd.arg(world_readable_copy(&example("sockhold")))
            .args(args);
        Holder::spawn_command(cmd, ready)
    }

    /// Spawns `cmd`, whose stdout must be READY lines as sockhold prints them (the program
    /// may be started through setpriv, unshare -n or ip netns exec, which exec it), and
    /// waits for `ready` of them.
    pub fn spawn_command(cmd: Command, ready: usize) -> Holder {
        Holder::start(cmd, ready, true)
    }

    /// Like `spawn_command`, for a program in a PID namespace of its own: its READY lines
    /// give PIDs in there, which mean other processes here, so they are never signalled;
    /// dropping the holder kills `cmd`'s process only (use `unshare --kill-child`).
    pub fn spawn_foreign(cmd: Command, ready: usize) -> Holder {
        Holder::start(cmd, ready, false)
    }

    /// Takes over a child that prints no READY lines (and holds no socket of its own
    /// choosing): it is killed when dropped.
    pub fn adopt(child: Child, what: &str) -> Holder {
        let pid = child.id();
        let mut holder = Holder {
            child,
            pids: vec![pid],
            port: 0,
            proto: "tcp",
            ours: true,
            what: what.to_owned(),
            lines: None,
            stderr: Arc::default(),
            readers_done: None,
            #[cfg(target_os = "linux")]
            pidfds: Vec::new(),
            binds: Vec::new(),
        };
        holder.pin(pid);
        holder
    }

    fn start(mut cmd: Command, ready: usize, ours: bool) -> Holder {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let what = format!(
            "{} {}",
            std::path::Path::new(cmd.get_program())
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
            args.join(" ")
        );
        let (protos, first_addr) = sockets_in_args(&args);
        #[cfg(target_os = "linux")]
        match isolation() {
            Isolation::Unset => panic!("{what}: call support::private_netns() first"),
            Isolation::Shared => assert!(
                first_addr.is_some_and(|a| a.port() != 0),
                "{what}: in the shared network namespace, bind a port from unused_port()"
            ),
            Isolation::Private => {}
        }
        #[cfg(not(target_os = "linux"))]
        let _ = first_addr;
        let mut child = spawn(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .unwrap_or_else(|e| panic!("cannot spawn {what}: {e}"));
        let (lines_tx, lines) = std::sync::mpsc::channel();
        let (done_tx, readers_done) = std::sync::mpsc::channel::<()>();
        let out = child.stdout.take().unwrap();
        let done = done_tx.clone();
        // Each reader signals `done` by dropping its sender last, after its pipe: locals
        // drop in reverse order, and a closure's captures only after its body.
        std::thread::spawn(move || {
            let _done = done;
            let out = out;
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr: Arc<Mutex<Vec<u8>>> = Arc::default();
        let err = child.stderr.take().unwrap();
        let collected = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let _done = done_tx;
            let mut err = err;
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut holder = Holder {
            child,
            pids: Vec::new(),
            port: 0,
            proto: protos.first().copied().unwrap_or("tcp"),
            ours,
            what,
            lines: Some(lines),
            stderr,
            readers_done: Some(readers_done),
            #[cfg(target_os = "linux")]
            pidfds: Vec::new(),
            binds: Vec::new(),
        };
        for _ in 0..ready {
            let (pid, port) = holder.expect_line("READY");
            holder.pids.push(pid);
            holder.port = port;
            if ours {
                holder.pin(pid);
            }
        }
        holder.pids.sort_unstable();
        let protos = if protos.is_empty() {
            vec!["tcp"]
        } else {
            protos
        };
        holder.binds = protos.into_iter().map(|p| (holder.port, p)).collect();
        #[cfg(target_os = "linux")]
        {
            HELD.with_borrow_mut(|held| held.extend(&holder.binds));
            STARTED.with_borrow_mut(|started| started.extend(&holder.pids));
        }
        holder
    }

    /// Opens a pidfd for `pid`, which has just said READY (so it is the process we
    /// started, and still running).
    fn pin(&mut self, pid: u32) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: pidfd_open returns a new fd (close-on-exec) or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if fd >= 0 {
                // SAFETY: a new fd that nothing else owns.
                let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
                self.pidfds.push((pid, fd));
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = pid;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `PORT/PROTO` of the first socket. Tests look ports up with the protocol: on a busy
    /// machine another process's socket of the other protocol (or a client connection) may
    /// use the same port number, and a test must never see, let alone kill, it.
    pub fn spec(&self) -> String {
        format!("{}/{}", self.port, self.proto)
    }

    /// Reads the next line, which must start with `tag`; returns its pid and port. Fails
    /// the test (with the fixture's stderr) if none comes within [`READY_BOUND`].
    pub fn expect_line(&mut self, tag: &str) -> (u32, u16) {
        let line = match self.lines.as_ref().map(|l| l.recv_timeout(READY_BOUND)) {
            Some(Ok(line)) => line,
            Some(Err(RecvTimeoutError::Timeout)) => {
                self.fail(&format!("no {tag} line within {READY_BOUND:?}"))
            }
            Some(Err(RecvTimeoutError::Disconnected)) => {
                self.fail(&format!("closed its stdout before a {tag} line"))
            }
            None => self.fail("prints no lines"),
        };
        let mut words = line.split_whitespace();
        let parsed = (words.next() == Some(tag))
            .then(|| Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?)))
            .flatten();
        parsed.unwrap_or_else(|| self.fail(&format!("said {line:?}, not {tag} PID PORT")))
    }

    /// What the fixture wrote on stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// The command, its PID and its stderr so far: for failure messages.
    pub fn context(&self) -> String {
        format!(
            "{} (PID {}); its stderr: {:?}",
            self.what,
            self.pid(),
            self.stderr()
        )
    }

    /// Fails the test: `problem`, with how the fixture ended (if it did) and its stderr.
    fn fail(&mut self, problem: &str) -> ! {
        // A fixture that is dying gets a moment to finish, so that its last words are in.
        let status = wait_within(&mut self.child, Duration::from_secs(2));
        if let Some(done) = &self.readers_done {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
        let ended = match status {
            Some(status) => format!("it exited ({status})"),
            None => "it is still running".to_owned(),
        };
        panic!(
            "{} (PID {}): {problem}; {ended}; its stderr: {:?}",
            self.what,
            self.pid(),
            self.stderr()
        )
    }

    /// Waits up to `timeout` for the spawned process to exit; its status, or None.
    pub fn wait_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_within(&mut self.child, timeout)
    }

    /// Waits for the spawned process to exit; true if it did within `timeout`.
    pub fn exited_within(&mut self, timeout: Duration) -> bool {
        self.wait_within(timeout).is_some()
    }

    /// Fails the test (with the fixture's stderr) unless the spawned process exits within
    /// `timeout`.
    pub fn assert_exits_within(&mut self, timeout: Duration) {
        if !self.exited_within(timeout) {
            self.fail(&format!("still running after {timeout:?}"));
        }
    }

    /// Fails the test (with the fixture's stderr) if the spawned process exits within
    /// `timeout`.
    pub fn assert_runs_for(&mut self, timeout: Duration) {
        if let Some(status) = self.wait_within(timeout) {
            panic!("{}: exited ({status}) within {timeout:?}", self.context());
        }
    }

    /// Whether the spawned process is still running (a zombie is not).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Whether READY process `pid` of this holder is gone (exited), waiting up to
    /// `timeout`. Through its pidfd, so a reused PID cannot fool it.
    #[cfg(target_os = "linux")]
    pub fn gone_within(&self, pid: u32, timeout: Duration) -> bool {
        use std::os::fd::AsRawFd;
        let (_, fd) = self
            .pidfds
            .iter()
            .find(|(p, _)| *p == pid)
            .unwrap_or_else(|| panic!("{pid} is not a READY process of {}", self.what));
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd; a pidfd is readable once its process has exited.
        unsafe { libc::poll(&mut poll, 1, ms) > 0 }
    }

    /// Fails the test unless every READY process is gone within `timeout`.
    #[cfg(target_os = "linux")]
    pub fn assert_all_gone_within(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for &pid in &self.pids {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                self.gone_within(pid, left),
                "{pid} survived; {}",
                self.context()
            );
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        for (pid, fd) in &self.pidfds {
            if *pid != self.child.id() {
                use std::os::fd::AsRawFd;
                // SAFETY: pidfd_send_signal on our own pidfd: it reaches the process we
                // started or, if that has exited, nothing.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
            }
        }
        // Not reaped yet, so its PID cannot have been reused.
        let _ = self.child.kill();
        let _ = wait_within(&mut self.child, Duration::from_secs(10));
        if self.ours
            && let Some(done) = &self.readers_done
        {
            // The pipes close with the last process that holds them: wait, so that the
            // test's fds are back to what they were (tests/it/hardening.rs counts them).
            let _ = done.recv_timeout(Duration::from_secs(5));
        }
        #[cfg(target_os = "linux")]
        HELD.with_borrow_mut(|held| {
            for bind in &self.binds {
                if let Some(i) = held.iter().position(|b| b == bind) {
                    held.remove(i);
                }
            }
        });
    }
}

/// The protocols of the sockets that a holder's arguments ask for (each `tcp`/`udp`
/// followed by an address, up to `--then-run`) and the first address.
fn sockets_in_args(args: &[String]) -> (Vec<&'static str>, Option<std::net::SocketAddr>) {
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .take_while(|a| *a != "--then-run")
        .collect();
    let mut protos = Vec::new();
    for pair in args.windows(2) {
        if pair[1].parse::<std::net::SocketAddr>().is_ok() {
            match pair[0] {
                "tcp" if !protos.contains(&"tcp") => protos.push("tcp"),
                "udp" if !protos.contains(&"udp") => protos.push("udp"),
                _ => {}
            }
        }
    }
    let first = args.iter().find_map(|a| a.parse().ok());
    (protos, first)
}

// ---------------------------------------------------------------------------------------
// rekt paused between its lookup and its signals (the REKT_TEST_PAUSE_DIR hook).

/// A directory of the test's own under the temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let path = std::env::temp_dir().join(format!(
                "rekt-{tag}-{}-{nanos}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return TempDir(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// rekt started with the pause hook, stopped between its lookup and its signals.
pub struct Paused {
    pub child: Child,
    pub dir: TempDir,
}

/// Starts `rekt ARGS` with the test pause hook; returns it once it has looked up and
/// paused (within [`RUN_BOUND`]).
pub fn paused_rekt(args: &[&str]) -> Paused {
    let dir = TempDir::new("pause");
    let mut child = spawn(
        rekt_command(args)
            .env("REKT_TEST_PAUSE_DIR", &dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("spawn rekt");
    let deadline = Instant::now() + RUN_BOUND;
    while !dir.join("paused").exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let out = wait_output_within(child, RUN_BOUND, "rekt");
            panic!(
                "rekt {args:?} exited ({status}) without pausing: {}",
                stderr(&out)
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rekt {args:?} never paused");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Paused { child, dir }
}

impl Paused {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets rekt go on, and returns its output.
    pub fn resume(self) -> Output {
        std::fs::write(self.dir.join("resume"), b"").unwrap();
        wait_output_within(self.child, RUN_BOUND, "rekt after the pause")
    }
}

/// The example `name` under another file name, `dir/file_name`, which may be any bytes a
/// file name can hold (escape sequences, newlines, invalid UTF-8): rekt names a process by
/// its executable's file name. A hard link when it can be; otherwise a copy, written while
/// no test thread forks and staged under a name of its own (see [`world_readable_copy`]).
pub fn example_named(name: &str, dir: &TempDir, file_name: &std::ffi::OsStr) -> PathBuf {
    let path = dir.0.join(file_name);
    let original = example(name);
    // Not under wine: it knows a file by its inode, so every process of a hard-linked
    // executable would get the last name it saw.
    if cfg!(not(windows)) && std::fs::hard_link(&original, &path).is_ok() {
        return path;
    }
    let staged = dir.join(".staged");
    {
        let _no_forks = FORKING.write().unwrap_or_else(|e| e.into_inner());
        std::fs::copy(&original, &staged).unwrap();
    }
    std::fs::rename(&staged, &path).unwrap();
    path
}

// ---------------------------------------------------------------------------------------
// Another user (Linux, root).

/// Runs rekt as another user (`setpriv`, root only). The binary is copied to a private
/// world-readable directory first, because the build tree may not be reachable by that
/// user.
#[cfg(target_os = "linux")]
pub fn rekt_as(uid: u32, args: &[&str]) -> Output {
    check_signal_args(args);
    let bin = world_readable_copy(std::path::Path::new(env!("CARGO_BIN_EXE_rekt")));
    let mut attempt = 0;
    loop {
        let out = run(setpriv(uid).arg(&bin).args(args));
        // Another test thread that forks while the copy is written inherits its write fd
        // until it execs, and exec then fails with ETXTBSY for a moment. Try again.
        if out.status.code() == Some(126)
            && String::from_utf8_lossy(&out.stderr).contains("Text file busy")
            && attempt < 100
        {
            attempt += 1;
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        return out;
    }
}

/// A copy of the binary at `path` in a world-readable directory of this user's, so that
/// another user can run it (the build tree may not be reachable by that user). One copy per
/// build of each binary (in a directory named by the binary's inode and modification
/// time), shared by every test process; builds that got no new copy for a day are removed.
#[cfg(target_os = "linux")]
pub fn world_readable_copy(path: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let dir = std::env::temp_dir().join(format!("rekt-test-bin-{euid}"));
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("{}: {e}", dir.display()),
    }
    // Not a symlink, and ours: another user could have made it first.
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert!(
        meta.is_dir() && meta.uid() == euid,
        "{} is not a directory of uid {euid}",
        dir.display()
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The file keeps its name (rekt names a process by its executable's); the build is in
    // the directory's name.
    let built = std::fs::metadata(path).unwrap();
    let build = dir.join(format!(
        "{}.{}.{}",
        built.ino(),
        built.mtime(),
        built.mtime_nsec()
    ));
    let copy = build.join(path.file_name().expect("a file name"));
    if !copy.exists() {
        prune(&dir);
        match std::fs::create_dir(&build) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("{}: {e}", build.display()),
        }
        std::fs::set_permissions(&build, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A hard link when it can (same file system). Otherwise a copy, written while no
        // test thread forks (a child would inherit the write fd until it execs, and exec of
        // the copy would fail with ETXTBSY meanwhile). Staged under a name of its own and
        // renamed, so that a test running concurrently never executes a half-written file.
        let tmp = TempDir::new("bin-tmp");
        let staged = tmp.join("bin");
        if std::fs::hard_link(path, &staged).is_err() {
            let _no_forks = FORKING.write().unwrap_or_else(|e| e.into_inner());
            std::fs::copy(path, &staged).unwrap();
        }
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&staged, &copy).unwrap();
    }
    copy
}

/// Removes the copies of builds in `dir` that got no new copy for a day.
#[cfg(target_os = "linux")]
fn prune(dir: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        // A directory's ctime changes when a file is added to it.
        if entry.metadata().is_ok_and(|m| now - m.ctime() > 86_400) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `setpriv --reuid=UID --regid=UID --clear-groups`: add more setpriv options, then the
/// program (a `world_readable_copy`) and its arguments. Root only. setpriv execs the
/// program, so the child's PID is the program's, and the program is dumpable (its
/// /proc/PID/fd belongs to UID) as anything that user started would be.
#[cfg(target_os = "linux")]
pub fn setpriv(uid: u32) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .env("NO_COLOR", "1");
    cmd
}

// ---------------------------------------------------------------------------------------
// /proc (Linux).

/// How many fds process `pid` has open (`/proc/PID/fd` entries).
#[cfg(target_os = "linux")]
pub fn fd_count(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The state letter of a process (`R`, `S`, `T`, `Z`...) from /proc/PID/stat.
#[cfg(target_os = "linux")]
pub fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

// ---------------------------------------------------------------------------------------
// Wine (Windows).

/// The version of wine running this test (`(8, 0)`), or `None` on real Windows.
#[cfg(windows)]
pub fn wine_version() -> Option<(u32, u32)> {
    use std::ffi::{CStr, c_char};
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    let ntdll: Vec<u16> = "ntdll.dll\0".encode_utf16().collect();
    // SAFETY: ntdll is always loaded; wine's ntdll exports `const char *wine_get_version(void)`,
    // which returns a static string. Real Windows has no such export.
    let version = unsafe {
        let module = GetModuleHandleW(ntdll.as_ptr());
        if module.is_null() {
            return None;
        }
        let f = GetProcAddress(module, c"wine_get_version".as_ptr().cast())?;
        let f: unsafe extern "C" fn() -> *const c_char = std::mem::transmute(f);
        CStr::from_ptr(f()).to_str().ok()?.to_owned()
    };
    let mut parts = version.split(['.', '-', ' ']).map(|p| p.parse().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// Whether the socket tables name the process behind a listening socket (or a server's
/// accepted connection). Windows does; wine reports PID 0 for them before 9.17.
#[cfg(windows)]
pub fn tables_name_listener_owners() -> bool {
    wine_version().is_none_or(|v| v >= (9, 17))
}
