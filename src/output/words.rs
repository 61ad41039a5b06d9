//! What rekt says, in one place: names of processes, refusals, outcomes, hints, plurals.
//! The human printer and the JSON messages share these sentences, so that they never
//! disagree.

use super::Details;
use crate::containers::{self, Container, Ended};
use crate::context::{Supervisor, SupervisorKind, Unit};
use crate::duration;
use crate::forwarder::Forwarder;
use crate::kill::{Outcome, Report};
use crate::model::{
    BoundVisibility, Heir, Hidden, Lingering, Protection, Protocol, Signal, Socket,
};
use crate::platform::{Backend, Os};
use crate::query::PortSpec;
use crate::roles::{Forwarding, Relation, Role};
use crate::verdict::{Place, PortVerdict};

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
fn service_host(services: &[crate::model::Text], holder: Option<&crate::model::Text>) -> String {
    let shown = 6;
    let mut names = list(services.iter().take(shown));
    if services.len() > shown {
        names.push_str(&format!(", and {} more", services.len() - shown));
    }
    let instead = match holder {
        Some(name) => {
            let word = crate::context::windows_word(name);
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

/// `; run as Administrator`, where the platform has a hint that can help, else nothing.
fn hint() -> String {
    Os::privilege_hint().map_or_else(String::new, |h| format!("; {h}"))
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
        Role::Forwarder(f) => forwarding(f),
        Role::Holder => "it holds the port".into(),
    }
}

/// What more there is to say about an outcome, if anything: the sentence after the
/// outcome's name (`refused`: why; `denied`: the OS error and what to try).
pub fn outcome_detail(pid: u32, outcome: &Outcome, details: &Details) -> Option<String> {
    match outcome {
        Outcome::Refused(role) | Outcome::Skipped(role) => Some(role_reason(role, pid, details)),
        Outcome::ViaContainer => Some(details.container(pid).map_or_else(String::new, |c| {
            format!("it runs in {}, which rekt ended instead", container(c))
        })),
        Outcome::Denied(e) => Some(format!("{e}{}", hint())),
        Outcome::Failed(e) => Some(e.to_string()),
        Outcome::NoWindows => Some(no_windows().into()),
        Outcome::ConsoleOnly => Some(console_only().into()),
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
     windows); use -k, or -t --escalate, to end it"
}

/// Why `-t` could not ask a console program: closing its console would end them all.
fn console_only() -> &'static str {
    "it is a console program, and Windows has no polite signal for one: its only window is \
     its console's, and closing that would end every program attached to the console; use \
     -k, or -t --escalate, to end it"
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
        Outcome::Denied(e) => format!("could not signal {who}: {e}{}", hint()),
        Outcome::NoWindows => format!("could not ask {who} to exit: {}", no_windows()),
        Outcome::ConsoleOnly => format!("could not ask {who} to exit: {}", console_only()),
        Outcome::Failed(e) => format!("could not signal {who}: {e}"),
        Outcome::AlreadyGone => {
            format!("{who} already exited or let go of the port; not signalled")
        }
        Outcome::Declined => format!("skipped {who}"),
        Outcome::Exited => format!("{who} exited"),
        Outcome::StillRunning => format!("{who} is still running"),
        Outcome::NotWaited => format!("{who} was signalled; not waited for (--timeout 0s)"),
        Outcome::ViaContainer => match details.container(pid) {
            Some(c) => format!("not signalling {who}: it runs in {}", container(c)),
            None => format!("not signalling {who}: it runs in a container"),
        },
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
pub fn elsewhere(port: u16, protocol: Protocol, place: &Place) -> String {
    let by = match place.pids.as_slice() {
        [] => String::new(),
        [pid] => format!(" by PID {pid}"),
        pids => format!(" by PIDs {}", list(pids.iter())),
    };
    format!(
        "port {port}/{protocol} is free here, but held in network namespace {}{by}; use \
         --all-netns to see it",
        place.netns.label()
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
        (SupervisorKind::Engine, name) => format!(
            "its container engine (container {}, restart policy)",
            name.unwrap_or_default()
        ),
        (SupervisorKind::Service, name) => format!(
            "the service manager (as the service {})",
            name.unwrap_or_default()
        ),
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
        SupervisorKind::Engine => "engine",
        SupervisorKind::Service => "service",
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
        line.push_str(&format!("; to stop it for good: {stop}{}", powershell(s)));
    }
    Some(line)
}

/// A service's stop command in PowerShell's words too: ` (PowerShell: Stop-Service NAME)`.
fn powershell(s: &Supervisor) -> String {
    match (s.kind, &s.name) {
        (SupervisorKind::Service, Some(name)) => format!(
            " (PowerShell: Stop-Service {})",
            crate::context::windows_word(name)
        ),
        _ => String::new(),
    }
}

/// After a signal, a port that a newcomer took: `port 18600/tcp was taken again 130ms
/// after it was free, by 4321 (python3), started by 4100 (bash) < 900 (sshd); the shell
/// 4100 (bash) started it again; to stop it for good: kill 4100, then run rekt again`.
pub fn retaken(status: &PortVerdict, details: &Details) -> String {
    let port = format!("port {}/{}", status.first, status.protocol);
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
                line.push_str(&format!(
                    "; to stop it for good: {stop}{then}{}",
                    powershell(s)
                ));
            }
        }
    }
    line
}

