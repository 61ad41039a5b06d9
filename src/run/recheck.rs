//! After the signals: look the ports up again, judge them against the first verdict, and
//! watch the freed ones for as long as something could take them again (the settle watch).

use std::collections::BTreeSet;
use std::io;
use std::time::{Duration, Instant};

use super::{Run, without_rekt};
use crate::debug;
use crate::judge::{Recheck, Role, Settle, Verdict};
use crate::lookup::watch::{self, WatchEnd};
use crate::lookup::{Elsewhere, Lookup};
use crate::model::{Clock, Owner, ProcessInfo, ProcessStat, Socket};
use crate::platform::{Backend, Os};
use crate::supervision::{self, Look, Restarter, RestarterKind};

/// How long the check after a signal waits for an ended owner's sockets that the table no
/// longer gives a process (see `look_up_after`) to close.
const CLOSING: Duration = Duration::from_secs(1);

/// What the run knows of the moment it signalled, for the check after it.
pub(super) struct Signalled<'a> {
    /// The owners before the signal.
    pub(super) found: &'a Lookup,
    /// The owners it signalled.
    pub(super) targets: &'a [&'a Owner],
    /// Who could start them again, found while they still ran.
    pub(super) restarters: &'a [Restarter],
    /// The parents of the signalled owners (rekt's own callers left out): a newcomer one
    /// of them started is their restart.
    pub(super) parents: &'a BTreeSet<u32>,
    /// The moment of the signal, in process start-time units, where the OS has them.
    pub(super) clock: Option<Clock>,
    /// Whether any signal was sent at all.
    pub(super) sent: bool,
}

