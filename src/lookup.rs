//! The two-step join: the sockets that match a query, then the processes that hold them;
//! and, for a port that is free here, the other network namespaces where it is held.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::model::{NetNs, Ownership, Socket, SocketKey};
use crate::platform::{Backend, Os};
use crate::query::Query;

/// The sockets that match a query and the processes that hold them.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub sockets: Vec<Socket>,
    pub ownership: Ownership,
    /// The network namespace of each socket, by socket key; filled only when looking in
    /// every namespace ([`Scope::AllNetns`]).
    pub netns: BTreeMap<SocketKey, NetNs>,
}

/// Where to look for sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This network namespace: what fuser, lsof and ss see.
    Here,
    /// Every network namespace on the machine (containers, `ip netns`), Linux only.
    AllNetns,
}

/// Finds the sockets matching `query` in this network namespace, then their owners.
pub fn lookup(query: &Query) -> io::Result<Lookup> {
    lookup_in(query, Scope::Here)
}

/// Finds the sockets matching `query` in `scope`, then their owners. When no socket matches,
/// the process scan (the expensive part) is skipped.
pub fn lookup_in(query: &Query, scope: Scope) -> io::Result<Lookup> {
    lookup_then(query, scope, |_| {})
}

/// `lookup_in`, telling `matched` whether any socket matched before the scan starts.
fn lookup_then(query: &Query, scope: Scope, matched: impl FnOnce(bool)) -> io::Result<Lookup> {
    let (mut sockets, netns) = find_sockets(query, scope)?;
    matched(!sockets.is_empty());
    if sockets.is_empty() {
        return Ok(Lookup {
            netns,
            ..Lookup::default()
        });
    }
    // One order whatever the source's (dump order differs between netlink and /proc/net),
    // so that output is deterministic: port, then tcp before udp, IPv4 before IPv6.
    sockets.sort_by_key(|s| (s.port(), s.protocol, s.family, s.local, s.state, s.key));
    let mut ownership = Os::owners(&sockets)?;
    if !ownership.hidden.is_empty() {
        // A socket whose process exited during the scan is gone now, not hidden: ask the
        // kernel again and keep only the ones that still exist.
        let (now, _) = find_sockets(query, scope)?;
        ownership.hidden.retain(|s| {
            now.iter()
                .any(|n| n.key == s.key && n.protocol == s.protocol)
        });
    }
    Ok(Lookup {
        sockets,
        ownership,
        netns,
    })
}

/// Looks up `query` in this namespace like [`lookup`] and, at the same time on another
/// thread, searches the other network namespaces for it, so that a free port can come with
/// a hint ("held in a container") at almost no extra wall time: the search runs while the
/// kernel dumps the socket tables, and stops the moment the port turns out to be held
/// here.
///
/// With [`Search::Finish`], the search thread is always waited for, so that no thread of
/// rekt's still reads /proc or enters namespaces once this returns (before signalling, say).
/// With [`Search::Abandon`], a port held here returns at once and the search is left to end
/// with the process: for a run that only prints, where waiting would only cost time.
pub fn lookup_with_hints(query: &Query, search: Search) -> io::Result<(Lookup, Vec<Elsewhere>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let searching = {
        let (query, stop) = (query.clone(), Arc::clone(&stop));
        std::thread::spawn(move || search_elsewhere(&query, &stop))
    };
    let found = lookup_then(query, Scope::Here, |matched| {
        stop.store(matched, Ordering::Relaxed)
    });
    let held = found.as_ref().map_or(true, |f| !f.sockets.is_empty());
    if held {
        // Held here (or failed): no hint needed, and the search stops at its next check.
        stop.store(true, Ordering::Relaxed);
        if search == Search::Abandon {
            return found.map(|found| (found, Vec::new()));
        }
    }
    let elsewhere = searching
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let found = found?;
    if held {
        return Ok((found, Vec::new()));
    }
    let mut elsewhere = elsewhere.unwrap_or_default();
    if !elsewhere.is_empty() {
        let all: Vec<Socket> = elsewhere.iter().flat_map(|e| e.sockets.clone()).collect();
        let ownership = Os::owners(&all)?;
        for e in &mut elsewhere {
            e.pids = ownership
                .owners
                .iter()
                .filter(|o| o.sockets.iter().any(|s| e.sockets.contains(s)))
                .map(|o| o.pid)
                .collect();
        }
    }
    Ok((found, elsewhere))
}

/// Whether [`lookup_with_hints`] waits for its search when the port is held here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    Finish,
    Abandon,
}

/// Another network namespace where the query matches, and the PIDs holding the sockets.
#[derive(Debug, Clone)]
pub struct Elsewhere {
    pub netns: NetNs,
    pub sockets: Vec<Socket>,
    pub pids: Vec<u32>,
}

/// The other network namespaces where `query` matches (without owners), unless `stop` is
/// raised first.
fn search_elsewhere(query: &Query, stop: &AtomicBool) -> io::Result<Vec<Elsewhere>> {
    let mut found = Vec::new();
    for ns in Os::other_netns(stop)? {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Ok(sockets) = Os::sockets_in_netns(&ns, query)
            && !sockets.is_empty()
        {
            found.push(Elsewhere {
                netns: ns,
                sockets,
                pids: Vec::new(),
            });
        }
    }
    Ok(found)
}

/// The sockets matching `query` in `scope`, without their owners: a cheap look, for
/// watching a port.
pub(crate) fn sockets_in(query: &Query, scope: Scope) -> io::Result<Vec<Socket>> {
    find_sockets(query, scope).map(|(sockets, _)| sockets)
}

/// The matching sockets in `scope`, and (for every namespace) which namespace each is in.
fn find_sockets(
    query: &Query,
    scope: Scope,
) -> io::Result<(Vec<Socket>, BTreeMap<SocketKey, NetNs>)> {
    let mut sockets = Os::sockets(query)?;
    let mut netns = BTreeMap::new();
    if scope == Scope::AllNetns {
        let here = Os::current_netns()?;
        netns.extend(sockets.iter().map(|s| (s.key, here.clone())));
        for ns in Os::other_netns(&AtomicBool::new(false))? {
            let found = match Os::sockets_in_netns(&ns, query) {
                Ok(found) => found,
                // Its last process exited since we listed it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("network namespace {}: {e}", ns.label()),
                    ));
                }
            };
            netns.extend(found.iter().map(|s| (s.key, ns.clone())));
            sockets.extend(found);
        }
    }
    Ok((sockets, netns))
}
