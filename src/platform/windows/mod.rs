//! Windows: sockets and the PIDs that bound them from the IP Helper tables, checked against
//! the process list (a binder that has exited is not the holder); details from the process
//! snapshot, handles and tokens; services from the service manager; a bind() probe before
//! a port is called free; ending through process handles held from the check to the end.

mod binder;
mod cmdline;
mod iphlpapi;
mod probe;
mod process;
mod services;
mod terminal;
mod terminate;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::Backend;
use crate::model::{AcquireError, Owner, Ownership, ProcessInfo, ProcessStat, Protection};
use crate::model::{Blockers, Family, Hidden, Lingering, Protocol, Socket, SocketKey, Text};
use crate::query::{CLOSING_STATES, Query};
use binder::Binder;
use iphlpapi::{Snapshot, Table};
use probe::Probe;

pub(crate) use terminate::Target;

/// The Windows backend.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub struct Windows;

impl Backend for Windows {
    type Target = Target;
    const PRIVILEGE_HINT: &'static str = "run as Administrator";
    const HAS_NETNS: bool = false;

    /// Every socket in the TCP and UDP tables that matches `query`, keyed by its owner.
    fn sockets(query: &Query) -> io::Result<Vec<Socket>> {
        let mut found = Vec::new();
        for table in Table::ALL {
            if !query.wants_protocol(table.protocol()) || !query.wants_family(table.family()) {
                continue;
            }
            let started = std::time::Instant::now();
            let snapshot = Snapshot::take(table)?;
            let before = found.len();
            found.extend(snapshot.sockets().filter(|s| query.matches(s)));
            crate::debug!(
                "sockets: {table:?} table: {} rows for {} ({:.1?})",
                found.len() - before,
                query.describe(),
                started.elapsed()
            );
        }
        Ok(found)
    }

    /// The TCP rows in a closing state (TIME_WAIT and the like): the tables name PID 0
    /// for those no process holds any more. And, for the ports the query names that have
    /// no row at all, what a bind() says ([`probe`]): Windows' tables leave out sockets
    /// that are bound but neither listening nor connected, and ports the system reserves
    /// (excluded port ranges) have no socket. Such a port comes back as an ownerless
    /// socket, which `owners` explains.
    fn blockers(query: &Query) -> io::Result<Blockers> {
        let mut found = Blockers::default();
        if !query.wants_protocol(Protocol::Tcp) {
            return Ok(found);
        }
        for table in [Table::Tcp4, Table::Tcp6] {
            if !query.wants_family(table.family()) {
                continue;
            }
            let snapshot = Snapshot::take(table)?;
            let listed: BTreeSet<u16> = snapshot.sockets().map(|s| s.port()).collect();
            found
                .sockets
                .extend(unlisted(query, table.family(), &listed));
            for s in snapshot.sockets() {
                if !(CLOSING_STATES.contains(&s.state)
                    && query.matches_family(s.family, s.local.ip(), None)
                    && query.matches_port(Protocol::Tcp, s.port()))
                {
                    continue;
                }
                match s.key {
                    SocketKey::Pid(0) => found.lingering.push(Lingering {
                        socket: s,
                        ends_in: None,
                    }),
                    _ => found.sockets.push(s),
                }
            }
        }
        Ok(found)
    }

    /// The owners the tables name, but for sockets whose binder is gone: those are hidden,
    /// with the binder's surviving children as the likely holders ([`binder`]). Also
    /// records, for a process that hosts several services, which of them bound the port.
    fn owners(sockets: &[Socket]) -> io::Result<Ownership> {
        let mut found = owners(sockets);
        judge_binders(&mut found)?;
        Ok(found)
    }

    fn process_info(pid: u32) -> ProcessInfo {
        process::process_info(pid)
    }

    fn terminal_columns() -> Option<u16> {
        terminal::stdout_columns()
    }

    /// Windows sockets carry no uid (`Socket.uid` is always `None`), so this is only the
    /// number.
    fn user_name(uid: u32) -> Text {
        Text::from(uid.to_string())
    }

