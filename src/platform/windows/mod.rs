//! Windows: sockets and their owning PIDs from the IP Helper tables, details from process
//! handles and tokens, ending through process handles held from the check to the end.

mod iphlpapi;
mod process;
mod terminate;

use std::io;
use std::sync::atomic::AtomicBool;

use windows_sys::Win32::Foundation::ERROR_INVALID_PARAMETER;

use crate::model::{NetNs, Owner, Ownership, Socket};
use crate::query::Query;
use iphlpapi::{Snapshot, Table};

pub use process::{is_privileged, parent_pid, process_info, user_name};
pub use terminate::{Target, wait_for_exit};

/// The error that says a process no longer exists: what `OpenProcess` answers for a PID
/// that names no process. `Target::send` also reports it for a process that has exited.
pub const ERROR_NO_SUCH_PROCESS: i32 = ERROR_INVALID_PARAMETER as i32;

/// What to suggest when access is denied.
pub const PRIVILEGE_HINT: &str = "run as Administrator";

/// Every socket in the TCP and UDP tables that matches `query`, keyed by its owning PID.
pub fn sockets(query: &Query) -> io::Result<Vec<Socket>> {
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

/// The owners of `sockets`: the tables already name each socket's PID, so this only groups
/// them. One owner per PID, sorted by PID, each distinct socket once, in query order. PID 0
/// and 4 stay owners (shown, never signalled); nothing is ever hidden.
pub fn owners(sockets: &[Socket]) -> io::Result<Ownership> {
    let mut order: Vec<usize> = (0..sockets.len()).collect();
    order.sort_by_key(|&i| (sockets[i].key, i));
    let mut owners = Vec::new();
    for group in order.chunk_by(|&a, &b| sockets[a].key == sockets[b].key) {
        let mut held: Vec<Socket> = Vec::with_capacity(group.len());
        for &i in group {
            if !held.contains(&sockets[i]) {
                held.push(sockets[i].clone());
            }
        }
        owners.push(Owner {
            // Keys are PIDs here, which are DWORDs.
            pid: sockets[group[0]].key as u32,
            sockets: held,
            fds: Vec::new(),
        });
    }
    Ok(Ownership {
        owners,
        hidden: Vec::new(),
        incomplete: false,
    })
}

/// Windows has no network namespaces (the CLI refuses `--all-netns` there).
pub fn current_netns() -> io::Result<NetNs> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "network namespaces exist only on Linux",
    ))
}

/// There are no other network namespaces to look in.
pub fn other_netns(_stop: &AtomicBool) -> io::Result<Vec<NetNs>> {
    Ok(Vec::new())
}

/// Never called: `other_netns` finds none.
pub fn sockets_in_netns(_: &NetNs, _: &Query) -> io::Result<Vec<Socket>> {
    Ok(Vec::new())
}

/// Windows sockets carry no uid, so there is none to compare with.
pub fn current_uid() -> Option<u32> {
    None
}

/// PIDs that are never signalled, whoever asks.
pub fn protected_reason(pid: u32) -> Option<&'static str> {
    match pid {
        0 => Some(
            "PID 0 is the System Idle Process, not a program: the socket table names no real \
             owner for this socket",
        ),
        4 => Some("PID 4 is the System process (the kernel and its drivers, such as http.sys)"),
        _ => None,
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
    use crate::model::{Family, Protocol, State};

    fn socket(protocol: Protocol, local: &str, pid: u64) -> Socket {
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
            key: pid,
        }
    }

    #[test]
    fn owners_group_by_pid_in_pid_order() {
        let a = socket(Protocol::Tcp, "0.0.0.0:80", 900);
        let b = socket(Protocol::Tcp, "[::]:80", 12);
        let c = socket(Protocol::Udp, "0.0.0.0:80", 900);
        let idle = socket(Protocol::Tcp, "127.0.0.1:80", 0);
        // The same row twice (two accepted connections look alike without remote ends).
        let own = owners(&[a.clone(), b.clone(), c.clone(), a.clone(), idle.clone()]).unwrap();
        let pids: Vec<u32> = own.owners.iter().map(|o| o.pid).collect();
        assert_eq!(pids, vec![0, 12, 900]);
        assert_eq!(own.owners[0].sockets, vec![idle]);
        assert_eq!(own.owners[1].sockets, vec![b]);
        assert_eq!(own.owners[2].sockets, vec![a, c]);
        assert!(own.owners.iter().all(|o| o.fds.is_empty()));
        assert!(own.hidden.is_empty() && !own.incomplete);
        assert_eq!(owners(&[]).unwrap(), Ownership::default());
    }

    #[test]
    fn idle_and_system_are_protected() {
        assert!(protected_reason(0).unwrap().contains("System Idle Process"));
        assert!(protected_reason(4).unwrap().contains("System process"));
        assert_eq!(protected_reason(8), None);
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
