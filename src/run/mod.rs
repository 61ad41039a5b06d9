//! One run of rekt, step by step as the data flows: look up, decide roles, show, judge
//! each port, plan, pin, ask, signal, look up and judge again, watch the freed ports
//! settle, and decide the exit code. What is said at each step, and how, is the printer's
//! business (`output`); this module only decides what happened.

mod details;
mod options;

pub(crate) use details::Details;
pub(crate) use options::Options;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use crate::container::{self, Container, EndOutcome, Ending, Job, Resolver};
use crate::exit_codes::ExitCode;
use crate::judge::{self, Circumstances, Decision, Forwarding, Role, Status, Verdict};
use crate::kill::{self, Outcome, Pinned, Policy, Report};
use crate::lookup::watch;
use crate::lookup::{Elsewhere, Lookup, Scope, Search, lookup_in, lookup_with_hints};
use crate::model::{Owner, Protocol, Socket};
use crate::output::{self, Format, Printer};
use crate::platform::{Backend, Os};
use crate::supervision;

/// Runs `opts` to the end and returns the exit code.
pub(crate) fn run(opts: &Options) -> ExitCode {
    let mut printer = output::printer(opts.format);
    let code = Run {
        opts,
        printer: printer.as_mut(),
        details: Details::new(),
        containers: Resolver::new(),
    }
    .run();
    printer.finish(code)
}

/// The state of one run: what was asked, where it is said, and what is known of the
/// processes so far.
struct Run<'a> {
    opts: &'a Options,
    printer: &'a mut dyn Printer,
    /// Process details, roles and contexts, read once per PID and only when they will be
    /// shown.
    details: Details,
    /// The container engines, asked only when an owner is a forwarder or runs in a
    /// container, or a port is free and an engine socket exists.
    containers: Resolver,
}

