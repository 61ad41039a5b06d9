//! Keeping the rows current cheaply. A full lookup scans every process's fds (about
//! 160 ms on a busy machine); the view instead dumps the socket table (about 1 ms) at
//! each refresh, and scans fds only when the set of sockets changed, and then only for
//! the new sockets: first among the owners that gained a socket last and the processes
//! that started since the last look, then through every process. Names, roles, containers
//! and units are read once per PID, by the same code as a plain run (`run::Details`).

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use super::state::Row;
use crate::container::Resolver;
use crate::judge::{Forwarding, Role};
use crate::lookup::{self, Lookup, Scope};
use crate::model::{Owner, Protocol, Socket, SocketKey};
use crate::output::words;
use crate::platform::{Backend, Os};
use crate::query::Query;
use crate::run::{self, Details};

/// What the view knows of the listeners, kept from one refresh to the next.
pub(crate) struct Survey {
    query: Query,
    found: Lookup,
    details: Details,
    containers: Resolver,
    forwarders: BTreeMap<u32, Forwarding>,
    privileged: bool,
    /// The owners, the one that gained a socket last first: where a new socket is looked
    /// for before every process is.
    recent: Vec<u32>,
    /// Every PID at the last look for owners, so that the processes started since are
    /// looked at first too.
    pids: BTreeSet<u32>,
}

/// How many of the owners that gained a socket last are looked at before every process.
const RECENT: usize = 8;

impl Survey {
    pub(crate) fn new(query: Query) -> Survey {
        Survey {
            query,
            found: Lookup::default(),
            details: Details::new(),
            containers: Resolver::new(),
            forwarders: BTreeMap::new(),
            privileged: Os::is_privileged(),
            recent: Vec::new(),
            pids: BTreeSet::new(),
        }
    }

