//! The per-port verdict: for every port the user named, one status that answers "why can't
//! I use this port, and what frees it?". It is platform-neutral and pure: it reads a
//! [`Lookup`] (and the other network namespaces' hints) and decides; `output` words it and
//! `app` turns it into the exit code.
//!
//! "Free" means what the kernel means: a fresh bind() on the port succeeds (on 0.0.0.0 and
//! `[::]`; with `-4` on 0.0.0.0; with `-6` on `[::]` with IPV6_V6ONLY). So a port is held
//! by any socket that makes such a bind fail: listeners, connections, bound-only sockets,
//! dual-stack sockets under `-4`, and connections that linger after their owner closed
//! them (TIME_WAIT), which nothing can signal. The end-to-end tests check the verdict
//! against bind() itself.
//!
//! After a signal, the same verdict runs on a second lookup, with the first verdict
//! saying which ports were held to begin with.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::container::Container;
use crate::exit_codes::ExitCode;
use crate::lookup::watch::Sighting;
use crate::lookup::{Elsewhere, Lookup};
use crate::model::{BoundVisibility, Hidden, Lingering, NetNs, Protocol, Socket};
use crate::query::{PortSpec, Query};

/// The verdict on every port of a run: made whole by [`Verdict::before`] (after the lookup)
/// or [`Verdict::after`] (after a signal), and read-only from then on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// One per port spec, in the order given.
    specs: Vec<SpecVerdict>,
    /// After a signal: the owners rekt left alone on purpose (clients, unless asked for).
    /// A port that only they hold is still held, and said so, but it does not fail the
    /// run: leaving them was what was asked. `None` before a signal.
    after: Option<BTreeSet<u32>>,
}

/// The verdict on the ports of one spec (`8000`, `8000-8010/udp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpecVerdict {
    spec: PortSpec,
    /// Every (port, protocol) of the spec, by port and then TCP before UDP; consecutive
    /// free ports of one protocol are one entry (`first..=last`), everything else has an
    /// entry per port.
    ports: Vec<PortVerdict>,
}

/// The status of one port and protocol (or of a run of free ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortVerdict {
    first: u16,
    /// Equal to `first` except for a run of free ports.
    last: u16,
    protocol: Protocol,
    status: Status,
    /// After a signal: what the signal changed. `None` before one.
    after: Option<AfterSignal>,
}

/// What a port's verdict after a signal knows besides its status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AfterSignal {
    /// The port was held (or hidden) before the signal, so that the signal was meant to
    /// free it.
    pub(crate) was_held: bool,
    /// The holders that did not hold any of the ports before the signal.
    pub(crate) newcomers: Vec<Newcomer>,
    /// When the settle watch saw it taken again (by the newcomers, or by a socket bound
    /// only briefly): how long after it was found free.
    pub(crate) retaken_after: Option<Duration>,
    /// How long it was watched after it was found free (zero: not watched).
    pub(crate) watched: Duration,
}

/// A process that holds a port after the signal and did not before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Newcomer {
    pub(crate) pid: u32,
    /// Whether it started after the signal (a restart, by whoever started it) or was
    /// already running and only took the port then (never called a restart).
    pub(crate) restarted: bool,
}

impl PortVerdict {
    pub(crate) fn first(&self) -> u16 {
        self.first
    }

    pub(crate) fn last(&self) -> u16 {
        self.last
    }

    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub(crate) fn status(&self) -> &Status {
        &self.status
    }

    /// After a signal: what it changed.
    pub(crate) fn after(&self) -> Option<&AfterSignal> {
        self.after.as_ref()
    }

    /// Whether the port was held before the signal (false before a signal).
    pub(crate) fn was_held(&self) -> bool {
        self.after.as_ref().is_some_and(|a| a.was_held)
    }

    /// The newcomers that hold it after the signal.
    pub(crate) fn newcomers(&self) -> &[Newcomer] {
        self.after.as_ref().map_or(&[], |a| &a.newcomers)
    }
}

/// Why a port can or cannot be bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// Processes hold it: these PIDs (after a signal: survivors or newcomers), and
    /// perhaps also sockets whose owner cannot be seen.
    Held {
        pids: Vec<u32>,
        hidden: Vec<HiddenSocket>,
    },
    /// Only sockets whose owner cannot be seen hold it; each says why.
    Hidden { sockets: Vec<HiddenSocket> },
    /// No process holds it, but sockets that nothing can signal still make a plain bind()
    /// fail: connections lingering after a close (TIME_WAIT), until the kernel drops them.
    Blocked { lingering: Vec<Lingering> },
    /// Free here (a bind() succeeds), but held in other network namespaces: a container's
    /// server, which another tool would miss.
    Elsewhere { places: Vec<Place> },
    /// Free: a fresh bind() succeeds. `unseen` says when bound-but-not-listening TCP
    /// sockets could not be looked for (a kernel before 6.8, or the /proc/net fallback),
    /// so that one of them might still block it. `privileged`: nothing holds it, but
    /// rekt's user may not bind it (a port below `net.ipv4.ip_unprivileged_port_start`):
    /// the bind() that succeeds is a privileged user's.
    Free {
        unseen: Option<BoundVisibility>,
        privileged: bool,
    },
    /// No socket here, but running containers publish it with NAT rules alone (CNI
    /// portmap, a Kubernetes hostPort, a forwarder that was killed): a bind() succeeds, and
    /// traffic to the port still goes to the container. The containers hold it in truth.
    Published { containers: Vec<Container> },
    /// After a signal, the settle watch saw it bound again, but the socket was closed (or
    /// its process exited) before rekt could name its holder: something keeps binding it
    /// (a prober, a flapping restart). Not free to count on.
    BoundBriefly { sockets: Vec<Socket> },
    // "Retaken" is Held with newcomers (`AfterSignal::newcomers`).
}

