//! Termination, the same on every platform: which signal, how long to wait, and what
//! happened to each owner. Who is signalled at all is decided before (`roles`): this module
//! signals what the plan gives it, with one last guard that it never signals rekt itself
//! or a PID the system needs. The platform only pins a process (`Backend::pin`), delivers
//! a signal and waits. What is said about it is `output`'s business.

use std::io;
use std::time::{Duration, Instant};

use crate::model::Protection;
pub use crate::model::Signal;
use crate::model::{AcquireError, Owner, SendError};
use crate::platform::{Backend, Handle as _, Os, Target};

/// What became of one owner.
#[derive(Debug)]
pub enum Outcome {
    /// Signalled, and it exited within the timeout.
    Exited,
    /// Signalled, and it closed every socket it held on the port within the timeout, but
    /// is still running (a server draining its connections): the port is what was asked.
    Released,
    /// Signalled, but still running when the timeout passed.
    StillRunning,
    /// Signalled with `--timeout 0s`: not waited for, so not known to have exited.
    NotWaited,
    /// Never signalled, by the plan: a protected PID, rekt or one of its callers (its role,
    /// decided before, says which).
    Refused,
    /// Never signalled, by the last guard here, whatever the plan said.
    Guarded(Guard),
    /// Not signalled, and no failure: its role is signalled only on request (a client, a
    /// forwarder).
    Skipped,
    /// Not signalled, although it holds the port: another holder of `port` must not be
    /// signalled (`blocker`: rekt's caller, a protected PID, a forwarder whose container
    /// cannot be ended), so the port would stay held whatever rekt did to this one.
    HeldBack {
        port: u16,
        protocol: crate::model::Protocol,
        blocker: u32,
    },
    /// The system would not let us signal it.
    Denied(io::Error),
    /// Exited, or let go of the port, before we signalled it.
    AlreadyGone,
    /// The user said no (interactive mode).
    Declined,
    /// It could not be asked to exit (on Windows: it has no windows to close); `Kill` or
    /// `--escalate` ends it.
    NoWindows,
    /// It could not be asked to exit: a console program, whose only window is its
    /// console's (Windows), which closing would end every program in that console; `Kill`
    /// or `--escalate` ends it.
    ConsoleOnly,
    /// Signalling failed for another reason.
    Failed(io::Error),
    /// Not signalled itself: it runs in a container, which rekt ended through its engine
    /// instead (the container's own report says how that went).
    ViaContainer,
}

impl Outcome {
    /// Whether this outcome leaves the job undone (exit code 3).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::StillRunning
                | Outcome::Refused
                | Outcome::Guarded(_)
                | Outcome::Denied(_)
                | Outcome::NoWindows
                | Outcome::ConsoleOnly
                | Outcome::Failed(_)
        )
    }
}

/// How to end the owners.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub signal: Signal,
    /// How long to wait for owners to exit after the signal.
    pub timeout: Duration,
    /// After a `Terminate` that times out, force the survivors.
    pub escalate: bool,
}

/// How long to wait for a SIGKILLed process to be reaped by the kernel.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// Why the last guard refuses a PID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// A PID the system needs (0, 1, 4).
    Protected(Protection),
    /// rekt itself.
    Itself,
}

/// The last guard: why `pid` is never signalled, whatever the plan says. The plan
/// (`judge::roles`) refuses these and rekt's callers before; this only makes a mistake
/// there harmless.
fn never(pid: u32) -> Option<Guard> {
    if let Some(why) = Os::protection(pid) {
        return Some(Guard::Protected(why));
    }
    (pid == std::process::id()).then_some(Guard::Itself)
}

/// One owner's fate.
#[derive(Debug)]
pub struct Report {
    pub pid: u32,
    /// The last signal sent (Kill after an escalation), if any was.
    pub signal: Option<Signal>,
    pub outcome: Outcome,
    /// It was stopped when asked to exit, so rekt continued it (SIGCONT) to let it act on
    /// the request.
    pub continued: bool,
}

impl Report {
    pub fn new(pid: u32, outcome: Outcome) -> Report {
        Report {
            pid,
            signal: None,
            outcome,
            continued: false,
        }
    }
}

/// An owner that has been pinned and is about to be signalled.
pub struct Pinned<'a> {
    pub owner: &'a Owner,
    target: Target,
}

