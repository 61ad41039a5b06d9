//! Windows: sockets and their owning PIDs from the IP Helper tables, details from process
//! handles and tokens, ending through process handles held from the check to the end.

mod iphlpapi;
mod process;
mod terminate;

use std::io;
use std::time::Duration;

use super::Backend;
use crate::model::{AcquireError, Owner, Ownership, ProcessInfo, ProcessStat, Protection};
use crate::model::{Blockers, Lingering, Protocol, Socket, SocketKey, Text};
use crate::query::{CLOSING_STATES, Query};
use iphlpapi::{Snapshot, Table};

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
            let snapshot = Snapshot::take(table)?;
            found.extend(snapshot.sockets().filter(|s| query.matches(s)));
        }
        Ok(found)
    }

    /// The TCP rows in a closing state (TIME_WAIT and the like): the tables name PID 0
    /// for those no process holds any more. Windows' tables do not list sockets that are
    /// bound but neither listening nor connected, so whether any exist stays unknown.
    fn blockers(query: &Query) -> io::Result<Blockers> {
        let mut found = Blockers::default();
        if !query.wants_protocol(Protocol::Tcp) {
            return Ok(found);
        }
        for table in [Table::Tcp4, Table::Tcp6] {
            if !query.wants_family(table.family()) {
                continue;
            }
            for s in Snapshot::take(table)?.sockets() {
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

    fn owners(sockets: &[Socket]) -> io::Result<Ownership> {
        Ok(owners(sockets))
    }

    fn process_info(pid: u32) -> ProcessInfo {
        process::process_info(pid)
    }

    /// Windows sockets carry no uid (`Socket.uid` is always `None`), so this is only the
    /// number.
    fn user_name(uid: u32) -> Text {
        Text::from(uid.to_string())
    }

    fn protection(pid: u32) -> Option<Protection> {
        match pid {
            0 => Some(Protection::IdleProcess),
            4 => Some(Protection::System),
            _ => None,
        }
    }

    fn parent_pid() -> Option<u32> {
        process::parent_pid()
    }

    /// The recorded parent from a process snapshot and the start time from the process's
    /// handle; Windows has no stopped state.
    fn process_stat(pid: u32) -> Option<ProcessStat> {
        process::stat(pid)
    }

    /// The documented default dynamic port range since Windows Vista (`netsh int ipv4
    /// show dynamicport tcp` shows this machine's); reading the real one needs netsh.
    fn ephemeral_ports() -> Option<std::ops::RangeInclusive<u16>> {
        Some(49152..=65535)
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

    fn wait_for_exit(targets: &[&Target], timeout: Duration) -> Vec<bool> {
        terminate::wait_for_exit(targets, timeout)
    }
}

/// The owners of `sockets`: the tables already name each socket's PID, so this only groups
/// them. One owner per PID, sorted by PID, each distinct socket once, in query order. PID 0
/// and 4 stay owners (shown, never signalled); nothing is ever hidden.
fn owners(sockets: &[Socket]) -> Ownership {
    let pid = |s: &Socket| match s.key {
        SocketKey::Pid(pid) => pid,
        // Not produced on Windows.
        SocketKey::Inode(_) | SocketKey::Held { .. } => 0,
    };
    let mut order: Vec<usize> = (0..sockets.len()).collect();
    order.sort_by_key(|&i| (pid(&sockets[i]), i));
    let mut owners = Vec::new();
    for group in order.chunk_by(|&a, &b| pid(&sockets[a]) == pid(&sockets[b])) {
        let mut held: Vec<Socket> = Vec::with_capacity(group.len());
        for &i in group {
            if !held.contains(&sockets[i]) {
                held.push(sockets[i].clone());
            }
        }
        owners.push(Owner {
            pid: pid(&sockets[group[0]]),
            sockets: held,
            fds: Vec::new(),
        });
    }
    Ownership {
        owners,
        ..Ownership::default()
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
