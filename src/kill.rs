//! Termination policy, the same on every platform: which signal, which PIDs are never
//! touched, how long to wait, and what happened to each owner. The platform only pins a
//! process (`Target::acquire`), delivers a signal and waits.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::model::Owner;
use crate::platform::{self, Target};

/// What to send. `Terminate` asks (SIGTERM; on Windows a WM_CLOSE to the process's
/// windows); `Kill` forces (SIGKILL; TerminateProcess).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Terminate,
    Kill,
}

impl Signal {
    /// The past-tense verb for reports: `terminated 1234 (node)`.
    pub fn verb(self) -> &'static str {
        match self {
            Signal::Terminate => "terminated",
            Signal::Kill => "killed",
        }
    }
}

/// Why a found owner could not be pinned for signalling.
#[derive(Debug)]
pub enum AcquireError {
    /// It exited after the lookup.
    Gone,
    /// It is alive but no longer holds the socket (closed it, or the PID was reused).
    Released,
    Io(io::Error),
}

/// What became of one owner.
#[derive(Debug)]
pub enum Outcome {
    /// Signalled, and it exited within the timeout.
    Exited,
    /// Signalled, but still running when the timeout passed.
    StillRunning,
    /// Never signalled: a protected PID. The text says why.
    Refused(String),
    /// The system would not let us signal it.
    Denied(io::Error),
    /// Exited, or let go of the port, before we signalled it.
    AlreadyGone,
    /// The user said no (interactive mode).
    Declined,
    /// Signalling failed for another reason.
    Failed(io::Error),
}

impl Outcome {
    /// The name used in JSON output.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Exited => "exited",
            Outcome::StillRunning => "still_running",
            Outcome::Refused(_) => "refused",
            Outcome::Denied(_) => "denied",
            Outcome::AlreadyGone => "already_gone",
            Outcome::Declined => "declined",
            Outcome::Failed(_) => "failed",
        }
    }

    /// Whether this outcome leaves the job undone (exit code 3).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::StillRunning | Outcome::Refused(_) | Outcome::Denied(_) | Outcome::Failed(_)
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Refused(why) => write!(f, "refused: {why}"),
            Outcome::Denied(e) | Outcome::Failed(e) => write!(f, "{e}"),
            other => f.write_str(other.as_str()),
        }
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

/// Why `pid` must never be signalled, or `None` when it may be.
pub fn protected(pid: u32) -> Option<String> {
    if let Some(why) = platform::protected_reason(pid) {
        return Some(why.to_owned());
    }
    if pid == std::process::id() {
        return Some("it is rekt itself".to_owned());
    }
    if platform::parent_pid() == Some(pid) {
        return Some("it is rekt's parent (usually your shell)".to_owned());
    }
    None
}

/// One owner's fate, with the name used in messages.
#[derive(Debug)]
pub struct Report {
    pub pid: u32,
    pub name: Option<String>,
    /// The last signal sent (Kill after an escalation), if any was.
    pub signal: Option<Signal>,
    pub outcome: Outcome,
}

impl Report {
    /// `1234 (node)`, or just `1234` when the name is unknown.
    pub fn who(&self) -> String {
        who(self.pid, self.name.as_deref())
    }
}

/// `1234 (node)`, or just `1234` when the name is unknown.
pub fn who(pid: u32, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{pid} ({name})"),
        None => pid.to_string(),
    }
}

/// An owner that has been pinned and is about to be signalled.
pub struct Pinned<'a> {
    pub owner: &'a Owner,
    pub target: Target,
}