/// Pins the owners the plan signals; those that cannot be pinned get their final report
/// at once. Done before any question is asked or signal sent, so a recycled PID can never
/// be hit later.
pub fn pin<'a>(owners: impl IntoIterator<Item = &'a Owner>) -> (Vec<Pinned<'a>>, Vec<Report>) {
    let mut pinned = Vec::new();
    let mut reports = Vec::new();
    for owner in owners {
        let report = |outcome| Report::new(owner.pid, outcome);
        if let Some(why) = never(owner.pid) {
            reports.push(report(Outcome::Guarded(why)));
            continue;
        }
        match Os::pin(owner) {
            Ok(target) => pinned.push(Pinned { owner, target }),
            Err(AcquireError::Gone | AcquireError::Released) => {
                reports.push(report(Outcome::AlreadyGone))
            }
            Err(AcquireError::Io(e)) if e.kind() == io::ErrorKind::PermissionDenied => {
                reports.push(report(Outcome::Denied(e)))
            }
            Err(AcquireError::Io(e)) => reports.push(report(Outcome::Failed(e))),
        }
    }
    (pinned, reports)
}

/// Waits, at most `timeout`, until each of `owners` has exited or let go of its sockets;
/// nothing is sent. For the forwarders of a container that was ended through its engine:
/// they go with it, a moment later.
pub fn wait_gone(owners: &[&Owner], timeout: Duration) {
    let targets: Vec<Target> = owners.iter().filter_map(|o| Os::watch(o).ok()).collect();
    let refs: Vec<&Target> = targets.iter().collect();
    Os::wait_for_exit(&refs, timeout);
}

