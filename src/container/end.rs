//! Ending a container through its engine (`docker stop`, `docker kill`), so that its restart
//! policy does not bring it back, and what became of it.

use super::Container;
use super::engine::EngineError;
use crate::kill::Policy;
use crate::model::Signal;

/// A container to end through its engine, and the owners it stands for (its processes,
/// the forwarders that carry its ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Job {
    pub(crate) container: Container,
    pub(crate) owners: Vec<u32>,
}

/// What became of a container rekt set out to end.
#[derive(Debug)]
pub(crate) enum EndOutcome {
    /// `docker stop`: it exited (SIGTERM, or SIGKILL after the grace period).
    Stopped,
    /// `docker kill`.
    Killed,
    /// It was not running any more.
    NotRunning,
    /// The user said no (`-i`).
    Declined,
    /// Its engine cannot be asked (no socket, refused, permission denied, timed out; `None`:
    /// no engine is known, or a runtime without the Docker API): rekt refuses, and says
    /// the command that would do it.
    Unreachable(Option<EngineError>),
    /// The engine refused or failed.
    Failed(EngineError),
}

impl EndOutcome {
    /// Whether it leaves the job undone (exit 3).
    pub(crate) fn is_failure(&self) -> bool {
        matches!(self, EndOutcome::Unreachable(_) | EndOutcome::Failed(_))
    }
}

/// One container's fate.
#[derive(Debug)]
pub(crate) struct Ending {
    pub(crate) job: Job,
    pub(crate) signal: Signal,
    pub(crate) outcome: EndOutcome,
}

/// Ends `target` through its engine: `-t` is a stop with `--timeout` as the grace period
/// (the engine kills after it), `-k` a kill; with `--escalate`, a stop that fails is
/// followed by a kill. Stopping or killing through the engine is also what keeps a restart
/// policy from bringing the container back.
pub(crate) fn end(target: Job, policy: Policy) -> Ending {
    let report = |outcome| Ending {
        job: target.clone(),
        signal: policy.signal,
        outcome,
    };
    let Some(engine) = target.container.engine.clone() else {
        return report(EndOutcome::Unreachable(None));
    };
    // Asked once in this run already, in vain: never another engine in its place.
    if let Some(why) = &target.container.unanswered {
        return report(EndOutcome::Unreachable(Some(why.clone())));
    }
    let id = target.container.id.clone();
    let result = match policy.signal {
        Signal::Terminate => match engine.stop(&id, policy.timeout) {
            Err(e) if policy.escalate && !unreachable(&e) => {
                engine.kill(&id).map(|()| EndOutcome::Killed)
            }
            other => other.map(|()| EndOutcome::Stopped),
        },
        Signal::Kill => engine.kill(&id).map(|()| EndOutcome::Killed),
    };
    let ended = match result {
        Ok(ended) => {
            // A kill returns once the signal is sent: wait (bounded) for the container to
            // be gone, so that the ports are looked at after it let go of them.
            let _ = engine.wait_not_running(&id, GONE_WAIT);
            ended
        }
        // 409 on a kill, 304 on a stop (taken as success by the client): not running.
        Err(EngineError::Api { status: 409, .. }) => EndOutcome::NotRunning,
        Err(e) if unreachable(&e) => EndOutcome::Unreachable(Some(e)),
        Err(e) => EndOutcome::Failed(e),
    };
    report(ended)
}

/// How long to wait for a killed container to be gone.
const GONE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether the engine could not be talked to at all.
fn unreachable(e: &EngineError) -> bool {
    matches!(e, EngineError::Unreachable(_) | EngineError::Denied)
}
