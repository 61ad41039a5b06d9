//! Processes: who they are, why one is not signalled, and what became of each.

use super::super::Known;
use super::{container, forwarding, ports};
use crate::judge::{Relation, Role};
use crate::kill::{Guard, Outcome, Report};
use std::time::Duration;

use crate::model::{Protection, Protocol, Signal, Text};
use crate::query::PortSpec;
use crate::text::windows_word;

/// `1234 (node)`, or just `1234` when the name is unknown.
pub(crate) fn who(pid: u32, details: &Known) -> String {
    match details.info(pid).and_then(|i| i.shown_name()) {
        Some(name) => format!("{pid} ({name})"),
        None => pid.to_string(),
    }
}

/// The line for a signal delivered: `terminated 1234 (node)`, and for a stopped process
/// that rekt continued, `...; it was stopped, so rekt also sent SIGCONT`.
pub(crate) fn signalled(report: &Report, signal: Signal, details: &Known) -> String {
    let line = format!("{} {}", signal.past(), who(report.pid, details));
    if report.continued {
        format!("{line}; it was stopped, so rekt also sent SIGCONT")
    } else {
        line
    }
}

/// Why a protected process is never signalled.
pub(crate) fn protection(p: &Protection) -> String {
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
        Protection::System => "PID 4 is the System process (the kernel and its drivers), which \
                               no program may end, whatever its privileges. On 445 and 139 it \
                               is file sharing (SMB, NetBIOS over TCP/IP): the Server service \
                               (LanmanServer) and its drivers. On other ports it is mostly the \
                               kernel's HTTP server (http.sys) holding the port for a service \
                               or a URL reservation (IIS, WinRM, SSRS, WebDAV, ...): `netsh \
                               http show servicestate` names the process that registered it, \
                               and stopping that service (or `netsh http delete urlacl \
                               URL=...`) frees the port"
            .into(),
        Protection::ProtectedProcess => "it is a protected process (such as csrss.exe, an \
                                         antimalware service or LSA): Windows lets no \
                                         program end it, whatever its privileges"
            .into(),
        Protection::ServiceHost { services, holder } => service_host(services, holder.as_ref()),
    }
}

/// Why a process that hosts several services is not signalled, and what to stop instead.
fn service_host(services: &[Text], holder: Option<&Text>) -> String {
    let shown = 6;
    let mut names = super::list(services.iter().take(shown));
    if services.len() > shown {
        names.push_str(&format!(", and {} more", services.len() - shown));
    }
    let instead = match holder {
        Some(name) => {
            let word = windows_word(name);
            format!(
                "the port is the service {name}'s: stop it alone with `sc.exe stop {word}` \
                 (PowerShell: `Stop-Service {word}`)"
            )
        }
        None => "stop the service that holds the port alone with `sc.exe stop NAME` \
                 (PowerShell: `Stop-Service NAME`)"
            .into(),
    };
    format!(
        "it hosts {} services ({names}), and ending it would end every one of them; {instead}",
        services.len()
    )
}

/// Why an owner in `role` is not signalled: `it is rekt's caller (python3)`.
pub(crate) fn role_reason(role: &Role, pid: u32, details: &Known) -> String {
    let name = || {
        details
            .info(pid)
            .and_then(|i| i.shown_name())
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
        Role::Forwarder(f) => forwarding(f),
        Role::Holder => "it holds the port".into(),
    }
}

/// Why the plan did not signal `pid`: its role.
fn reason_of(pid: u32, details: &Known) -> String {
    match details.role(pid) {
        Some(role) => role_reason(role, pid, details),
        None => "it holds the port".into(),
    }
}

/// Why the last guard refused a PID.
fn guarded(guard: &Guard) -> String {
    match guard {
        Guard::Protected(p) => protection(p),
        Guard::Itself => "it is rekt itself".into(),
    }
}

