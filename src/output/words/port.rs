//! Ports: why each one can or cannot be bound, and by whom.

use super::super::Known;
use super::{chain, container, list, supervisor, waited, who};
use crate::container::Container;
use crate::judge::{Place, PortVerdict};
use crate::model::{BoundVisibility, Heir, Hidden, Lingering, Protocol, Signal, Socket};
use crate::query::PortSpec;
use crate::supervision::SupervisorKind;

/// `port 8000`, `ports 8000 9000`, `ports 8000-8010`: the ports as the user wrote them,
/// with consecutive ports of one protocol joined into a range (`rekt $(seq 1 65535)`:
/// `ports 1-65535`, not a line of 370 KB).
pub(crate) fn ports(specs: &[PortSpec]) -> String {
    let mut joined: Vec<PortSpec> = Vec::with_capacity(specs.len());
    for &spec in specs {
        match joined.last_mut() {
            Some(last)
                if last.protocol == spec.protocol
                    && u32::from(spec.first) == u32::from(last.last) + 1 =>
            {
                last.last = spec.last;
            }
            _ => joined.push(spec),
        }
    }
    let s = if joined.len() == 1 && joined[0].first == joined[0].last {
        ""
    } else {
        "s"
    };
    let specs: Vec<String> = joined.iter().map(PortSpec::to_string).collect();
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

/// After a signal, a port that restarted processes took: `port 18600/tcp was taken again
/// 130ms after it was free, by 4321 (python3), started by 4100 (bash) < 900 (sshd); the
/// shell 4100 (bash) started it again; to stop it for good: kill 4100, then run rekt
/// again`. `None` when no newcomer started after the signal.
pub(crate) fn retaken(status: &PortVerdict, details: &Known) -> Option<String> {
    let restarted: Vec<u32> = newcomers(status, true);
    if restarted.is_empty() {
        return None;
    }
    let port = format!("port {}/{}", status.first(), status.protocol());
    let when = match status.after().and_then(|a| a.retaken_after) {
        Some(after) => format!(" {} after it was free,", waited(after)),
        None => String::new(),
    };
    let by = list(restarted.iter().map(|&p| who(p, details)));
    let mut line = format!("{port} was taken again{when} by {by}");
    // The first newcomer with a context speaks for the rest (a server and its workers).
    let context = restarted.iter().find_map(|&p| details.context(p));
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
                    super::powershell(s)
                ));
            }
        }
    }
    Some(line)
}

/// After a signal, a port that processes which were already running took: `port 8000/tcp
/// was taken by 4321 (python3), which was already running before the signal (not a
/// restart)`. `None` when every newcomer started after the signal.
pub(crate) fn taken_by_running(status: &PortVerdict, details: &Known) -> Option<String> {
    let running = newcomers(status, false);
    let (which, was) = match running.len() {
        0 => return None,
        1 => ("", "was"),
        _ => ("es", "were"),
    };
    let when = match status.after().and_then(|a| a.retaken_after) {
        Some(after) => format!(" {} after it was free,", waited(after)),
        None => String::new(),
    };
    Some(format!(
        "port {}/{} was taken{when} by {}, which {was} already running before the signal \
         (process{which} that did not hold the port then; not a restart)",
        status.first(),
        status.protocol(),
        list(running.iter().map(|&p| who(p, details)))
    ))
}

/// The newcomers of a port that started after the signal (`restarted`) or before it.
fn newcomers(status: &PortVerdict, restarted: bool) -> Vec<u32> {
    status
        .newcomers()
        .iter()
        .filter(|n| n.restarted == restarted)
        .map(|n| n.pid)
        .collect()
}

/// After a signal, a port the settle watch saw bound again by a socket that was gone, with
/// its process, before rekt could name them.
pub(crate) fn bound_briefly(status: &PortVerdict) -> String {
    let when = match status.after().and_then(|a| a.retaken_after) {
        Some(after) => format!(" {} after it was free", waited(after)),
        None => String::new(),
    };
    format!(
        "port {}/{} was bound again{when}, briefly: the socket was closed (or its process \
         exited) before rekt could see whose it was; something keeps binding it, so it may \
         not be free when you bind it",
        status.first(),
        status.protocol()
    )
}

/// Why a socket has no visible owner, as the one line about it:
/// `port 8000/tcp is held by a process of uid 0 (root) that you cannot see; try sudo`.
pub(crate) fn hidden(socket: &Socket, reason: Option<&Hidden>, details: &Known) -> String {
    let port = format!("port {}/{}", socket.port(), socket.protocol);
    let whose = match socket.uid {
        Some(uid) => format!(" of uid {uid} ({})", details.user(uid)),
        None => String::new(),
    };
    let hint = details.privilege_hint();
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
pub(crate) fn inherited(binder: u32, heirs: &[Heir]) -> String {
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

/// `; the likely holder is its child 5120 (node.exe), ...`, or why none is named.
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
pub(crate) fn hidden_owner(reason: Option<&Hidden>, details: &Known) -> String {
    match reason {
        Some(Hidden::OtherUser) => format!(
            "another user's process, which you cannot see{}",
            details.privilege_hint()
        ),
        Some(Hidden::HiddenPid) => format!(
            "another user's process, which /proc (mounted with hidepid) hides from you{}",
            details.privilege_hint()
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

/// A port nothing holds that rekt's user still may not bind: `port 80/tcp needs privilege:
/// nothing holds it, but only a privileged user may bind a port below
/// net.ipv4.ip_unprivileged_port_start (your bind() fails with EACCES); try sudo`.
pub(crate) fn needs_privilege(
    first: u16,
    last: u16,
    protocol: Protocol,
    details: &Known,
) -> String {
    let ports = if first == last {
        format!("port {first}/{protocol} needs")
    } else {
        format!("ports {first}-{last}/{protocol} need")
    };
    format!(
        "{ports} privilege: nothing holds it, but only a privileged user may bind a port \
         below net.ipv4.ip_unprivileged_port_start, so your bind() fails with EACCES{}",
        details.privilege_hint()
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
    let commands = list(containers.iter().map(|c| c.command(Signal::Terminate)));
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let details = Known::default();
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
            hidden_owner(Some(&gone(vec![heir(7, "a.exe")])), &details),
            "not PID 900, which created the socket and has exited; the likely holder is its \
             child 7 (a.exe), started after the bind, which inherited it"
        );
    }

    #[test]
    fn ports_are_plural_unless_one_port() {
        let spec = |t: &str| t.parse::<PortSpec>().unwrap();
        assert_eq!(ports(&[spec("8000")]), "port 8000");
        assert_eq!(ports(&[spec("8000/udp")]), "port 8000/udp");
        assert_eq!(ports(&[spec("8000-8001")]), "ports 8000-8001");
        assert_eq!(ports(&[spec("80"), spec("82")]), "ports 80 82");
        // Consecutive ports of one protocol read as a range.
        assert_eq!(ports(&[spec("80"), spec("81")]), "ports 80-81");
        let every: Vec<PortSpec> = (1..=65535u16).map(|p| spec(&p.to_string())).collect();
        assert_eq!(ports(&every), "ports 1-65535");
        assert_eq!(
            ports(&[
                spec("80/tcp"),
                spec("81/udp"),
                spec("82-90/udp"),
                spec("91/udp")
            ]),
            "ports 80/tcp 81-91/udp"
        );
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
}