/// A socket with no visible owner, and why, when the platform could tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HiddenSocket {
    pub(crate) socket: Socket,
    pub(crate) reason: Option<Hidden>,
}

/// Another network namespace where a port is held, and the PIDs holding it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) netns: NetNs,
    pub(crate) pids: Vec<u32>,
}

impl Status {
    fn is_free(&self) -> bool {
        matches!(self, Status::Free { .. })
    }

    /// Held, by a hidden owner too, or by a container that publishes it: what a signal is
    /// for.
    pub(crate) fn is_held(&self) -> bool {
        matches!(
            self,
            Status::Held { .. }
                | Status::Hidden { .. }
                | Status::Published { .. }
                | Status::BoundBriefly { .. }
        )
    }

    /// Some socket on it has an owner that cannot be seen.
    pub(crate) fn has_hidden(&self) -> bool {
        match self {
            Status::Held { hidden, .. } => !hidden.is_empty(),
            Status::Hidden { .. } => true,
            _ => false,
        }
    }
}

/// What the check after a signal knows besides the second lookup.
pub(crate) struct Recheck<'a> {
    /// The owners before the signal.
    pub(crate) owners: &'a BTreeSet<u32>,
    /// The owners left alone on purpose (clients, unless asked for).
    pub(crate) spared: BTreeSet<u32>,
    /// Whether a process started after the signal was sent (a restart), rather than
    /// running already.
    pub(crate) started_after_signal: &'a dyn Fn(u32) -> bool,
    /// What the settle watch saw, when it ran.
    pub(crate) settle: Option<Settle<'a>>,
}

/// What the settle watch saw on the ports it watched.
pub(crate) struct Settle<'a> {
    /// The ports it watched: free right after the signal.
    pub(crate) watched: &'a [(u16, Protocol)],
    /// How long it watched the ports that stayed free.
    pub(crate) window: Duration,
    /// What took a watched port, and when.
    pub(crate) seen: &'a [Sighting],
    /// The owners of the sockets it saw, looked up at once; its hidden sockets are the
    /// ones that still existed after that.
    pub(crate) taken: &'a Lookup,
}

impl Verdict {
    /// Judges every port of `query` from the lookup `found` (and `elsewhere`, the other
    /// network namespaces' sockets). `published` names the running containers that publish
    /// a port with no socket here; it is asked only about free ports.
    pub(crate) fn before(
        query: &Query,
        found: &Lookup,
        elsewhere: &[Elsewhere],
        published: impl FnMut(u16, Protocol) -> Vec<Container>,
    ) -> Verdict {
        let mut verdict = Verdict::judge(query, found, elsewhere, None);
        verdict.publish(published);
        verdict
    }

    /// Judges every port of `query` again after a signal, from the second lookup `now`,
    /// against the verdict `before` it: survivors, newcomers (restarts, or processes that
    /// were already running and took the port), ports now free, and what the settle watch
    /// saw on the ports it watched.
    pub(crate) fn after(
        query: &Query,
        before: &Verdict,
        now: &Lookup,
        elsewhere: &[Elsewhere],
        published: impl FnMut(u16, Protocol) -> Vec<Container>,
        recheck: Recheck<'_>,
    ) -> Verdict {
        let mut verdict = Verdict::judge(query, now, elsewhere, Some(before));
        verdict.publish(published);
        let is_new = recheck.started_after_signal;
        for p in verdict.entries_mut() {
            if let Status::Held { pids, .. } = &p.status {
                let newcomers = newcomers(pids, recheck.owners, is_new);
                p.after_mut().newcomers = newcomers;
            }
        }
        if let Some(settle) = &recheck.settle {
            verdict.settled(settle, recheck.owners, is_new);
        }
        verdict.after = Some(recheck.spared);
        verdict
    }

