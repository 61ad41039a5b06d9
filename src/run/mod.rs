//! One run of rekt, step by step as the data flows: look up, decide roles, show, judge
//! each port, plan, pin, ask, signal, look up and judge again, watch the freed ports
//! settle, and decide the exit code. What is said at each step, and how, is the printer's
//! business (`output`); this module only decides what happened.

mod act;
mod details;
mod options;
mod plan;
mod recheck;

pub(crate) use details::Details;
pub(crate) use options::Options;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::time::Duration;

use crate::container::{self, Container, Resolver};
use crate::exit_codes::ExitCode;
use crate::judge::{self, Circumstances, Forwarding, Verdict};
use crate::kill::{self, Policy};
use crate::lookup::{Elsewhere, Lookup, Scope, Search, lookup_in, lookup_with_hints};
use crate::model::Protocol;
use crate::output::{self, Format, Printer};
use crate::platform::{Backend, Os};
use crate::supervision;
use recheck::Signalled;

/// Runs `opts` to the end and returns the exit code.
pub(crate) fn run(opts: &Options) -> ExitCode {
    let mut printer = output::printer(opts.format);
    let code = Run {
        opts,
        printer: printer.as_mut(),
        details: Details::new(),
        containers: Resolver::new(),
        answer: None,
    }
    .run();
    printer.finish(code)
}