    /// PID 0 and 4; a protected process (PP, PPL), which no privilege opens; a process
    /// that hosts several services, whose end would end them all.
    fn protection(pid: u32) -> Option<Protection> {
        match pid {
            0 => return Some(Protection::IdleProcess),
            4 => return Some(Protection::System),
            _ => {}
        }
        if process::is_protected(pid) {
            return Some(Protection::ProtectedProcess);
        }
        match services::of(pid) {
            [] | [_] => None,
            many => Some(Protection::ServiceHost {
                services: many.to_vec(),
                holder: services::port_service(pid),
            }),
        }
    }

    /// The service `pid` runs, from the service manager.
    fn service(pid: u32) -> Option<Text> {
        services::service(pid)
    }

    /// No hint once elevated: an Administrator has all there is (SeDebugPrivilege is
    /// enabled for it), and what is still denied is protected.
    fn privilege_hint() -> Option<&'static str> {
        (!process::is_privileged()).then_some(Self::PRIVILEGE_HINT)
    }

    /// The recorded parent from a process snapshot and the start time from the process's
    /// handle; Windows has no stopped state.
    fn process_stat(pid: u32) -> Option<ProcessStat> {
        process::stat(pid)
    }

    /// The documented default dynamic port range since Windows Vista, where the ports the
    /// system hands out here fall inside it. No documented Win32 call returns this
    /// machine's range (`netsh int ipv4 show dynamicport tcp` reads it through the
    /// undocumented NSI; WMI's MSFT_NetTCPSetting would need COM), so rekt checks the
    /// default against a few ports the system picks for a bind to port 0: one outside it
    /// means the range was changed, and it is then unknown (nobody is called a client)
    /// rather than wrong.
    fn ephemeral_ports() -> Option<std::ops::RangeInclusive<u16>> {
        const DEFAULT: std::ops::RangeInclusive<u16> = 49152..=65535;
        let picked = ephemeral_samples();
        let fits = picked.iter().all(|p| DEFAULT.contains(p));
        if !fits {
            crate::debug!("ephemeral ports {picked:?} lie outside {DEFAULT:?}: range unknown");
        }
        fits.then_some(DEFAULT)
    }

    fn is_privileged() -> bool {
        process::is_privileged()
    }

    /// Windows sockets carry no uid, so there is none to compare with.
    fn current_uid() -> Option<u32> {
        None
    }

    fn pin(owner: &Owner) -> Result<Target, AcquireError> {
        Target::acquire(owner)
    }

    fn watch(owner: &Owner) -> Result<Target, AcquireError> {
        Target::watch(owner)
    }

    fn wait_for_exit(targets: &[&Target], timeout: Duration) -> Vec<bool> {
        terminate::wait_for_exit(targets, timeout)
    }
}

/// The key of a port that the bind probe found in use with no socket in the tables.
const UNLISTED: SocketKey = SocketKey::Held {
    pid: None,
    socket: 0,
};
/// The key of a port that the bind probe found reserved by the system.
const RESERVED: SocketKey = SocketKey::Held {
    pid: None,
    socket: 1,
};

/// Probing more ports than this (a wide range) costs more than it tells: the ports of a
/// range that have no row are then simply reported free.
const PROBE_LIMIT: usize = 64;

/// The ports of `query` in `family` that no row of the TCP table has (`listed`), but that a
/// bind() finds in use or reserved: one ownerless socket each, on the wildcard address.
fn unlisted(query: &Query, family: Family, listed: &BTreeSet<u16>) -> Vec<Socket> {
    let ranges = query.port_ranges(Protocol::Tcp);
    let count: usize = ranges
        .iter()
        .map(|&(first, last)| usize::from(last - first) + 1)
        .sum();
    if query.ports.is_empty() || count > PROBE_LIMIT {
        return Vec::new();
    }
    let ip = match family {
        Family::V4 => std::net::IpAddr::from([0u8; 4]),
        Family::V6 => std::net::IpAddr::from([0u8; 16]),
    };
    ranges
        .iter()
        .flat_map(|&(first, last)| first..=last)
        .filter(|port| !listed.contains(port))
        .filter_map(|port| {
            let key = match probe::probe(Protocol::Tcp, family, port) {
                Probe::InUse => UNLISTED,
                Probe::Reserved => RESERVED,
                Probe::Free | Probe::Unknown => return None,
            };
            Some(Socket {
                protocol: Protocol::Tcp,
                family,
                local: SocketAddr::new(ip, port),
                // What blocks a wildcard bind without options is a socket bound there:
                // the state the tables leave out.
                state: crate::model::State::Bound,
                uid: None,
                key,
            })
        })
        .collect()
}

