//! Finding sockets the way lsof does on macOS, which has no socket table with owners: every
//! process's fd list, and for each socket fd what the kernel says about that socket.
//! Two calls per process (`proc_bsdinfo` for the fd table's size, then the fd list) plus one
//! per socket fd; the processes are scanned in parallel, as on Linux.

use std::io;
use std::mem::size_of;

use super::decode::{self, SocketFdInfo};
use super::libproc;
use super::probe;
use crate::model::{Family, Protocol, Socket, SocketKey, State};
use crate::platform::unix::parallel::for_each_pid;
use crate::query::Query;

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// The matching sockets, one per (process, socket), sorted by PID.
    pub(crate) sockets: Vec<Socket>,
    /// Processes whose fds could not be read and that may hold a socket
    /// (`decode::refusal_counts`): without root, every other user's but the kernel's.
    pub(crate) denied: usize,
    /// The (protocol, port) of every socket seen on a port the query names, whatever its
    /// state or family: the ports that are not free.
    pub(crate) seen: Vec<(Protocol, u16)>,
}

/// Scans every process for sockets that match `query`.
pub(crate) fn scan(query: &Query) -> io::Result<Scan> {
    let pids = libproc::list_pids()?;
    let parts = for_each_pid(&pids, || Worker::new(query), Worker::visit);
    let mut scan = Scan::default();
    for part in parts {
        scan.sockets.extend(part.scan.sockets);
        scan.denied += part.scan.denied;
        scan.seen.extend(part.scan.seen);
    }
    scan.sockets.sort_by_key(|s| s.key);
    scan.seen.sort_unstable();
    scan.seen.dedup();
    Ok(scan)
}

/// One scanning thread's buffers and findings.
struct Worker<'q> {
    query: &'q Query,
    fds: Vec<u8>,
    info: Box<[u8; size_of::<SocketFdInfo>()]>,
    scan: Scan,
}

impl<'q> Worker<'q> {
    fn new(query: &'q Query) -> Self {
        Worker {
            query,
            fds: Vec::new(),
            info: Box::new([0; size_of::<SocketFdInfo>()]),
            scan: Scan::default(),
        }
    }

    fn visit(&mut self, pid: u32) {
        // ESRCH (exited, or a zombie) is normal; EPERM is another user's process (another
        // effective uid), or one a sandbox hides.
        let refused = |e: &io::Error| libproc::is_denied(e) && decode::refusal_counts(pid);
        let info = match libproc::bsd_info(pid) {
            Ok(info) => info,
            Err(e) => {
                self.scan.denied += usize::from(refused(&e));
                return;
            }
        };
        let list = match libproc::fd_list(pid, info.nfiles, &mut self.fds) {
            Ok(list) => list,
            Err(e) => {
                self.scan.denied += usize::from(refused(&e));
                return;
            }
        };
        let fds: Vec<u32> = decode::socket_fds(list).collect();
        for fd in fds {
            // EBADF: closed since the list was read. Anything else: skip this fd.
            let Ok(Some(found)) = libproc::socket(pid, fd, &mut self.info) else {
                continue;
            };
            let port = found.local.port();
            if !self.query.ports.is_empty() && self.query.matches_port(found.protocol, port) {
                self.scan.seen.push((found.protocol, port));
            }
            let socket = decode::held(found, pid, &info);
            if self.query.matches(&socket) {
                self.scan.sockets.push(socket);
            }
        }
    }
}

/// Probing more ports than this (a wide range) costs more than it tells: the ports of a
/// range that no visible process holds are then simply reported free, as lsof would.
pub(crate) const PROBE_LIMIT: usize = 64;

/// The ports the query names that no visible socket is on, but that a bind() probe finds
/// in use: one socket per (protocol, family) found busy, bound to the wildcard address,
/// with no owner (`SocketKey::Held { pid: None, .. }`). List mode names no ports and is not
/// probed; nor is a query of more than [`PROBE_LIMIT`] ports per protocol.
pub(crate) fn probe(query: &Query, seen: &[(Protocol, u16)]) -> Vec<Socket> {
    let mut found = Vec::new();
    if query.ports.is_empty() {
        return found;
    }
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        if !query.wants_protocol(protocol) {
            continue;
        }
        let ranges = query.port_ranges(protocol);
        let count: usize = ranges
            .iter()
            .map(|&(first, last)| usize::from(last - first) + 1)
            .sum();
        if count > PROBE_LIMIT {
            crate::debug!("probe: {count} {protocol} ports is more than {PROBE_LIMIT}; skipped");
            continue;
        }
        let ports = ranges.iter().flat_map(|&(first, last)| first..=last);
        for port in ports.filter(|&p| seen.binary_search(&(protocol, p)).is_err()) {
            for family in [Family::V4, Family::V6] {
                if !query.wants_family(family) {
                    continue;
                }
                match probe::in_use(protocol, family, port) {
                    Ok(true) => found.push(unseen(protocol, family, port)),
                    Ok(false) => {}
                    Err(e) => crate::debug!("probe {port}/{protocol}: {e}"),
                }
            }
        }
    }
    found
}

/// A socket that holds `port` but that no visible process has open.
fn unseen(protocol: Protocol, family: Family, port: u16) -> Socket {
    let ip = match family {
        Family::V4 => std::net::IpAddr::from([0u8; 4]),
        Family::V6 => std::net::IpAddr::from([0u8; 16]),
    };
    Socket {
        protocol,
        family,
        local: std::net::SocketAddr::new(ip, port),
        // What blocks a bind with SO_REUSEADDR is a bound, unconnected socket: a TCP
        // listener (or a socket bound but not yet listening), a UDP socket.
        state: match protocol {
            Protocol::Tcp => State::Listen,
            Protocol::Udp => State::Unconnected,
        },
        uid: None,
        key: SocketKey::Held {
            pid: None,
            socket: 0,
        },
    }
}