/// Signals the pinned owners under `policy`, waits, escalates if asked, and reports each.
/// `progress` is told each event as it happens, so the user sees it as it happens.
pub fn execute(
    pinned: &[Pinned<'_>],
    policy: Policy,
    mut progress: impl FnMut(Event<'_>),
) -> Vec<Report> {
    let mut reports: Vec<Report> = pinned
        .iter()
        .map(|p| Report::new(p.owner.pid, Outcome::StillRunning))
        .collect();
    let sent = send_all(pinned, &mut reports, policy.signal, &mut progress);
    let wait = match policy.signal {
        Signal::Terminate => policy.timeout,
        // A SIGKILLed process needs a moment to be reaped; `--timeout 0s` asks for none.
        Signal::Kill if policy.timeout.is_zero() => Duration::ZERO,
        Signal::Kill => policy.timeout.max(KILL_WAIT),
    };
    let mut alive = wait_for(pinned, &sent, &mut reports, wait, policy.signal);
    released(&sent, &reports, &mut progress);
    let mut waited = wait;
    if wait.is_zero() && !policy.escalate {
        // `--timeout 0s`: signal and move on. Not waiting is what was asked, so nothing is
        // "still running" yet; the port check after this says whether the port is free.
        for &i in &alive {
            reports[i].outcome = Outcome::NotWaited;
        }
        return reports;
    }
    if policy.escalate && policy.signal == Signal::Terminate {
        // Owners that could not even be asked (on Windows: no window to close) are forced
        // too; the ones the system refused us stay refused.
        let unasked: Vec<usize> = (0..pinned.len())
            .filter(|&i| {
                matches!(
                    reports[i].outcome,
                    Outcome::NoWindows | Outcome::ConsoleOnly
                )
            })
            .collect();
        for &i in &alive {
            progress(Event::Escalating {
                report: &reports[i],
                waited: policy.timeout,
            });
        }
        for &i in &unasked {
            progress(Event::Escalating {
                report: &reports[i],
                waited: Duration::ZERO,
            });
        }
        alive.extend(unasked);
        alive.sort_unstable();
        let forced = send_all_of(pinned, &alive, &mut reports, Signal::Kill, &mut progress);
        alive = wait_for(pinned, &forced, &mut reports, KILL_WAIT, Signal::Kill);
        released(&forced, &reports, &mut progress);
        waited = KILL_WAIT;
    }
    for &i in &alive {
        progress(Event::StillRunning {
            report: &reports[i],
            waited,
        });
    }
    reports
}

/// Tells of each of `which` that let go of the port while still running.
fn released(which: &[usize], reports: &[Report], progress: &mut impl FnMut(Event<'_>)) {
    for &i in which {
        if matches!(reports[i].outcome, Outcome::Released) {
            progress(Event::Released(&reports[i]));
        }
    }
}

/// Things worth telling the user while `execute` runs.
pub enum Event<'a> {
    /// The signal was delivered.
    Sent(&'a Report, Signal),
    /// The signal could not be delivered (the report's outcome says why).
    NotSent(&'a Report),
    /// It closed every socket it held on the port, and still runs.
    Released(&'a Report),
    /// A terminated owner outlived the timeout and will now be forced.
    Escalating {
        report: &'a Report,
        waited: Duration,
    },
    /// Still running after every wait.
    StillRunning {
        report: &'a Report,
        waited: Duration,
    },
}

fn send_all(
    pinned: &[Pinned<'_>],
    reports: &mut [Report],
    signal: Signal,
    progress: &mut impl FnMut(Event<'_>),
) -> Vec<usize> {
    let all: Vec<usize> = (0..pinned.len()).collect();
    send_all_of(pinned, &all, reports, signal, progress)
}

/// Sends `signal` to the listed targets; returns the ones it reached.
fn send_all_of(
    pinned: &[Pinned<'_>],
    which: &[usize],
    reports: &mut [Report],
    signal: Signal,
    progress: &mut impl FnMut(Event<'_>),
) -> Vec<usize> {
    let mut sent = Vec::with_capacity(which.len());
    for &i in which {
        let report = &mut reports[i];
        let target = &pinned[i].target;
        match target.send(signal) {
            Ok(()) => {
                report.signal = Some(signal);
                report.outcome = Outcome::StillRunning;
                // A stopped process keeps a SIGTERM pending until it is continued (SIGKILL
                // needs no help): continue it, as systemd does, so that it can act on it.
                if signal == Signal::Terminate && target.is_stopped() && target.resume().is_ok() {
                    report.continued = true;
                }
                sent.push(i);
                progress(Event::Sent(report, signal));
            }
            Err(e) => {
                report.outcome = match e {
                    SendError::Gone => Outcome::AlreadyGone,
                    SendError::Denied(e) => Outcome::Denied(e),
                    SendError::NoWindows => Outcome::NoWindows,
                    SendError::ConsoleOnly => Outcome::ConsoleOnly,
                    SendError::Other(e) => Outcome::Failed(e),
                };
                progress(Event::NotSent(report));
            }
        }
    }
    sent
}

/// How often a signalled process that still runs is asked whether it let go of its
/// sockets.
const RELEASE_CHECK: Duration = Duration::from_millis(10);

/// Waits, at most `timeout`, until each of the listed targets has exited or (after a
/// SIGTERM) let go of every socket it was pinned for; marks those and returns the rest.
/// A SIGKILLed process closes its sockets on its way out, a moment before it counts as
/// exited: that one is waited for to the end, not called "still running".
fn wait_for(
    pinned: &[Pinned<'_>],
    which: &[usize],
    reports: &mut [Report],
    timeout: Duration,
    signal: Signal,
) -> Vec<usize> {
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<usize> = which.to_vec();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let targets: Vec<&Target> = pending.iter().map(|&i| &pinned[i].target).collect();
        let exited = Os::wait_for_exit(&targets, left.min(RELEASE_CHECK));
        let mut still = Vec::new();
        for (&i, done) in pending.iter().zip(exited) {
            if done {
                reports[i].outcome = Outcome::Exited;
            } else if signal == Signal::Terminate && !pinned[i].target.holds() {
                reports[i].outcome = Outcome::Released;
            } else {
                still.push(i);
            }
        }
        pending = still;
        if pending.is_empty() || left.is_zero() {
            return pending;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_guard_never_lets_itself_or_init_through() {
        assert_eq!(never(std::process::id()), Some(Guard::Itself));
        assert!(never(0).is_some());
        #[cfg(target_os = "linux")]
        assert_eq!(never(1), Some(Guard::Protected(Protection::Init)));
        let pid = (2..u32::MAX)
            .find(|&p| p != 4 && p != std::process::id())
            .unwrap();
        assert_eq!(never(pid), None);
    }
}
