//! What rekt says, in one place: names of processes, refusals, outcomes, hints, plurals.
//! The human printer and the JSON messages share these sentences, so that they never
//! disagree.

use super::Known;
use crate::container::{Container, EndOutcome, Ending};
use crate::duration;
use crate::judge::Forwarder;
use crate::judge::{Forwarding, Relation, Role};
use crate::judge::{Place, PortVerdict};
use crate::kill::{Guard, Outcome, Report};
use crate::model::{BoundVisibility, Hidden, Lingering, Protection, Protocol, Signal, Socket};
use crate::platform::{Backend, Os};
use crate::query::PortSpec;
use crate::supervision::{Supervisor, SupervisorKind, Unit};

/// `1234 (node)`, or just `1234` when the name is unknown.
pub(crate) fn who(pid: u32, details: &Known) -> String {
    match details.info(pid).and_then(|i| i.name.as_ref()) {
        Some(name) => format!("{pid} ({name})"),
        None => pid.to_string(),
    }
}

/// The line for a signal delivered: `terminated 1234 (node)`, and for a stopped process
/// that rekt continued, `...; it was stopped, so rekt also sent SIGCONT`.
pub(crate) fn signalled(report: &Report, signal: Signal, details: &Known) -> String {
    let line = format!("{} {}", sent(signal), who(report.pid, details));
    if report.continued {
        format!("{line}; it was stopped, so rekt also sent SIGCONT")
    } else {
        line
    }
}

/// The past-tense verb for reports: `terminated 1234 (node)`.
pub(crate) fn sent(signal: Signal) -> &'static str {
    match signal {
        Signal::Terminate => "terminated",
        Signal::Kill => "killed",
    }
}

/// The imperative verb for the `-i` prompt: `kill 1234 (node)?`.
pub(crate) fn verb(signal: Signal) -> &'static str {
    match signal {
        Signal::Terminate => "terminate",
        Signal::Kill => "kill",
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
        Protection::System => "PID 4 is the System process: the kernel's HTTP server \
                               (http.sys) holds the port for a service or a URL reservation \
                               (IIS, WinRM, SSRS, WebDAV, ...); `netsh http show servicestate` \
                               names the process that registered it, and stopping that service \
                               (or `netsh http delete urlacl URL=...`) frees the port"
            .into(),
    }
}

