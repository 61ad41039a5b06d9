//! What the user asked for: port specs (`8000`, `8000-8010`, `8000/udp`), protocol and family
//! filters, and which socket states count. Parsing never panics; every bad input becomes a
//! one-line message that names the offending text.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::UsageError;
use crate::model::{Family, Protocol, Socket, State};
use crate::text::escape;

/// An inclusive port range, optionally limited to one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub first: u16,
    pub last: u16,
    pub protocol: Option<Protocol>,
}

const SPEC_HINT: &str = "expected a port (8000, :8000), a range (8000-8010) or a list of them \
                         (3000,8000-8002), each optionally with /tcp or /udp";

impl fmt::Display for PortSpec {
    /// The spec as the user would write it: `8000`, `8000-8010/udp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first)?;
        if self.last != self.first {
            write!(f, "-{}", self.last)?;
        }
        if let Some(protocol) = self.protocol {
            write!(f, "/{protocol}")?;
        }
        Ok(())
    }
}

impl PortSpec {
    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        self.protocol.is_none_or(|p| p == protocol) && (self.first..=self.last).contains(&port)
    }
}

impl FromStr for PortSpec {
    type Err = UsageError;

    fn from_str(text: &str) -> Result<Self, UsageError> {
        if text.is_empty() {
            return Err(UsageError(format!("empty port argument; {SPEC_HINT}")));
        }
        // Error messages quote the argument; a control character in it must not reach the
        // terminal raw.
        let shown = escape(text.as_bytes());
        // `:8000`, the lsof habit (`lsof -i :8000`), is the port 8000.
        let text = text.strip_prefix(':').unwrap_or(text);
        if let Some((host, port)) = text.rsplit_once(':') {
            return Err(address_given(host, port, &shown));
        }
        let (ports, protocol) = match text.split_once('/') {
            None => (text, None),
            Some((ports, proto)) => {
                let protocol = match proto.to_ascii_lowercase().as_str() {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    _ => {
                        return Err(UsageError(format!(
                            "invalid protocol '{}' in '{shown}': expected tcp or udp",
                            escape(proto.as_bytes())
                        )));
                    }
                };
                (ports, Some(protocol))
            }
        };
        let (first, last) = match ports.split_once('-') {
            None => {
                let port = parse_port(ports, &shown)?;
                (port, port)
            }
            Some((a, b)) => {
                let (first, last) = (parse_port(a, &shown)?, parse_port(b, &shown)?);
                if first > last {
                    return Err(UsageError(format!(
                        "invalid port range '{shown}': {first} is greater than {last}"
                    )));
                }
                (first, last)
            }
        };
        Ok(PortSpec {
            first,
            last,
            protocol,
        })
    }
}

/// `localhost:8000`, `127.0.0.1:8000`, `[::1]:8000`: rekt answers for a port on every
/// local address (a wildcard listener holds them all), so an address is refused with the
/// form that works.
fn address_given(host: &str, port: &str, shown: &str) -> UsageError {
    let port = port.split('/').next().unwrap_or(port);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return UsageError(format!("invalid port '{shown}': {SPEC_HINT}"));
    }
    UsageError(format!(
        "invalid port '{shown}': rekt takes a port, not an address: it looks on every local \
         address, since a socket on 0.0.0.0 or [::] holds the port on each; use `rekt -v \
         {port}` (its ADDRESS column shows where each socket is bound)"
    ))
}

/// Parses one port number of `whole`, which is only used to name the argument in errors.
fn parse_port(digits: &str, whole: &str) -> Result<u16, UsageError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UsageError(format!("invalid port '{whole}': {SPEC_HINT}")));
    }
    // Digits only, so the one way to fail is a number too large even for u32.
    match digits.parse::<u32>() {
        Ok(port @ 1..=65535) => Ok(port as u16),
        _ => Err(UsageError(format!(
            "invalid port '{whole}': ports range from 1 to 65535"
        ))),
    }
}

/// The TCP states that count as "holding" a port by default: a listener, and both ends of
/// live connections. TIME_WAIT and other closing states have no owning process.
pub(crate) const DEFAULT_TCP_STATES: &[State] = &[
    State::Listen,
    State::Established,
    State::SynSent,
    State::CloseWait,
];