impl Run<'_> {
    fn run(&mut self) -> ExitCode {
        let (mut found, elsewhere) = match self.look_up() {
            Ok(found) => found,
            Err(e) => {
                self.printer.lookup_failed(&e);
                return ExitCode::Error;
            }
        };
        without_rekt(&mut found);
        let forwarders = self.resolve_containers(&found);
        self.assign_roles(&found, forwarders);
        self.show(&found);
        if self.opts.is_list() {
            return ExitCode::Success;
        }
        let mut before = Verdict::judge(&self.opts.query, &found, &elsewhere, None);
        self.find_published(&mut before);
        let Some(policy) = self.opts.action else {
            self.printer.verdict(&before, self.details.known());
            return before.exit_code();
        };
        if found.ownership.owners.is_empty() && before.published().is_empty() {
            // Nothing to signal: the lookup's verdict is the answer.
            self.printer.verdict(&before, self.details.known());
            return before.exit_code();
        }
        pause_for_tests();
        let (targets, containers, mut reports) = self.plan(&found.ownership.owners, &before);
        // Who started each owner, known before it is signalled: the newcomer that takes the
        // port later is recognised by it.
        let parents: BTreeSet<u32> = targets
            .iter()
            .filter_map(|o| Os::process_stat(o.pid)?.parent)
            .filter(|&p| p != 1)
            .collect();
        let (pinned, early) = kill::pin(targets.iter().copied());
        for report in &early {
            self.printer.skipped(report, self.details.known());
        }
        reports.extend(early);
        let pinned = self.ask(pinned, policy, &mut reports);
        let mut containers = self.ask_containers(containers, policy);
        let pinned = match self.confirm_many(pinned, containers.len(), &mut reports) {
            Ok(pinned) => pinned,
            Err(code) => {
                reports.sort_by_key(|r| r.pid);
                self.printer.outcomes(&reports, self.details.known());
                return code;
            }
        };
        let ended = self.end_containers(&mut containers, &found, policy);
        reports.extend(self.signal(&pinned, policy));
        drop(pinned);
        reports.sort_by_key(|r| r.pid);
        self.printer.outcomes(&reports, self.details.known());
        let signalled = reports.iter().any(|r| r.signal.is_some());
        let after = match self.recheck(&found, &before, &targets, &parents, signalled) {
            Ok(after) => after,
            Err(e) => {
                self.printer.recheck_failed(&e);
                return ExitCode::Error;
            }
        };
        self.printer.verdict(&after, self.details.known());
        let failed = reports.iter().any(|r| r.outcome.is_failure())
            || ended.iter().any(|r| r.outcome.is_failure());
        let signalling = if failed {
            ExitCode::Partial
        } else {
            ExitCode::Success
        };
        after.exit_code().max(signalling)
    }

    /// Finds the owners; for a port that is free here, also where else it is held (a
    /// container's namespace), which every other tool would miss.
    fn look_up(&self) -> io::Result<(Lookup, Vec<Elsewhere>)> {
        let opts = self.opts;
        let hinting = opts.scope == Scope::Here && !opts.is_list() && opts.format != Format::Quiet;
        if !hinting {
            return lookup_in(&opts.query, opts.scope).map(|found| (found, Vec::new()));
        }
        // Signalling comes next: let no search thread run on (and hold /proc) meanwhile.
        let search = match opts.action {
            Some(_) => Search::Finish,
            None => Search::Abandon,
        };
        lookup_with_hints(&opts.query, search)
    }

    /// Which owners carry a port for something else (forwarders), and which run in a
    /// container, and which container: the cgroup names the second without any engine;
    /// the engines (or their state files) are asked only when one of these turns up.
    fn resolve_containers(&mut self, found: &Lookup) -> BTreeMap<u32, Forwarding> {
        let mut forwarders = BTreeMap::new();
        for owner in &found.ownership.owners {
            let info = self.details.read(owner.pid).clone();
            if let Some(kind) = judge::classify_forwarder(&info) {
                // Asked of the forwarder's own engine only (its parent dockerd, conmon's
                // Podman), never of another that knows a container at the same address.
                let container = kind.via().and_then(|via| {
                    self.containers
                        .forwarded(owner.pid, info.uid, &via, &owner.sockets)
                });
                forwarders.insert(owner.pid, Forwarding { kind, container });
                continue;
            }
            if let Some(id) = container::from_lines(&Os::cgroup_lines(owner.pid)) {
                let c = self.containers.inside(&id);
                self.details.set_container(owner.pid, c);
            }
        }
        forwarders
    }

    /// A port that no socket holds here may still be published by a running container
    /// (NAT rules alone: CNI portmap, a Kubernetes hostPort, a killed forwarder). Asked only
    /// when some port is free and an engine socket exists.
    fn find_published(&mut self, verdict: &mut Verdict) {
        let free = verdict
            .entries()
            .any(|p| matches!(p.status, Status::Free { .. }));
        if !free || !self.containers.any_engine() {
            return;
        }
        let resolver = &mut self.containers;
        verdict.publish(|port, protocol| resolver.publishing(port, protocol));
    }

    /// Decides each owner's role (`roles`): rekt's callers, forwarders, clients, holders.
    fn assign_roles(&mut self, found: &Lookup, forwarders: BTreeMap<u32, Forwarding>) {
        if found.ownership.owners.is_empty() {
            return;
        }
        let facts = Circumstances {
            me: std::process::id(),
            callers: supervision::callers(),
            ephemeral: Os::ephemeral_ports(),
            listening: Circumstances::listeners(&found.sockets),
            forwarders,
        };
        for owner in &found.ownership.owners {
            let role = judge::classify(owner, &facts, Os::protection);
            self.details.set_role(owner.pid, role);
        }
    }

    /// Shows what was found: the owners (or, in list mode, the listeners) and the sockets
    /// whose owner cannot be seen.
    fn show(&mut self, found: &Lookup) {
        let opts = self.opts;
        let (listing, signalling) = (opts.is_list(), opts.action.is_some());
        if self.printer.wants_details(listing, signalling) {
            self.read_details(found.ownership.owners.iter().map(|o| o.pid));
        }
        if self.printer.wants_context(listing) {
            for owner in &found.ownership.owners {
                self.details.describe(owner.pid);
            }
        }
        let privileged = Os::is_privileged();
        self.details.learn_names(found, privileged);
        if listing {
            self.printer.listeners(found, self.details.known());
        } else {
            self.printer.owners(found, self.details.known());
        }
        self.printer.hidden(found, privileged, self.details.known());
    }

    /// The plan: the owners to signal, the containers to end through their engines, and
    /// a report for each owner that is not signalled (refused: rekt's callers and protected
    /// PIDs; skipped: clients and forwarders, unless asked for; a container's process: its
    /// container is ended instead). Says each one, and, for the owners to signal, the
    /// supervisor that may start them again.
    fn plan<'f>(
        &mut self,
        owners: &'f [Owner],
        before: &Verdict,
    ) -> (Vec<&'f Owner>, Vec<Job>, Vec<Report>) {
        let mut targets = Vec::new();
        let mut containers: Vec<Job> = Vec::new();
        let mut add = |container: &Container, pid: Option<u32>| match containers
            .iter_mut()
            .find(|t| t.container.id == container.id)
        {
            Some(t) => t.owners.extend(pid),
            None => containers.push(Job {
                container: container.clone(),
                owners: pid.into_iter().collect(),
            }),
        };
        let mut reports = Vec::new();
        for owner in owners {
            let role = self
                .details
                .role(owner.pid)
                .cloned()
                .unwrap_or(Role::Holder);
            // What really holds the port: the container a forwarder forwards to, or the
            // one the owner runs in. It is ended through its engine, which also keeps a
            // restart policy from bringing it back.
            let container = match &role {
                Role::Forwarder(f) => f.container.clone(),
                Role::Holder | Role::Client => self.details.container(owner.pid).cloned(),
                Role::Caller(_) | Role::Protected(_) => None,
            };
            let decision = role.decision(self.opts.include);
            if let Some(c) = &container
                && !matches!(decision, Decision::Refuse)
            {
                add(c, Some(owner.pid));
                if matches!(role, Role::Holder | Role::Client) {
                    let report = Report::new(owner.pid, Outcome::ViaContainer);
                    reports.push(report);
                    continue;
                }
            }
            let report = match decision {
                Decision::Signal => {
                    targets.push(owner);
                    continue;
                }
                Decision::Refuse => Report::new(owner.pid, Outcome::Refused),
                Decision::Skip => Report::new(owner.pid, Outcome::Skipped),
            };
            self.printer.skipped(&report, self.details.known());
            reports.push(report);
        }
        for c in before.published() {
            add(c, None);
        }
        if self.printer.wants_details(false, true) {
            for owner in &targets {
                if self.details.describe(owner.pid).supervisor.is_some() {
                    self.printer.supervised(owner.pid, self.details.known());
                }
            }
        }
        (targets, containers, reports)
    }

    /// With `-i`, asks before each container is ended and keeps the ones the user said yes
    /// to; the others are reported declined.
    fn ask_containers(&mut self, containers: Vec<Job>, policy: Policy) -> Vec<Job> {
        if !self.opts.interactive {
            return containers;
        }
        let to_tty = self.opts.format == Format::Json;
        let mut kept = Vec::new();
        for target in containers {
            if output::confirm_container(policy.signal, &target.container, to_tty) {
                kept.push(target);
            } else {
                let report = Ending {
                    job: target,
                    signal: policy.signal,
                    outcome: EndOutcome::Declined,
                };
                self.printer.container(&report, self.details.known());
            }
        }
        kept
    }

    /// Ends each container through its engine, and waits (bounded) for the forwarders
    /// that carried its ports to go with it, so that the ports are looked at afterwards.
    fn end_containers(
        &mut self,
        containers: &mut Vec<Job>,
        found: &Lookup,
        policy: Policy,
    ) -> Vec<Ending> {
        let mut reports = Vec::new();
        for target in containers.drain(..) {
            let report = container::end(target, policy);
            self.printer.container(&report, self.details.known());
            if !report.outcome.is_failure() {
                let carriers: Vec<&Owner> = found
                    .ownership
                    .owners
                    .iter()
                    .filter(|o| report.job.owners.contains(&o.pid))
                    .collect();
                kill::wait_gone(&carriers, CONTAINER_TEARDOWN);
            }
            reports.push(report);
        }
        reports
    }

    /// With `-i`, asks before each signal and keeps the owners the user said yes to.
    fn ask<'f>(
        &mut self,
        mut pinned: Vec<Pinned<'f>>,
        policy: Policy,
        reports: &mut Vec<Report>,
    ) -> Vec<Pinned<'f>> {
        if !self.opts.interactive {
            return pinned;
        }
        // The question names the process, whatever the output format.
        self.read_details(pinned.iter().map(|p| p.owner.pid));
        // `--json` keeps stderr for nothing: the question goes to the terminal itself.
        let to_tty = self.opts.format == Format::Json;
        pinned.retain(|p| {
            let pid = p.owner.pid;
            let yes = output::confirm(policy.signal, pid, self.details.known(), to_tty);
            if !yes {
                let report = Report::new(pid, Outcome::Declined);
                self.printer.skipped(&report, self.details.known());
                reports.push(report);
            }
            yes
        });
        pinned
    }

    /// A range of ports that would signal many processes (`-k 1-65535`) asks once on a
    /// terminal, unless `--yes`; without a terminal it is refused (exit 2). A single port
    /// never asks: its owners are what was named.
    fn confirm_many<'f>(
        &mut self,
        pinned: Vec<Pinned<'f>>,
        containers: usize,
        reports: &mut Vec<Report>,
    ) -> Result<Vec<Pinned<'f>>, ExitCode> {
        let ranged = self.opts.query.ports.iter().any(|s| s.first != s.last);
        let count = pinned.len() + containers;
        if !ranged || count <= judge::MANY || self.opts.yes || self.opts.interactive {
            return Ok(pinned);
        }
        let ports = &self.opts.query.ports;
        let to_tty = self.opts.format == Format::Json;
        let (yes, code) = if std::io::stdin().is_terminal() {
            (
                output::confirm_many(count, ports, to_tty),
                ExitCode::Partial,
            )
        } else {
            (false, ExitCode::Usage)
        };
        if yes {
            return Ok(pinned);
        }
        self.printer
            .too_many(count, ports, code == ExitCode::Partial);
        reports.extend(
            pinned
                .iter()
                .map(|p| Report::new(p.owner.pid, Outcome::Declined)),
        );
        Err(code)
    }

    /// Signals the pinned owners, waits, escalates if asked; says each step as it happens.
    fn signal(&mut self, pinned: &[Pinned<'_>], policy: Policy) -> Vec<Report> {
        let (printer, details) = (&mut *self.printer, self.details.known());
        kill::execute(pinned, policy, |event| printer.event(event, details))
    }

    /// Looks the ports up again and judges them against `before`: survivors, newcomers
    /// that took a port meanwhile, and ports now free. A port that was held and is free now
    /// is then watched for the settle time (after a signal was sent), so that a
    /// supervisor's restart is caught. Owners rekt left alone on purpose (clients, unless
    /// asked for) are named as still holding their ports, but do not fail the run.
    fn recheck(
        &mut self,
        found: &Lookup,
        before: &Verdict,
        targets: &[&Owner],
        parents: &BTreeSet<u32>,
        signalled: bool,
    ) -> io::Result<Verdict> {
        let old: BTreeSet<u32> = found.ownership.owners.iter().map(|o| o.pid).collect();
        let (mut now, elsewhere) = self.look_up_after(&old, signalled)?;
        without_rekt(&mut now);
        let mut after = Verdict::judge(&self.opts.query, &now, &elsewhere, Some(before));
        // The engines are asked again: a container rekt stopped publishes nothing now.
        self.containers.forget_listing();
        self.find_published(&mut after);
        // Clients left alone on purpose; a forwarder left alone still holds the port for a
        // container rekt could not end, which is a failure.
        after.spared = found
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
        after.mark_newcomers(&old);
        let free: Vec<(u16, Protocol)> = after
            .entries()
            // Free here: a port held only in another namespace is free here too.
            .filter(|p| {
                p.was_held && matches!(p.status, Status::Free { .. } | Status::Elsewhere { .. })
            })
            .map(|p| (p.first, p.protocol))
            .collect();
        let window = self.settle_time(targets);
        if signalled && !free.is_empty() && !window.is_zero() {
            crate::debug!("settle: watching {} port(s) for {window:?}", free.len());
            let seen = watch::settle(&self.opts.query, self.opts.scope, &free, window)?;
            let sockets: Vec<Socket> = seen.iter().flat_map(|s| s.sockets.clone()).collect();
            let mut taken = Lookup {
                ownership: Os::owners(&sockets)?,
                ..Lookup::default()
            };
            without_rekt(&mut taken);
            after.settled(&free, window, &seen, &taken, &old);
        }
        self.describe_newcomers(&after, parents);
        let holders: Vec<u32> = after.holders().collect();
        self.read_details(holders.into_iter());
        Ok(after)
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
            crate::debug!("recheck: a socket with no owning process; looking again");
            std::thread::sleep(watch::INTERVAL);
        }
    }

    /// How long to watch a freed port: `--settle`, else [`watch::DEFAULT`], or
    /// [`watch::SLOW_SUPERVISOR`] when an owner rekt signalled runs under a supervisor that
    /// waits about a second before a restart.
    fn settle_time(&mut self, targets: &[&Owner]) -> Duration {
        if let Some(window) = self.opts.settle {
            return window;
        }
        let slow = targets.iter().any(|o| {
            self.details
                .describe(o.pid)
                .supervisor
                .as_ref()
                .is_some_and(|s| s.kind.restarts_slowly())
        });
        if slow {
            watch::SLOW_SUPERVISOR
        } else {
            watch::DEFAULT
        }
    }

    /// Describes each newcomer (chain, unit, supervisor); one whose parent also started an
    /// owner that rekt ended, and that shows no other supervisor, was started again by that
    /// parent (a shell loop, a script that re-forks).
    fn describe_newcomers(&mut self, after: &Verdict, parents: &BTreeSet<u32>) {
        if !self.printer.wants_details(false, true) {
            return;
        }
        let newcomers: Vec<u32> = after.entries().flat_map(|p| p.newcomers.clone()).collect();
        for pid in newcomers {
            self.details.read(pid);
            let mut context = self.details.describe(pid).clone();
            if context.supervisor.is_none()
                && let Some(&parent) = context.parents.first()
                && parents.contains(&parent)
            {
                let info = self.details.read(parent).clone();
                context.supervisor = Some(supervision::restarter(parent, &info));
                self.details.set_context(pid, context);
            }
        }
    }

    /// Reads details for the PIDs not already known.
    fn read_details(&mut self, pids: impl Iterator<Item = u32>) {
        for pid in pids {
            self.details.read(pid);
        }
    }
}

/// How long the check after a signal waits for an ended owner's sockets that the table no
/// longer gives a process (see `look_up_after`) to close.
const CLOSING: Duration = Duration::from_secs(1);

/// How long the forwarders of a container that was ended may take to exit with it.
const CONTAINER_TEARDOWN: Duration = Duration::from_secs(5);

/// rekt never lists itself: it holds a port's socket only when it inherited it from its
/// caller, which is then listed (and refused) in its own right.
fn without_rekt(found: &mut Lookup) {
    let me = std::process::id();
    found.ownership.owners.retain(|o| o.pid != me);
}

/// A test hook, compiled only into debug builds (what `cargo test` runs), never into a
/// release: with `REKT_TEST_PAUSE_DIR` set, rekt stops between the lookup and pinning the
/// owners (creating `paused` in that directory) until `resume` appears there, so that a
/// test can swap the owner for a newcomer with the same PID.
#[cfg(debug_assertions)]
fn pause_for_tests() {
    use std::time::{Duration, Instant};
    let Some(dir) = std::env::var_os("REKT_TEST_PAUSE_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    if std::fs::write(dir.join("paused"), b"").is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("resume").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(not(debug_assertions))]
fn pause_for_tests() {}