/// Runs `opts` (one port, and an action) as the live view does: the same lookup, plan,
/// pins, signals and check as `rekt -t/-k PORT`, but with one question for everything the
/// plan would do, put to `answer` once the owners are pinned (nothing is done unless it
/// says yes), and what a plain run would say on stderr returned as lines, in its words.
pub(crate) fn run_answering(
    opts: &Options,
    answer: &mut dyn FnMut(&str) -> bool,
) -> (ExitCode, Vec<String>) {
    let mut printer = output::HumanPrinter::captured();
    let code = Run {
        opts,
        printer: &mut printer,
        details: Details::new(),
        containers: Resolver::new(),
        answer: Some(answer),
    }
    .run();
    (code, printer.take_notes())
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
    /// The live view's one question before anything is done (`run_answering`).
    answer: Option<&'a mut dyn FnMut(&str) -> bool>,
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
        let (listing, signalling) = (self.opts.is_list(), self.opts.action.is_some());
        // A run that signals needs every owner's container and user, whatever it prints.
        let detailed = signalling || self.printer.wants_details(listing, signalling);
        let owners = &found.ownership.owners;
        let forwarders =
            resolve_containers(&mut self.details, &mut self.containers, owners, detailed);
        assign_roles(&mut self.details, &found, forwarders, detailed);
        self.show(&found);
        if self.opts.is_list() {
            return ExitCode::Success;
        }
        let resolver = &mut self.containers;
        let before = Verdict::before(&self.opts.query, &found, &elsewhere, |port, protocol| {
            published(resolver, port, protocol)
        });
        let Some(policy) = self.opts.action else {
            self.printer.verdict(&before, self.details.known());
            return before.exit_code();
        };
        if found.ownership.owners.is_empty() && before.published().is_empty() {
            // Nothing to signal: the lookup's verdict is the answer.
            self.printer.verdict(&before, self.details.known());
            return before.exit_code();
        }
        self.act(&found, &before, policy)
    }

    /// Ends the owners of the ports under `policy` (after the lookup `found` and its
    /// verdict `before`): plan, pin, ask, signal, look again, watch, and the exit code.
    fn act(&mut self, found: &Lookup, before: &Verdict, policy: Policy) -> ExitCode {
        pause_for_tests();
        let plan = self.plan(&found.ownership.owners, before);
        let (targets, containers, mut reports) = (plan.targets, plan.containers, plan.reports);
        // Read while the owners still run: who started them, and who could again.
        let callers = supervision::callers();
        let parents: BTreeSet<u32> = targets
            .iter()
            .filter_map(|o| Os::process_stat(o.pid)?.parent)
            .filter(|&p| p != 1 && !callers.contains(&p))
            .collect();
        let restarters = self.restarters(&targets, &callers);
        let (pinned, early) = kill::pin(targets.iter().copied());
        for report in &early {
            self.printer.skipped(report, self.details.known());
        }
        reports.extend(early);
        let pinned = self.ask(pinned, policy, &mut reports);
        let containers = self.ask_containers(containers, policy);
        let (pinned, mut containers) = self.ask_once(pinned, containers, policy, &mut reports);
        let pinned = match self.confirm_many(pinned, containers.len(), &mut reports) {
            Ok(pinned) => pinned,
            Err(code) => {
                reports.sort_by_key(|r| r.pid);
                self.printer.outcomes(&reports, self.details.known());
                return code;
            }
        };
        // The moment of the signal: a process that started after it is a restart.
        let clock = Os::clock();
        let ended = self.end_containers(&mut containers, found, policy);
        reports.extend(self.signal(&pinned, policy));
        drop(pinned);
        reports.sort_by_key(|r| r.pid);
        self.printer.outcomes(&reports, self.details.known());
        let signalled = Signalled {
            found,
            targets: &targets,
            restarters: &restarters,
            parents: &parents,
            clock,
            sent: reports.iter().any(|r| r.signal.is_some()),
        };
        let after = match self.recheck(before, &signalled) {
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

    /// Shows what was found: the owners (or, in list mode, the listeners) and the sockets
    /// whose owner cannot be seen.
    ///
    /// What each kind of run reads of the processes it shows, beyond the lookup itself:
    /// - a plain lookup (`rekt PORT`, the human table without `-v`, or `-q`): each owner's
    ///   name (`/proc/PID/exe`, else `comm`), which its lines may show and which tells a
    ///   forwarder; a forwarder's whole details and its engine; rekt's own ancestors back
    ///   to the oldest owner's start (is an owner rekt's caller?); the ephemeral port range
    ///   when a socket may be an outgoing connection; the users of sockets shown without an
    ///   owner. No `status`, `cmdline` or `cgroup` of a holder, no ancestry of an owner, no
    ///   user database for owners, and the threads' own fd tables only when a socket is
    ///   left without an owner (see `fd_scan`).
    /// - `-v`, `--json`, list mode and every run that signals: each owner's whole details
    ///   (name, executable, command line, user) and its container (`cgroup`); with `-v` or
    ///   `--json` (not in list mode), its parents, unit and supervisor too.
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

    /// Reads details for the PIDs not already known.
    fn read_details(&mut self, pids: impl Iterator<Item = u32>) {
        for pid in pids {
            self.details.read(pid);
        }
    }
}

/// Which owners carry a port for something else (forwarders), and which run in a
/// container, and which container: the cgroup names the second without any engine; the
/// engines (or their state files) are asked only when one of these turns up. Unless the
/// run is `detailed` (see [`Run::show`]), only each owner's name is read, and no cgroup: a
/// plain lookup shows a forwarder's container, never the one that a holder runs in. Shared
/// with the live view, which keeps its `details` and `containers` between refreshes.
pub(crate) fn resolve_containers(
    details: &mut Details,
    containers: &mut Resolver,
    owners: &[crate::model::Owner],
    detailed: bool,
) -> BTreeMap<u32, Forwarding> {
    let mut forwarders = BTreeMap::new();
    for owner in owners {
        let info = if detailed {
            details.read(owner.pid).clone()
        } else {
            details.identify(owner.pid).clone()
        };
        if let Some(kind) = judge::classify_forwarder(&info) {
            // Asked of the forwarder's own engine only (its parent dockerd, conmon's
            // Podman), never of another that knows a container at the same address.
            let container = kind
                .via()
                .and_then(|via| containers.forwarded(owner.pid, info.uid, &via, &owner.sockets));
            forwarders.insert(owner.pid, Forwarding { kind, container });
            continue;
        }
        if !detailed {
            continue;
        }
        if let Some(id) = container::from_lines(&Os::cgroup_lines(owner.pid)) {
            let c = containers.inside(&id);
            details.set_container(owner.pid, c);
        }
    }
    forwarders
}

/// Decides each owner's role (`roles`): rekt's callers, forwarders, clients, holders. A
/// `detailed` run reads rekt's whole caller chain (its lines name it); otherwise the chain
/// is read only as far up as an owner could be in it (see [`supervision::callers_among`]).
/// The ephemeral port range is read only when a socket could be an outgoing connection.
pub(crate) fn assign_roles(
    details: &mut Details,
    found: &Lookup,
    forwarders: BTreeMap<u32, Forwarding>,
    detailed: bool,
) {
    let owners = &found.ownership.owners;
    if owners.is_empty() {
        return;
    }
    let callers = if detailed {
        supervision::callers()
    } else {
        supervision::callers_among(owners.iter().map(|o| o.pid))
    };
    let outgoing = owners
        .iter()
        .flat_map(|o| &o.sockets)
        .any(judge::may_be_outgoing);
    let facts = Circumstances {
        me: std::process::id(),
        callers,
        ephemeral: outgoing.then(Os::ephemeral_ports).flatten(),
        listening: Circumstances::listeners(&found.sockets),
        forwarders,
    };
    for owner in owners {
        let role = judge::classify(owner, &facts, Os::protection);
        details.set_role(owner.pid, role);
    }
}

/// How long the forwarders of a container that was ended may take to exit with it.
pub(super) const CONTAINER_TEARDOWN: Duration = Duration::from_secs(5);

/// The running containers that publish `port` for `protocol` with no socket here, when
/// an engine socket exists (asked only about free ports: NAT rules alone, a CNI portmap, a
/// Kubernetes hostPort, a killed forwarder).
fn published(resolver: &mut Resolver, port: u16, protocol: Protocol) -> Vec<Container> {
    if !resolver.any_engine() {
        return Vec::new();
    }
    resolver.publishing(port, protocol)
}

/// rekt never lists itself: it holds a port's socket only when it inherited it from its
/// caller, which is then listed (and refused) in its own right.
pub(super) fn without_rekt(found: &mut Lookup) {
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