/// What more there is to say about an outcome, if anything: the sentence after the
/// outcome's name (`refused`: why; `denied`: the OS error and what to try).
pub(crate) fn outcome_detail(pid: u32, outcome: &Outcome, details: &Known) -> Option<String> {
    match outcome {
        Outcome::Refused | Outcome::Skipped => Some(reason_of(pid, details)),
        Outcome::Guarded(guard) => Some(guarded(guard)),
        Outcome::ViaContainer => Some(details.container(pid).map_or_else(String::new, |c| {
            format!("it runs in {}, which rekt ended instead", container(c))
        })),
        Outcome::Denied(e) => Some(format!("{e}{}", details.privilege_hint())),
        Outcome::Failed(e) => Some(e.to_string()),
        Outcome::NoWindows => Some(no_windows().into()),
        Outcome::HeldBack {
            port,
            protocol,
            blocker,
        } => Some(held_back(*port, *protocol, *blocker, details)),
        Outcome::Released => Some("it closed its sockets on the port and is still running".into()),
        Outcome::ConsoleOnly => Some(console_only().into()),
        Outcome::Exited
        | Outcome::StillRunning
        | Outcome::NotWaited
        | Outcome::AlreadyGone
        | Outcome::Declined => None,
    }
}

/// Why an owner was not signalled although it holds the port: `port 18522/tcp stays held
/// by 812 (sshd), which rekt never signals (it is rekt's caller (sshd)), so signalling the
/// others would only do harm; --partial signals them anyway`.
fn held_back(port: u16, protocol: Protocol, blocker: u32, details: &Known) -> String {
    format!(
        "port {port}/{protocol} stays held by {}, which rekt does not signal ({}), so \
         signalling the others would free nothing and only do harm; --partial signals them \
         anyway",
        who(blocker, details),
        reason_of(blocker, details)
    )
}

/// `4123 (python3) closed its sockets on the port and is still running (draining)`.
pub(crate) fn released(pid: u32, details: &Known) -> String {
    format!(
        "{} let go of the port and is still running (finishing its work); it was not forced",
        who(pid, details)
    )
}

/// `-t --escalate` forcing an owner that could not be asked at all (no window to close).
pub(crate) fn escalating_at_once(pid: u32, details: &Known) -> String {
    format!("killing {} instead (--escalate)", who(pid, details))
}

/// `-t --escalate` forcing an owner that outlived the timeout and still holds the port.
pub(crate) fn escalating(pid: u32, waited: Duration, details: &Known) -> String {
    format!(
        "{} is still running after {}; killing it",
        who(pid, details),
        super::waited(waited)
    )
}

/// An owner still holding the port after every wait.
pub(crate) fn still_running(report: &Report, waited: Duration, details: &Known) -> String {
    format!(
        "{} is still running after {}{}",
        who(report.pid, details),
        super::waited(waited),
        if report.signal == Some(Signal::Terminate) {
            "; use -k or --escalate to force it"
        } else {
            ""
        }
    )
}

/// Why `-t` could not ask a process without windows (Windows has no SIGTERM).
fn no_windows() -> &'static str {
    "it has no windows to close (Windows has no SIGTERM; -t posts WM_CLOSE to a process's \
     windows); use -k, or -t --escalate, to end it"
}

/// Why `-t` could not ask a console program: closing its console would end them all.
fn console_only() -> &'static str {
    "it is a console program, and Windows has no polite signal for one: its only window is \
     its console's, and closing that would end every program attached to the console; use \
     -k, or -t --escalate, to end it"
}

/// The one line for an owner that was not signalled, or whose signal failed.
pub(crate) fn not_signalled(pid: u32, outcome: &Outcome, details: &Known) -> String {
    let who = who(pid, details);
    match outcome {
        Outcome::Refused => format!("refusing to signal {who}: {}", reason_of(pid, details)),
        Outcome::Guarded(guard) => format!("refusing to signal {who}: {}", guarded(guard)),
        Outcome::Skipped => format!("not signalling {who}: {}", reason_of(pid, details)),
        Outcome::Denied(e) => format!("could not signal {who}: {e}{}", details.privilege_hint()),
        Outcome::NoWindows => format!("could not ask {who} to exit: {}", no_windows()),
        Outcome::ConsoleOnly => format!("could not ask {who} to exit: {}", console_only()),
        Outcome::Failed(e) => format!("could not signal {who}: {e}"),
        Outcome::AlreadyGone => {
            format!("{who} already exited or let go of the port; not signalled")
        }
        Outcome::Declined => format!("skipped {who}"),
        Outcome::HeldBack {
            port,
            protocol,
            blocker,
        } => format!(
            "not signalling {who}: {}",
            held_back(*port, *protocol, *blocker, details)
        ),
        Outcome::Released => released(pid, details),
        Outcome::Exited => format!("{who} exited"),
        Outcome::StillRunning => format!("{who} is still running"),
        Outcome::NotWaited => format!("{who} was signalled; not waited for (--timeout 0s)"),
        Outcome::ViaContainer => match details.container(pid) {
            Some(c) => format!("not signalling {who}: it runs in {}", container(c)),
            None => format!("not signalling {who}: it runs in a container"),
        },
    }
}