/// `PID 41022 (python3)`, `PIDs 1 (a), 2 (b)`, with `a process you cannot see` appended
/// when `hidden`.
pub fn holders(pids: &[u32], hidden: bool, details: &Details) -> String {
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

/// Why a socket has no visible owner, as the one line about it:
/// `port 8000/tcp is held by a process of uid 0 (root) that you cannot see; try sudo`.
pub fn hidden(socket: &Socket, reason: Option<&Hidden>, details: &Details) -> String {
    let port = format!("port {}/{}", socket.port(), socket.protocol);
    let whose = match socket.uid {
        Some(uid) => format!(" of uid {uid} ({})", Os::user_name(uid)),
        None => String::new(),
    };
    let hint = hint();
    match reason {
        Some(Hidden::OtherUser) => {
            format!("{port} is held by a process{whose} that you cannot see{hint}")
        }
        Some(Hidden::HiddenPid) => format!(
            "{port} is held by a process{whose} that /proc hides from you (it is mounted \
             with hidepid){hint}"
        ),
        Some(Hidden::Unreadable { pids }) => {
            let which = match pids.as_slice() {
                [] => String::new(),
                [pid] => format!("; PID {} could not be read", who(*pid, details)),
                pids => format!(
                    "; PIDs {} could not be read",
                    list(pids.iter().map(|&pid| who(pid, details)))
                ),
            };
            format!(
                "{port} is held by a process{whose} whose fds cannot be read, even with \
                 privileges (another user namespace, or a locked-down process){which}"
            )
        }
        Some(Hidden::OtherPidNamespace) => format!(
            "{port} is held by a process{whose} outside rekt's PID namespace (rekt runs in a \
             container that shares this network), which rekt cannot see"
        ),
        Some(Hidden::Kernel { kind, device }) => {
            let delete = crate::context::shell_word(device);
            format!(
                "{port} is held by the kernel for the {kind} device {device}, not by a process: \
                 there is nothing to signal; deleting the device (ip link del {delete}) frees it"
            )
        }
        Some(Hidden::NoProcess) => format!(
            "{port} is held by a socket{whose} that no process has open: the kernel's own (a \
             tunnel such as WireGuard, or NFS) or one in flight between processes over a unix \
             socket (SCM_RIGHTS); rekt cannot tell which, and there is nothing to signal"
        ),
        Some(Hidden::BinderExited { binder, heirs }) => format!(
            "{port} is held by a socket that PID {binder} created and that outlived it: that \
             process has exited (the socket table names the process that bound a socket, not \
             the one that holds it now){}",
            heirs_clause(heirs)
        ),
        Some(Hidden::Reserved) => format!(
            "{port} is reserved by the system (an excluded port range; see `netsh int {} show \
             excludedportrange protocol={}`): no socket is listed, yet a bind() there is \
             refused, and there is nothing to signal",
            ip_version(socket),
            socket.protocol
        ),
        Some(Hidden::Unlisted) => format!(
            "{port} is held by a socket the tables do not show (a bind() there finds it in \
             use; the socket tables leave out sockets that are bound but neither listening \
             nor connected), so no process can be named"
        ),
        None => format!("{port} is held by a socket{whose} whose owner rekt cannot see"),
    }
}

/// `a process that inherited the socket from PID 900, which has exited; the likely holder
/// is its child 1204 (node.exe), ...`: a hidden holder, after a signal.
pub fn inherited(binder: u32, heirs: &[Heir]) -> String {
    format!(
        "a process that inherited the socket from PID {binder}, which has exited{}",
        heirs_clause(heirs)
    )
}

/// `ipv4` or `ipv6`, as netsh names a socket's family.
fn ip_version(socket: &Socket) -> &'static str {
    match socket.family {
        crate::model::Family::V4 => "ipv4",
        crate::model::Family::V6 => "ipv6",
    }
}

