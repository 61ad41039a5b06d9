//! Linux: sockets from the kernel's socket tables, owners from `/proc/*/fd`, signals
//! through pidfds.

mod fd_scan;
mod hidden;
mod netns;
pub(crate) mod proc_net;
mod process;
mod signal;
pub(crate) mod sock_diag;
pub(crate) mod state_codes;

use std::io;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::Backend;
use crate::model::{AcquireError, NetNs, Owner, Ownership, ProcessInfo, ProcessStat, Protection};
use crate::model::{Blockers, Socket, SocketKey, Text};
use crate::query::Query;

pub(crate) use signal::Target;

/// The Linux backend.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub struct Linux;

impl Backend for Linux {
    type Target = Target;
    const PRIVILEGE_HINT: &'static str = "try sudo";
    const HAS_NETNS: bool = true;

    /// From netlink sock_diag, or from the /proc/net text tables when netlink is refused
    /// (seccomp, an LSM, a kernel without sock_diag) or when `REKT_SOCKETS=proc` asks for
    /// them (for tests and debugging).
    fn sockets(query: &Query) -> io::Result<Vec<Socket>> {
        sockets(query)
    }

    /// Through the same source as [`Linux::sockets`]: bound-only sockets are only shown by
    /// netlink (Linux 6.8+), never by the text tables.
    fn blockers(query: &Query) -> io::Result<Blockers> {
        if use_text_tables() {
            return proc_net::blockers_in(std::path::Path::new("/proc/net"), query);
        }
        match sock_diag::blockers(query) {
            Ok(found) => Ok(found),
            Err(e) if sock_diag::refused(&e) => {
                proc_net::blockers_in(std::path::Path::new("/proc/net"), query)
            }
            Err(e) => Err(e),
        }
    }

    fn blockers_in_netns(ns: &NetNs, query: &Query) -> io::Result<Blockers> {
        netns::blockers_in(ns, query)
    }

    /// Found by scanning every process's fds.
    fn owners(sockets: &[Socket]) -> io::Result<Ownership> {
        owners(sockets)
    }

    fn owners_among(sockets: &[Socket], pids: &[u32]) -> io::Result<Ownership> {
        let proc_dir =
            fd_scan::open_proc().map_err(|e| io::Error::new(e.kind(), format!("/proc: {e}")))?;
        let scan = fd_scan::scan_among(&proc_dir, &inodes(sockets), pids);
        Ok(join(sockets, &scan.hits, false))
    }

    fn pids() -> Vec<u32> {
        fd_scan::open_proc()
            .and_then(|proc_dir| fd_scan::list_pids(&proc_dir))
            .unwrap_or_default()
    }

    fn process_info(pid: u32) -> ProcessInfo {
        process::process_info(pid)
    }

    fn terminal_columns() -> Option<u16> {
        super::unix::terminal::stdout_columns()
    }

    /// One `readlink` of `/proc/PID/exe` (or a read of `comm`): no `status`, no
    /// `cmdline`, no user database.
    fn process_identity(pid: u32) -> ProcessInfo {
        process::identity(pid)
    }

    fn user_name(uid: u32) -> Text {
        super::unix::users::user_name(uid)
    }

    fn interface_name(index: u32) -> Option<Text> {
        let mut name = [0u8; libc::IF_NAMESIZE];
        // SAFETY: `name` has the IF_NAMESIZE bytes if_indextoname may write, NUL included.
        let found = unsafe { libc::if_indextoname(index, name.as_mut_ptr().cast()) };
        if found.is_null() {
            return None;
        }
        let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        Some(Text::from_bytes(&name[..len]))
    }

    fn protection(pid: u32) -> Option<Protection> {
        match pid {
            0 => Some(Protection::NoProcess),
            1 => Some(Protection::Init),
            _ => None,
        }
    }

    fn process_stat(pid: u32) -> Option<ProcessStat> {
        process::stat(pid)
    }

    fn children(pid: u32) -> Vec<u32> {
        process::children(pid)
    }

    fn clock() -> Option<crate::model::Clock> {
        process::clock()
    }