    /// The verdict without its finishing steps: after a signal (`before` given), every
    /// port also says whether it was held before.
    fn judge(
        query: &Query,
        found: &Lookup,
        elsewhere: &[Elsewhere],
        before: Option<&Verdict>,
    ) -> Verdict {
        let facts = ByPort::index(found, elsewhere, before);
        let specs = query
            .ports
            .iter()
            .map(|&spec| SpecVerdict {
                spec,
                ports: facts.judge_spec(query, spec, found.bound, before.is_some()),
            })
            .collect();
        Verdict {
            specs,
            after: before.map(|_| BTreeSet::new()),
        }
    }

    /// Marks the free ports that `published` says a running container publishes (with no
    /// socket here). A run of free ports is split around them.
    fn publish(&mut self, mut published: impl FnMut(u16, Protocol) -> Vec<Container>) {
        for spec in &mut self.specs {
            let mut ports = Vec::with_capacity(spec.ports.len());
            for p in spec.ports.drain(..) {
                if !matches!(p.status, Status::Free { .. }) {
                    ports.push(p);
                    continue;
                }
                let mut next = u32::from(p.first);
                for port in p.first..=p.last {
                    let containers = published(port, p.protocol);
                    if containers.is_empty() {
                        continue;
                    }
                    if u32::from(port) > next {
                        ports.push(PortVerdict {
                            first: next as u16,
                            last: port - 1,
                            ..p.clone()
                        });
                    }
                    ports.push(PortVerdict {
                        first: port,
                        last: port,
                        status: Status::Published { containers },
                        ..p.clone()
                    });
                    next = u32::from(port) + 1;
                }
                if next <= u32::from(p.last) {
                    ports.push(PortVerdict {
                        first: next as u16,
                        ..p
                    });
                }
            }
            spec.ports = ports;
        }
    }

    /// Every container that publishes a port of the verdict with no socket here.
    pub(crate) fn published(&self) -> Vec<&Container> {
        let mut all: Vec<&Container> = Vec::new();
        for p in self.entries() {
            if let Status::Published { containers } = &p.status {
                for c in containers {
                    if !all.iter().any(|a| a.id == c.id) {
                        all.push(c);
                    }
                }
            }
        }
        all
    }

    /// The ports that a signal freed: held before it, free here now. The settle watch
    /// watches these.
    pub(crate) fn freed(&self) -> Vec<(u16, Protocol)> {
        self.entries()
            .filter(|p| {
                p.was_held() && matches!(p.status, Status::Free { .. } | Status::Elsewhere { .. })
            })
            .map(|p| (p.first, p.protocol))
            .collect()
    }

    /// The settle watch's findings: each watched port that was seen taken is held again,
    /// by newcomers; or hidden, by sockets whose owners cannot be seen; or was bound only
    /// briefly, by a socket gone with its process before it could be named. The rest were
    /// watched for the whole window.
    fn settled(&mut self, settle: &Settle<'_>, old: &BTreeSet<u32>, is_new: &dyn Fn(u32) -> bool) {
        let taken = settle.taken;
        for p in self.entries_mut() {
            if !settle.watched.contains(&(p.first, p.protocol)) {
                continue;
            }
            p.after_mut().watched = settle.window;
            let Some(sighting) = settle
                .seen
                .iter()
                .find(|x| (x.port, x.protocol) == (p.first, p.protocol))
            else {
                continue;
            };
            let on_port = |s: &Socket| s.port() == p.first && s.protocol == p.protocol;
            let pids: Vec<u32> = taken
                .ownership
                .owners
                .iter()
                .filter(|o| o.sockets.iter().any(on_port))
                .map(|o| o.pid)
                .collect();
            let hidden: Vec<HiddenSocket> = taken
                .ownership
                .hidden
                .iter()
                .filter(|s| on_port(s))
                .map(|s| HiddenSocket {
                    socket: s.clone(),
                    reason: taken.ownership.reasons.get(&s.key).cloned(),
                })
                .collect();
            let after = p.after_mut();
            after.newcomers = newcomers(&pids, old, is_new);
            after.retaken_after = Some(sighting.after);
            after.watched = sighting.after;
            p.status = if !pids.is_empty() {
                Status::Held { pids, hidden }
            } else if !hidden.is_empty() {
                Status::Hidden { sockets: hidden }
            } else {
                // Its socket closed, and its process went, before they could be named.
                Status::BoundBriefly {
                    sockets: sighting.sockets.clone(),
                }
            };
        }
    }

    /// The exit code the ports call for: the worst over the specs, each judged as one
    /// question (a range asks "what holds any of these?"):
    /// - a socket whose owner cannot be seen: 3 (and after a signal, any port still
    ///   held: 3);
    /// - before a signal: 0 when something holds one of the spec's ports, else 1;
    /// - after a signal: 0 when one of them was held and all are now free (or only
    ///   lingering connections block them, which no signal can end), else 1 (nothing was
    ///   held there to begin with).
    pub(crate) fn exit_code(&self) -> ExitCode {
        let none = BTreeSet::new();
        let spared = self.after.as_ref();
        self.specs
            .iter()
            .map(|s| s.exit_code(spared.is_some(), spared.unwrap_or(&none)))
            .max()
            .unwrap_or(ExitCode::NothingFound)
    }