    /// Looks at the socket table; when it changed, finds the owners of the new sockets
    /// and forgets the gone ones. Returns whether anything changed.
    pub(crate) fn refresh(&mut self) -> io::Result<bool> {
        let mut now = lookup::sockets_in(&self.query, Scope::Here)?;
        now.sort_by_key(|s| (s.port(), s.protocol, s.family, s.local, s.state, s.key));
        let ids = |sockets: &[Socket]| -> BTreeSet<(SocketKey, Protocol)> {
            sockets.iter().map(|s| (s.key, s.protocol)).collect()
        };
        let (before, after) = (ids(&self.found.sockets), ids(&now));
        // An owner that exited while its socket lives on (in a child it left it to) is
        // found by a listing of /proc, which costs less than a look at every owner.
        let pids: BTreeSet<u32> = Os::pids().into_iter().collect();
        let dead: Vec<u32> = self
            .found
            .ownership
            .owners
            .iter()
            .map(|o| o.pid)
            .filter(|pid| !pids.is_empty() && !pids.contains(pid))
            .collect();
        if before == after && dead.is_empty() && !self.found.sockets.is_empty() {
            return Ok(false);
        }
        let first = self.found.sockets.is_empty();
        let mut new: Vec<Socket> = now
            .iter()
            .filter(|s| !before.contains(&(s.key, s.protocol)))
            .cloned()
            .collect();
        // Forget what went: the exited owners (their sockets are looked for again), and
        // the sockets that are gone.
        let ownership = &mut self.found.ownership;
        for &pid in &dead {
            self.details.forget(pid);
            self.forwarders.remove(&pid);
        }
        let orphans: Vec<Socket> = ownership
            .owners
            .iter()
            .filter(|o| dead.contains(&o.pid))
            .flat_map(|o| o.sockets.iter().cloned())
            .collect();
        ownership.owners.retain(|o| !dead.contains(&o.pid));
        let held: BTreeSet<(SocketKey, Protocol)> = ownership
            .owners
            .iter()
            .flat_map(|o| o.sockets.iter().map(|s| (s.key, s.protocol)))
            .collect();
        for s in orphans {
            let id = (s.key, s.protocol);
            if after.contains(&id) && !held.contains(&id) && !new.iter().any(|n| n.key == s.key) {
                new.push(s);
            }
        }
        for owner in &mut ownership.owners {
            owner
                .sockets
                .retain(|s| after.contains(&(s.key, s.protocol)));
        }
        ownership.owners.retain(|o| !o.sockets.is_empty());
        ownership
            .hidden
            .retain(|s| after.contains(&(s.key, s.protocol)));
        let hidden: BTreeSet<SocketKey> = ownership.hidden.iter().map(|s| s.key).collect();
        ownership.reasons.retain(|k, _| hidden.contains(k));
        // Find who holds what came: the owners that gained a socket last first.
        let known: Vec<u32> = ownership.owners.iter().map(|o| o.pid).collect();
        self.recent.retain(|pid| known.contains(pid));
        let mut first_look: Vec<u32> = self.recent.iter().take(RECENT).copied().collect();
        if !first {
            first_look.extend(pids.difference(&self.pids).copied());
        }
        self.pids = pids;
        let mut came = lookup::owners_first_among(&new, &first_look)?;
        let me = std::process::id();
        came.owners.retain(|o| o.pid != me);
        let fresh: Vec<Owner> = came
            .owners
            .iter()
            .filter(|o| !known.contains(&o.pid))
            .cloned()
            .collect();
        for owner in came.owners {
            self.recent.retain(|&pid| pid != owner.pid);
            self.recent.insert(0, owner.pid);
            match ownership.owners.iter_mut().find(|o| o.pid == owner.pid) {
                Some(o) => {
                    o.sockets.extend(owner.sockets);
                    o.fds.extend(owner.fds);
                }
                None => ownership.owners.push(owner),
            }
        }
        ownership.owners.sort_by_key(|o| o.pid);
        ownership.hidden.extend(came.hidden);
        ownership.reasons.extend(came.reasons);
        ownership.incomplete |= came.incomplete;
        self.found.sockets = now;
        // Who the newcomers are: the same reading as a plain run's, once per PID.
        let forwarders =
            run::resolve_containers(&mut self.details, &mut self.containers, &fresh, true);
        self.forwarders.extend(forwarders);
        let alive: BTreeSet<u32> = self.found.ownership.owners.iter().map(|o| o.pid).collect();
        self.forwarders.retain(|pid, _| alive.contains(pid));
        run::assign_roles(
            &mut self.details,
            &self.found,
            self.forwarders.clone(),
            true,
        );
        for pid in &alive {
            self.details.describe(*pid);
        }
        if first || !self.found.ownership.hidden.is_empty() {
            self.details.learn_names(&self.found, self.privileged);
        }
        Ok(true)
    }

    /// One row per (port, protocol, owner), and one per socket with no visible owner.
    pub(crate) fn rows(&self) -> Vec<Row> {
        let known = self.details.known();
        let mut rows = Vec::new();
        for owner in &self.found.ownership.owners {
            let info = known.info(owner.pid);
            let text = |t: Option<&crate::model::Text>| t.map_or("?".into(), |t| t.to_string());
            let role = known.role(owner.pid).cloned().unwrap_or(Role::Holder);
            let container = match &role {
                Role::Forwarder(f) => f.container.as_ref(),
                _ => known.container(owner.pid),
            };
            let place = match container {
                Some(c) => words::container_cell(c),
                None => known
                    .context(owner.pid)
                    .and_then(|c| c.unit.as_ref())
                    .map(|u| u.name.to_string())
                    .unwrap_or_default(),
            };
            let reason =
                (role != Role::Holder).then(|| words::role_reason(&role, owner.pid, known));
            let mut seen = BTreeSet::new();
            for s in &owner.sockets {
                if seen.insert((s.port(), s.protocol)) {
                    rows.push(Row {
                        port: s.port(),
                        protocol: s.protocol,
                        pid: Some(owner.pid),
                        name: text(info.and_then(|i| i.shown_name())),
                        user: text(info.and_then(|i| i.user.as_ref())),
                        role: role.as_str(),
                        place: place.clone(),
                        reason: reason.clone(),
                    });
                }
            }
        }
        let mut seen = BTreeSet::new();
        for s in &self.found.ownership.hidden {
            if seen.insert((s.port(), s.protocol)) {
                let why = self.found.ownership.reasons.get(&s.key);
                rows.push(Row {
                    port: s.port(),
                    protocol: s.protocol,
                    pid: None,
                    name: "-".into(),
                    user: s.uid.map(|u| known.user(u).to_string()).unwrap_or_default(),
                    role: "hidden",
                    place: String::new(),
                    reason: Some(words::hidden_owner(why, known)),
                });
            }
        }
        rows.sort_by_key(|r| (r.port, r.protocol, r.pid));
        rows
    }

