//! Linux: sockets from the kernel's socket tables, owners from `/proc/*/fd`, signals
//! through pidfds.

mod fd_scan;
mod netns;
pub mod proc_net;
mod process;
mod signal;
pub mod sock_diag;

use std::io;
use std::sync::atomic::AtomicBool;

use crate::model::{NetNs, Owner, Ownership, Socket};
use crate::query::Query;

pub use process::{process_info, user_name};
pub use signal::{Target, wait_for_exit};

/// The errno that says a process no longer exists.
pub const ERROR_NO_SUCH_PROCESS: i32 = libc::ESRCH;

/// What to suggest when something is hidden for lack of privileges.
pub const PRIVILEGE_HINT: &str = "try sudo";

/// Every socket in this network namespace that matches `query`: from netlink sock_diag,
/// or from the /proc/net text tables when netlink is refused (seccomp, an LSM, a kernel
/// without sock_diag) or when `REKT_SOCKETS=proc` asks for them (for tests and debugging).
pub fn sockets(query: &Query) -> io::Result<Vec<Socket>> {
    if std::env::var_os("REKT_SOCKETS").is_some_and(|v| v == "proc") {
        return proc_net::sockets(query);
    }
    sock_diag::sockets(query).or_else(|_| proc_net::sockets(query))
}

/// Keeps the first sighting of each socket. Neither source is a snapshot: /proc/net is
/// read a page at a time and netlink dumps a message at a time, and the kernel resumes
/// each part by its position in a hash chain, so a socket can be reported twice when the
/// table changes between parts. Reported twice, it would count once as owned and once as
/// hidden. An inode names one socket; inode 0 (no owner) is left alone.
fn once_each(mut sockets: Vec<Socket>) -> Vec<Socket> {
    let mut seen = std::collections::HashSet::with_capacity(sockets.len());
    sockets.retain(|s| s.key == 0 || seen.insert(s.key));
    sockets
}

/// The network namespace rekt runs in.
pub fn current_netns() -> io::Result<NetNs> {
    netns::current()
}

/// Every other network namespace on the machine that can be found; gives up early (with
/// what it has) once `stop` is raised.
pub fn other_netns(stop: &AtomicBool) -> io::Result<Vec<NetNs>> {
    netns::others(stop)
}

/// The sockets matching `query` in another network namespace.
pub fn sockets_in_netns(ns: &NetNs, query: &Query) -> io::Result<Vec<Socket>> {
    netns::sockets_in(ns, query)
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

/// Our real uid, to tell our sockets from other users'.
pub fn current_uid() -> Option<u32> {
    // SAFETY: getuid cannot fail.
    Some(unsafe { libc::getuid() })
}

/// Whether we can see every process's fds.
pub fn is_privileged() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    fn sorted(mut v: Vec<Socket>) -> Vec<Socket> {
        v.sort_by_key(|s| (s.key, s.protocol));
        v
    }

    #[test]
    fn once_each_keeps_the_first_sighting_of_an_inode() {
        let socket = |key, port| Socket {
            protocol: Protocol::Tcp,
            family: crate::model::Family::V4,
            local: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            state: crate::model::State::Listen,
            uid: Some(0),
            key,
        };
        let found = once_each(vec![
            socket(7, 1000),
            socket(0, 2000),
            socket(7, 1000),
            socket(8, 1000),
            socket(0, 3000),
        ]);
        let kept: Vec<(u64, u16)> = found.iter().map(|s| (s.key, s.port())).collect();
        assert_eq!(kept, [(7, 1000), (0, 2000), (8, 1000), (0, 3000)]);
    }

    /// Both socket sources must give the same answer for the same sockets: every field,
    /// in every family and state, with and without the kernel-side filters.
    #[test]
    fn sock_diag_and_proc_net_agree() {
        let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l4.local_addr().unwrap().port();
        let _l6 = TcpListener::bind(("::1", port)).unwrap();
        let _u4 = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        let _u6 = UdpSocket::bind(("::1", port)).unwrap();
        let _client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _server_side = l4.accept().unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let other_port = other.local_addr().unwrap().port();

        let mut queries = vec![
            Query::ports(vec![port.to_string().parse().unwrap()]),
            Query::ports(vec![
                format!("{port}/udp").parse().unwrap(),
                other_port.to_string().parse().unwrap(),
            ]),
        ];
        let mut listen = queries[0].clone();
        listen.listen_only = true;
        queries.push(listen);
        let mut v6_tcp = queries[0].clone();
        v6_tcp.ipv4 = false;
        v6_tcp.udp = false;
        queries.push(v6_tcp);

        for query in &queries {
            let diag = sorted(sock_diag::sockets(query).unwrap());
            let text = sorted(proc_net::sockets(query).unwrap());
            assert_eq!(diag, text, "{query:?}");
            assert!(!diag.is_empty());
        }
        let all = sorted(sock_diag::sockets(&queries[0]).unwrap());
        // tcp listen x2, udp x2, the accepted connection; the client's local port differs.
        assert_eq!(all.len(), 5, "{all:?}");
        assert_eq!(
            all.iter().filter(|s| s.protocol == Protocol::Udp).count(),
            2
        );
    }

    #[test]
    fn list_mode_sees_every_listener_through_both_sources() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut query = Query::ports(vec![]);
        query.listen_only = true;
        for found in [
            sock_diag::sockets(&query).unwrap(),
            proc_net::sockets(&query).unwrap(),
        ] {
            assert!(found.iter().any(|s| s.port() == port));
            assert!(
                found
                    .iter()
                    .all(|s| s.protocol == Protocol::Udp || s.state == crate::model::State::Listen)
            );
        }
    }
}