/// `; most likely its child 5120 (node.exe), which inherited it`, or why none is named.
fn heirs_clause(heirs: &[Heir]) -> String {
    let named = |h: &Heir| match &h.name {
        Some(name) => format!("{} ({name})", h.pid),
        None => h.pid.to_string(),
    };
    match heirs {
        [] => "; none of its children that could have inherited it is still running, so \
               rekt cannot name the holder"
            .into(),
        [one] => format!(
            "; the likely holder is its child {}, started after the bind, which inherited it",
            named(one)
        ),
        many => format!(
            "; the likely holders are its children {}, started after the bind, which may have \
             inherited it",
            list(many.iter().map(named))
        ),
    }
}

/// The owner of a hidden socket, as the end of `… shown with PID '-': its owner is …`.
pub fn hidden_owner(reason: Option<&Hidden>) -> String {
    match reason {
        Some(Hidden::OtherUser) => {
            format!("another user's process, which you cannot see{}", hint())
        }
        Some(Hidden::HiddenPid) => format!(
            "another user's process, which /proc (mounted with hidepid) hides from you{}",
            hint()
        ),
        Some(Hidden::Unreadable { .. }) => "a process whose fds cannot be read even with \
                                             privileges (another user namespace, or a \
                                             locked-down process)"
            .into(),
        Some(Hidden::OtherPidNamespace) => {
            "a process outside rekt's PID namespace, which it cannot see".into()
        }
        Some(Hidden::Kernel { kind, .. }) => format!("the kernel (a {kind} device)"),
        Some(Hidden::NoProcess) => "no process: the kernel's own socket, or one in flight \
                                    between processes over a unix socket"
            .into(),
        Some(Hidden::BinderExited { binder, heirs }) => format!(
            "not PID {binder}, which created the socket and has exited{}",
            heirs_clause(heirs)
        ),
        Some(Hidden::Reserved) => "no process: the system reserves the port (an excluded \
                                   port range)"
            .into(),
        Some(Hidden::Unlisted) => "a socket the tables do not show (bound, neither listening \
                                   nor connected)"
            .into(),
        None => "not a visible process".into(),
    }
}

/// A port that no process holds but that lingering connections block:
/// `port 8350/tcp: nothing holds it, but 1 connection in TIME_WAIT blocks a plain bind()
/// for 42s more (…); nothing to signal`. After a signal that freed it (`freed`), the
/// sentence starts from its owners being gone.
pub fn blocked(port: u16, protocol: Protocol, lingering: &[Lingering], freed: bool) -> String {
    let n = lingering.len();
    let mut states: Vec<&str> = lingering.iter().map(|l| l.socket.state.as_str()).collect();
    states.sort_unstable();
    states.dedup();
    let s = if n == 1 { "" } else { "s" };
    let connections = if states == ["TIME_WAIT"] {
        format!("{n} connection{s} in TIME_WAIT")
    } else {
        format!("{n} closing connection{s} ({})", states.join(", "))
    };
    let until = match lingering.iter().filter_map(|l| l.ends_in).max() {
        // Rounded up: "0s more" would read as already over.
        Some(left) => format!(
            "for {}{}s more",
            if n == 1 { "" } else { "up to " },
            left.as_millis().div_ceil(1000)
        ),
        None => "until the kernel drops them".into(),
    };
    let start = if freed {
        format!("port {port}/{protocol}: its owners are gone, but")
    } else {
        format!("port {port}/{protocol}: no process holds it, but")
    };
    format!(
        "{start} {connections} block{} a plain bind() {until} (one with SO_REUSEADDR succeeds \
         when the closed socket had it set too, as servers usually do); nothing to signal",
        if n == 1 { "s" } else { "" }
    )
}

/// Why a port reported free might not be: TCP sockets that are bound but not listening
/// could not be looked for.
pub fn unseen(why: BoundVisibility) -> &'static str {
    match why {
        BoundVisibility::OldKernel => {
            "this kernel (before 6.8) does not show TCP sockets that are bound but not \
             listening, so one of them may still block a port said to be free"
        }
        BoundVisibility::TextTables => {
            "the /proc/net tables (read because netlink is refused) do not show TCP sockets \
             that are bound but not listening, so one of them may still block a port said to \
             be free"
        }
        BoundVisibility::Shown | BoundVisibility::Unknown => "",
    }
}