impl Run<'_> {
    /// Who could start each of `targets` again once it is gone, read while they still run.
    pub(super) fn restarters(&mut self, targets: &[&Owner]) -> Vec<Restarter> {
        if self.opts.settle.is_some() {
            return Vec::new();
        }
        let callers = supervision::callers();
        let ended: Vec<u32> = targets.iter().map(|o| o.pid).collect();
        let mut found: Vec<Restarter> = Vec::new();
        for owner in targets {
            let context = self.details.describe(owner.pid).clone();
            if Os::process_stat(owner.pid).is_none() {
                // Who started it cannot be read here: watch it as a busy parent would be.
                found.push(Restarter {
                    pid: None,
                    started: None,
                    kind: RestarterKind::Parent(supervision::Link::Other),
                });
                continue;
            }
            let mut look = Reader {
                details: &mut self.details,
            };
            for r in supervision::restarters(owner.pid, &context, &callers, &ended, &mut look) {
                if !found.contains(&r) {
                    found.push(r);
                }
            }
        }
        for r in &found {
            debug!(
                "settle: {} may start an owner again",
                self.describe_restarter(r)
            );
        }
        found
    }

    /// Looks the ports up again and judges them against `before`: survivors, newcomers
    /// that took a port meanwhile, and ports now free. A port that a signal freed is then
    /// watched while something could take it again, so that a supervisor's restart is
    /// caught. Owners rekt left alone on purpose (clients, unless asked for) are named as
    /// still holding their ports, but do not fail the run.
    pub(super) fn recheck(
        &mut self,
        before: &Verdict,
        signalled: &Signalled<'_>,
    ) -> io::Result<Verdict> {
        let found = signalled.found;
        let old: BTreeSet<u32> = found.ownership.owners.iter().map(|o| o.pid).collect();
        let (mut now, elsewhere) = self.look_up_after(&old, signalled.sent)?;
        without_rekt(&mut now);
        // The engines are asked again: a container rekt stopped publishes nothing now.
        self.containers.forget_listing();
        let spared: BTreeSet<u32> = found
            .ownership
            .owners
            .iter()
            .filter(|o| {
                self.details.role(o.pid) == Some(&Role::Client)
                    && self.details.container(o.pid).is_none()
                    && !self.opts.include.clients
            })
            .map(|o| o.pid)
            .collect();
        let clock = signalled.clock;
        let is_new = |pid: u32| started_after(pid, clock);
        let judge = |run: &mut Self, settle: Option<Settle<'_>>| {
            let resolver = &mut run.containers;
            Verdict::after(
                &run.opts.query,
                before,
                &now,
                &elsewhere,
                |port, protocol| super::published(resolver, port, protocol),
                Recheck {
                    owners: &old,
                    spared: spared.clone(),
                    started_after_signal: &is_new,
                    settle,
                },
            )
        };
        let first = judge(self, None);
        let free = first.freed();
        let after = if signalled.sent && !free.is_empty() {
            match self.settle(&free, signalled)? {
                Some((watched, taken)) => judge(
                    self,
                    Some(Settle {
                        watched: &free,
                        window: watched.lasted,
                        seen: &watched.seen,
                        taken: &taken,
                    }),
                ),
                None => first,
            }
        } else {
            first
        };
        self.describe_newcomers(&after, signalled.parents);
        let holders: Vec<u32> = after.holders().collect();
        for pid in holders {
            self.details.read(pid);
        }
        Ok(after)
    }

    /// Watches the freed ports `free` while something could take them again (or for
    /// `--settle`), and looks up the owners of what took them. `None`: no watch was needed.
    fn settle(
        &mut self,
        free: &[(u16, crate::model::Protocol)],
        signalled: &Signalled<'_>,
    ) -> io::Result<Option<(watch::Watched, Lookup)>> {
        let (query, scope) = (&self.opts.query, self.opts.scope);
        let watched = match self.opts.settle {
            Some(window) if window.is_zero() => {
                debug!("settle: no watch (--settle 0s)");
                return Ok(None);
            }
            Some(window) => {
                let mut watched = watch::settle(query, scope, free, |elapsed| {
                    Some(window.saturating_sub(elapsed))
                })?;
                if watched.ended == WatchEnd::TimeUp {
                    // Watched for the time asked, to the last look.
                    watched.lasted = window;
                }
                watched
            }
            None if signalled.restarters.is_empty() => {
                debug!("settle: no watch: nothing left that could start an owner again");
                return Ok(None);
            }
            None => {
                let ended: Vec<u32> = signalled.targets.iter().map(|o| o.pid).collect();
                let restarters = signalled.restarters;
                let mut look = Reader {
                    details: &mut self.details,
                };
                // The latest time each may still start an owner again, as last seen.
                let mut latest: Vec<Option<Duration>> =
                    vec![Some(Duration::ZERO); restarters.len()];
                watch::settle(query, scope, free, |elapsed| {
                    for (r, latest) in restarters.iter().zip(&mut latest) {
                        let Some(before) = *latest else { continue };
                        let now = if r.pid.is_none() && matches!(r.kind, RestarterKind::Parent(_)) {
                            // Its chain could not be read: a busy parent's time.
                            Some(supervision::BUSY)
                        } else {
                            let seen = r
                                .pid
                                .and_then(|pid| supervision::see(pid, &ended, &mut look));
                            supervision::until(r, seen.as_ref(), elapsed)
                        };
                        *latest = now.map(|now| now.max(before));
                    }
                    latest
                        .iter()
                        .flatten()
                        .max()
                        .map(|until| until.saturating_sub(elapsed))
                })?
            }
        };
        debug!(
            "settle: watched {} port(s) for {:?}: {}",
            free.len(),
            watched.lasted,
            match watched.ended {
                WatchEnd::AllTaken => "every port was taken again",
                WatchEnd::NothingLeft => "nothing that could start an owner again is left",
                WatchEnd::TimeUp => "its time was up",
            }
        );
        let sockets: Vec<Socket> = watched
            .seen
            .iter()
            .flat_map(|s| s.sockets.clone())
            .collect();
        let mut taken = Lookup {
            ownership: Os::owners(&sockets)?,
            ..Lookup::default()
        };
        if !taken.ownership.hidden.is_empty() {
            // A socket whose process exited before it could be named is gone now: it was
            // bound only briefly, not held by someone rekt cannot see.
            let ports: Vec<(u16, crate::model::Protocol)> =
                watched.seen.iter().map(|s| (s.port, s.protocol)).collect();
            let still = crate::lookup::sockets_on(query, scope, &ports)?;
            taken.ownership.hidden.retain(|h| {
                still
                    .iter()
                    .any(|s| s.key == h.key && s.protocol == h.protocol)
            });
        }
        without_rekt(&mut taken);
        Ok(Some((watched, taken)))
    }

    /// The lookup after a signal. An ended owner's socket can outlive it for a moment in a
    /// table that then names no process for it (PID 0 on Windows: wine lists a killed
    /// process's UDP socket so): while such a socket is there, look again, for up to
    /// [`CLOSING`]. One that stays is reported as it is, still holding the port.
    fn look_up_after(
        &self,
        old: &BTreeSet<u32>,
        signalled: bool,
    ) -> io::Result<(Lookup, Vec<Elsewhere>)> {
        let start = Instant::now();
        loop {
            let (now, elsewhere) = self.look_up()?;
            let closing =
                signalled && !old.contains(&0) && now.ownership.owners.iter().any(|o| o.pid == 0);
            if !closing || start.elapsed() >= CLOSING {
                return Ok((now, elsewhere));
            }
            debug!("recheck: a socket with no owning process; looking again");
            std::thread::sleep(watch::INTERVAL);
        }
    }

    /// Describes each newcomer that started after the signal (chain, unit, supervisor); one
    /// whose parent also started an owner that rekt ended, and that shows no other
    /// supervisor, was started again by that parent (a shell loop, a script that re-forks).
    /// A newcomer that was already running is named, never called a restart.
    fn describe_newcomers(&mut self, after: &Verdict, parents: &BTreeSet<u32>) {
        if !self.printer.wants_details(false, true) {
            return;
        }
        let newcomers: Vec<(u32, bool)> = after
            .entries()
            .flat_map(|p| p.newcomers().iter().map(|n| (n.pid, n.restarted)))
            .collect();
        for (pid, restarted) in newcomers {
            self.details.read(pid);
            let mut context = self.details.describe(pid).clone();
            if restarted
                && context.supervisor.is_none()
                && let Some(&parent) = context.parents.first()
                && parents.contains(&parent)
            {
                let info = self.details.read(parent).clone();
                context.supervisor = Some(supervision::restarter(parent, &info));
                self.details.set_context(pid, context);
            }
        }
    }

    /// `4100 (bash), a shell running a script`: a restarter, for `--debug`.
    fn describe_restarter(&mut self, r: &Restarter) -> String {
        let who = match r.pid {
            Some(pid) => {
                let name = self.details.read(pid).name.clone();
                match name {
                    Some(name) => format!("{pid} ({name})"),
                    None => pid.to_string(),
                }
            }
            None => "its service manager".into(),
        };
        let what = match r.kind {
            RestarterKind::Supervisor(kind) => format!("a supervisor ({})", kind.as_str()),
            RestarterKind::Parent(supervision::Link::Shell) => {
                "a shell that is not at a prompt".into()
            }
            RestarterKind::Parent(_) => "a parent that is still running".into(),
        };
        format!("{who}, {what},")
    }
}

/// Whether `pid` started at or after the moment `clock` was read (the signal). Unknown
/// (no clock, or the process is gone): taken as started after it, as a restart would be.
fn started_after(pid: u32, clock: Option<Clock>) -> bool {
    let started = Os::process_stat(pid).and_then(|s| s.started);
    match (started, clock) {
        (Some(started), Some(clock)) => started >= clock.now,
        _ => true,
    }
}

/// The run's cache and the platform, read by the rules of `supervision::restart`.
struct Reader<'a> {
    details: &'a mut super::Details,
}

impl Look for Reader<'_> {
    fn stat(&self, pid: u32) -> Option<ProcessStat> {
        Os::process_stat(pid)
    }

    fn children(&self, pid: u32) -> Vec<u32> {
        Os::children(pid)
    }

    fn info(&mut self, pid: u32) -> ProcessInfo {
        self.details.read(pid).clone()
    }

    fn age(&self, started: u64) -> Option<Duration> {
        Os::clock().map(|clock| clock.since(started))
    }
}