    fn processes_named(name: &str) -> Vec<u32> {
        let Ok(proc_dir) = fd_scan::open_proc() else {
            return Vec::new();
        };
        let pids = fd_scan::list_pids(&proc_dir).unwrap_or_default();
        pids.into_iter()
            .filter(|&pid| process::command_name(pid).is_some_and(|n| n == name))
            .collect()
    }

    fn cgroup_lines(pid: u32) -> Vec<Text> {
        process::cgroup_lines(pid)
    }

    fn working_dir(pid: u32) -> Option<Text> {
        process::working_dir(pid)
    }

    fn environment(pid: u32, names: &[&str]) -> Vec<(String, Text)> {
        process::environment(pid, names)
    }

    /// `net.ipv4.ip_local_port_range` of rekt's network namespace.
    fn ephemeral_ports() -> Option<std::ops::RangeInclusive<u16>> {
        process::ephemeral_ports()
    }

    /// Root, or a process with CAP_NET_BIND_SERVICE, binds any port; others only from
    /// `ip_unprivileged_port_start` on.
    fn privileged_ports_below() -> Option<u16> {
        process::privileged_ports_below()
    }

    /// Root sees every process's fds.
    fn is_privileged() -> bool {
        rustix::process::geteuid().is_root()
    }

    fn current_uid() -> Option<u32> {
        Some(rustix::process::getuid().as_raw())
    }

    fn current_netns() -> io::Result<NetNs> {
        netns::current()
    }

    fn other_netns(stop: &AtomicBool) -> io::Result<Vec<NetNs>> {
        netns::others(stop)
    }

    fn sockets_in_netns(ns: &NetNs, query: &Query) -> io::Result<Vec<Socket>> {
        netns::sockets_in(ns, query)
    }

    fn pin(owner: &Owner) -> Result<Target, AcquireError> {
        Target::acquire(owner)
    }

    fn wait_for_exit(targets: &[&Target], timeout: Duration) -> Vec<bool> {
        signal::wait_for_exit(targets, timeout)
    }
}

/// `REKT_SOCKETS=proc`: read the text tables even when netlink works.
fn use_text_tables() -> bool {
    std::env::var_os("REKT_SOCKETS").is_some_and(|v| v == "proc")
}

fn sockets(query: &Query) -> io::Result<Vec<Socket>> {
    let started = std::time::Instant::now();
    let traced = |source: &str, found: io::Result<Vec<Socket>>| {
        if let Ok(found) = &found {
            crate::debug!(
                "sockets: {source}: {} rows for {} ({:.1?})",
                found.len(),
                query.describe(),
                started.elapsed()
            );
        }
        found
    };
    if use_text_tables() {
        crate::debug!("sockets: /proc/net text tables (REKT_SOCKETS=proc)");
        return traced("/proc/net", proc_net::sockets(query));
    }
    match sock_diag::sockets(query) {
        Ok(found) => traced("netlink sock_diag", Ok(found)),
        // Netlink itself was refused: the text tables hold the same sockets. A reply that
        // does not parse is a failed lookup, not a reason to read something else.
        Err(e) if sock_diag::refused(&e) => {
            crate::debug!("sockets: netlink refused ({e}); /proc/net text tables instead");
            traced("/proc/net", proc_net::sockets(query))
        }
        Err(e) => Err(e),
    }
}