/// The TCP states of a connection after a close or shutdown. Such a socket still holds
/// its port (a plain bind() fails), with or without a process: a process that called
/// shutdown() still holds it, while after close() it lingers ownerless (TIME_WAIT) until
/// the kernel drops it. A lookup does not ask for them; they are looked for only when
/// nothing else holds a port (see `Backend::blockers`; macOS finds sockets only through
/// processes, so it has none of these to report).
#[cfg_attr(target_os = "macos", allow(dead_code))]
pub(crate) const CLOSING_STATES: [State; 5] = [
    State::TimeWait,
    State::FinWait1,
    State::FinWait2,
    State::Closing,
    State::LastAck,
];

/// The socket query: which ports, protocols, families and states match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Port specs; empty means every port (list mode).
    pub ports: Vec<PortSpec>,
    pub tcp: bool,
    pub udp: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    /// Only listeners: listening TCP and unconnected UDP sockets. Skips the kernel's walk of
    /// the established-connection hash, which is most of the socket query's cost.
    pub listen_only: bool,
    /// Where to look for the other sockets that make a bind() fail (bound-only ones,
    /// closing connections), which cost another walk of the kernel's tables.
    pub blockers: BlockerSearch,
}

/// Where a lookup looks for the sockets that block a bind() besides listeners and live
/// connections (`Backend::blockers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockerSearch {
    /// On the TCP ports that nothing else holds: where they decide between "free" and not.
    WhereFree,
    /// On every TCP port asked about (`-v`; and `-t`/`-k`, so that one run ends every
    /// holder).
    Everywhere,
    /// Nowhere: list mode and `-l`, which ask about listeners only.
    Nowhere,
}

impl Query {
    /// A query for these ports, every protocol and family, default states.
    /// `ports 8000,9000-9010/udp`, or `every port`: what a query asks, for `--debug`.
    pub(crate) fn describe(&self) -> String {
        if self.ports.is_empty() {
            return "every port".into();
        }
        let specs: Vec<String> = self.ports.iter().map(PortSpec::to_string).collect();
        format!("ports {}", specs.join(","))
    }

    pub fn ports(ports: Vec<PortSpec>) -> Query {
        Query {
            ports,
            tcp: true,
            udp: true,
            ipv4: true,
            ipv6: true,
            listen_only: false,
            blockers: BlockerSearch::WhereFree,
        }
    }

