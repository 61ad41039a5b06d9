//! Roles: what each owner is to the port, and so what rekt may do to it. Pure rules over
//! facts gathered elsewhere (`context`, the lookup, the platform), so that each rule is
//! unit-tested on its own:
//!
//! - **Protected**: PID 0, PID 1, Windows' System (4). Never signalled.
//! - **Caller**: rekt itself or one of its ancestors, up to PID 1 (the shell, sudo, a
//!   program that runs `sh -c "rekt -k PORT"`). Never signalled: the run would kill its
//!   own caller.
//! - **Forwarder**: a process that only carries the port for something else: a container
//!   engine's forwarder (docker-proxy; dockerd or containerd reserving a published port;
//!   rootlesskit, rootlessport, slirp4netns, pasta), WSL's and the desktop VMs' helpers,
//!   the AirPlay receiver. Ending it never frees the port for good and can break every
//!   container on the machine: not signalled unless `--include-forwarders`. Its container,
//!   when known, is what rekt ends instead (through its engine).
//! - **Client**: every socket it has on the asked ports is an outgoing connection from an
//!   ephemeral port (a browser, ssh, apt), with no listener on that port. Shown, and
//!   signalled only with `--include-clients`.
//! - **Holder**: the rest. It holds the port: ending it is what was asked.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use super::forwarder::Forwarder;
use crate::container::Container;
use crate::model::{Owner, Protection, Protocol, Socket, State};

/// What an owner is to the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// It holds the port: end it.
    Holder,
    /// Its only sockets on the port are outgoing connections from ephemeral ports.
    Client,
    /// rekt itself or an ancestor of rekt's.
    Caller(Relation),
    /// A PID the system needs (0, 1, 4).
    Protected(Protection),
    /// It carries the port for something else (a container, when known), which holds it in
    /// truth.
    Forwarder(Forwarding),
}

/// How a caller is related to rekt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    /// rekt itself (it inherited the socket).
    Itself,
    /// rekt's parent (the shell, sudo, the program that ran rekt).
    Parent,
    /// A further ancestor: the program whose shell runs rekt, the terminal, sudo.
    Caller,
}

impl Role {
    /// Its name in JSON and in the ROLE column.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Role::Holder => "holder",
            Role::Client => "client",
            Role::Caller(_) => "caller",
            Role::Protected(_) => "protected",
            Role::Forwarder(_) => "forwarder",
        }
    }

    /// What rekt does with an owner in this role when asked to end the port's owners.
    pub(crate) fn decision(&self, include: Include) -> Decision {
        match self {
            Role::Holder => Decision::Signal,
            Role::Client if include.clients => Decision::Signal,
            Role::Forwarder(_) if include.forwarders => Decision::Signal,
            Role::Client | Role::Forwarder(_) => Decision::Skip,
            Role::Caller(_) | Role::Protected(_) => Decision::Refuse,
        }
    }
}

/// The roles that are signalled only when the user asks for them too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Include {
    /// `--include-clients`.
    pub(crate) clients: bool,
    /// `--include-forwarders`.
    pub(crate) forwarders: bool,
}

/// What a forwarder is and what it forwards for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Forwarding {
    pub(crate) kind: Forwarder,
    /// The container it forwards the port to, when an engine (or the state files) could
    /// say which.
    pub(crate) container: Option<Container>,
}

/// What is done with an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Signal it.
    Signal,
    /// Never signal it, whatever is asked; the port stays held (exit 3).
    Refuse,
    /// Leave it be unless asked for by a flag; it is no failure.
    Skip,
}

/// What the rules need to know besides the owner.
#[derive(Debug, Clone, Default)]
pub(crate) struct Circumstances {
    /// rekt's PID.
    pub(crate) me: u32,
    /// rekt's ancestors, nearest first, up to PID 1.
    pub(crate) callers: Vec<u32>,
    /// The ephemeral port range, if known; without it nobody is a client.
    pub(crate) ephemeral: Option<RangeInclusive<u16>>,
    /// Ports with a listener (listening TCP, unconnected UDP) among the lookup's sockets.
    pub(crate) listening: BTreeSet<(Protocol, u16)>,
    /// Processes that carry a port for something else, by PID (`forwarder::classify` and
    /// the engines say which).
    pub(crate) forwarders: BTreeMap<u32, Forwarding>,
}

