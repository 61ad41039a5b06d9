//! The two-step join: the sockets that match a query, then the processes that hold them;
//! the other sockets that block a bind() on a port nothing else holds; and, for a port that
//! is free here, the other network namespaces where it is held.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::model::{
    BoundVisibility, Lingering, NetNs, Owner, Ownership, Protocol, Socket, SocketKey,
};
use crate::platform::{Backend, Os};
use crate::query::{BlockerSearch, PortSpec, Query};

pub(crate) mod watch;

/// The sockets that match a query and the processes that hold them.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub sockets: Vec<Socket>,
    pub ownership: Ownership,
    /// The network namespace of each socket, by socket key; filled only when looking in
    /// every namespace ([`Scope::AllNetns`]).
    pub netns: BTreeMap<SocketKey, NetNs>,
    /// Sockets that no process holds but that still block a plain bind() (TIME_WAIT),
    /// found where blockers were looked for ([`Query::blockers`]).
    pub lingering: Vec<Lingering>,
    /// Whether bound-but-not-listening TCP sockets could be seen where they were looked
    /// for (`Unknown` when they were not looked for).
    pub bound: BoundVisibility,
    /// The ports below this one need privileges that the user running rekt lacks (a
    /// normal user on Linux, below `net.ipv4.ip_unprivileged_port_start`): read only when a
    /// port asked about is below 1024.
    pub privileged_below: Option<u16>,
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

/// `lookup_in`, telling `all_held` whether every port asked about has a socket (see
/// [`every_port_held`]), before the process scan starts.
fn lookup_then(query: &Query, scope: Scope, all_held: impl FnOnce(bool)) -> io::Result<Lookup> {
    let (mut sockets, mut netns) = find_sockets(query, scope)?;
    let blockers = find_blockers(query, scope, &sockets)?;
    sockets.extend(blockers.sockets);
    netns.extend(blockers.netns);
    all_held(every_port_held(query, &sockets));
    let mut found = Lookup {
        netns,
        lingering: blockers.lingering,
        bound: blockers.bound,
        privileged_below: privileged_below(query),
        ..Lookup::default()
    };
    if sockets.is_empty() {
        return Ok(found);
    }
    // One order whatever the source's (dump order differs between netlink and /proc/net),
    // so that output is deterministic: port, then tcp before udp, IPv4 before IPv6.
    sockets.sort_by_key(|s| (s.port(), s.protocol, s.family, s.local, s.state, s.key));
    let started = Instant::now();
    let mut ownership = Os::owners(&sockets)?;
    crate::debug!(
        "owners: {} processes hold {} of {} sockets, {} without a visible owner ({:.1?})",
        ownership.owners.len(),
        sockets.len() - ownership.hidden.len(),
        sockets.len(),
        ownership.hidden.len(),
        started.elapsed()
    );
    if !ownership.hidden.is_empty() {
        // A socket whose process exited during the scan is gone now, not hidden: ask the
        // kernel again and keep only the ones that still exist.
        let (mut now, _) = find_sockets(query, scope)?;
        now.extend(find_blockers(query, scope, &now)?.sockets);
        ownership.hidden.retain(|s| {
            now.iter()
                .any(|n| n.key == s.key && n.protocol == s.protocol)
        });
        let keys: BTreeSet<SocketKey> = ownership.hidden.iter().map(|s| s.key).collect();
        ownership.reasons.retain(|key, _| keys.contains(key));
    }
    found.sockets = sockets;
    found.ownership = ownership;
    Ok(found)
}

/// The ports below which rekt's user may not bind, when a port that `query` names is
/// below 1024 (the highest any system sets by default), so that a free one is said to be
/// free only for a privileged user.
fn privileged_below(query: &Query) -> Option<u16> {
    if !query.ports.iter().any(|s| s.first < 1024) {
        return None;
    }
    Os::privileged_ports_below()
}

/// Whether every port that `query` names has at least one of `sockets`, in one of the
/// protocols its spec asks about: then no port needs the other namespaces' hint (a spec
/// without a protocol whose TCP port is held here is answered, whatever UDP does). List
/// mode names no port, so it never is.
fn every_port_held(query: &Query, sockets: &[Socket]) -> bool {
    if query.ports.is_empty() {
        return false;
    }
    let held: BTreeSet<(u16, Protocol)> = sockets.iter().map(|s| (s.port(), s.protocol)).collect();
    query.ports.iter().all(|spec| {
        (spec.first..=spec.last).all(|port| {
            [Protocol::Tcp, Protocol::Udp].into_iter().any(|p| {
                spec.protocol.is_none_or(|want| want == p)
                    && query.wants_protocol(p)
                    && held.contains(&(port, p))
            })
        })
    })
}

