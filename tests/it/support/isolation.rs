//! Keeping a test to what it started.
//!
//! A test that starts processes calls [`private_netns`] first. As root that moves the
//! test's thread into a fresh network namespace: every process it starts from then on (and
//! every socket it opens) lives there, so rekt sees the test's own sockets and nothing else,
//! and a bare port number can only ever name the test's own processes. As a normal user it
//! cannot, and the helpers hold the test to the rules for a shared machine: holders bind a
//! port from `unused_port`, and rekt may signal only by `PORT/PROTO` of a socket that one
//! of the test's holders has ([`check_signal_args`], which every run of rekt goes
//! through). Tests that look across namespaces (`--all-netns`, the "held in network
//! namespace X" hint) also run in a PID namespace of their own ([`pid_sandbox!`]), where
//! rekt sees only the test's processes.

use std::io::Write;
use std::process::{Command, Output};
use std::time::Duration;

use super::{is_root, output_within, root_tests_required, stderr, stdout};

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

/// Records that a holder of this thread's test binds `binds` and runs as `pids`: the
/// guard lets rekt signal those ports, and [`started_here`] knows the PIDs.
#[cfg(target_os = "linux")]
pub(super) fn record_holder(binds: &[(u16, &'static str)], pids: &[u32]) {
    HELD.with_borrow_mut(|held| held.extend(binds));
    STARTED.with_borrow_mut(|started| started.extend(pids));
}

/// Forgets `binds` (their holder is gone): the guard no longer lets rekt signal them.
#[cfg(target_os = "linux")]
pub(super) fn forget_binds(binds: &[(u16, &'static str)]) {
    HELD.with_borrow_mut(|held| {
        for bind in binds {
            if let Some(i) = held.iter().position(|b| b == bind) {
                held.remove(i);
            }
        }
    });
}

/// Whether this thread's test started process `pid` (as a holder).
#[cfg(target_os = "linux")]
pub(super) fn started_here(pid: u32) -> bool {
    STARTED.with_borrow(|started| started.contains(&pid))
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

/// The inode of the network namespace of `process` (a PID, or `self` for the main
/// thread's).
pub fn netns_of(process: impl std::fmt::Display) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{process}/ns/net"))
        .unwrap()
        .ino()
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

/// The bound on a test rerun in a process of its own (see [`rerun_alone`]).
const RERUN_BOUND: Duration = Duration::from_secs(240);

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