/// Why an owner in `role` is not signalled: `it is rekt's caller (python3)`.
pub(crate) fn role_reason(role: &Role, pid: u32, details: &Known) -> String {
    let name = || {
        details
            .info(pid)
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
pub(crate) fn not_signalled(pid: u32, outcome: &Outcome, details: &Known) -> String {
    let who = who(pid, details);
    match outcome {
        Outcome::Refused => format!("refusing to signal {who}: {}", reason_of(pid, details)),
        Outcome::Guarded(guard) => format!("refusing to signal {who}: {}", guarded(guard)),
        Outcome::Skipped => format!("not signalling {who}: {}", reason_of(pid, details)),
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
        Outcome::ViaContainer => match details.container(pid) {
            Some(c) => format!("not signalling {who}: it runs in {}", container(c)),
            None => format!("not signalling {who}: it runs in a container"),
        },
    }
}

/// `port 8000`, `ports 8000 9000`, `ports 8000-8010`: the ports as the user wrote them.
pub(crate) fn ports(specs: &[PortSpec]) -> String {
    let s = if specs.len() == 1 && specs[0].first == specs[0].last {
        ""
    } else {
        "s"
    };
    let specs: Vec<String> = specs.iter().map(PortSpec::to_string).collect();
    format!("port{s} {}", specs.join(" "))
}

/// `port 8000/tcp is free here, but held in network namespace 4026532281 by PID 5120; …`
pub(crate) fn elsewhere(port: u16, protocol: Protocol, place: &Place) -> String {
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

/// A supervisor in a sentence: `pm2 (app web)`, `systemd unit app.service`.
pub(crate) fn supervisor(s: &Supervisor, unit: Option<&Unit>, details: &Known) -> String {
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
    }
}

/// A supervisor in a table cell: `pm2:web`, `systemd:app.service`, `shell:4100`.
pub(crate) fn supervisor_cell(s: &Supervisor) -> String {
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
pub(crate) fn supervised(pid: u32, details: &Known) -> Option<String> {
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
pub(crate) fn retaken(status: &PortVerdict, details: &Known) -> String {
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
                line.push_str(&format!("; to stop it for good: {stop}{then}"));
            }
        }
    }
    line
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

/// Why a socket has no visible owner, as the one line about it:
/// `port 8000/tcp is held by a process of uid 0 (root) that you cannot see; try sudo`.
pub(crate) fn hidden(socket: &Socket, reason: Option<&Hidden>, details: &Known) -> String {
    let port = format!("port {}/{}", socket.port(), socket.protocol);
    let whose = match socket.uid {
        Some(uid) => format!(" of uid {uid} ({})", Os::user_name(uid)),
        None => String::new(),
    };
    let hint = Os::PRIVILEGE_HINT;
    match reason {
        Some(Hidden::OtherUser) => {
            format!("{port} is held by a process{whose} that you cannot see; {hint}")
        }
        Some(Hidden::HiddenPid) => format!(
            "{port} is held by a process{whose} that /proc hides from you (it is mounted \
             with hidepid); {hint}"
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
            let delete = crate::text::shell_word(device);
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
        None => format!("{port} is held by a socket{whose} whose owner rekt cannot see"),
    }
}

/// The owner of a hidden socket, as the end of `… shown with PID '-': its owner is …`.
pub(crate) fn hidden_owner(reason: Option<&Hidden>) -> String {
    match reason {
        Some(Hidden::OtherUser) => format!(
            "another user's process, which you cannot see; {}",
            Os::PRIVILEGE_HINT
        ),
        Some(Hidden::HiddenPid) => format!(
            "another user's process, which /proc (mounted with hidepid) hides from you; {}",
            Os::PRIVILEGE_HINT
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
        None => "not a visible process".into(),
    }
}

/// A port that no process holds but that lingering connections block:
/// `port 8350/tcp: nothing holds it, but 1 connection in TIME_WAIT blocks a plain bind()
/// for 42s more (…); nothing to signal`. After a signal that freed it (`freed`), the
/// sentence starts from its owners being gone.
pub(crate) fn blocked(
    port: u16,
    protocol: Protocol,
    lingering: &[Lingering],
    freed: bool,
) -> String {
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
pub(crate) fn unseen(why: BoundVisibility) -> &'static str {
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
pub(crate) fn spec_free(spec: &PortSpec) -> String {
    if spec.first == spec.last {
        format!("port {spec} is free")
    } else {
        format!("ports {spec} are free")
    }
}

/// `the other 9 ports in 8000-8010`, or `the other port in 8000-8001`.
pub(crate) fn others(spec: &PortSpec, n: u32) -> String {
    if n == 1 {
        format!("the other port in {spec}")
    } else {
        format!("the other {n} ports in {spec}")
    }
}

/// `a, b, c`.
pub(crate) fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// `300ms`, `5s`: a wait as the user would write it.
pub(crate) fn waited(d: std::time::Duration) -> String {
    duration::format(d)
}

/// What a forwarder carries the port for, and what frees it instead of signalling it:
/// `it is docker-proxy, which forwards the port to container web (docker); rekt ends the
/// container instead`.
pub(crate) fn forwarding(f: &Forwarding) -> String {
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
pub(crate) fn container(c: &Container) -> String {
    match &c.image {
        Some(image) => format!("container {} ({}, image {image})", c.handle(), c.runtime),
        None => format!("container {} ({})", c.handle(), c.runtime),
    }
}

/// A container in a table cell: `docker:web`.
pub(crate) fn container_cell(c: &Container) -> String {
    format!("{}:{}", c.runtime, c.handle())
}

/// A port that running containers publish with no socket here: `port 18700/tcp has no
/// socket here, but container web (docker) publishes it (NAT rules alone): a bind() here
/// succeeds, and traffic to the port still goes to the container; rekt -k 18700 ends it, or:
/// docker stop web`. After a signal: `port 18700/tcp is still published by ...`.
pub(crate) fn published(
    port: u16,
    protocol: Protocol,
    containers: &[Container],
    after: bool,
) -> String {
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
pub(crate) fn container_ended(report: &Ending, details: &Known) -> String {
    let c = container(&report.job.container);
    let via = if report.job.owners.is_empty() {
        String::new()
    } else {
        format!(
            " (it holds the port through {})",
            list(report.job.owners.iter().map(|&p| who(p, details)))
        )
    };
    let command = report.job.container.command(report.signal == Signal::Kill);
    match &report.outcome {
        EndOutcome::Stopped => format!("stopped {c} through its engine{via}"),
        EndOutcome::Killed => format!("killed {c} through its engine{via}"),
        EndOutcome::NotRunning => format!("{c} was not running any more{via}"),
        EndOutcome::Declined => format!("skipped {c}"),
        EndOutcome::Unreachable(why) => format!(
            "refusing to end {c}{via} by signalling its processes: {why}, and only its engine \
             can end it for good (a restart policy would bring it back); run: {command}"
        ),
        EndOutcome::Failed(why) => format!("could not end {c}: {why}; run: {command}"),
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