    /// Whether this verdict follows a signal.
    pub(crate) fn after_signal(&self) -> bool {
        self.after.is_some()
    }

    /// After a signal, the owners left alone on purpose.
    pub(crate) fn spared(&self) -> Option<&BTreeSet<u32>> {
        self.after.as_ref()
    }

    /// The verdict on each spec, in the order given.
    pub(crate) fn specs(&self) -> &[SpecVerdict] {
        &self.specs
    }

    /// Every PID the verdict names as holding a port here.
    pub(crate) fn holders(&self) -> impl Iterator<Item = u32> + '_ {
        self.entries()
            .flat_map(|p| match &p.status {
                Status::Held { pids, .. } => pids.as_slice(),
                _ => &[],
            })
            .copied()
    }

    /// Every entry of every spec.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &PortVerdict> {
        self.specs.iter().flat_map(|s| &s.ports)
    }

    fn entries_mut(&mut self) -> impl Iterator<Item = &mut PortVerdict> {
        self.specs.iter_mut().flat_map(|s| &mut s.ports)
    }
}

impl PortVerdict {
    fn after_mut(&mut self) -> &mut AfterSignal {
        self.after.get_or_insert_with(AfterSignal::default)
    }
}

impl SpecVerdict {
    /// The spec as the user wrote it.
    pub(crate) fn spec(&self) -> &PortSpec {
        &self.spec
    }

    pub(crate) fn ports(&self) -> &[PortVerdict] {
        &self.ports
    }

    fn exit_code(&self, after_signal: bool, spared: &BTreeSet<u32>) -> ExitCode {
        let any = |f: &dyn Fn(&PortVerdict) -> bool| self.ports.iter().any(f);
        // After a signal, a port that only spared owners hold was left held on purpose.
        let still_held = |p: &PortVerdict| match &p.status {
            Status::Held { pids, .. } => !pids.iter().all(|pid| spared.contains(pid)),
            status => status.is_held(),
        };
        if any(&|p| p.status.has_hidden()) || (after_signal && any(&still_held)) {
            ExitCode::Partial
        } else if (after_signal && any(&|p| p.was_held()))
            || (!after_signal && any(&|p| p.status.is_held()))
        {
            ExitCode::Success
        } else {
            ExitCode::NothingFound
        }
    }

    /// Whether every port of the spec is free and none was held before a signal: the spec
    /// is answered by one line (`port 8000 is free`).
    pub(crate) fn all_free(&self) -> bool {
        self.ports
            .iter()
            .all(|p| p.status.is_free() && !p.was_held())
    }

    /// The port numbers of the spec that need no line of their own: free in every
    /// protocol and not held before a signal.
    pub(crate) fn quiet_ports(&self) -> u32 {
        let loud: BTreeSet<u16> = self
            .ports
            .iter()
            .filter(|p| !p.status.is_free() || p.was_held())
            .map(|p| p.first)
            .collect();
        u32::from(self.spec.last - self.spec.first) + 1 - loud.len() as u32
    }

    /// Whether the bound-only sockets could not be looked for on a free TCP port of the
    /// spec, and why.
    pub(crate) fn unseen(&self) -> Option<BoundVisibility> {
        self.ports.iter().find_map(|p| match p.status {
            Status::Free { unseen, .. } => unseen,
            _ => None,
        })
    }
}

/// The lookup's sockets, by (port, protocol).
#[derive(Default)]
struct ByPort {
    /// The ports below this one need privileges that rekt's user lacks.
    privileged_below: Option<u16>,
    holders: BTreeMap<(u16, Protocol), Vec<u32>>,
    hidden: BTreeMap<(u16, Protocol), Vec<HiddenSocket>>,
    lingering: BTreeMap<(u16, Protocol), Vec<Lingering>>,
    elsewhere: BTreeMap<(u16, Protocol), Vec<Place>>,
    was_held: BTreeSet<(u16, Protocol)>,
}

impl ByPort {
    fn index(found: &Lookup, elsewhere: &[Elsewhere], before: Option<&Verdict>) -> ByPort {
        let mut facts = ByPort {
            privileged_below: found.privileged_below,
            ..ByPort::default()
        };
        for owner in &found.ownership.owners {
            for s in &owner.sockets {
                let pids = facts.holders.entry((s.port(), s.protocol)).or_default();
                if !pids.contains(&owner.pid) {
                    pids.push(owner.pid);
                }
            }
        }
        for pids in facts.holders.values_mut() {
            pids.sort_unstable();
        }
        for s in &found.ownership.hidden {
            facts
                .hidden
                .entry((s.port(), s.protocol))
                .or_default()
                .push(HiddenSocket {
                    socket: s.clone(),
                    reason: found.ownership.reasons.get(&s.key).cloned(),
                });
        }
        for l in &found.lingering {
            facts
                .lingering
                .entry((l.socket.port(), l.socket.protocol))
                .or_default()
                .push(l.clone());
        }
        for e in elsewhere {
            let ports: BTreeSet<(u16, Protocol)> =
                e.sockets.iter().map(|s| (s.port(), s.protocol)).collect();
            for key in ports {
                // Only this port's holders there, not those of the namespace's other ports.
                let pids = e
                    .owners
                    .iter()
                    .filter(|o| o.sockets.iter().any(|s| (s.port(), s.protocol) == key))
                    .map(|o| o.pid)
                    .collect();
                facts.elsewhere.entry(key).or_default().push(Place {
                    netns: e.netns.clone(),
                    pids,
                });
            }
        }
        if let Some(before) = before {
            for p in before.entries().filter(|p| p.status.is_held()) {
                for port in p.first..=p.last {
                    facts.was_held.insert((port, p.protocol));
                }
            }
        }
        facts
    }

