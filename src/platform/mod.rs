//! The one platform seam. Each OS backend answers the same two questions (which sockets
//! match, which processes hold them), reads the facts rekt shows about a process, and can
//! pin and signal one. Everything else in rekt is platform-neutral: policy, wording and
//! output never look behind this seam.
//!
//! The seam is the [`Backend`] trait, so a backend that drifts from it does not compile.
//! [`Os`] is the backend of the target being built. Adding an OS means a folder here with
//! a type that implements [`Backend`], one `cfg` line below, and its target in CI.

use std::io;
use std::ops::RangeInclusive;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::model::{AcquireError, NetNs, Owner, Ownership, ProcessInfo, ProcessStat, Protection};
use crate::model::{Blockers, Clock, SendError, Signal, Socket, Text};
use crate::query::Query;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub use linux::Linux as Os;
#[cfg(all(target_os = "linux", feature = "internals"))]
pub(crate) use linux::{proc_net, sock_diag, state_codes};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub use windows::Windows as Os;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub use macos::Macos as Os;

// The macOS decoders are pure functions over bytes, and the bind probe uses only portable
// calls: their tests are compiled, and run, on every target.
#[cfg(all(test, not(target_os = "macos")))]
#[path = "macos/decode.rs"]
mod macos_decode;
#[cfg(all(test, unix, not(target_os = "macos")))]
#[path = "macos/probe.rs"]
mod macos_probe;

#[cfg(any(target_os = "linux", target_os = "macos"))]
mod unix;

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
compile_error!("rekt supports Linux, macOS and Windows only");