    /// The header: what is shown, and what is hidden and why.
    pub(crate) fn header(&self) -> String {
        let what = if self.query.ports.is_empty() {
            "every port".to_owned()
        } else {
            format!("ports {}", words::ports(&self.query.ports))
        };
        let protocols = match (self.query.tcp, self.query.udp) {
            (true, false) => "listening TCP",
            (false, true) => "bound UDP",
            _ => "listening TCP and bound UDP",
        };
        let count = self.found.sockets.len();
        let mut header = format!("rekt -i: {count} {protocols} sockets on {what}");
        let hidden = &self.found.ownership.hidden;
        if !hidden.is_empty() {
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for s in hidden {
                let why = self.found.ownership.reasons.get(&s.key);
                *reasons
                    .entry(words::hidden_owner(why, self.details.known()))
                    .or_default() += 1;
            }
            for (why, n) in reasons {
                let sockets = if n == 1 { "socket" } else { "sockets" };
                header.push_str(&format!("; {n} {sockets} hidden: {why}"));
            }
        }
        header
    }

    /// The details pane for one row: parents, unit, supervisor, container, every socket of
    /// its owner, and the reasons for what is hidden.
    pub(crate) fn describe(
        &mut self,
        port: u16,
        protocol: Protocol,
        pid: Option<u32>,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        match pid.and_then(|pid| self.found.ownership.owners.iter().find(|o| o.pid == pid)) {
            Some(owner) => {
                let pid = owner.pid;
                let context = self.details.describe(pid).clone();
                let known = self.details.known();
                lines.push(words::who(pid, known));
                if let Some(info) = known.info(pid) {
                    if let Some(user) = &info.user {
                        lines.push(format!("user: {user}"));
                    }
                    if !info.cmdline.is_empty() {
                        let cmd: Vec<String> = info.cmdline.iter().map(|a| a.to_string()).collect();
                        lines.push(format!("command: {}", cmd.join(" ")));
                    }
                }
                let role = known.role(pid).cloned().unwrap_or(Role::Holder);
                lines.push(format!("role: {}", role.as_str()));
                if role != Role::Holder {
                    lines.push(format!("spared: {}", words::role_reason(&role, pid, known)));
                }
                if !context.parents.is_empty() {
                    lines.push(format!(
                        "parents: {}",
                        words::chain(&context.parents, known)
                    ));
                }
                if let Some(unit) = &context.unit {
                    lines.push(format!("unit: {}", unit.name));
                }
                if let Some(s) = &context.supervisor {
                    lines.push(format!(
                        "supervisor: {}",
                        words::supervisor(s, context.unit.as_ref(), known)
                    ));
                }
                let container = match &role {
                    Role::Forwarder(f) => f.container.as_ref(),
                    _ => known.container(pid),
                };
                if let Some(c) = container {
                    lines.push(format!("container: {}", words::container(c)));
                }
                lines.push("sockets:".into());
                for s in &owner.sockets {
                    lines.push(format!("  {} {} {}", s.kind(), s.local, s.state));
                }
            }
            None => {
                lines.push(format!("port {port}/{protocol}: no visible owner"));
            }
        }
        let hidden = &self.found.ownership.hidden;
        if !hidden.is_empty() {
            lines.push("hidden:".into());
            for s in hidden {
                let why = self.found.ownership.reasons.get(&s.key);
                lines.push(format!(
                    "  {}/{}: {}",
                    s.port(),
                    s.protocol,
                    words::hidden_owner(why, self.details.known())
                ));
            }
        }
        lines
    }
}
