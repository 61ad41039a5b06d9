//! The plan of a run that signals: who is signalled, which containers are ended through
//! their engines, who is left alone and why; and the questions asked before any of it.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use super::Run;
use crate::container::{Container, EndOutcome, Ending, Job};
use crate::exit_codes::ExitCode;
use crate::judge::{self, Decision, Role, Verdict};
use crate::kill::{Outcome, Pinned, Policy, Report};
use crate::model::{Owner, Protocol};
use crate::output::{self, Format};

/// What a run that signals will do.
pub(super) struct Plan<'f> {
    /// The owners to signal.
    pub(super) targets: Vec<&'f Owner>,
    /// The containers to end through their engines.
    pub(super) containers: Vec<Job>,
    /// The owners left alone, and why.
    pub(super) reports: Vec<Report>,
}

impl Run<'_> {
    /// The plan: the owners to signal, the containers to end through their engines, and
    /// a report for each owner that is not signalled (refused: rekt's callers and protected
    /// PIDs; skipped: clients and forwarders, unless asked for; a container's process: its
    /// container is ended instead; held back: it shares a port with one of those that keep
    /// the port held, unless `--partial`). Says each one, and, for the owners to signal,
    /// the supervisor that may start them again.
    pub(super) fn plan<'f>(&mut self, owners: &'f [Owner], before: &Verdict) -> Plan<'f> {
        let blocked = if self.opts.partial {
            BTreeMap::new()
        } else {
            self.blockers(owners)
        };
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
            if decision != Decision::Refuse
                && let Some(&(port, protocol, blocker)) = owner
                    .sockets
                    .iter()
                    .find_map(|s| blocked.get(&(s.port(), s.protocol)))
                    .filter(|(_, _, blocker)| *blocker != owner.pid)
            {
                let report = Report::new(
                    owner.pid,
                    Outcome::HeldBack {
                        port,
                        protocol,
                        blocker,
                    },
                );
                self.printer.skipped(&report, self.details.known());
                reports.push(report);
                continue;
            }
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
        Plan {
            targets,
            containers,
            reports,
        }
    }

    /// The ports that no signal can free, because a holder of theirs is never signalled
    /// (rekt's caller, a protected PID) or carries the port for a container that cannot be
    /// ended (a forwarder, or a container's process, with no engine to ask): by port, the
    /// port again and the first such holder.
    fn blockers(&self, owners: &[Owner]) -> BTreeMap<(u16, Protocol), (u16, Protocol, u32)> {
        let mut blocked = BTreeMap::new();
        for owner in owners {
            let role = self
                .details
                .role(owner.pid)
                .cloned()
                .unwrap_or(Role::Holder);
            let endable = |c: Option<&Container>| c.is_some_and(Container::answers);
            let blocks = match (&role, role.decision(self.opts.include)) {
                (_, Decision::Refuse) => true,
                (Role::Forwarder(f), Decision::Skip) => !endable(f.container.as_ref()),
                (Role::Holder, _) => {
                    let c = self.details.container(owner.pid);
                    c.is_some() && !endable(c)
                }
                _ => false,
            };
            if blocks {
                for s in &owner.sockets {
                    blocked.entry((s.port(), s.protocol)).or_insert((
                        s.port(),
                        s.protocol,
                        owner.pid,
                    ));
                }
            }
        }
        blocked
    }

    /// With `-i`, asks before each container is ended and keeps the ones the user said yes
    /// to; the others are reported declined.
    pub(super) fn ask_containers(&mut self, containers: Vec<Job>, policy: Policy) -> Vec<Job> {
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

    /// For the live view: one question for all that the plan would do, once the owners
    /// are pinned; anything but yes declines all of it.
    pub(super) fn ask_once<'f>(
        &mut self,
        pinned: Vec<Pinned<'f>>,
        containers: Vec<Job>,
        policy: Policy,
        reports: &mut Vec<Report>,
    ) -> (Vec<Pinned<'f>>, Vec<Job>) {
        let Some(answer) = self.answer.as_mut() else {
            return (pinned, containers);
        };
        if pinned.is_empty() && containers.is_empty() {
            return (pinned, containers);
        }
        self.details.read_all(pinned.iter().map(|p| p.owner.pid));
        let pids: Vec<u32> = pinned.iter().map(|p| p.owner.pid).collect();
        let ending: Vec<&Container> = containers.iter().map(|j| &j.container).collect();
        let question = output::words::question(policy.signal, &pids, &ending, self.details.known());
        if answer(&question) {
            return (pinned, containers);
        }
        for pid in pids {
            let report = Report::new(pid, Outcome::Declined);
            self.printer.skipped(&report, self.details.known());
            reports.push(report);
        }
        for job in containers {
            let report = Ending {
                job,
                signal: policy.signal,
                outcome: EndOutcome::Declined,
            };
            self.printer.container(&report, self.details.known());
        }
        (Vec::new(), Vec::new())
    }

    /// With `-i`, asks before each signal and keeps the owners the user said yes to.
    pub(super) fn ask<'f>(
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
    pub(super) fn confirm_many<'f>(
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
}
