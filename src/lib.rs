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

use std::io;

use model::{Ownership, Socket};

pub use query::Query;

/// The sockets that match a query and the processes that hold them.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub sockets: Vec<Socket>,
    pub ownership: Ownership,
}

/// Finds the sockets matching `query`, then their owners. When no socket matches, the
/// process scan (the expensive part) is skipped.
pub fn lookup(query: &Query) -> io::Result<Lookup> {
    let mut sockets = platform::sockets(query)?;
    if sockets.is_empty() {
        return Ok(Lookup::default());
    }
    // One order whatever the source's (dump order differs between netlink and /proc/net),
    // so that output is deterministic: port, then tcp before udp, IPv4 before IPv6.
    sockets.sort_by_key(|s| (s.port(), s.protocol, s.family, s.local, s.state, s.key));
    let mut ownership = platform::owners(&sockets)?;
    if !ownership.hidden.is_empty() {
        // A socket whose process exited during the scan is gone now, not hidden: ask the
        // kernel again and keep only the ones that still exist.
        let now = platform::sockets(query)?;
        ownership.hidden.retain(|s| {
            now.iter()
                .any(|n| n.key == s.key && n.protocol == s.protocol)
        });
    }
    Ok(Lookup { sockets, ownership })
}
