//! macOS: sockets found through the processes that hold them (libproc, as lsof and killport
//! do), signals through kill(2) after a PID-and-start-time check.
//!
//! macOS has no socket table that names owners, so the scan is the lookup: `sockets()`
//! reads every process's fd list and each socket fd's `socket_fdinfo`, and returns one
//! socket per (process, socket), keyed by both ([`SocketKey::Held`]). `owners()` only
//! groups them, as on Windows.
//!
//! The difference from Linux that matters: a socket is visible only through a process
//! that rekt may read. Without root, another user's processes (another effective uid: the
//! kernel's test) cannot be read, and their sockets are not seen at all. So when the scan
//! met such processes and found nothing on a port the user named, a bind() probe
//! (`probe.rs`) checks the port; a port in use is reported as held by a process you cannot
//! see, with the sudo hint. Only PID 0's refusal is not counted; launchd and the system's
//! daemons are other users' on every Mac, so a normal user's scan is always incomplete, as
//! on Linux, and the probe runs for every named port that no visible socket is on.
//!
//! The kernel says nothing about a socket's own uid (`soi_stat` is never filled), so a
//! socket's uid is the effective uid of the process it was found in.

mod decode;
mod libproc;
mod probe;
mod process;
mod scan;
mod signal;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Backend;
use crate::model::{AcquireError, Owner, Ownership, ProcessInfo, Protection, Socket};
use crate::model::{SocketKey, Text};
use crate::query::Query;

pub(crate) use signal::Target;

/// Whether the last scan met processes it could not read. The scan happens in `sockets()`,
/// and `owners()`, which lookup calls next with what it returned, reports it.
static LAST_SCAN_DENIED: AtomicBool = AtomicBool::new(false);

/// The macOS backend.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub struct Macos;

impl Backend for Macos {
    type Target = Target;
    const PRIVILEGE_HINT: &'static str = "try sudo";
    const HAS_NETNS: bool = false;

    /// Scans every process. When some could not be read, the ports the query names that
    /// no visible socket is on are probed with bind().
    fn sockets(query: &Query) -> io::Result<Vec<Socket>> {
        let started = std::time::Instant::now();
        let found = scan::scan(query)?;
        crate::debug!(
            "sockets: libproc scan: {} rows for {}; {} processes that may hold sockets \
             unreadable (PID 0 not counted) ({:.1?})",
            found.sockets.len(),
            query.describe(),
            found.denied,
            started.elapsed()
        );
        LAST_SCAN_DENIED.store(found.denied > 0, Ordering::Relaxed);
        let mut sockets = found.sockets;
        if found.denied > 0 {
            sockets.extend(scan::probe(query, &found.seen));
        }
        Ok(sockets)
    }

    fn owners(sockets: &[Socket]) -> io::Result<Ownership> {
        Ok(owners(sockets, LAST_SCAN_DENIED.load(Ordering::Relaxed)))
    }

    fn process_info(pid: u32) -> ProcessInfo {
        process::process_info(pid)
    }

    fn terminal_columns() -> Option<u16> {
        super::unix::terminal::stdout_columns()
    }

    fn user_name(uid: u32) -> Text {
        super::unix::users::user_name(uid)
    }

    /// PID 0 is the kernel (kernel_task), and kill(2) with 0 would mean rekt's own process
    /// group; PID 1 is launchd.
    fn protection(pid: u32) -> Option<Protection> {
        match pid {
            0 => Some(Protection::NoProcess),
            1 => Some(Protection::Launchd),
            _ => None,
        }
    }

    /// Root may read every process's fds.
    fn is_privileged() -> bool {
        // SAFETY: geteuid cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    /// The effective uid: a socket's uid is its holder's effective uid, and every process
    /// rekt can read without root has rekt's effective uid.
    fn current_uid() -> Option<u32> {
        // SAFETY: geteuid cannot fail.
        Some(unsafe { libc::geteuid() })
    }

    fn pin(owner: &Owner) -> Result<Target, AcquireError> {
        Target::acquire(owner)
    }

    fn wait_for_exit(targets: &[&Target], timeout: Duration) -> Vec<bool> {
        signal::wait_for_exit(targets, timeout)
    }
}

/// Groups sockets by the PID in their key: one owner per PID, sorted by PID, each socket
/// once, in the order of `sockets`. A socket with no PID (found by the probe) is hidden.
fn owners(sockets: &[Socket], denied: bool) -> Ownership {
    let pid = |s: &Socket| match s.key {
        SocketKey::Held { pid, .. } => pid,
        // Not produced on macOS.
        SocketKey::Inode(_) | SocketKey::Pid(_) => None,
    };
    let mut order: Vec<(u32, usize)> = sockets
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((pid(s)?, i)))
        .collect();
    order.sort_unstable();
    let mut owners = Vec::new();
    for group in order.chunk_by(|a, b| a.0 == b.0) {
        let mut held: Vec<Socket> = Vec::with_capacity(group.len());
        for &(_, i) in group {
            if !held.contains(&sockets[i]) {
                held.push(sockets[i].clone());
            }
        }
        owners.push(Owner {
            pid: group[0].0,
            sockets: held,
            fds: Vec::new(),
        });
    }
    let hidden: Vec<Socket> = sockets
        .iter()
        .filter(|s| pid(s).is_none())
        .cloned()
        .collect();
    // A hidden socket here is one the bind probe found busy with no visible process on it:
    // another user's, which only privileges would show.
    let reasons = hidden
        .iter()
        .map(|s| (s.key, crate::model::Hidden::OtherUser))
        .collect();
    Ownership {
        incomplete: denied || !hidden.is_empty(),
        owners,
        hidden,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, Protocol, State};

    fn socket(local: &str, pid: Option<u32>, handle: u64) -> Socket {
        let local: std::net::SocketAddr = local.parse().unwrap();
        Socket {
            protocol: Protocol::Tcp,
            family: if local.is_ipv4() {
                Family::V4
            } else {
                Family::V6
            },
            local,
            state: State::Listen,
            uid: Some(501),
            key: SocketKey::Held {
                pid,
                socket: handle,
            },
        }
    }

    #[test]
    fn owners_group_by_pid_and_unowned_sockets_are_hidden() {
        // Two workers share one socket (same handle); one also has an IPv6 listener.
        let a = socket("0.0.0.0:80", Some(900), 7);
        let b = socket("0.0.0.0:80", Some(12), 7);
        let c = socket("[::]:80", Some(900), 8);
        let probe = socket("0.0.0.0:81", None, 0);
        let own = owners(
            &[a.clone(), b.clone(), c.clone(), a.clone(), probe.clone()],
            false,
        );
        let pids: Vec<u32> = own.owners.iter().map(|o| o.pid).collect();
        assert_eq!(pids, vec![12, 900]);
        assert_eq!(own.owners[0].sockets, vec![b]);
        assert_eq!(own.owners[1].sockets, vec![a, c]);
        assert_eq!(own.hidden, vec![probe]);
        assert!(own.incomplete);
        assert_eq!(owners(&[], false), Ownership::default());
        assert!(owners(&[], true).incomplete);
    }

    #[test]
    fn kernel_and_launchd_are_protected() {
        assert_eq!(Macos::protection(0), Some(Protection::NoProcess));
        assert_eq!(Macos::protection(1), Some(Protection::Launchd));
        assert_eq!(Macos::protection(2), None);
    }
}
