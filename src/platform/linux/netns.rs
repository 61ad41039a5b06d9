//! Other network namespaces (containers, `ip netns`). A server in one listens on a port that
//! this namespace's socket tables cannot see, so `--all-netns` looks in each of them.
//!
//! Namespaces are found two ways: every process's `/proc/PID/ns/net` (so a container with a
//! running process is found even if nobody named it) and the names under `/var/run/netns`
//! (so an `ip netns add` namespace with no process yet is found too). To read one, a helper
//! thread enters it with setns(2), which changes only that thread's namespace, and queries
//! sock_diag from there. Without the privilege to enter, the text tables of a member process
//! (`/proc/PID/net/*`) are the fallback. Socket inodes are unique across namespaces, so one
//! fd scan then finds the owners in all of them at once.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::{fd_scan, proc_net, sock_diag};
use crate::model::{Blockers, NetNs, Socket, Text};
use crate::query::Query;

const NAMED: &str = "/var/run/netns";

/// The network namespace this thread is in.
pub(crate) fn current() -> io::Result<NetNs> {
    let file = current_file()?;
    let inode = file.ino();
    Ok(NetNs {
        inode,
        name: named(file.dev())
            .into_iter()
            .find(|(i, _)| *i == inode)
            .map(|(_, n)| n),
        member: None,
    })
}

/// Every network namespace other than ours that we can find, sorted by inode. Stops
/// looking at processes once `stop` is raised.
pub(crate) fn others(stop: &AtomicBool) -> io::Result<Vec<NetNs>> {
    let file = current_file()?;
    let here = file.ino();
    let mut found: Vec<NetNs> = named(file.dev())
        .into_iter()
        .map(|(inode, name)| NetNs {
            inode,
            name: Some(name),
            member: None,
        })
        .collect();
    let proc_dir = fd_scan::open_proc()?;
    let pids = fd_scan::list_pids(&proc_dir)?;
    // One readlink per process, on this thread alone: a few microseconds each, less than
    // starting another thread costs below a few thousand processes, and the search runs
    // beside the lookup, which has the other core. Keeps the first member it sees of every
    // namespace other than ours.
    let mut members: Vec<(u64, u32)> = Vec::new();
    for pid in pids {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(inode) = ns_link(&proc_dir, pid)
            && inode != here
            && !members.iter().any(|&(i, _)| i == inode)
        {
            members.push((inode, pid));
        }
    }
    members.sort_unstable();
    for (inode, pid) in members {
        match found.iter_mut().find(|ns| ns.inode == inode) {
            Some(ns) => {
                ns.member.get_or_insert(pid);
            }
            None => found.push(NetNs {
                inode,
                name: None,
                member: Some(pid),
            }),
        }
    }
    found.retain(|ns| ns.inode != here);
    found.sort_by_key(|ns| ns.inode);
    Ok(found)
}

/// This thread's network namespace file: its inode is the namespace's id, and its device
/// is nsfs, where every namespace file lives.
fn current_file() -> io::Result<std::fs::Metadata> {
    std::fs::metadata("/proc/thread-self/ns/net")
}

/// The sockets matching `query` inside `ns`.
pub(crate) fn sockets_in(ns: &NetNs, query: &Query) -> io::Result<Vec<Socket>> {
    read_in(ns, query, sock_diag::sockets, proc_net::sockets_in)
}

/// The sockets blocking a bind() on the query's TCP ports inside `ns` (see
/// `Backend::blockers`).
pub(crate) fn blockers_in(ns: &NetNs, query: &Query) -> io::Result<Blockers> {
    read_in(ns, query, sock_diag::blockers, proc_net::blockers_in)
}