    /// The status of one port and protocol.
    fn status(&self, key: (u16, Protocol), bound: BoundVisibility) -> Status {
        let hidden = self.hidden.get(&key).cloned().unwrap_or_default();
        if let Some(pids) = self.holders.get(&key) {
            return Status::Held {
                pids: pids.clone(),
                hidden,
            };
        }
        if !hidden.is_empty() {
            return Status::Hidden { sockets: hidden };
        }
        if let Some(lingering) = self.lingering.get(&key) {
            return Status::Blocked {
                lingering: lingering.clone(),
            };
        }
        if let Some(places) = self.elsewhere.get(&key) {
            return Status::Elsewhere {
                places: places.clone(),
            };
        }
        let unseen = (key.1 == Protocol::Tcp
            && matches!(
                bound,
                BoundVisibility::OldKernel | BoundVisibility::TextTables
            ))
        .then_some(bound);
        Status::Free {
            unseen,
            privileged: self.privileged_below.is_some_and(|floor| key.0 < floor),
        }
    }

    /// The ports of `spec` that have anything to say about them, for `protocol`.
    fn notable(&self, spec: PortSpec, protocol: Protocol) -> BTreeSet<u16> {
        // Keys sort by port first, so the range holds the other protocol's too.
        let range = (spec.first, protocol)..=(spec.last, protocol);
        let mut keys: BTreeSet<(u16, Protocol)> = BTreeSet::new();
        keys.extend(self.holders.range(range.clone()).map(|(k, _)| *k));
        keys.extend(self.hidden.range(range.clone()).map(|(k, _)| *k));
        keys.extend(self.lingering.range(range.clone()).map(|(k, _)| *k));
        keys.extend(self.elsewhere.range(range.clone()).map(|(k, _)| *k));
        keys.extend(self.was_held.range(range));
        keys.into_iter()
            .filter(|k| k.1 == protocol)
            .map(|k| k.0)
            .collect()
    }

    fn judge_spec(
        &self,
        query: &Query,
        spec: PortSpec,
        bound: BoundVisibility,
        after_signal: bool,
    ) -> Vec<PortVerdict> {
        let after = |was_held: bool| {
            after_signal.then(|| AfterSignal {
                was_held,
                ..AfterSignal::default()
            })
        };
        let mut out = Vec::new();
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            if !query.wants_protocol(protocol) || spec.protocol.is_some_and(|p| p != protocol) {
                continue;
            }
            // A run of free ports, split where the ports that need privilege end.
            let free = |out: &mut Vec<PortVerdict>, first: u16, last: u16| {
                let mut runs = vec![(first, last)];
                if let Some(floor) = self.privileged_below
                    && first < floor
                    && floor <= last
                {
                    runs = vec![(first, floor - 1), (floor, last)];
                }
                for (first, last) in runs {
                    out.push(PortVerdict {
                        first,
                        last,
                        protocol,
                        status: self.status((first, protocol), bound),
                        after: after(false),
                    });
                }
            };
            let mut next = u32::from(spec.first);
            for port in self.notable(spec, protocol) {
                if u32::from(port) > next {
                    free(&mut out, next as u16, port - 1);
                }
                out.push(PortVerdict {
                    first: port,
                    last: port,
                    protocol,
                    status: self.status((port, protocol), bound),
                    after: after(self.was_held.contains(&(port, protocol))),
                });
                next = u32::from(port) + 1;
            }
            if next <= u32::from(spec.last) {
                free(&mut out, next as u16, spec.last);
            }
        }
        out.sort_by_key(|p| (p.first, p.protocol));
        out
    }
}