/// `port 8143 is free`, `ports 8000-8010 are free`: a whole spec.
pub fn spec_free(spec: &PortSpec) -> String {
    if spec.first == spec.last {
        format!("port {spec} is free")
    } else {
        format!("ports {spec} are free")
    }
}

/// `the other 9 ports in 8000-8010`, or `the other port in 8000-8001`.
pub fn others(spec: &PortSpec, n: u32) -> String {
    if n == 1 {
        format!("the other port in {spec}")
    } else {
        format!("the other {n} ports in {spec}")
    }
}

/// `a, b, c`.
pub fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// `300ms`, `5s`: a wait as the user would write it.
pub fn waited(d: std::time::Duration) -> String {
    duration::format(d)
}

/// What a forwarder carries the port for, and what frees it instead of signalling it:
/// `it is docker-proxy, which forwards the port to container web (docker); rekt ends the
/// container instead`.
pub fn forwarding(f: &Forwarding) -> String {
    let opt_in = "--include-forwarders signals it too, which breaks what it forwards";
    if let Some(c) = &f.container {
        let through = if c.engine.is_some() {
            "rekt ends the container through its engine instead".to_owned()
        } else {
            format!(
                "no engine answers, so end the container with: {}",
                c.command(false)
            )
        };
        return format!(
            "it is {}, which forwards the port to {}; {through}",
            forwarder_name(&f.kind),
            container(c)
        );
    }
    let what = match &f.kind {
        // dockerd also holds its own API port (tcp://...:2375) and containerd its
        // endpoints: signalling either stops every container on the machine.
        Forwarder::Dockerd | Forwarder::Containerd => format!(
            "it is {}, and no running container that an engine or its state files know of \
             publishes this port (it may be the daemon's own, such as its API port): \
             signalling it would stop every container on the machine",
            if f.kind == Forwarder::Dockerd {
                "dockerd"
            } else {
                "containerd"
            }
        ),
        Forwarder::DockerProxy { .. }
        | Forwarder::RootlessKit
        | Forwarder::RootlessPort
        | Forwarder::Slirp4netns
        | Forwarder::Pasta
        | Forwarder::Gvproxy => format!(
            "it is {}, which carries a published port for a container that no engine could \
             name (none answers, or none is running); `docker ps` or `podman ps` shows which, \
             and `docker stop NAME` frees the port",
            forwarder_name(&f.kind)
        ),
        Forwarder::WslRelay => "it is wslrelay, which forwards the port from a WSL 2 \
                                distribution (localhost forwarding): the server runs inside \
                                WSL; stop it there (`wsl rekt -k PORT`), or `wsl --shutdown`"
            .into(),
        Forwarder::DockerDesktop | Forwarder::Vpnkit => format!(
            "it is {}, which carries a port that a Docker Desktop container publishes: \
             `docker ps` shows which, and `docker stop NAME` frees the port",
            forwarder_name(&f.kind)
        ),
        Forwarder::OrbStack => "it is OrbStack's helper, which carries a port for an OrbStack \
                                container or machine: `docker ps` (or `orb list`) shows which, \
                                and `docker stop NAME` (or `orb stop NAME`) frees it"
            .into(),
        Forwarder::Lima => "it is Lima's host agent (Colima), which forwards the port from a \
                            VM: stop the server inside it (`colima ssh`, `limactl shell`), or \
                            `colima stop`"
            .into(),
        Forwarder::AirPlay => "it is ControlCenter, which holds the port for the AirPlay \
                               Receiver, and launchd starts it again: turn it off in System \
                               Settings > General > AirDrop & Handoff > AirPlay Receiver"
            .into(),
    };
    format!("{what}; {opt_in}")
}