    /// Whether the protocol filter (`--tcp`, `--udp`) lets this protocol through.
    pub fn protocol_enabled(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Tcp => self.tcp,
            Protocol::Udp => self.udp,
        }
    }

    /// The first port spec whose own protocol the protocol filter excludes, as in
    /// `--udp 8000/tcp`. Such a spec can match nothing, so answering it would say "free"
    /// about a port that may well be held: the command line contradicts itself.
    pub fn excluded_spec(&self) -> Option<&PortSpec> {
        self.ports
            .iter()
            .find(|s| s.protocol.is_some_and(|p| !self.protocol_enabled(p)))
    }

    /// Whether sockets of this protocol can match at all.
    pub fn wants_protocol(&self, protocol: Protocol) -> bool {
        self.protocol_enabled(protocol)
            && (self.ports.is_empty()
                || self
                    .ports
                    .iter()
                    .any(|s| s.protocol.is_none_or(|p| p == protocol)))
    }

    /// Whether sockets of this family can answer the family filter, so that a backend
    /// must read them. Under `-4`, IPv6 sockets can: a dual-stack or IPv4-mapped one
    /// takes IPv4 traffic and makes an IPv4 bind() fail ([`Query::matches_family`]).
    pub fn wants_family(&self, family: Family) -> bool {
        match family {
            Family::V4 => self.ipv4,
            Family::V6 => self.ipv6 || self.ipv4,
        }
    }

    /// Whether a socket of `family` bound to `ip` answers the family filter. `v6only` is
    /// its IPV6_V6ONLY option, when the platform reports it.
    ///
    /// The filter asks which sockets make a fresh bind() of that family fail, as the
    /// kernel decides it (the oracle tests check this):
    /// - `-4`, a bind on 0.0.0.0: every IPv4 socket, and the IPv6 sockets that take IPv4
    ///   traffic: bound to an IPv4-mapped address (`::ffff:127.0.0.1`), or to `::`
    ///   without IPV6_V6ONLY (a dual-stack socket; unknown counts as V6ONLY, which is
    ///   Windows' default).
    /// - `-6`, a bind on `[::]` with IPV6_V6ONLY: every IPv6 socket but the IPv4-mapped
    ///   ones. An IPv4 socket does make a dual-stack bind on `[::]` fail, but it takes no
    ///   IPv6 traffic; without `-6`, every socket counts.
    pub fn matches_family(&self, family: Family, ip: IpAddr, v6only: Option<bool>) -> bool {
        let mapped = matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
        match (self.ipv4, self.ipv6) {
            (true, false) => {
                family == Family::V4 || mapped || (ip.is_unspecified() && v6only == Some(false))
            }
            (false, true) => family == Family::V6 && !mapped,
            _ => true,
        }
    }

    /// The TCP states that match.
    pub fn tcp_states(&self) -> &'static [State] {
        if self.listen_only {
            &[State::Listen]
        } else {
            DEFAULT_TCP_STATES
        }
    }

    /// TCP: the states that count. UDP: every socket, except that listeners only means
    /// unconnected ones (a connected UDP socket is a client, not a listener).
    pub fn matches_state(&self, protocol: Protocol, state: State) -> bool {
        match protocol {
            Protocol::Tcp => self.tcp_states().contains(&state),
            Protocol::Udp => !self.listen_only || state == State::Unconnected,
        }
    }

    pub fn matches_port(&self, protocol: Protocol, port: u16) -> bool {
        if self.ports.is_empty() {
            return port != 0;
        }
        self.ports.iter().any(|s| s.contains(protocol, port))
    }

    /// The whole filter. Backends that filter in the kernel still pass their results
    /// through this, so every path answers the same.
    pub fn matches(&self, socket: &Socket) -> bool {
        self.matches_with(socket, None)
    }

    /// [`Query::matches`] for a socket whose IPV6_V6ONLY option is known (or guessed).
    pub fn matches_with(&self, socket: &Socket, v6only: Option<bool>) -> bool {
        self.wants_protocol(socket.protocol)
            && self.matches_family(socket.family, socket.local.ip(), v6only)
            && self.matches_state(socket.protocol, socket.state)
            && self.matches_port(socket.protocol, socket.port())
    }

    /// The port ranges that apply to `protocol`, sorted and merged. Empty means every port.
    pub fn port_ranges(&self, protocol: Protocol) -> Vec<(u16, u16)> {
        let mut ranges: Vec<(u16, u16)> = self
            .ports
            .iter()
            .filter(|s| s.protocol.is_none_or(|p| p == protocol))
            .map(|s| (s.first, s.last))
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (first, last) in ranges {
            match merged.last_mut() {
                Some(prev) if u32::from(first) <= u32::from(prev.1) + 1 => {
                    prev.1 = prev.1.max(last)
                }
                _ => merged.push((first, last)),
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<PortSpec, String> {
        text.parse::<PortSpec>().map_err(|e| e.0)
    }

    #[test]
    fn accepts_the_documented_forms() {
        let p = |first, last, protocol| PortSpec {
            first,
            last,
            protocol,
        };
        assert_eq!(spec("8000"), Ok(p(8000, 8000, None)));
        assert_eq!(spec("1"), Ok(p(1, 1, None)));
        assert_eq!(spec("65535"), Ok(p(65535, 65535, None)));
        assert_eq!(spec("8000-8010"), Ok(p(8000, 8010, None)));
        assert_eq!(spec("8000-8000"), Ok(p(8000, 8000, None)));
        assert_eq!(spec("8000/tcp"), Ok(p(8000, 8000, Some(Protocol::Tcp))));
        assert_eq!(spec("8000/UDP"), Ok(p(8000, 8000, Some(Protocol::Udp))));
        assert_eq!(
            spec("8000-8010/udp"),
            Ok(p(8000, 8010, Some(Protocol::Udp)))
        );
    }

    #[test]
    fn rejects_bad_input_with_a_message_naming_it() {
        for (input, needle) in [
            ("0", "from 1 to 65535"),
            ("65536", "from 1 to 65535"),
            ("70000", "from 1 to 65535"),
            ("99999999999999999999999", "from 1 to 65535"),
            ("abc", "invalid port 'abc'"),
            ("-1", "invalid port '-1'"),
            ("+80", "invalid port '+80'"),
            (" 80", "invalid port ' 80'"),
            ("80-", "invalid port '80-'"),
            ("-", "invalid port '-'"),
            ("1-2-3", "invalid port '1-2-3'"),
            ("9000-8000", "9000 is greater than 8000"),
            ("8000/sctp", "invalid protocol 'sctp'"),
            ("8000/", "invalid protocol ''"),
            ("8000/tcp/udp", "invalid protocol 'tcp/udp'"),
            ("80\x1b[31m", "invalid port '80\\e[31m'"),
            ("/tcp", "invalid port '/tcp'"),
            ("", "empty port argument"),
            ("８０", "invalid port"),
        ] {
            let err = spec(input).expect_err(input);
            assert!(err.contains(needle), "{input:?}: {err}");
            assert!(!err.contains('\n'), "{input:?}: one line");
        }
    }

    #[test]
    fn specs_display_as_written_and_parse_back() {
        for text in ["8000", "8000-8010", "53/udp", "1-65535/tcp"] {
            let parsed: PortSpec = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(spec("8000-8000/UDP").unwrap().to_string(), "8000/udp");
    }

    #[test]
    fn port_ranges_merge_and_respect_protocol() {
        let q = Query::ports(vec![
            spec("8005-8010").unwrap(),
            spec("8000-8004").unwrap(),
            spec("9000/udp").unwrap(),
            spec("8008").unwrap(),
        ]);
        assert_eq!(q.port_ranges(Protocol::Tcp), vec![(8000, 8010)]);
        assert_eq!(
            q.port_ranges(Protocol::Udp),
            vec![(8000, 8010), (9000, 9000)]
        );
        assert!(q.matches_port(Protocol::Udp, 9000));
        assert!(!q.matches_port(Protocol::Tcp, 9000));
    }

    #[test]
    fn a_spec_excluded_by_the_protocol_filter_is_found() {
        let mut q = Query::ports(vec![spec("53/udp").unwrap(), spec("8000/tcp").unwrap()]);
        assert_eq!(q.excluded_spec(), None);
        q.tcp = false;
        assert_eq!(q.excluded_spec(), Some(&spec("8000/tcp").unwrap()));
        q.tcp = true;
        q.udp = false;
        assert_eq!(q.excluded_spec(), Some(&spec("53/udp").unwrap()));
        // A spec without a protocol is narrowed by the filter, never contradicted.
        let mut q = Query::ports(vec![spec("8000").unwrap()]);
        q.udp = false;
        assert_eq!(q.excluded_spec(), None);
    }

    #[test]
    fn family_filters_ask_which_sockets_block_that_familys_bind() {
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        let mut v4 = Query::ports(vec![]);
        v4.ipv6 = false;
        let mut v6 = Query::ports(vec![]);
        v6.ipv4 = false;
        let both = Query::ports(vec![]);
        use Family::{V4, V6};
        // (family, address, V6ONLY): under -4, under -6.
        for (family, addr, v6only, in_v4, in_v6) in [
            (V4, "0.0.0.0", None, true, false),
            (V4, "127.0.0.1", None, true, false),
            (V6, "::", Some(false), true, true),
            (V6, "::", Some(true), false, true),
            (V6, "::", None, false, true),
            (V6, "::1", Some(false), false, true),
            (V6, "::ffff:127.0.0.1", Some(false), true, false),
            (V6, "::ffff:127.0.0.1", None, true, false),
            (V6, "2001:db8::1", None, false, true),
        ] {
            let what = format!("{family:?} {addr} {v6only:?}");
            assert_eq!(
                v4.matches_family(family, ip(addr), v6only),
                in_v4,
                "-4 {what}"
            );
            assert_eq!(
                v6.matches_family(family, ip(addr), v6only),
                in_v6,
                "-6 {what}"
            );
            assert!(both.matches_family(family, ip(addr), v6only), "{what}");
        }
        // -4 reads the IPv6 tables too, for the dual-stack sockets; -6 does not read IPv4.
        assert!(v4.wants_family(V4) && v4.wants_family(V6));
        assert!(!v6.wants_family(V4) && v6.wants_family(V6));
    }

    #[test]
    fn protocol_only_specs_disable_the_other_protocol() {
        let q = Query::ports(vec![spec("53/udp").unwrap()]);
        assert!(q.wants_protocol(Protocol::Udp));
        assert!(!q.wants_protocol(Protocol::Tcp));
    }
}