/// The holders in `pids` that were not `old` owners, each with whether it started after
/// the signal. PID 0 names no process (Windows' System Idle Process, for a socket whose
/// owner is gone): it is never one that came.
fn newcomers(pids: &[u32], old: &BTreeSet<u32>, is_new: &dyn Fn(u32) -> bool) -> Vec<Newcomer> {
    pids.iter()
        .copied()
        .filter(|&p| p != 0 && !old.contains(&p))
        .map(|pid| Newcomer {
            pid,
            restarted: is_new(pid),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::socket;
    use crate::model::{Owner, Ownership, State};
    use std::time::Duration;

    fn owner(pid: u32, sockets: Vec<Socket>) -> Owner {
        Owner {
            pid,
            sockets,
            fds: vec![3],
        }
    }

    fn query(specs: &[&str]) -> Query {
        Query::ports(specs.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn lookup(owners: Vec<Owner>, hidden: Vec<Socket>, lingering: Vec<Lingering>) -> Lookup {
        Lookup {
            sockets: owners
                .iter()
                .flat_map(|o| o.sockets.clone())
                .chain(hidden.clone())
                .collect(),
            ownership: Ownership {
                owners,
                hidden,
                ..Ownership::default()
            },
            lingering,
            bound: BoundVisibility::Shown,
            ..Lookup::default()
        }
    }

    fn statuses(v: &Verdict) -> Vec<(u16, u16, Protocol, &'static str, bool)> {
        v.entries()
            .map(|p| {
                let kind = match p.status {
                    Status::Held { .. } => "held",
                    Status::Hidden { .. } => "hidden",
                    Status::Blocked { .. } => "blocked",
                    Status::Elsewhere { .. } => "elsewhere",
                    Status::Published { .. } => "published",
                    Status::Free { .. } => "free",
                    Status::BoundBriefly { .. } => "bound_briefly",
                };
                (p.first, p.last, p.protocol, kind, p.was_held())
            })
            .collect()
    }

    use Protocol::{Tcp, Udp};

    #[test]
    fn every_port_gets_a_status_and_free_runs_are_merged() {
        let found = lookup(
            vec![owner(10, vec![socket(Tcp, 8003, State::Listen, 1)])],
            vec![],
            vec![],
        );
        let v = Verdict::judge(&query(&["8000-8005", "9000/udp"]), &found, &[], None);
        assert_eq!(
            statuses(&v),
            [
                (8000, 8002, Tcp, "free", false),
                (8000, 8005, Udp, "free", false),
                (8003, 8003, Tcp, "held", false),
                (8004, 8005, Tcp, "free", false),
                (9000, 9000, Udp, "free", false),
            ]
        );
        assert_eq!(v.specs[0].quiet_ports(), 5);
        assert!(!v.specs[0].all_free() && v.specs[1].all_free());
        // The range is held (one of its ports is); 9000/udp is not: the worst is 1.
        assert_eq!(
            v.specs[0].exit_code(false, &BTreeSet::new()),
            ExitCode::Success
        );
        assert_eq!(v.exit_code(), ExitCode::NothingFound);
        assert_eq!(v.holders().collect::<Vec<_>>(), [10]);
    }

    #[test]
    fn a_port_held_by_one_protocol_is_held() {
        let found = lookup(
            vec![owner(10, vec![socket(Udp, 53, State::Unconnected, 1)])],
            vec![],
            vec![],
        );
        let v = Verdict::judge(&query(&["53"]), &found, &[], None);
        assert_eq!(v.exit_code(), ExitCode::Success);
        assert_eq!(v.specs[0].quiet_ports(), 0);
    }

    #[test]
    fn statuses_come_in_order_of_what_binds_can_do() {
        let tw = Lingering {
            socket: socket(Tcp, 8350, State::TimeWait, 0),
            ends_in: Some(Duration::from_secs(42)),
        };
        let ns = NetNs {
            inode: 4026532281,
            name: None,
            member: Some(5120),
        };
        let sockets = vec![
            socket(Tcp, 8140, State::Listen, 9),
            socket(Tcp, 8350, State::Listen, 8),
        ];
        let elsewhere = [Elsewhere {
            netns: ns.clone(),
            owners: vec![owner(5120, sockets.clone())],
            sockets,
        }];
        let found = lookup(
            vec![owner(10, vec![socket(Tcp, 8000, State::Listen, 1)])],
            vec![
                socket(Tcp, 8000, State::Listen, 2),
                socket(Tcp, 8001, State::Listen, 3),
            ],
            vec![tw.clone()],
        );
        let v = Verdict::judge(
            &query(&["8000/tcp", "8001/tcp", "8350/tcp", "8140/tcp", "8143/tcp"]),
            &found,
            &elsewhere,
            None,
        );
        let kinds: Vec<&str> = statuses(&v).iter().map(|s| s.3).collect();
        assert_eq!(kinds, ["held", "hidden", "blocked", "elsewhere", "free"]);
        assert!(matches!(&v.specs[0].ports[0].status,
                Status::Held { pids, hidden } if pids == &[10] && hidden.len() == 1));
        assert_eq!(
            v.specs[2].ports[0].status,
            Status::Blocked {
                lingering: vec![tw]
            }
        );
        assert_eq!(
            v.specs[3].ports[0].status,
            Status::Elsewhere {
                places: vec![Place {
                    netns: ns,
                    pids: vec![5120]
                }]
            }
        );
        // Hidden anywhere: 3; nothing else is worse.
        assert_eq!(v.exit_code(), ExitCode::Partial);
        let codes: Vec<ExitCode> = v
            .specs
            .iter()
            .map(|s| s.exit_code(false, &BTreeSet::new()))
            .collect();
        use ExitCode::*;
        assert_eq!(
            codes,
            [Partial, Partial, NothingFound, NothingFound, NothingFound]
        );
    }

    #[test]
    fn bound_only_sockets_unseen_are_said_on_free_tcp_ports() {
        let mut found = lookup(vec![], vec![], vec![]);
        found.bound = BoundVisibility::OldKernel;
        let v = Verdict::judge(&query(&["8000"]), &found, &[], None);
        let unseen: Vec<Option<BoundVisibility>> = v
            .entries()
            .map(|p| match p.status {
                Status::Free { unseen, .. } => unseen,
                _ => panic!(),
            })
            .collect();
        assert_eq!(unseen, [Some(BoundVisibility::OldKernel), None]);
        assert_eq!(v.specs[0].unseen(), Some(BoundVisibility::OldKernel));
    }

    #[test]
    fn a_socket_left_to_pid_0_after_a_signal_is_held_but_no_newcomer() {
        let q = query(&["8146/udp"]);
        let before = lookup(
            vec![owner(10, vec![socket(Udp, 8146, State::Unconnected, 1)])],
            vec![],
            vec![],
        );
        let before = Verdict::judge(&q, &before, &[], None);
        let now = lookup(
            vec![owner(0, vec![socket(Udp, 8146, State::Unconnected, 1)])],
            vec![],
            vec![],
        );
        let old = BTreeSet::from([10]);
        let after = Verdict::after(&q, &before, &now, &[], |_, _| vec![], recheck(&old, None));
        let port = after.entries().next().unwrap();
        assert!(matches!(&port.status, Status::Held { pids, .. } if pids == &[0]));
        assert!(port.newcomers().is_empty(), "PID 0 is no process that came");
    }

    /// What the check after a signal knows, where PIDs 100 and up started after it.
    fn recheck<'a>(old: &'a BTreeSet<u32>, settle: Option<Settle<'a>>) -> Recheck<'a> {
        Recheck {
            owners: old,
            spared: BTreeSet::new(),
            started_after_signal: &|pid| pid >= 100,
            settle,
        }
    }

    #[test]
    fn a_newcomer_is_a_restart_only_when_it_started_after_the_signal() {
        let q = query(&["8150/tcp"]);
        let held = |pid| {
            lookup(
                vec![owner(pid, vec![socket(Tcp, 8150, State::Listen, 1)])],
                vec![],
                vec![],
            )
        };
        let before = Verdict::before(&q, &held(10), &[], |_, _| vec![]);
        let old = BTreeSet::from([10]);
        for (pid, restarted) in [(120, true), (20, false)] {
            let after = Verdict::after(
                &q,
                &before,
                &held(pid),
                &[],
                |_, _| vec![],
                recheck(&old, None),
            );
            let port = after.entries().next().unwrap();
            assert_eq!(port.newcomers(), [Newcomer { pid, restarted }]);
            assert_eq!(after.exit_code(), ExitCode::Partial);
        }
        // The survivor is no newcomer.
        let after = Verdict::after(
            &q,
            &before,
            &held(10),
            &[],
            |_, _| vec![],
            recheck(&old, None),
        );
        assert!(after.entries().next().unwrap().newcomers().is_empty());
    }

    #[test]
    fn the_settle_watch_tells_a_restart_from_a_brief_bind() {
        let q = query(&["8151/tcp", "8152/tcp"]);
        let before = lookup(
            vec![
                owner(10, vec![socket(Tcp, 8151, State::Listen, 1)]),
                owner(11, vec![socket(Tcp, 8152, State::Listen, 2)]),
            ],
            vec![],
            vec![],
        );
        let before = Verdict::before(&q, &before, &[], |_, _| vec![]);
        let now = lookup(vec![], vec![], vec![]);
        let old = BTreeSet::from([10, 11]);
        let first = Verdict::after(&q, &before, &now, &[], |_, _| vec![], recheck(&old, None));
        let watched = first.freed();
        assert_eq!(watched, [(8151, Tcp), (8152, Tcp)]);
        // 8151 was taken by a restart; 8152 by a socket gone, with its process, at once.
        let restart = socket(Tcp, 8151, State::Listen, 3);
        let brief = socket(Tcp, 8152, State::Listen, 4);
        let seen = [
            Sighting {
                port: 8151,
                protocol: Tcp,
                after: Duration::from_millis(120),
                sockets: vec![restart.clone()],
            },
            Sighting {
                port: 8152,
                protocol: Tcp,
                after: Duration::from_millis(40),
                sockets: vec![brief],
            },
        ];
        let taken = lookup(vec![owner(150, vec![restart])], vec![], vec![]);
        let settle = Settle {
            watched: &watched,
            window: Duration::from_secs(2),
            seen: &seen,
            taken: &taken,
        };
        let after = Verdict::after(
            &q,
            &before,
            &now,
            &[],
            |_, _| vec![],
            recheck(&old, Some(settle)),
        );
        let ports: Vec<&PortVerdict> = after.entries().collect();
        assert_eq!(
            ports[0].newcomers(),
            [Newcomer {
                pid: 150,
                restarted: true
            }]
        );
        assert_eq!(
            ports[0].after().unwrap().retaken_after,
            Some(Duration::from_millis(120))
        );
        assert!(
            matches!(ports[1].status(), Status::BoundBriefly { .. }),
            "{:?}",
            ports[1]
        );
        assert!(ports[1].newcomers().is_empty());
        // A brief bind does not leave the port free to count on.
        assert_eq!(after.exit_code(), ExitCode::Partial);
    }

    #[test]
    fn after_a_signal_each_port_is_judged_against_the_first_verdict() {
        let q = query(&["8142", "8140", "8143", "8144/tcp", "8145/tcp"]);
        let before = lookup(
            vec![
                owner(10, vec![socket(Tcp, 8142, State::Listen, 1)]),
                owner(11, vec![socket(Tcp, 8144, State::Listen, 2)]),
                owner(12, vec![socket(Tcp, 8145, State::Listen, 3)]),
            ],
            vec![],
            vec![],
        );
        let before = Verdict::judge(&q, &before, &[], None);
        assert_eq!(before.exit_code(), ExitCode::NothingFound);
        let tw = Lingering {
            socket: socket(Tcp, 8145, State::TimeWait, 0),
            ends_in: None,
        };
        // 8142 is free now, 8144 still held, 8145 left in TIME_WAIT.
        let now = lookup(
            vec![owner(11, vec![socket(Tcp, 8144, State::Listen, 2)])],
            vec![],
            vec![tw],
        );
        let after = Verdict::judge(&q, &now, &[], Some(&before));
        assert!(after.after_signal());
        assert_eq!(
            statuses(&after),
            [
                (8142, 8142, Tcp, "free", true),
                (8142, 8142, Udp, "free", false),
                (8140, 8140, Tcp, "free", false),
                (8140, 8140, Udp, "free", false),
                (8143, 8143, Tcp, "free", false),
                (8143, 8143, Udp, "free", false),
                (8144, 8144, Tcp, "held", true),
                (8145, 8145, Tcp, "blocked", true),
            ]
        );
        let codes: Vec<ExitCode> = after
            .specs
            .iter()
            .map(|s| s.exit_code(true, &BTreeSet::new()))
            .collect();
        use ExitCode::*;
        // Freed: 0; nothing held there before: 1; still held: 3; only TIME_WAIT left by
        // the owner that was ended: 0.
        assert_eq!(
            codes,
            [Success, NothingFound, NothingFound, Partial, Success]
        );
        assert_eq!(after.exit_code(), Partial);
    }

    #[test]
    fn each_port_held_elsewhere_names_only_its_own_holders() {
        let q = query(&["28101/tcp", "28102/tcp"]);
        let a = owner(41, vec![socket(Tcp, 28101, State::Listen, 1)]);
        let b = owner(42, vec![socket(Tcp, 28102, State::Listen, 2)]);
        let there = Elsewhere {
            netns: NetNs {
                inode: 4026532281,
                name: None,
                member: Some(41),
            },
            sockets: [a.sockets.clone(), b.sockets.clone()].concat(),
            owners: vec![a, b],
        };
        let v = Verdict::before(&q, &lookup(vec![], vec![], vec![]), &[there], |_, _| vec![]);
        let pids: Vec<Vec<u32>> = v
            .entries()
            .map(|p| match p.status() {
                Status::Elsewhere { places } => places[0].pids.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(pids, [vec![41], vec![42]]);
    }

    #[test]
    fn a_published_port_splits_its_run_of_free_ports() {
        let q = query(&["8000-8010/tcp"]);
        let mut v = Verdict::judge(&q, &lookup(vec![], vec![], vec![]), &[], None);
        assert_eq!(statuses(&v), [(8000, 8010, Tcp, "free", false)]);
        let web = Container {
            runtime: crate::container::Runtime::Docker,
            id: "6e29ed62a3f7".into(),
            name: Some(crate::model::Text::from("web")),
            image: None,
            restart: None,
            pod: None,
            engine: None,
            unanswered: None,
        };
        v.publish(|port, _| {
            if port == 8004 {
                vec![web.clone()]
            } else {
                vec![]
            }
        });
        assert_eq!(
            statuses(&v),
            [
                (8000, 8003, Tcp, "free", false),
                (8004, 8004, Tcp, "published", false),
                (8005, 8010, Tcp, "free", false),
            ]
        );
        assert_eq!(v.published(), [&web]);
        // Published is held: something (the container) holds the port.
        assert_eq!(v.exit_code(), ExitCode::Success);
    }
}