/// Pins every owner that may be signalled; the rest get their final report at once. Done
/// before any question is asked or signal sent, so a recycled PID can never be hit later.
pub fn pin<'a>(
    owners: &'a [Owner],
    name_of: impl Fn(u32) -> Option<String>,
) -> (Vec<Pinned<'a>>, Vec<Report>) {
    let mut pinned = Vec::new();
    let mut reports = Vec::new();
    for owner in owners {
        let report = |outcome| Report {
            pid: owner.pid,
            name: name_of(owner.pid),
            signal: None,
            outcome,
        };
        if let Some(why) = protected(owner.pid) {
            reports.push(report(Outcome::Refused(why)));
            continue;
        }
        match Target::acquire(owner) {
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

/// Signals the pinned owners under `policy`, waits, escalates if asked, and reports each.
/// `progress` is told each event as it happens, so the user sees it as it happens.
pub fn execute(
    pinned: &[Pinned<'_>],
    policy: Policy,
    name_of: impl Fn(u32) -> Option<String>,
    mut progress: impl FnMut(Event<'_>),
) -> Vec<Report> {
    let mut reports: Vec<Report> = pinned
        .iter()
        .map(|p| Report {
            pid: p.owner.pid,
            name: name_of(p.owner.pid),
            signal: None,
            outcome: Outcome::StillRunning,
        })
        .collect();
    let sent = send_all(pinned, &mut reports, policy.signal, &mut progress);
    let wait = match policy.signal {
        Signal::Terminate => policy.timeout,
        Signal::Kill => policy.timeout.max(KILL_WAIT),
    };
    let mut alive = wait_for(pinned, &sent, &mut reports, wait);
    let mut waited = wait;
    if policy.escalate && policy.signal == Signal::Terminate {
        // Owners that could not even be asked (on Windows: no window to close) are forced
        // too; the ones the system refused us stay refused.
        let unasked: Vec<usize> = (0..pinned.len())
            .filter(|&i| matches!(reports[i].outcome, Outcome::Failed(_)))
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
        alive = wait_for(pinned, &forced, &mut reports, KILL_WAIT);
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

/// Things worth telling the user while `execute` runs.
pub enum Event<'a> {
    /// The signal was delivered.
    Sent(&'a Report, Signal),
    /// The signal could not be delivered (the report's outcome says why).
    NotSent(&'a Report),
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
    /// Never signalled (protected, already gone, declined, or could not be pinned).
    Skipped(&'a Report),
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
        match pinned[i].target.send(signal) {
            Ok(()) => {
                report.signal = Some(signal);
                report.outcome = Outcome::StillRunning;
                sent.push(i);
                progress(Event::Sent(report, signal));
            }
            Err(e) => {
                report.outcome = match e.raw_os_error() {
                    // The process exited between pinning and now.
                    Some(code) if code == platform::ERROR_NO_SUCH_PROCESS => Outcome::AlreadyGone,
                    _ if e.kind() == io::ErrorKind::PermissionDenied => Outcome::Denied(e),
                    _ => Outcome::Failed(e),
                };
                progress(Event::NotSent(report));
            }
        }
    }
    sent
}

/// Waits for the listed targets; marks the ones that exited and returns the rest.
fn wait_for(
    pinned: &[Pinned<'_>],
    which: &[usize],
    reports: &mut [Report],
    timeout: Duration,
) -> Vec<usize> {
    let targets: Vec<&Target> = which.iter().map(|&i| &pinned[i].target).collect();
    let exited = platform::wait_for_exit(&targets, timeout);
    let mut alive = Vec::new();
    for (&i, done) in which.iter().zip(exited) {
        if done {
            reports[i].outcome = Outcome::Exited;
        } else {
            alive.push(i);
        }
    }
    alive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_signals_itself_its_parent_or_init() {
        assert!(
            protected(std::process::id())
                .unwrap()
                .contains("rekt itself")
        );
        assert!(protected(0).is_some());
        #[cfg(unix)]
        {
            assert!(protected(1).unwrap().contains("init"));
            let parent = std::os::unix::process::parent_id();
            assert!(protected(parent).unwrap().contains("parent"));
        }
    }

    #[test]
    fn ordinary_pids_are_not_protected() {
        // A PID that is neither special nor ours nor our parent's.
        let pid = (2..u32::MAX)
            .find(|&p| p != 4 && p != std::process::id() && Some(p) != platform::parent_pid())
            .unwrap();
        assert_eq!(protected(pid), None);
    }
}