/// What rekt needs from an operating system.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub trait Backend {
    /// An owner pinned for signalling: whatever is done through it reaches the process
    /// that was found, or nobody (a pidfd; a process handle; on macOS, a PID and start
    /// time checked again just before each signal).
    type Target: Handle;

    /// What to suggest when something is hidden or denied for lack of privileges.
    const PRIVILEGE_HINT: &'static str;

    /// [`Backend::PRIVILEGE_HINT`] when following it can help, which is all the time by
    /// default. Windows gives none once rekt runs elevated: that is all an Administrator
    /// can do, and what is denied then (a protected process) no privilege opens.
    fn privilege_hint() -> Option<&'static str> {
        Some(Self::PRIVILEGE_HINT)
    }

    /// Whether the OS has network namespaces (`--all-netns`).
    const HAS_NETNS: bool;

    /// Every socket in this network namespace that matches `query`.
    fn sockets(query: &Query) -> io::Result<Vec<Socket>>;

    /// The sockets that block a fresh bind() on the query's TCP ports without being in
    /// [`Backend::sockets`]' answer: bound but neither listening nor connected, or closing
    /// (TIME_WAIT and the like, which no process holds). Only asked for when they can
    /// matter, since looking costs another walk of the kernel's tables. By default none,
    /// and whether bound-only sockets exist is unknown.
    fn blockers(query: &Query) -> io::Result<Blockers> {
        let _ = query;
        Ok(Blockers::default())
    }

    /// [`Backend::blockers`] in another network namespace.
    fn blockers_in_netns(ns: &NetNs, query: &Query) -> io::Result<Blockers> {
        let _ = (ns, query);
        Ok(Blockers::default())
    }

    /// The processes holding `sockets`: one owner per PID, sorted by PID, each socket once
    /// per owner in the order of `sockets`; and the sockets no visible process holds.
    fn owners(sockets: &[Socket]) -> io::Result<Ownership>;

    /// What can be read about a process. Every field may be unknown (it exited, or it is
    /// not ours to read); that is never an error.
    fn process_info(pid: u32) -> ProcessInfo;

    /// Only the name and executable of a process (`exe` and `name` of [`ProcessInfo`], the
    /// rest unknown): what a plain lookup needs to tell a forwarder, with nothing read that
    /// it would not print. By default the whole of [`Backend::process_info`].
    fn process_identity(pid: u32) -> ProcessInfo {
        Self::process_info(pid)
    }

    /// A user's name, or the uid as a number when it has none.
    fn user_name(uid: u32) -> Text;

    /// The width in columns of the terminal that standard output is, if it is one: what
    /// `-v` rows are fitted to.
    fn terminal_columns() -> Option<u16>;

    /// The name of the network interface with this index (the scope of a link-local IPv6
    /// address), in rekt's network namespace.
    fn interface_name(_index: u32) -> Option<Text> {
        None
    }

    /// Why `pid` may never be signalled on this OS (PID 1, the System process), if it may
    /// not. rekt itself and its callers are the policy's business (`roles`).
    fn protection(pid: u32) -> Option<Protection>;

    /// `pid`'s parent, start time and whether it is stopped: what an ancestry (built in
    /// `context`, which guards against cycles and reused PIDs) and a stopped owner need.
    /// `None` when the process is gone or unreadable.
    fn process_stat(_pid: u32) -> Option<ProcessStat> {
        None
    }

    /// `pid`'s children, where the OS lists them. A parent that waits (a shell loop's
    /// `sleep`) shows what it will do next.
    fn children(_pid: u32) -> Vec<u32> {
        Vec::new()
    }

    /// Now, in the unit of [`ProcessStat::started`], where the OS gives one: whether a
    /// process started after a moment is told by comparing the two.
    fn clock() -> Option<Clock> {
        None
    }

    /// The lines of `pid`'s control-group membership (`/proc/PID/cgroup`: `0::/path`,
    /// `1:name=systemd:/path`), each as read. Empty where the OS has none or they are
    /// unreadable. Which unit they name is `context`'s business.
    fn cgroup_lines(_pid: u32) -> Vec<Text> {
        Vec::new()
    }

    /// `pid`'s working directory, where it may be read. A supervisor such as runsv or
    /// s6-supervise runs in the directory of the service it supervises.
    fn working_dir(_pid: u32) -> Option<Text> {
        None
    }

    /// The values of the environment variables `names` of `pid`, where its environment may
    /// be read (on Linux: root, or the same user). Only the variables asked for are kept:
    /// supervisors name their programs there (pm2's `name`, supervisord's
    /// `SUPERVISOR_PROCESS_NAME`).
    fn environment(_pid: u32, _names: &[&str]) -> Vec<(String, Text)> {
        Vec::new()
    }

    /// The owners of `sockets` among `pids` only, looked at in that order until every
    /// socket has one (the live view's cheap first look for a new socket: the processes
    /// that gained one last); the sockets none of them holds are `hidden`, with no reason.
    /// By default, every process is looked at.
    fn owners_among(sockets: &[Socket], pids: &[u32]) -> io::Result<Ownership> {
        let _ = pids;
        Self::owners(sockets)
    }

    /// Every process's PID, as cheaply as the OS allows (the live view looks for a new
    /// socket first among the processes that started since its last look). By default
    /// none: then a new socket is looked for through every process.
    fn pids() -> Vec<u32> {
        Vec::new()
    }

    /// The system service that `pid` runs, which the system's service manager would start
    /// again (Windows: the service control manager; in a process that hosts several
    /// services, the one whose module opened the port's socket, when the system says).
    /// `None` for a process that is no service, and where the OS has no such manager.
    fn service(_pid: u32) -> Option<Text> {
        None
    }

    /// The PIDs of the processes whose command name is `name` (a daemon whose settings
    /// rekt needs: dockerd's data root). A walk over every process: only for fallbacks.
    fn processes_named(_name: &str) -> Vec<u32> {
        Vec::new()
    }

    /// The local ports the system gives outgoing connections that bind no port (the
    /// ephemeral range), if known.
    fn ephemeral_ports() -> Option<RangeInclusive<u16>> {
        None
    }

    /// The port below which rekt's user may not bind (a normal user on Linux: below
    /// `net.ipv4.ip_unprivileged_port_start`, 1024 by default), or `None` when it may bind
    /// every port. By default every port.
    fn privileged_ports_below() -> Option<u16> {
        None
    }

    /// Whether rekt runs with the privileges to see and signal every process.
    fn is_privileged() -> bool;

    /// rekt's uid, to compare with a socket's, where sockets carry uids: the real uid on
    /// Linux, the effective uid on macOS (a socket's uid there is its holder's effective uid).
    fn current_uid() -> Option<u32>;

    /// The network namespace rekt runs in. By default the OS has none (the CLI refuses
    /// `--all-netns` when `HAS_NETNS` is false).
    fn current_netns() -> io::Result<NetNs> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this system has no network namespaces",
        ))
    }

    /// Every other network namespace that can be found; gives up early (with what it has)
    /// once `stop` is raised. By default none.
    fn other_netns(stop: &AtomicBool) -> io::Result<Vec<NetNs>> {
        let _ = stop;
        Ok(Vec::new())
    }

    /// The sockets matching `query` in another network namespace. By default none.
    fn sockets_in_netns(ns: &NetNs, query: &Query) -> io::Result<Vec<Socket>> {
        let _ = (ns, query);
        Ok(Vec::new())
    }

    /// Pins `owner` and checks that it still holds one of its sockets, so that a PID
    /// recycled since the lookup is never signalled.
    fn pin(owner: &Owner) -> Result<Self::Target, AcquireError>;

    /// Pins `owner` as [`Backend::pin`] does, only to wait for it ([`Backend::wait_for_exit`]),
    /// never to signal it: with the least rights that takes, which may be granted where
    /// the right to signal is not (Windows: SYNCHRONIZE alone). By default, `pin`.
    fn watch(owner: &Owner) -> Result<Self::Target, AcquireError> {
        Self::pin(owner)
    }

    /// Waits until every target has exited or `timeout` passes; says which have exited.
    fn wait_for_exit(targets: &[&Self::Target], timeout: Duration) -> Vec<bool>;
}

/// A pinned process.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub trait Handle {
    /// Delivers `signal` to the pinned process.
    fn send(&self, signal: Signal) -> Result<(), SendError>;

    /// Whether it has exited.
    fn has_exited(&self) -> bool;

    /// Whether it still holds one of the sockets it was pinned for: a process that closed
    /// them (a server draining its connections after SIGTERM) has let go of the port. By
    /// default, as long as it runs.
    fn holds(&self) -> bool {
        !self.has_exited()
    }

    /// Whether it is stopped (SIGSTOP, Ctrl-Z), so that it cannot act on a polite request
    /// until it is continued. Windows has no stopped state.
    fn is_stopped(&self) -> bool {
        false
    }

    /// Continues a stopped process (SIGCONT), through the same pin as `send`.
    fn resume(&self) -> Result<(), SendError> {
        Ok(())
    }
}

/// The pinned-process type of this OS.
pub(crate) type Target = <Os as Backend>::Target;