/// A few ports the system picks for a bind to port 0 (TCP and UDP), which lie in its
/// dynamic port range.
fn ephemeral_samples() -> Vec<u16> {
    [Protocol::Tcp, Protocol::Udp, Protocol::Tcp, Protocol::Udp]
        .into_iter()
        .filter_map(probe::ephemeral_port)
        .collect()
}

/// Hides the sockets whose binder is gone ([`binder::judge`]), and records the service that
/// bound each socket of a process that hosts several (not under wine, whose stub for the
/// call aborts the process).
fn judge_binders(found: &mut Ownership) -> io::Result<()> {
    let pids: BTreeSet<u32> = found
        .owners
        .iter()
        .map(|o| o.pid)
        .filter(|&p| p != 0 && p != 4)
        .collect();
    if pids.is_empty() {
        return Ok(());
    }
    let hosts: BTreeSet<u32> = if services::is_wine() {
        BTreeSet::new()
    } else {
        pids.iter()
            .copied()
            .filter(|&p| services::of(p).len() > 1)
            .collect()
    };
    // When each socket was bound, from the tables read again (a socket gone since has no
    // time, and is judged without one).
    let mut tables: Vec<Table> = found
        .owners
        .iter()
        .flat_map(|o| o.sockets.iter().map(Table::of))
        .collect();
    tables.sort_by_key(|t| Table::ALL.iter().position(|a| a == t));
    tables.dedup();
    let mut bound: BTreeMap<(Protocol, SocketAddr, u32), u64> = BTreeMap::new();
    for table in tables {
        let snapshot = Snapshot::take(table)?;
        for row in snapshot.rows().filter(|r| pids.contains(&r.pid())) {
            if let Some(at) = row.bound_at {
                bound.insert((row.socket.protocol, row.socket.local, row.pid()), at);
            }
            if hosts.contains(&row.pid())
                && services::port_service(row.pid()).is_none()
                && let Some(module) = row.owner_module()
            {
                services::set_port_service(row.pid(), module);
            }
        }
    }
    // Without the process list nothing can be judged: the rows are trusted as they are.
    let Some(list) = process::processes() else {
        crate::debug!("owners: no process snapshot; the tables' PIDs are taken as they are");
        return Ok(());
    };
    // Each process's times, read once, and only when a judgement asks.
    let cache = std::cell::RefCell::new(BTreeMap::new());
    let times = |pid: u32| {
        *cache
            .borrow_mut()
            .entry(pid)
            .or_insert_with(|| process::times(pid))
    };
    let mut owners = Vec::with_capacity(found.owners.len());
    for mut owner in std::mem::take(&mut found.owners) {
        if !pids.contains(&owner.pid) {
            owners.push(owner);
            continue;
        }
        let mut kept = Vec::with_capacity(owner.sockets.len());
        for s in owner.sockets {
            let at = bound.get(&(s.protocol, s.local, owner.pid)).copied();
            match binder::judge(owner.pid, at, &list, times) {
                Binder::Holder => kept.push(s),
                Binder::Gone { heirs } => {
                    found.reasons.insert(
                        s.key,
                        Hidden::BinderExited {
                            binder: owner.pid,
                            heirs,
                        },
                    );
                    found.hidden.push(s);
                }
            }
        }
        owner.sockets = kept;
        if !owner.sockets.is_empty() {
            owners.push(owner);
        }
    }
    found.owners = owners;
    Ok(())
}