impl Circumstances {
    /// The listeners among `sockets`, for [`Circumstances::listening`].
    pub(crate) fn listeners(sockets: &[Socket]) -> BTreeSet<(Protocol, u16)> {
        sockets
            .iter()
            .filter(|s| matches!(s.state, State::Listen | State::Unconnected))
            .map(|s| (s.protocol, s.port()))
            .collect()
    }
}

/// The role of `owner`. `protection` says which PIDs the system needs
/// (`Backend::protection`).
pub(crate) fn classify(
    owner: &Owner,
    facts: &Circumstances,
    protection: impl Fn(u32) -> Option<Protection>,
) -> Role {
    let pid = owner.pid;
    if let Some(why) = protection(pid) {
        return Role::Protected(why);
    }
    if pid == facts.me {
        return Role::Caller(Relation::Itself);
    }
    if let Some(at) = facts.callers.iter().position(|&c| c == pid) {
        return Role::Caller(if at == 0 {
            Relation::Parent
        } else {
            Relation::Caller
        });
    }
    if let Some(forwarding) = facts.forwarders.get(&pid) {
        return Role::Forwarder(forwarding.clone());
    }
    if !owner.sockets.is_empty() && owner.sockets.iter().all(|s| is_client_socket(s, facts)) {
        return Role::Client;
    }
    Role::Holder
}

/// An outgoing connection from an ephemeral port: a TCP connection being made or made
/// (SYN_SENT, ESTABLISHED, CLOSE_WAIT), or a connected UDP socket, whose local port lies
/// in the ephemeral range, with no listener on that port. A server's accepted connection
/// has its listener's port, which is not ephemeral or has the listener on it.
pub(crate) fn is_client_socket(socket: &Socket, facts: &Circumstances) -> bool {
    let port = socket.port();
    may_be_outgoing(socket)
        && facts.ephemeral.as_ref().is_some_and(|r| r.contains(&port))
        && !facts.listening.contains(&(socket.protocol, port))
}

/// Whether `socket` is in a state an outgoing connection has (whatever its port): only
/// then does its port's range matter.
pub(crate) fn may_be_outgoing(socket: &Socket) -> bool {
    match socket.protocol {
        Protocol::Tcp => matches!(
            socket.state,
            State::Established | State::SynSent | State::CloseWait
        ),
        Protocol::Udp => socket.state == State::Established,
    }
}