/// A forwarder's program, as the user knows it.
fn forwarder_name(f: &Forwarder) -> &'static str {
    match f {
        Forwarder::DockerProxy { .. } => "docker-proxy",
        Forwarder::Dockerd => "dockerd (reserving the published port)",
        Forwarder::Containerd => "containerd (reserving a container's port)",
        Forwarder::RootlessKit => "rootlesskit (rootless networking)",
        Forwarder::RootlessPort => "rootlessport (rootless Podman networking)",
        Forwarder::Slirp4netns => "slirp4netns (rootless networking)",
        Forwarder::Pasta => "pasta (rootless networking)",
        Forwarder::Gvproxy => "gvproxy (a container VM's networking)",
        Forwarder::WslRelay => "wslrelay",
        Forwarder::DockerDesktop => "Docker Desktop's backend",
        Forwarder::Vpnkit => "vpnkit (Docker Desktop's networking)",
        Forwarder::OrbStack => "OrbStack's helper",
        Forwarder::Lima => "Lima's host agent",
        Forwarder::AirPlay => "ControlCenter (AirPlay Receiver)",
    }
}

/// `container web (docker)`, `container 6e29ed62a3f7 (docker)`, with the image when known:
/// `container web (docker, image nginx)`.
pub fn container(c: &Container) -> String {
    match &c.image {
        Some(image) => format!("container {} ({}, image {image})", c.handle(), c.runtime),
        None => format!("container {} ({})", c.handle(), c.runtime),
    }
}

/// A container in a table cell: `docker:web`.
pub fn container_cell(c: &Container) -> String {
    format!("{}:{}", c.runtime, c.handle())
}

/// A port that running containers publish with no socket here: `port 18700/tcp has no
/// socket here, but container web (docker) publishes it (NAT rules alone): a bind() here
/// succeeds, and traffic to the port still goes to the container; rekt -k 18700 ends it, or:
/// docker stop web`. After a signal: `port 18700/tcp is still published by ...`.
pub fn published(port: u16, protocol: Protocol, containers: &[Container], after: bool) -> String {
    let by = list(containers.iter().map(container));
    let commands = list(containers.iter().map(|c| c.command(false)));
    if after {
        format!("port {port}/{protocol} is still published by {by}; end it with: {commands}")
    } else {
        format!(
            "port {port}/{protocol} has no socket here, but {by} publishes it (NAT rules \
             alone): a bind() here succeeds, and traffic to the port still goes to the \
             container; rekt -k {port}/{protocol} ends it, or: {commands}"
        )
    }
}

