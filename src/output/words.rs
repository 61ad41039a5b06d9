//! What rekt says, in one place: names of processes, refusals, outcomes, hints, plurals.
//! The human printer and the JSON messages share these sentences, so that they never
//! disagree.

use super::Details;
use crate::context::{Supervisor, SupervisorKind, Unit};
use crate::duration;
use crate::kill::{Outcome, Report};
use crate::lookup::Elsewhere;
use crate::model::{PortStatus, Protection, Protocol, Signal};
use crate::platform::{Backend, Os};
use crate::query::PortSpec;
use crate::roles::{Relation, Role};

/// `1234 (node)`, or just `1234` when the name is unknown.
pub fn who(pid: u32, details: &Details) -> String {
    match details.get(&pid).and_then(|i| i.name.as_ref()) {
        Some(name) => format!("{pid} ({name})"),
        None => pid.to_string(),
    }
}

/// The line for a signal delivered: `terminated 1234 (node)`, and for a stopped process
/// that rekt continued, `...; it was stopped, so rekt also sent SIGCONT`.
pub fn signalled(report: &Report, signal: Signal, details: &Details) -> String {
    let line = format!("{} {}", sent(signal), who(report.pid, details));
    if report.continued {
        format!("{line}; it was stopped, so rekt also sent SIGCONT")
    } else {
        line
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
    }
}

/// Why an owner in `role` is not signalled: `it is rekt's caller (python3)`.
pub fn role_reason(role: &Role, pid: u32, details: &Details) -> String {
    let name = || {
        details
            .get(&pid)
            .and_then(|i| i.name.as_ref())
            .map_or_else(String::new, |n| format!(" ({n})"))
    };
    match role {
        Role::Protected(p) => protection(p),
        Role::Caller(Relation::Itself) => "it is rekt itself".into(),
        Role::Caller(Relation::Parent) => format!("it is rekt's parent{}", name()),
        Role::Caller(Relation::Caller) => format!("it is rekt's caller{}", name()),
        Role::Client => "it is a client: its only sockets on these ports are outgoing \
                         connections from ephemeral ports; --include-clients signals it too"
            .into(),
        Role::Forwarder(container) => {
            format!("it forwards the port for container {container}, which holds it")
        }
        Role::Holder => "it holds the port".into(),
    }
}