/// The IPV6_V6ONLY option that new IPv6 sockets of this thread's network namespace get
/// unless they set it (`net.ipv6.bindv6only`, 0 by default): the best guess for a socket
/// whose option the kernel does not report (the /proc/net tables never do).
pub(crate) fn bindv6only() -> bool {
    // Network sysctls are those of the namespace of the thread that opens them.
    std::fs::read("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.first() == Some(&b'1'))
}

/// Keeps the first sighting of each socket. Neither source is a snapshot: /proc/net is
/// read a page at a time and netlink dumps a message at a time, and the kernel resumes
/// each part by its position in a hash chain, so a socket can be reported twice when the
/// table changes between parts. Reported twice, it would count once as owned and once as
/// hidden. An inode names one socket; inode 0 (no owner) is left alone.
fn once_each(mut sockets: Vec<Socket>) -> Vec<Socket> {
    let mut seen = std::collections::HashSet::with_capacity(sockets.len());
    sockets.retain(|s| s.key == SocketKey::Inode(0) || seen.insert(s.key));
    sockets
}

/// The socket inodes to look for.
fn inodes(sockets: &[Socket]) -> Vec<u64> {
    let mut inodes: Vec<u64> = sockets
        .iter()
        .filter_map(|s| match s.key {
            SocketKey::Inode(inode) => Some(inode),
            SocketKey::Pid(_) | SocketKey::Held { .. } => None,
        })
        .collect();
    inodes.sort_unstable();
    inodes.dedup();
    inodes
}

fn owners(sockets: &[Socket]) -> io::Result<Ownership> {
    let inodes = inodes(sockets);
    if inodes.is_empty() {
        return Ok(Ownership::default());
    }
    let proc_dir =
        fd_scan::open_proc().map_err(|e| io::Error::new(e.kind(), format!("/proc: {e}")))?;
    let started = std::time::Instant::now();
    let mut scan = fd_scan::scan(&proc_dir, &inodes)?;
    crate::debug!(
        "fd scan: {} processes, {} fds, {} unreadable, {} hits for {} inodes ({:.1?})",
        scan.processes,
        scan.fds,
        scan.denied.len(),
        scan.hits.len(),
        inodes.len(),
        started.elapsed()
    );
    let mut ownership = join(sockets, &scan.hits, !scan.denied.is_empty());
    if ownership.hidden.is_empty() {
        return Ok(ownership);
    }
    // Only now, with a socket left over, is the slower search worth it: the fd tables of
    // threads that have their own.
    let started = std::time::Instant::now();
    let threads = fd_scan::scan_threads(&proc_dir, &self::inodes(&ownership.hidden))?;
    crate::debug!(
        "fd scan: {} sockets left without an owner; threads' own fd tables: {} fds, {} hits \
         ({:.1?})",
        ownership.hidden.len(),
        threads.fds,
        threads.hits.len(),
        started.elapsed()
    );
    if !threads.hits.is_empty() {
        scan.hits.extend(threads.hits);
        scan.hits.sort_unstable();
        scan.hits.dedup();
        ownership = join(sockets, &scan.hits, !scan.denied.is_empty());
    }
    ownership.reasons = hidden::explain(&ownership.hidden, &scan.denied);
    Ok(ownership)
}

/// Joins fd hits to the sockets they refer to: one owner per PID, sorted by PID, each
/// socket once per owner (several fds may share it), in the socket query's order.
fn join(sockets: &[Socket], hits: &[fd_scan::Hit], incomplete: bool) -> Ownership {
    // inode -> index of its socket in `sockets`, for lookups by binary search.
    let mut index: Vec<(SocketKey, usize)> = sockets
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key, i))
        .collect();
    index.sort_unstable();
    let socket_of = |inode: u64| {
        index
            .binary_search_by_key(&SocketKey::Inode(inode), |&(k, _)| k)
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
        reasons: Default::default(),
        incomplete,
    }
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
        let inode = SocketKey::Inode;
        let found = once_each(vec![
            socket(inode(7), 1000),
            socket(inode(0), 2000),
            socket(inode(7), 1000),
            socket(inode(8), 1000),
            socket(inode(0), 3000),
        ]);
        let kept: Vec<(SocketKey, u16)> = found.iter().map(|s| (s.key, s.port())).collect();
        let want = [(7, 1000), (0, 2000), (8, 1000), (0, 3000)].map(|(i, p)| (inode(i), p));
        assert_eq!(kept, want);
    }

    /// Both socket sources must give the same answer for the same sockets: every field,
    /// in every family and state, with and without the kernel-side filters.
    #[test]
    fn sock_diag_and_proc_net_agree() {
        // Binds UDP on the number the kernel gave a TCP listener: only safe where no other
        // process can hold that number.
        crate::testing::private_netns();
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