/// The owners of `sockets`: the tables already name each socket's PID, so this only groups
/// them. One owner per PID, sorted by PID, each distinct socket once, in query order. PID 0
/// and 4 stay owners (shown, never signalled). A socket the bind probe found, which no row
/// names, is hidden, with what the probe said.
fn owners(sockets: &[Socket]) -> Ownership {
    let pid = |s: &Socket| match s.key {
        SocketKey::Pid(pid) => Some(pid),
        // The bind probe's findings.
        SocketKey::Inode(_) | SocketKey::Held { .. } => None,
    };
    let (sockets, unowned): (Vec<&Socket>, Vec<&Socket>) =
        sockets.iter().partition(|s| pid(s).is_some());
    let pid = |s: &Socket| pid(s).unwrap_or(0);
    let mut order: Vec<usize> = (0..sockets.len()).collect();
    order.sort_by_key(|&i| (pid(sockets[i]), i));
    let mut owners = Vec::new();
    for group in order.chunk_by(|&a, &b| pid(sockets[a]) == pid(sockets[b])) {
        let mut held: Vec<Socket> = Vec::with_capacity(group.len());
        for &i in group {
            if !held.contains(sockets[i]) {
                held.push(sockets[i].clone());
            }
        }
        owners.push(Owner {
            pid: pid(sockets[group[0]]),
            sockets: held,
            fds: Vec::new(),
        });
    }
    let mut hidden: Vec<Socket> = Vec::new();
    for s in unowned {
        if !hidden.contains(s) {
            hidden.push(s.clone());
        }
    }
    let reasons = hidden
        .iter()
        .map(|s| {
            let why = if s.key == RESERVED {
                Hidden::Reserved
            } else {
                Hidden::Unlisted
            };
            (s.key, why)
        })
        .collect();
    Ownership {
        owners,
        hidden,
        reasons,
        incomplete: false,
    }
}

/// A Win32 failure as an error that names the call, the code and the system's text for it
/// (std formats raw OS errors through FormatMessageW). The kind is kept, so access denied
/// still reads as `PermissionDenied`.
fn api_error(call: &str, code: u32) -> io::Error {
    with_call(call, io::Error::from_raw_os_error(code as i32))
}

/// The calling thread's last Win32 error, named after `call`.
fn last_error(call: &str) -> io::Error {
    with_call(call, io::Error::last_os_error())
}

fn with_call(call: &str, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{call} failed: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, State};

    fn socket(protocol: Protocol, local: &str, pid: u32) -> Socket {
        let local: std::net::SocketAddr = local.parse().unwrap();
        Socket {
            protocol,
            family: if local.is_ipv4() {
                Family::V4
            } else {
                Family::V6
            },
            local,
            state: match protocol {
                Protocol::Tcp => State::Listen,
                Protocol::Udp => State::Unconnected,
            },
            uid: None,
            key: SocketKey::Pid(pid),
        }
    }

    #[test]
    fn owners_group_by_pid_in_pid_order() {
        let a = socket(Protocol::Tcp, "0.0.0.0:80", 900);
        let b = socket(Protocol::Tcp, "[::]:80", 12);
        let c = socket(Protocol::Udp, "0.0.0.0:80", 900);
        let idle = socket(Protocol::Tcp, "127.0.0.1:80", 0);
        // The same row twice (two accepted connections look alike without remote ends).
        let own = owners(&[a.clone(), b.clone(), c.clone(), a.clone(), idle.clone()]);
        let pids: Vec<u32> = own.owners.iter().map(|o| o.pid).collect();
        assert_eq!(pids, vec![0, 12, 900]);
        assert_eq!(own.owners[0].sockets, vec![idle]);
        assert_eq!(own.owners[1].sockets, vec![b]);
        assert_eq!(own.owners[2].sockets, vec![a, c]);
        assert!(own.owners.iter().all(|o| o.fds.is_empty()));
        assert!(own.hidden.is_empty() && !own.incomplete);
        assert_eq!(owners(&[]), Ownership::default());
    }

    #[test]
    fn idle_and_system_are_protected() {
        assert_eq!(Windows::protection(0), Some(Protection::IdleProcess));
        assert_eq!(Windows::protection(4), Some(Protection::System));
        assert_eq!(Windows::protection(8), None);
    }

    #[test]
    fn errors_name_the_call_the_code_and_its_text() {
        let e = api_error("OpenProcess", 5);
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let text = e.to_string();
        assert!(text.starts_with("OpenProcess failed: "), "{text}");
        assert!(text.contains("(os error 5)"), "{text}");
        // FormatMessageW's text sits between the call and the code.
        let message = &text["OpenProcess failed: ".len()..text.len() - "(os error 5)".len()];
        assert!(message.trim().len() > 3, "{text}");
    }
}
