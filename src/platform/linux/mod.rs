//! Linux: sockets from the kernel's socket tables, owners from `/proc/*/fd`, signals
//! through pidfds.

mod fd_scan;
pub mod proc_net;
mod process;
mod signal;

use std::io;

use crate::model::{Owner, Ownership, Socket};
use crate::query::Query;

pub use process::{process_info, user_name};
pub use signal::{Target, wait_for_exit};

/// The errno that says a process no longer exists.
pub const ERROR_NO_SUCH_PROCESS: i32 = libc::ESRCH;

/// What to suggest when something is hidden for lack of privileges.
pub const PRIVILEGE_HINT: &str = "try sudo";

/// Every socket in this network namespace that matches `query`.
pub fn sockets(query: &Query) -> io::Result<Vec<Socket>> {
    proc_net::sockets(query)
}

/// The processes holding `sockets`, found by scanning every process's fds.
pub fn owners(sockets: &[Socket]) -> io::Result<Ownership> {
    let mut inodes: Vec<u64> = sockets.iter().map(|s| s.key).collect();
    inodes.sort_unstable();
    inodes.dedup();
    if inodes.is_empty() {
        return Ok(Ownership::default());
    }
    let proc_dir =
        fd_scan::open_proc().map_err(|e| io::Error::new(e.kind(), format!("/proc: {e}")))?;
    let scan = fd_scan::scan(&proc_dir, &inodes)?;

    Ok(join(sockets, &scan.hits, scan.denied > 0))
}

/// Joins fd hits to the sockets they refer to: one owner per PID, sorted by PID, each
/// socket once per owner (several fds may share it), in the socket query's order.
fn join(sockets: &[Socket], hits: &[fd_scan::Hit], incomplete: bool) -> Ownership {
    // inode -> index of its socket in `sockets`, for lookups by binary search.
    let mut index: Vec<(u64, usize)> = sockets
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key, i))
        .collect();
    index.sort_unstable();
    let socket_of = |inode: u64| {
        index
            .binary_search_by_key(&inode, |&(k, _)| k)
            .ok()
            .map(|at| index[at].1)
    };
    let mut owned = vec![false; sockets.len()];
    let mut owners = Vec::new();
    for group in hits.chunk_by(|a, b| a.pid == b.pid) {
        let mut held: Vec<usize> = group.iter().filter_map(|h| socket_of(h.inode)).collect();
        held.sort_unstable();
        held.dedup();
        for &i in &held {
            owned[i] = true;
        }
        owners.push(Owner {
            pid: group[0].pid,
            sockets: held.iter().map(|&i| sockets[i].clone()).collect(),
            fds: group.iter().map(|h| h.fd).collect(),
        });
    }
    let hidden = sockets
        .iter()
        .zip(&owned)
        .filter(|&(_, &owned)| !owned)
        .map(|(s, _)| s.clone())
        .collect();
    Ownership {
        owners,
        hidden,
        incomplete,
    }
}

/// PIDs that are never signalled, whoever asks.
pub fn protected_reason(pid: u32) -> Option<&'static str> {
    match pid {
        0 => Some("PID 0 is not a process"),
        1 => Some("PID 1 is init; ending it would bring the system down"),
        _ => None,
    }
}

pub fn parent_pid() -> Option<u32> {
    Some(std::os::unix::process::parent_id())
}

/// Whether we can see every process's fds.
pub fn is_privileged() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}