/// The line for a container rekt set out to end through its engine: `stopped container web
/// (docker, image nginx) through its engine (for 4123, 4130)`, or why not, with the command
/// that would do it.
pub fn container_ended(report: &containers::Report, details: &Details) -> String {
    let c = container(&report.target.container);
    let via = if report.target.owners.is_empty() {
        String::new()
    } else {
        format!(
            " (it holds the port through {})",
            list(report.target.owners.iter().map(|&p| who(p, details)))
        )
    };
    let command = report
        .target
        .container
        .command(report.signal == Signal::Kill);
    match &report.ended {
        Ended::Stopped => format!("stopped {c} through its engine{via}"),
        Ended::Killed => format!("killed {c} through its engine{via}"),
        Ended::NotRunning => format!("{c} was not running any more{via}"),
        Ended::Declined => format!("skipped {c}"),
        Ended::Unreachable(why) => format!(
            "refusing to end {c}{via} by signalling its processes: {why}, and only its engine \
             can end it for good (a restart policy would bring it back); run: {command}"
        ),
        Ended::Failed(why) => format!("could not end {c}: {why}; run: {command}"),
    }
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
    fn lingering_connections_say_how_long_and_that_nothing_can_be_signalled() {
        use crate::model::{Family, SocketKey, State};
        use std::time::Duration;
        let tw = |state: State, ms: Option<u64>| Lingering {
            socket: Socket {
                protocol: Protocol::Tcp,
                family: Family::V4,
                local: "127.0.0.1:8350".parse().unwrap(),
                state,
                uid: Some(0),
                key: SocketKey::Inode(0),
            },
            ends_in: ms.map(Duration::from_millis),
        };
        assert_eq!(
            blocked(
                8350,
                Protocol::Tcp,
                &[tw(State::TimeWait, Some(41_200))],
                false
            ),
            "port 8350/tcp: no process holds it, but 1 connection in TIME_WAIT blocks a plain \
             bind() for 42s more (one with SO_REUSEADDR succeeds when the closed socket had it \
             set too, as servers usually do); nothing to signal"
        );
        let two = [
            tw(State::TimeWait, Some(1_000)),
            tw(State::FinWait2, Some(59_000)),
        ];
        let line = blocked(8350, Protocol::Tcp, &two, true);
        assert!(
            line.starts_with(
                "port 8350/tcp: its owners are gone, but 2 closing connections (FIN_WAIT2, \
                 TIME_WAIT) block a plain bind() for up to 59s more"
            ),
            "{line}"
        );
        let line = blocked(8350, Protocol::Tcp, &[tw(State::LastAck, None)], false);
        assert!(line.contains("until the kernel drops them"), "{line}");
    }

    #[test]
    fn specs_and_the_rest_of_a_range() {
        let spec = |t: &str| t.parse::<PortSpec>().unwrap();
        assert_eq!(spec_free(&spec("8143")), "port 8143 is free");
        assert_eq!(
            spec_free(&spec("8000-8010/udp")),
            "ports 8000-8010/udp are free"
        );
        assert_eq!(
            others(&spec("8000-8010"), 9),
            "the other 9 ports in 8000-8010"
        );
        assert_eq!(others(&spec("8000-8001"), 1), "the other port in 8000-8001");
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
    fn sockets_without_a_listed_owner_say_why() {
        use crate::model::{Family, SocketKey, State, Text};
        let socket = |local: &str, protocol| Socket {
            protocol,
            family: if local.starts_with('[') {
                Family::V6
            } else {
                Family::V4
            },
            local: local.parse().unwrap(),
            state: State::Bound,
            uid: None,
            key: SocketKey::Pid(900),
        };
        let tcp = socket("0.0.0.0:50000", Protocol::Tcp);
        let details = Details::new();
        assert_eq!(
            hidden(&tcp, Some(&Hidden::Reserved), &details),
            "port 50000/tcp is reserved by the system (an excluded port range; see `netsh int \
             ipv4 show excludedportrange protocol=tcp`): no socket is listed, yet a bind() \
             there is refused, and there is nothing to signal"
        );
        let udp6 = socket("[::]:50000", Protocol::Udp);
        let line = hidden(&udp6, Some(&Hidden::Reserved), &details);
        assert!(
            line.contains("`netsh int ipv6 show excludedportrange protocol=udp`"),
            "{line}"
        );
        let line = hidden(&tcp, Some(&Hidden::Unlisted), &details);
        assert!(
            line.starts_with("port 50000/tcp is held by a socket the tables do not show"),
            "{line}"
        );

        let heir = |pid, name: &str| Heir {
            pid,
            name: Some(Text::from(name)),
        };
        let gone = |heirs| Hidden::BinderExited { binder: 900, heirs };
        let line = hidden(&tcp, Some(&gone(vec![heir(1204, "node.exe")])), &details);
        assert_eq!(
            line,
            "port 50000/tcp is held by a socket that PID 900 created and that outlived it: that \
             process has exited (the socket table names the process that bound a socket, not \
             the one that holds it now); the likely holder is its child 1204 (node.exe), \
             started after the bind, which inherited it"
        );
        let two = gone(vec![
            heir(1204, "node.exe"),
            Heir {
                pid: 1300,
                name: None,
            },
        ]);
        let line = hidden(&tcp, Some(&two), &details);
        assert!(
            line.ends_with(
                "; the likely holders are its children 1204 (node.exe), 1300, started after \
                 the bind, which may have inherited it"
            ),
            "{line}"
        );
        let line = hidden(&tcp, Some(&gone(Vec::new())), &details);
        assert!(line.ends_with("so rekt cannot name the holder"), "{line}");
        // A name is another process's choice: printed escaped.
        let line = hidden(&tcp, Some(&gone(vec![heir(7, "x\x1b[2J")])), &details);
        assert!(line.contains("7 (x\\e[2J)"), "{line}");
        assert_eq!(
            hidden_owner(Some(&gone(vec![heir(7, "a.exe")]))),
            "not PID 900, which created the socket and has exited; the likely holder is its \
             child 7 (a.exe), started after the bind, which inherited it"
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
    fn a_service_is_stopped_through_its_manager() {
        use crate::context::{Context, service_supervisor};
        use crate::model::Text;
        let mut details = Details::new();
        details.set_context(
            40,
            Context {
                supervisor: Some(service_supervisor(&Text::from("MySQL80"))),
                ..Context::default()
            },
        );
        assert_eq!(
            supervised(40, &details).unwrap(),
            "40 runs under the service manager (as the service MySQL80), which may start it \
             again; to stop it for good: sc.exe stop MySQL80 (PowerShell: Stop-Service MySQL80)"
        );
    }

    #[test]
    fn a_console_program_has_no_polite_signal() {
        let details = Details::new();
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