/// Asks `ns` through `netlink` on a thread that entered it, or through `text` from the
/// text tables under a directory when netlink fails there or the namespace may not be
/// entered.
fn read_in<T: Send>(
    ns: &NetNs,
    query: &Query,
    netlink: fn(&Query) -> io::Result<T>,
    text: fn(&Path, &Query) -> io::Result<T>,
) -> io::Result<T> {
    let entry = match (&ns.name, ns.member) {
        (Some(name), _) => PathBuf::from(NAMED).join(OsStr::from_bytes(name.as_bytes())),
        (None, Some(pid)) => PathBuf::from(format!("/proc/{pid}/ns/net")),
        (None, None) => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("network namespace {}: no way in", ns.inode),
            ));
        }
    };
    let handle = File::open(&entry).map_err(|e| {
        // A process that exits takes its namespace links with it (ENOENT, or ESRCH).
        let kind = match e.raw_os_error() {
            Some(libc::ESRCH) => io::ErrorKind::NotFound,
            _ => e.kind(),
        };
        io::Error::new(kind, format!("{}: {e}", entry.display()))
    })?;
    // The name was deleted (`ip netns del` unmounts it, leaving a plain file for a moment)
    // or the PID was reused since the namespace was listed: either way, not this namespace.
    if handle.metadata()?.ino() != ns.inode {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{}: no longer network namespace {}",
                entry.display(),
                ns.inode
            ),
        ));
    }
    let entered = std::thread::scope(|s| {
        s.spawn(|| -> io::Result<T> {
            enter(handle.as_fd())?;
            // This thread's view: /proc/net would show the main thread's namespace.
            netlink(query).or_else(|_| text(Path::new("/proc/thread-self/net"), query))
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    match (entered, ns.member) {
        (Ok(found), _) => Ok(found),
        // The namespace's only known process exited meanwhile: whatever failed, there is
        // nothing left to find there.
        (Err(e), Some(pid))
            if ns.name.is_none() && !Path::new(&format!("/proc/{pid}")).exists() =>
        {
            Err(io::Error::new(io::ErrorKind::NotFound, e))
        }
        // Not allowed to enter: a member's text tables show the namespace without setns.
        (Err(e), Some(pid)) if e.kind() == io::ErrorKind::PermissionDenied => {
            text(Path::new(&format!("/proc/{pid}/net")), query)
        }
        (Err(e), _) => Err(e),
    }
}

/// setns(2) into the network namespace `ns`: changes only the calling thread.
fn enter(ns: BorrowedFd<'_>) -> io::Result<()> {
    Ok(move_into_link_name_space(
        ns,
        Some(LinkNameSpaceType::Network),
    )?)
}

/// The namespaces named under /var/run/netns, as (inode, name). `nsfs` is the device of
/// namespace files: a name not on it is a plain file, which `ip netns add` creates before
/// bind-mounting the namespace over it, and `ip netns del` leaves after unmounting it.
fn named(nsfs: u64) -> Vec<(u64, Text)> {
    let Ok(dir) = std::fs::read_dir(NAMED) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|entry| {
            // Each name is a bind mount of the namespace file, so its inode is the id.
            let meta = std::fs::metadata(entry.path()).ok()?;
            (meta.dev() == nsfs).then(|| (meta.ino(), Text::from(entry.file_name())))
        })
        .collect()
}

/// The inode in `/proc/PID/ns/net` (`net:[4026531840]`), read relative to /proc.
fn ns_link(proc_dir: &OwnedFd, pid: u32) -> Option<u64> {
    let path = CString::new(format!("{pid}/ns/net")).ok()?;
    fd_scan::link_id(proc_dir, &path, b"net:[").ok()?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn others_stopped_early() -> bool {
        others(&AtomicBool::new(true))
            .unwrap()
            .iter()
            .all(|ns| ns.member.is_none())
    }

    #[test]
    fn our_namespace_is_not_among_the_others() {
        let here = current().unwrap();
        assert!(here.inode > 0);
        let others = others(&AtomicBool::new(false)).unwrap();
        assert!(others.iter().all(|ns| ns.inode != here.inode));
        // Raised before it starts, it looks at no process.
        assert!(others_stopped_early());
    }
}