/// What more there is to say about an outcome, if anything: the sentence after the
/// outcome's name (`refused`: why; `denied`: the OS error and what to try).
pub fn outcome_detail(pid: u32, outcome: &Outcome, details: &Details) -> Option<String> {
    match outcome {
        Outcome::Refused(role) | Outcome::Skipped(role) => Some(role_reason(role, pid, details)),
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
        Outcome::Refused(role) => {
            format!(
                "refusing to signal {who}: {}",
                role_reason(role, pid, details)
            )
        }
        Outcome::Skipped(role) => {
            format!("not signalling {who}: {}", role_reason(role, pid, details))
        }
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

/// `signal 23 processes on ports 1-65535`: what a range would do.
pub fn many(count: usize, specs: &[PortSpec]) -> String {
    format!("signal {count} processes on {}", ports(specs))
}

/// Why a range that would signal many processes did nothing.
pub fn too_many(count: usize, specs: &[PortSpec], asked: bool) -> String {
    if asked {
        format!("nothing signalled: you declined to {}", many(count, specs))
    } else {
        format!(
            "nothing signalled: this would {}, and there is no terminal to confirm it on; \
             pass --yes to do it anyway",
            many(count, specs)
        )
    }
}

/// `4100 (bash) < 900 (sshd)`: a parent chain, nearest first.
pub fn chain(parents: &[u32], details: &Details) -> String {
    parents
        .iter()
        .map(|&p| who(p, details))
        .collect::<Vec<_>>()
        .join(" < ")
}

/// A supervisor in a sentence: `pm2 (app web)`, `systemd unit app.service`.
pub fn supervisor(s: &Supervisor, unit: Option<&Unit>, details: &Details) -> String {
    let name = s.name.as_ref().map(|n| n.to_string());
    let pid = s.pid.map(|p| who(p, details)).unwrap_or_default();
    match (s.kind, name) {
        (SupervisorKind::Systemd, name) => {
            let user = if unit.is_some_and(|u| u.user.is_some()) {
                "user "
            } else {
                ""
            };
            format!("systemd {user}unit {}", name.unwrap_or_default())
        }
        (SupervisorKind::Pm2, Some(app)) => format!("pm2 (as {app})"),
        (SupervisorKind::Supervisord, Some(program)) => {
            format!("supervisord (program {program})")
        }
        (SupervisorKind::Runit | SupervisorKind::S6 | SupervisorKind::Daemontools, Some(dir)) => {
            format!("{} (service {dir})", tool(s.kind))
        }
        (SupervisorKind::Shell, _) => format!("the shell {pid}"),
        (kind, _) => {
            let tool = tool(kind);
            if tool.is_empty() {
                pid
            } else {
                format!("{tool} {pid}")
            }
        }
    }
}

/// The program a supervisor kind runs as.
fn tool(kind: SupervisorKind) -> &'static str {
    match kind {
        SupervisorKind::Systemd => "systemd",
        SupervisorKind::Pm2 => "pm2",
        SupervisorKind::Nodemon => "nodemon",
        SupervisorKind::Supervisord => "supervisord",
        SupervisorKind::Runit => "runsv",
        SupervisorKind::S6 => "s6-supervise",
        SupervisorKind::Daemontools => "supervise",
        SupervisorKind::Shell | SupervisorKind::Process => "",
    }
}

/// A supervisor in a table cell: `pm2:web`, `systemd:app.service`, `shell:4100`.
pub fn supervisor_cell(s: &Supervisor) -> String {
    let what = match (&s.name, s.pid) {
        (Some(name), _) if !matches!(s.kind, SupervisorKind::Shell | SupervisorKind::Process) => {
            name.to_string()
        }
        (_, Some(pid)) => pid.to_string(),
        (Some(name), None) => name.to_string(),
        (None, None) => return s.kind.as_str().to_owned(),
    };
    format!("{}:{what}", s.kind.as_str())
}

/// Before a signal: `4100 (node) runs under pm2 (app web), which may start it again; to stop
/// it for good: pm2 stop web`.
pub fn supervised(pid: u32, details: &Details) -> Option<String> {
    let context = details.context(pid)?;
    let s = context.supervisor.as_ref()?;
    let restarts = match s.kind {
        SupervisorKind::Nodemon => "which starts it again when a watched file changes",
        _ => "which may start it again",
    };
    let mut line = format!(
        "{} runs under {}, {restarts}",
        who(pid, details),
        supervisor(s, context.unit.as_ref(), details)
    );
    if let Some(stop) = &s.stop {
        line.push_str(&format!("; to stop it for good: {stop}"));
    }
    Some(line)
}

/// After a signal, a port that a newcomer took: `port 18600/tcp was taken again 130ms
/// after it was free, by 4321 (python3), started by 4100 (bash) < 900 (sshd); the shell
/// 4100 (bash) started it again; to stop it for good: kill 4100, then run rekt again`.
pub fn retaken(status: &PortStatus, details: &Details) -> String {
    let port = format!("port {}/{}", status.port, status.protocol);
    let when = match status.retaken_after {
        Some(after) => format!(" {} after it was free,", waited(after)),
        None => String::new(),
    };
    let by = list(status.newcomers.iter().map(|&p| who(p, details)));
    let mut line = format!("{port} was taken again{when} by {by}");
    // The first newcomer with a context speaks for the rest (a server and its workers).
    let context = status.newcomers.iter().find_map(|&p| details.context(p));
    if let Some(context) = context {
        if !context.parents.is_empty() {
            line.push_str(&format!(
                ", started by {}",
                chain(&context.parents, details)
            ));
        }
        if let Some(s) = &context.supervisor {
            let name = supervisor(s, context.unit.as_ref(), details);
            let again = match s.kind {
                SupervisorKind::Shell | SupervisorKind::Process => {
                    format!("; {name} started it again")
                }
                _ => format!("; it runs under {name}, which restarted it"),
            };
            line.push_str(&again);
            if let Some(stop) = &s.stop {
                let then = match s.kind {
                    // Stopping the loop leaves the program it started running.
                    SupervisorKind::Shell | SupervisorKind::Process => ", then run rekt again",
                    _ => "",
                };
                line.push_str(&format!("; to stop it for good: {stop}{then}"));
            }
        }
    }
    line
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
        let details = Details::new();
        let refused = Outcome::Refused(Role::Caller(Relation::Parent));
        let refused = outcome_detail(7, &refused, &details).unwrap();
        assert!(!refused.starts_with("refused"), "{refused}");
        assert_eq!(outcome_detail(7, &Outcome::Exited, &details), None);
    }

    #[test]
    fn refusals_name_the_relation() {
        let mut details = Details::new();
        details.insert(
            7,
            crate::model::ProcessInfo {
                name: Some("sh".into()),
                ..Default::default()
            },
        );
        let caller = Outcome::Refused(Role::Caller(Relation::Caller));
        assert_eq!(
            not_signalled(7, &caller, &details),
            "refusing to signal 7 (sh): it is rekt's caller (sh)"
        );
        let parent = Outcome::Refused(Role::Caller(Relation::Parent));
        assert_eq!(
            not_signalled(8, &parent, &details),
            "refusing to signal 8: it is rekt's parent"
        );
        let client = not_signalled(7, &Outcome::Skipped(Role::Client), &details);
        assert!(
            client.starts_with("not signalling 7 (sh): it is a client"),
            "{client}"
        );
        assert!(client.contains("--include-clients"), "{client}");
    }

    #[test]
    fn a_continued_owner_says_so() {
        let details = Details::new();
        let mut report = Report::new(9, Outcome::Exited);
        assert_eq!(
            signalled(&report, Signal::Terminate, &details),
            "terminated 9"
        );
        report.continued = true;
        assert_eq!(
            signalled(&report, Signal::Terminate, &details),
            "terminated 9; it was stopped, so rekt also sent SIGCONT"
        );
    }
}