/// `signal 23 processes on ports 1-65535`: what a range would do.
pub(crate) fn many(count: usize, specs: &[PortSpec]) -> String {
    format!("signal {count} processes on {}", ports(specs))
}

/// Why a range that would signal many processes did nothing.
pub(crate) fn too_many(count: usize, specs: &[PortSpec], asked: bool) -> String {
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
pub(crate) fn chain(parents: &[u32], details: &Known) -> String {
    parents
        .iter()
        .map(|&p| who(p, details))
        .collect::<Vec<_>>()
        .join(" < ")
}

/// `PID 41022 (python3)`, `PIDs 1 (a), 2 (b)`, with `a process you cannot see` appended
/// when `hidden`.
pub(crate) fn holders(pids: &[u32], hidden: bool, details: &Known) -> String {
    let mut names: Vec<String> = pids.iter().map(|&pid| who(pid, details)).collect();
    if hidden {
        names.push("a process you cannot see".into());
    }
    match pids.len() {
        0 => names.join(", "),
        1 => format!("PID {}", names.join(", ")),
        _ => format!("PIDs {}", names.join(", ")),
    }
}

/// The live view's question before it acts, saying exactly what will happen:
/// `SIGTERM 2 processes: 41022 (python3), 41023 (python3)`, `stop container web (docker)
/// through its engine`, or both, joined by `, and `.
pub(crate) fn question(
    signal: Signal,
    pids: &[u32],
    containers: &[&crate::container::Container],
    details: &Known,
) -> String {
    let mut parts = Vec::new();
    for c in containers {
        parts.push(format!(
            "{} {} through its engine",
            signal.engine_verb(),
            container(c)
        ));
    }
    if !pids.is_empty() {
        let what = match pids.len() {
            1 => "process".to_owned(),
            n => format!("{n} processes"),
        };
        let who = super::list(pids.iter().map(|&pid| who(pid, details)));
        parts.push(format!("{} {what}: {who}", signal_name(signal)));
    }
    parts.join(", and ")
}

/// The signal's name as the user knows it on this system.
fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Terminate if cfg!(windows) => "close",
        Signal::Kill if cfg!(windows) => "TerminateProcess",
        Signal::Terminate => "SIGTERM",
        Signal::Kill => "SIGKILL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_views_question_says_exactly_what_will_happen() {
        use crate::container::{Container, Runtime};
        use crate::model::{ProcessInfo, Text};
        let mut known = Known::default();
        for pid in [41022, 41023] {
            let info = ProcessInfo {
                name: Some(Text::from("python3")),
                ..ProcessInfo::default()
            };
            known.insert(pid, info);
        }
        let sig = if cfg!(windows) { "close" } else { "SIGTERM" };
        assert_eq!(
            question(Signal::Terminate, &[41022, 41023], &[], &known),
            format!("{sig} 2 processes: 41022 (python3), 41023 (python3)")
        );
        let web = Container {
            runtime: Runtime::Docker,
            id: "6e29ed62a3f7".into(),
            name: Some(Text::from("web")),
            image: None,
            restart: None,
            pod: None,
            engine: None,
            unanswered: None,
        };
        assert_eq!(
            question(Signal::Terminate, &[], &[&web], &known),
            "stop container web (docker) through its engine"
        );
        let kill = if cfg!(windows) {
            "TerminateProcess"
        } else {
            "SIGKILL"
        };
        assert_eq!(
            question(Signal::Kill, &[7], &[&web], &known),
            format!("kill container web (docker) through its engine, and {kill} process: 7")
        );
    }

    #[test]
    fn a_service_host_is_refused_with_the_service_to_stop() {
        use crate::model::Text;
        let names = |n: &[&str]| n.iter().map(|&s| Text::from(s)).collect::<Vec<_>>();
        let host = Protection::ServiceHost {
            services: names(&["Dnscache", "LanmanWorkstation", "NlaSvc"]),
            holder: Some(Text::from("Dnscache")),
        };
        assert_eq!(
            protection(&host),
            "it hosts 3 services (Dnscache, LanmanWorkstation, NlaSvc), and ending it would end \
             every one of them; the port is the service Dnscache's: stop it alone with \
             `sc.exe stop Dnscache` (PowerShell: `Stop-Service Dnscache`)"
        );
        let many = Protection::ServiceHost {
            services: names(&["a", "b", "c", "d", "e", "f", "g", "h"]),
            holder: None,
        };
        let line = protection(&many);
        assert!(
            line.starts_with("it hosts 8 services (a, b, c, d, e, f, and 2 more)"),
            "{line}"
        );
        assert!(line.ends_with("`sc.exe stop NAME` (PowerShell: `Stop-Service NAME`)"));
        let ppl = protection(&Protection::ProtectedProcess);
        assert!(ppl.contains("whatever its privileges"), "{ppl}");
        let system = protection(&Protection::System);
        assert!(
            system.contains("whatever its privileges") && system.contains("445 and 139"),
            "{system}"
        );
    }

    #[test]
    fn a_console_program_has_no_polite_signal() {
        let details = Known::default();
        let line = not_signalled(12, &Outcome::ConsoleOnly, &details);
        assert!(
            line.starts_with("could not ask 12 to exit: it is a console program"),
            "{line}"
        );
        assert!(
            line.ends_with("use -k, or -t --escalate, to end it"),
            "{line}"
        );
        let detail = outcome_detail(12, &Outcome::ConsoleOnly, &details).unwrap();
        assert!(detail.starts_with("it is a console program"), "{detail}");
    }

    #[test]
    fn a_service_is_stopped_through_its_manager() {
        use crate::model::Text;
        use crate::supervision::{Context, service_supervisor};
        let mut details = Known::default();
        details.set_context(
            40,
            Context {
                supervisor: Some(service_supervisor(&Text::from("MySQL80"))),
                ..Context::default()
            },
        );
        assert_eq!(
            super::super::supervised(40, &details).unwrap(),
            "40 runs under the service manager (as the service MySQL80), which may start it \
             again; to stop it for good: sc.exe stop MySQL80 (PowerShell: Stop-Service MySQL80)"
        );
    }

    #[test]
    fn outcome_details_do_not_repeat_the_outcome() {
        let mut details = Known::default();
        details.set_role(7, Role::Caller(Relation::Parent));
        let refused = outcome_detail(7, &Outcome::Refused, &details).unwrap();
        assert!(!refused.starts_with("refused"), "{refused}");
        assert_eq!(outcome_detail(7, &Outcome::Exited, &details), None);
    }

    #[test]
    fn refusals_name_the_relation() {
        let mut details = Known::default();
        details.insert(
            7,
            crate::model::ProcessInfo {
                name: Some("sh".into()),
                ..Default::default()
            },
        );
        details.set_role(7, Role::Caller(Relation::Caller));
        assert_eq!(
            not_signalled(7, &Outcome::Refused, &details),
            "refusing to signal 7 (sh): it is rekt's caller (sh)"
        );
        details.set_role(8, Role::Caller(Relation::Parent));
        assert_eq!(
            not_signalled(8, &Outcome::Refused, &details),
            "refusing to signal 8: it is rekt's parent"
        );
        details.set_role(7, Role::Client);
        let client = not_signalled(7, &Outcome::Skipped, &details);
        assert!(
            client.starts_with("not signalling 7 (sh): it is a client"),
            "{client}"
        );
        assert!(client.contains("--include-clients"), "{client}");
        assert_eq!(
            not_signalled(9, &Outcome::Guarded(Guard::Itself), &details),
            "refusing to signal 9: it is rekt itself"
        );
    }

    #[test]
    fn a_continued_owner_says_so() {
        let details = Known::default();
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