/// What [`find_blockers`] found.
#[derive(Debug, Default)]
struct FoundBlockers {
    sockets: Vec<Socket>,
    netns: BTreeMap<SocketKey, NetNs>,
    lingering: Vec<Lingering>,
    bound: BoundVisibility,
}

/// The sockets that block a bind() on the query's TCP ports besides `found` (bound-only
/// and closing ones), on the ports [`Query::blockers`] says: all of them, or those where
/// `found` has no TCP socket.
fn find_blockers(query: &Query, scope: Scope, found: &[Socket]) -> io::Result<FoundBlockers> {
    let mut result = FoundBlockers::default();
    let ports = match query.blockers {
        BlockerSearch::Nowhere => return Ok(result),
        BlockerSearch::Everywhere => query.port_ranges(Protocol::Tcp),
        BlockerSearch::WhereFree => {
            let held: BTreeSet<u16> = found
                .iter()
                .filter(|s| s.protocol == Protocol::Tcp)
                .map(Socket::port)
                .collect();
            without(&query.port_ranges(Protocol::Tcp), &held)
        }
    };
    if query.ports.is_empty() || !query.wants_protocol(Protocol::Tcp) || ports.is_empty() {
        return Ok(result);
    }
    let mut tcp = query.clone();
    tcp.ports = ports
        .into_iter()
        .map(|(first, last)| PortSpec {
            first,
            last,
            protocol: Some(Protocol::Tcp),
        })
        .collect();
    let started = Instant::now();
    let here = Os::blockers(&tcp)?;
    crate::debug!(
        "blockers: {} sockets and {} closing ones on the free TCP ports; bound-only sockets: \
         {:?} ({:.1?})",
        here.sockets.len(),
        here.lingering.len(),
        here.bound,
        started.elapsed()
    );
    (result.sockets, result.lingering, result.bound) = (here.sockets, here.lingering, here.bound);
    if scope == Scope::AllNetns {
        let ns = Os::current_netns()?;
        result
            .netns
            .extend(result.sockets.iter().map(|s| (s.key, ns.clone())));
        for ns in Os::other_netns(&AtomicBool::new(false))? {
            let Ok(there) = Os::blockers_in_netns(&ns, &tcp) else {
                // Gone since it was listed, or unreadable: its sockets proper were read
                // (or the lookup failed) in `find_sockets`.
                continue;
            };
            result
                .netns
                .extend(there.sockets.iter().map(|s| (s.key, ns.clone())));
            result.sockets.extend(there.sockets);
            result.lingering.extend(there.lingering);
        }
    }
    Ok(result)
}

/// `ranges` (sorted, merged) without the ports in `held`.
fn without(ranges: &[(u16, u16)], held: &BTreeSet<u16>) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    for &(first, last) in ranges {
        let mut start = u32::from(first);
        for &port in held.range(first..=last) {
            if u32::from(port) > start {
                out.push((start as u16, port - 1));
            }
            start = u32::from(port) + 1;
        }
        if start <= u32::from(last) {
            out.push((start as u16, last));
        }
    }
    out
}

/// Looks up `query` in this namespace like [`lookup`] and, at the same time on another
/// thread, searches the other network namespaces for it, so that a free port can come with
/// a hint ("held in a container") at almost no extra wall time: the search runs while the
/// kernel dumps the socket tables, and stops the moment every port asked about turns out
/// to be held here.
///
/// With [`Search::Finish`], the search thread is always waited for, so that no thread of
/// rekt's still reads /proc or enters namespaces once this returns (before signalling, say).
/// With [`Search::Abandon`], a lookup where every port is held here returns at once and
/// the search is left to end with the process: for a run that only prints, where waiting
/// would only cost time.
pub(crate) fn lookup_with_hints(
    query: &Query,
    search: Search,
) -> io::Result<(Lookup, Vec<Elsewhere>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let searching = {
        let (query, stop) = (elsewhere_query(query), Arc::clone(&stop));
        std::thread::spawn(move || search_elsewhere(&query, &stop))
    };
    let mut held_everywhere = false;
    let found = lookup_then(query, Scope::Here, |all| {
        held_everywhere = all;
        stop.store(all, Ordering::Relaxed)
    });
    let all_held = held_everywhere || found.is_err();
    if all_held {
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
    if all_held {
        return Ok((found, Vec::new()));
    }
    let mut elsewhere = elsewhere.unwrap_or_default();
    if !elsewhere.is_empty() {
        let all: Vec<Socket> = elsewhere.iter().flat_map(|e| e.sockets.clone()).collect();
        let ownership = Os::owners(&all)?;
        for e in &mut elsewhere {
            e.owners = ownership
                .owners
                .iter()
                .filter(|o| o.sockets.iter().any(|s| e.sockets.contains(s)))
                .cloned()
                .collect();
        }
    }
    Ok((found, elsewhere))
}

/// What the other namespaces are searched for: the listeners (TCP sockets listening, UDP
/// sockets not connected) on the ports of `query`. The hint points at a server in a
/// container; a connection there that happens to use the same port number is no server
/// and blocks nothing here. And it is what keeps a free port cheap: the kernel answers a
/// listeners-only TCP dump from its small table of listeners, while any other state walks
/// the table of every connection on the machine (shared by all namespaces, hundreds of
/// thousands of buckets), once per namespace searched.
fn elsewhere_query(query: &Query) -> Query {
    let mut listeners = query.clone();
    listeners.listen_only = true;
    listeners
}

/// Whether [`lookup_with_hints`] waits for its search when the port is held here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Search {
    Finish,
    Abandon,
}

