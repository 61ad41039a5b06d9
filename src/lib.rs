//! rekt: which processes own this port? Then, on request, end them.
//!
//! The work is a two-step join (see DESIGN.md): the platform finds the sockets that match a
//! [`Query`], then the processes that hold them. [`lookup`] does both; [`kill`] ends owners;
//! [`output`] prints. [`app`] ties them together for the `rekt` binary.

pub mod app;
pub mod cli;
pub mod duration;
pub mod exit_codes;
pub mod kill;
pub mod model;
pub mod output;
pub mod platform;
pub mod query;

use std::collections::BTreeMap;
use std::io;

use model::{NetNs, Ownership, Socket};

pub use query::Query;

/// The sockets that match a query and the processes that hold them.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub sockets: Vec<Socket>,
    pub ownership: Ownership,
    /// The network namespace of each socket, by socket key; filled only when looking in
    /// every namespace ([`Scope::AllNetns`]).
    pub netns: BTreeMap<u64, NetNs>,
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
    let (mut sockets, netns) = find_sockets(query, scope)?;
    if sockets.is_empty() {
        return Ok(Lookup {
            netns,
            ..Lookup::default()
        });
    }
    // One order whatever the source's (dump order differs between netlink and /proc/net),
    // so that output is deterministic: port, then tcp before udp, IPv4 before IPv6.
    sockets.sort_by_key(|s| (s.port(), s.protocol, s.family, s.local, s.state, s.key));
    let mut ownership = platform::owners(&sockets)?;
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

/// Another network namespace where the query matches, and the PIDs holding the sockets.
#[derive(Debug, Clone)]
pub struct Elsewhere {
    pub netns: NetNs,
    pub sockets: Vec<Socket>,
    pub pids: Vec<u32>,
}

/// The other network namespaces where `query` matches: what to hint at when a port is free
/// here. Costs one readlink per process, plus a scan only when something is found.
pub fn elsewhere(query: &Query) -> io::Result<Vec<Elsewhere>> {
    let mut found = Vec::new();
    for ns in platform::other_netns()? {
        let Ok(sockets) = platform::sockets_in_netns(&ns, query) else {
            continue;
        };
        if !sockets.is_empty() {
            found.push(Elsewhere {
                netns: ns,
                sockets,
                pids: Vec::new(),
            });
        }
    }
    if found.is_empty() {
        return Ok(found);
    }
    let all: Vec<Socket> = found.iter().flat_map(|e| e.sockets.clone()).collect();
    let ownership = platform::owners(&all)?;
    for e in &mut found {
        e.pids = ownership
            .owners
            .iter()
            .filter(|o| o.sockets.iter().any(|s| e.sockets.contains(s)))
            .map(|o| o.pid)
            .collect();
    }
    Ok(found)
}

/// The matching sockets in `scope`, and (for every namespace) which namespace each is in.
fn find_sockets(query: &Query, scope: Scope) -> io::Result<(Vec<Socket>, BTreeMap<u64, NetNs>)> {
    let mut sockets = platform::sockets(query)?;
    let mut netns = BTreeMap::new();
    if scope == Scope::AllNetns {
        let here = platform::current_netns()?;
        netns.extend(sockets.iter().map(|s| (s.key, here.clone())));
        for ns in platform::other_netns()? {
            let found = match platform::sockets_in_netns(&ns, query) {
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