/// How many processes a range may signal without asking: more than this on a range of
/// ports (`-k 8000-8100`, `-k 1-65535`) asks for confirmation on a terminal, or `--yes`.
/// Above what a few dev servers with their workers use on a few ports; below the count
/// of listening programs on a typical desktop or server, which a range over every port
/// would hit.
pub(crate) const MANY: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(protocol: Protocol, port: u16, state: State) -> Socket {
        crate::model::testing::socket(protocol, port, state, u64::from(port))
    }

    fn owner(pid: u32, sockets: Vec<Socket>) -> Owner {
        Owner {
            pid,
            sockets,
            fds: vec![3],
        }
    }

    fn facts() -> Circumstances {
        Circumstances {
            me: 500,
            callers: vec![400, 300, 1],
            ephemeral: Some(32768..=60999),
            ..Circumstances::default()
        }
    }

    fn linux_protection(pid: u32) -> Option<Protection> {
        match pid {
            0 => Some(Protection::NoProcess),
            1 => Some(Protection::Init),
            _ => None,
        }
    }

    fn role_of(o: &Owner, f: &Circumstances) -> Role {
        classify(o, f, linux_protection)
    }

    #[test]
    fn a_listener_is_a_holder() {
        let f = facts();
        let o = owner(42, vec![socket(Protocol::Tcp, 8000, State::Listen)]);
        assert_eq!(role_of(&o, &f), Role::Holder);
        assert_eq!(
            role_of(&o, &f).decision(Include::default()),
            Decision::Signal
        );
        // A listener on an ephemeral port still holds it.
        let high = owner(42, vec![socket(Protocol::Tcp, 45000, State::Listen)]);
        assert_eq!(role_of(&high, &f), Role::Holder);
        let udp = owner(42, vec![socket(Protocol::Udp, 45000, State::Unconnected)]);
        assert_eq!(role_of(&udp, &f), Role::Holder);
    }

    #[test]
    fn an_outgoing_connection_from_an_ephemeral_port_is_a_client() {
        let f = facts();
        for state in [State::Established, State::SynSent, State::CloseWait] {
            let o = owner(42, vec![socket(Protocol::Tcp, 45000, state)]);
            assert_eq!(role_of(&o, &f), Role::Client, "{state:?}");
        }
        let quic = owner(42, vec![socket(Protocol::Udp, 45000, State::Established)]);
        assert_eq!(role_of(&quic, &f), Role::Client);
        let o = owner(42, vec![socket(Protocol::Tcp, 45000, State::Established)]);
        assert_eq!(role_of(&o, &f).decision(Include::default()), Decision::Skip);
        assert_eq!(
            role_of(&o, &f).decision(Include {
                clients: true,
                forwarders: false
            }),
            Decision::Signal
        );
    }

    #[test]
    fn a_connection_is_not_a_client_outside_the_range_or_beside_a_listener() {
        let mut f = facts();
        // Port 8000 is below the range: a server's accepted connection, or a client that
        // bound 8000 on purpose. Either way it holds 8000.
        let accepted = owner(42, vec![socket(Protocol::Tcp, 8000, State::Established)]);
        assert_eq!(role_of(&accepted, &f), Role::Holder);
        // A listener on the connection's port: it is that server's accepted connection.
        f.listening = Circumstances::listeners(&[socket(Protocol::Tcp, 45000, State::Listen)]);
        let o = owner(42, vec![socket(Protocol::Tcp, 45000, State::Established)]);
        assert_eq!(role_of(&o, &f), Role::Holder);
        // A UDP listener does not make a TCP connection a server's.
        let udp_only = Circumstances {
            listening: Circumstances::listeners(&[socket(
                Protocol::Udp,
                45000,
                State::Unconnected,
            )]),
            ..facts()
        };
        assert_eq!(role_of(&o, &udp_only), Role::Client);
        // Without a known range nobody is a client.
        let unknown = Circumstances {
            ephemeral: None,
            ..facts()
        };
        assert_eq!(role_of(&o, &unknown), Role::Holder);
    }

    #[test]
    fn a_client_with_a_listener_elsewhere_is_a_holder() {
        let f = facts();
        let both = owner(
            42,
            vec![
                socket(Protocol::Tcp, 45000, State::Established),
                socket(Protocol::Tcp, 8000, State::Listen),
            ],
        );
        assert_eq!(role_of(&both, &f), Role::Holder);
    }

    #[test]
    fn rekt_and_its_ancestors_are_callers() {
        let f = facts();
        let listener = || vec![socket(Protocol::Tcp, 8000, State::Listen)];
        assert_eq!(
            role_of(&owner(500, listener()), &f),
            Role::Caller(Relation::Itself)
        );
        assert_eq!(
            role_of(&owner(400, listener()), &f),
            Role::Caller(Relation::Parent)
        );
        assert_eq!(
            role_of(&owner(300, listener()), &f),
            Role::Caller(Relation::Caller)
        );
        let caller = role_of(&owner(300, listener()), &f);
        assert_eq!(
            caller.decision(Include {
                clients: true,
                forwarders: false
            }),
            Decision::Refuse
        );
        // A caller that is only a client is still a caller.
        let ssh = owner(400, vec![socket(Protocol::Tcp, 45000, State::Established)]);
        assert_eq!(role_of(&ssh, &f), Role::Caller(Relation::Parent));
    }

    #[test]
    fn init_is_protected_before_it_is_a_caller() {
        let f = facts();
        let init = owner(1, vec![socket(Protocol::Tcp, 8000, State::Listen)]);
        assert_eq!(role_of(&init, &f), Role::Protected(Protection::Init));
        assert_eq!(
            role_of(&init, &f).decision(Include::default()),
            Decision::Refuse
        );
        let windows = |pid| (pid == 4).then_some(Protection::System);
        let system = owner(4, vec![socket(Protocol::Tcp, 445, State::Listen)]);
        assert_eq!(
            classify(&system, &f, windows),
            Role::Protected(Protection::System)
        );
    }

    #[test]
    fn forwarders_are_skipped_unless_asked_for() {
        let mut f = facts();
        let forwarding = Forwarding {
            kind: Forwarder::Dockerd,
            container: None,
        };
        f.forwarders.insert(77, forwarding.clone());
        let proxy = owner(77, vec![socket(Protocol::Tcp, 8080, State::Listen)]);
        let role = role_of(&proxy, &f);
        assert_eq!(role, Role::Forwarder(forwarding));
        let clients = Include {
            clients: true,
            forwarders: false,
        };
        assert_eq!(role.decision(clients), Decision::Skip);
        let forwarders = Include {
            clients: false,
            forwarders: true,
        };
        assert_eq!(role.decision(forwarders), Decision::Signal);
    }
}
