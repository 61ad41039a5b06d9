//! What rekt says, in one place: names of processes, refusals, outcomes, hints, plurals.
//! The human printer and the JSON messages share these sentences, so that they never
//! disagree.

use super::Details;
use crate::duration;
use crate::kill::Outcome;
use crate::lookup::Elsewhere;
use crate::model::{Protection, Protocol, Signal};
use crate::platform::{Backend, Os};
use crate::query::PortSpec;

/// `1234 (node)`, or just `1234` when the name is unknown.
pub fn who(pid: u32, details: &Details) -> String {
    match details.get(&pid).and_then(|i| i.name.as_ref()) {
        Some(name) => format!("{pid} ({name})"),
        None => pid.to_string(),
    }
}

/// The past-tense verb for reports: `terminated 1234 (node)`.
pub fn sent(signal: Signal) -> &'static str {
    match signal {
        Signal::Terminate => "terminated",
        Signal::Kill => "killed",
    }
}

/// The imperative verb for the `-i` prompt: `kill 1234 (node)?`.
pub fn verb(signal: Signal) -> &'static str {
    match signal {
        Signal::Terminate => "terminate",
        Signal::Kill => "kill",
    }
}

/// Why a protected process is never signalled.
pub fn protection(p: &Protection) -> String {
    match p {
        Protection::NoProcess => "PID 0 is not a process".into(),
        Protection::IdleProcess => "PID 0 is the System Idle Process, not a program: the socket \
                                    table names no real owner for this socket"
            .into(),
        Protection::Init => "PID 1 is init; ending it would bring the system down".into(),
        Protection::Launchd => "PID 1 is launchd, which holds the sockets of socket-activated \
                                services; stop the service with launchctl instead (`launchctl \
                                bootout system/LABEL`, or `gui/$(id -u)/LABEL` for your own \
                                agents)"
            .into(),
        Protection::System => {
            "PID 4 is the System process (the kernel and its drivers, such as http.sys)".into()
        }
        Protection::Rekt => "it is rekt itself".into(),
        Protection::Parent => "it is rekt's parent (usually your shell)".into(),
    }
}

/// What more there is to say about an outcome, if anything: the sentence after the
/// outcome's name (`refused`: why; `denied`: the OS error and what to try).
pub fn outcome_detail(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Refused(why) => Some(protection(why)),
        Outcome::Denied(e) => Some(format!("{e}; {}", Os::PRIVILEGE_HINT)),
        Outcome::Failed(e) => Some(e.to_string()),
        Outcome::NoWindows => Some(no_windows().into()),
        Outcome::Exited
        | Outcome::StillRunning
        | Outcome::NotWaited
        | Outcome::AlreadyGone
        | Outcome::Declined => None,
    }
}

/// Why `-t` could not ask a process without windows (Windows has no SIGTERM).
fn no_windows() -> &'static str {
    "it has no windows to close (Windows has no SIGTERM; -t posts WM_CLOSE to a process's \
     windows); use -k to end it"
}

/// The one line for an owner that was not signalled, or whose signal failed.
pub fn not_signalled(pid: u32, outcome: &Outcome, details: &Details) -> String {
    let who = who(pid, details);
    match outcome {
        Outcome::Refused(why) => format!("refusing to signal {who}: {}", protection(why)),
        Outcome::Denied(e) => format!("could not signal {who}: {e}; {}", Os::PRIVILEGE_HINT),
        Outcome::NoWindows => format!("could not ask {who} to exit: {}", no_windows()),
        Outcome::Failed(e) => format!("could not signal {who}: {e}"),
        Outcome::AlreadyGone => {
            format!("{who} already exited or let go of the port; not signalled")
        }
        Outcome::Declined => format!("skipped {who}"),
        Outcome::Exited => format!("{who} exited"),
        Outcome::StillRunning => format!("{who} is still running"),
        Outcome::NotWaited => format!("{who} was signalled; not waited for (--timeout 0s)"),
    }
}

/// `port 8000`, `ports 8000 9000`, `ports 8000-8010`: the ports as the user wrote them.
pub fn ports(specs: &[PortSpec]) -> String {
    let s = if specs.len() == 1 && specs[0].first == specs[0].last {
        ""
    } else {
        "s"
    };
    let specs: Vec<String> = specs.iter().map(PortSpec::to_string).collect();
    format!("port{s} {}", specs.join(" "))
}

/// `port 8000/tcp is free here, but held in network namespace 4026532281 by PID 5120; …`
pub fn elsewhere(e: &Elsewhere) -> String {
    // Sorted before dedup: a dump interleaves families, so equal ports need not be adjacent.
    let mut ports: Vec<(u16, Protocol)> =
        e.sockets.iter().map(|s| (s.port(), s.protocol)).collect();
    ports.sort_unstable();
    ports.dedup();
    let ports: Vec<String> = ports
        .into_iter()
        .map(|(port, protocol)| format!("{port}/{protocol}"))
        .collect();
    let by = match e.pids.as_slice() {
        [] => String::new(),
        [pid] => format!(" by PID {pid}"),
        pids => format!(" by PIDs {}", list(pids.iter())),
    };
    format!(
        "port {} is free here, but held in network namespace {}{by}; use --all-netns to see it",
        ports.join(", "),
        e.netns.label()
    )
}

/// `a, b, c`.
pub fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// `300ms`, `5s`: a wait as the user would write it.
pub fn waited(d: std::time::Duration) -> String {
    duration::format(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_plural_unless_one_port() {
        let spec = |t: &str| t.parse::<PortSpec>().unwrap();
        assert_eq!(ports(&[spec("8000")]), "port 8000");
        assert_eq!(ports(&[spec("8000/udp")]), "port 8000/udp");
        assert_eq!(ports(&[spec("8000-8001")]), "ports 8000-8001");
        assert_eq!(ports(&[spec("80"), spec("81")]), "ports 80 81");
    }

    #[test]
    fn outcome_details_do_not_repeat_the_outcome() {
        let refused = outcome_detail(&Outcome::Refused(Protection::Parent)).unwrap();
        assert!(!refused.starts_with("refused"), "{refused}");
        assert_eq!(outcome_detail(&Outcome::Exited), None);
    }
}