/// Another network namespace where the query matches, and the processes holding the
/// sockets (each with its own sockets, so that each port names only its own holders).
#[derive(Debug, Clone)]
pub(crate) struct Elsewhere {
    pub(crate) netns: NetNs,
    pub(crate) sockets: Vec<Socket>,
    pub(crate) owners: Vec<Owner>,
}

/// The other network namespaces where `query` matches (without owners), unless `stop` is
/// raised first.
fn search_elsewhere(query: &Query, stop: &AtomicBool) -> io::Result<Vec<Elsewhere>> {
    let mut found = Vec::new();
    let started = Instant::now();
    let others = Os::other_netns(stop)?;
    let mut searched = 0;
    for ns in others {
        if stop.load(Ordering::Relaxed) {
            crate::debug!("other namespaces: search stopped: the ports are held here");
            break;
        }
        searched += 1;
        if let Ok(sockets) = Os::sockets_in_netns(&ns, query)
            && !sockets.is_empty()
        {
            found.push(Elsewhere {
                netns: ns,
                sockets,
                owners: Vec::new(),
            });
        }
    }
    crate::debug!(
        "other namespaces: {searched} searched, {} with matching sockets ({:.1?})",
        found.len(),
        started.elapsed()
    );
    Ok(found)
}

/// The sockets matching `query` in `scope`, without their owners: a cheap look, for
/// watching a port.
pub(crate) fn sockets_in(query: &Query, scope: Scope) -> io::Result<Vec<Socket>> {
    find_sockets(query, scope).map(|(sockets, _)| sockets)
}

/// The sockets that hold just these (port, protocol)s, without their owners: listeners and
/// connections as `query` asks, and TCP sockets that are only bound. A cheap look at a few
/// ports, as the settle watch makes.
pub(crate) fn sockets_on(
    query: &Query,
    scope: Scope,
    ports: &[(u16, Protocol)],
) -> io::Result<Vec<Socket>> {
    let query = watch::narrowed(query, ports);
    let mut sockets = sockets_in(&query, scope)?;
    let blockers = find_blockers(&query, scope, &sockets)?;
    sockets.extend(blockers.sockets);
    Ok(sockets)
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

/// The owners of `sockets` (new to the live view), looking first among `known` (a few of
/// the processes that hold the view's other sockets, in the order to look at them), and
/// only then, for the sockets still without an owner, through every process. Owners
/// sorted by PID, as [`Backend::owners`].
pub(crate) fn owners_first_among(sockets: &[Socket], known: &[u32]) -> io::Result<Ownership> {
    if sockets.is_empty() {
        return Ok(Ownership::default());
    }
    let mut found = if known.is_empty() {
        Ownership {
            hidden: sockets.to_vec(),
            ..Ownership::default()
        }
    } else {
        Os::owners_among(sockets, known)?
    };
    if found.hidden.is_empty() {
        return Ok(found);
    }
    let rest = Os::owners(&found.hidden)?;
    for owner in rest.owners {
        match found.owners.iter_mut().find(|o| o.pid == owner.pid) {
            Some(o) => {
                o.sockets.extend(owner.sockets);
                o.fds.extend(owner.fds);
            }
            None => found.owners.push(owner),
        }
    }
    found.owners.sort_by_key(|o| o.pid);
    found.hidden = rest.hidden;
    found.reasons = rest.reasons;
    found.incomplete = rest.incomplete;
    Ok(found)
}
