//! The text socket tables `/proc/net/{tcp,tcp6,udp,udp6}`: the fallback for when netlink
//! sock_diag is refused. Slower (the kernel formats every socket as text), but always there.
//!
//! The line parser works on bytes and returns an error for anything it does not understand,
//! so a malformed line (or a kernel that adds columns we do not know) is skipped, never a
//! panic.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use super::fd_scan::decimal;
use super::state_codes::BLOCKER_STATES;
use crate::model::{Blockers, BoundVisibility, Family, Lingering, Protocol, Socket, SocketKey};
use crate::query::Query;

/// Why a table line was not a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub enum LineError {
    /// The column-title line at the top of every table.
    Header,
    /// A line whose named field is missing or not what the kernel writes there.
    Malformed(&'static str),
}

/// The tables to read for `query`: file name, and the protocol and family it holds.
fn tables(query: &Query) -> impl Iterator<Item = (&'static str, Protocol, Family)> + '_ {
    [
        ("tcp", Protocol::Tcp, Family::V4),
        ("tcp6", Protocol::Tcp, Family::V6),
        ("udp", Protocol::Udp, Family::V4),
        ("udp6", Protocol::Udp, Family::V6),
    ]
    .into_iter()
    .filter(|&(_, p, f)| query.wants_protocol(p) && query.wants_family(f))
}

/// Every matching socket in the text tables of the calling thread's network namespace. A
/// table that cannot be read fails the lookup, except the IPv6 ones on a kernel without IPv6.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn sockets(query: &Query) -> io::Result<Vec<Socket>> {
    // /proc/net is the main thread's namespace; a thread can be in another (setns, or a
    // test that unshared). /proc/thread-self exists since Linux 3.17.
    let here = Path::new("/proc/thread-self/net");
    if here.exists() {
        sockets_in(here, query)
    } else {
        sockets_in(Path::new("/proc/net"), query)
    }
}

/// Every matching socket in the tables `tcp`, `tcp6`, `udp` and `udp6` under `dir`:
/// `/proc/net` for this network namespace, `/proc/PID/net` (or `/proc/thread-self/net`
/// after a `setns`) for another one, or a directory of recorded tables in tests.
///
/// A table that cannot be read fails the lookup, with an error that names the file: an
/// unreadable table says nothing about the port, and answering "free" from it would be a
/// lie. The one exception is a kernel without IPv6 (booted with `ipv6.disable=1`, or built
/// without it), which has no `tcp6` and `udp6` at all: there are no IPv6 sockets to find.
/// Such a kernel is told apart from a hidden or damaged /proc by `if_inet6` in the same
/// directory, which the kernel creates with the IPv6 tables, in every network namespace,
/// whether or not any address is configured.
pub(crate) fn sockets_in(dir: &Path, query: &Query) -> io::Result<Vec<Socket>> {
    let mut out = Vec::new();
    let mut closing = Vec::new();
    let tick = clock_tick();
    for (name, protocol, family) in tables(query) {
        let v6only = v6only_guess(query, family);
        each_line(dir, name, family, |line| {
            let Ok((socket, timer)) = parse_fields(line, protocol, family) else {
                return;
            };
            if socket.key != SocketKey::Inode(0) && query.matches_with(&socket, v6only) {
                out.push(socket);
            } else if let Some(blocker) = blocker(socket, timer, query, v6only, tick) {
                closing.push(blocker);
            }
        })?;
    }
    // Kept for a `blockers_in` of the same tables that may follow: reading them is most
    // of the cost, and it would be paid twice.
    LAST_READ.set(Some(LastRead {
        dir: dir.to_owned(),
        query: query.clone(),
        closing,
    }));
    Ok(super::once_each(out))
}

/// The closing connections that the last [`sockets_in`] on this thread saw: a lookup asks
/// for them right after the sockets, and only about ports that read covered.
struct LastRead {
    dir: std::path::PathBuf,
    query: Query,
    closing: Vec<Lingering>,
}

thread_local! {
    static LAST_READ: std::cell::Cell<Option<LastRead>> = const { std::cell::Cell::new(None) };
}

impl LastRead {
    /// Whether this read covered everything `query` asks about in `dir`.
    fn covers(&self, dir: &Path, query: &Query) -> bool {
        let ranges = self.query.port_ranges(Protocol::Tcp);
        self.dir == dir
            && self.query.wants_protocol(Protocol::Tcp)
            && (self.query.ipv4, self.query.ipv6) == (query.ipv4, query.ipv6)
            && query.port_ranges(Protocol::Tcp).iter().all(|&(lo, hi)| {
                ranges
                    .iter()
                    .any(|&(first, last)| first <= lo && hi <= last)
            })
    }
}

/// `socket` as a blocker of `query`'s TCP ports, if it is one: a connection in a closing
/// state (its timer says when TIME_WAIT ends; `ends_in` stays unknown otherwise).
fn blocker(
    socket: Socket,
    timer: Timer,
    query: &Query,
    v6only: Option<bool>,
    tick: std::time::Duration,
) -> Option<Lingering> {
    (socket.protocol == Protocol::Tcp
        && BLOCKER_STATES.contains(&socket.state)
        && query.matches_family(socket.family, socket.local.ip(), v6only)
        && query.matches_port(Protocol::Tcp, socket.port()))
    .then(|| Lingering {
        socket,
        ends_in: (timer.kind == TIMER_TIME_WAIT)
            .then(|| tick.saturating_mul(timer.ticks.min(u64::from(u32::MAX)) as u32)),
    })
}

/// The TCP sockets under `dir` that block a bind() on the query's ports besides those
/// [`sockets_in`] returns: connections after a close or shutdown, held (with an inode) or
/// lingering (inode 0; the timer column says when TIME_WAIT ends). Bound-only sockets
/// are in no text table, so they cannot be found this way. Right after a [`sockets_in`]
/// of the same tables and ports on this thread, what it saw is used instead of reading
/// them again.
pub(crate) fn blockers_in(dir: &Path, query: &Query) -> io::Result<Blockers> {
    let mut found = Blockers {
        bound: BoundVisibility::TextTables,
        ..Blockers::default()
    };
    if !query.wants_protocol(Protocol::Tcp) || query.port_ranges(Protocol::Tcp).is_empty() {
        return Ok(found);
    }
    let closing = match LAST_READ.take() {
        Some(last) if last.covers(dir, query) => last
            .closing
            .into_iter()
            .filter(|l| query.matches_port(Protocol::Tcp, l.socket.port()))
            .collect(),
        _ => {
            let tick = clock_tick();
            let mut closing = Vec::new();
            for (name, protocol, family) in tables(query).filter(|t| t.1 == Protocol::Tcp) {
                let v6only = v6only_guess(query, family);
                each_line(dir, name, family, |line| {
                    if let Ok((socket, timer)) = parse_fields(line, protocol, family)
                        && let Some(blocker) = blocker(socket, timer, query, v6only, tick)
                    {
                        closing.push(blocker);
                    }
                })?;
            }
            closing
        }
    };
    for l in closing {
        match l.socket.key {
            SocketKey::Inode(0) => found.lingering.push(l),
            _ => found.sockets.push(l.socket),
        }
    }
    found.sockets = super::once_each(found.sockets);
    Ok(found)
}

/// The timer column of the TIME_WAIT timer (`tr` 3): `tm->when` is then the time left.
const TIMER_TIME_WAIT: u8 = 3;

/// The length of one clock tick (USER_HZ), the unit of the timer column.
fn clock_tick() -> std::time::Duration {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    std::time::Duration::from_nanos(1_000_000_000 / hz)
}

/// The IPV6_V6ONLY option to assume for the sockets of a `family` table: the tables never
/// say, and only `-4` needs it, for IPv6 sockets bound to `::`. The namespace's default
/// for new sockets is the best guess (most programs never change it).
fn v6only_guess(query: &Query, family: Family) -> Option<bool> {
    (family == Family::V6 && !query.ipv6).then(super::bindv6only)
}

/// Calls `f` with every line of the table `name` under `dir`. A table that cannot be read
/// fails with an error naming it; see [`sockets_in`] for the one exception.
fn each_line(dir: &Path, name: &str, family: Family, mut f: impl FnMut(&[u8])) -> io::Result<()> {
    let path = dir.join(name);
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound && no_ipv6(dir, family) => return Ok(()),
        Err(e) => return Err(named(e)),
    };
    let mut input = BufReader::new(file);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).map_err(named)? == 0 {
            return Ok(());
        }
        f(&line);
    }
}

/// Whether a missing table of `family` under `dir` means a kernel without IPv6.
fn no_ipv6(dir: &Path, family: Family) -> bool {
    family == Family::V6 && !dir.join("if_inet6").exists()
}

/// Reads one table, appending the sockets that match `query` to `out`. Lines that do not
/// parse are skipped.
#[cfg(any(test, feature = "internals"))]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn read_table(
    mut input: impl BufRead,
    protocol: Protocol,
    family: Family,
    query: &Query,
    out: &mut Vec<Socket>,
) -> io::Result<()> {
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if let Ok(socket) = parse_line(&line, protocol, family)
            && query.matches(&socket)
            && socket.key != SocketKey::Inode(0)
        {
            out.push(socket);
        }
    }
}

/// Parses one line of a socket table:
/// `   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 41234 ...`
/// (slot, local address, remote address, state, queues, timer, retransmits, uid, timeout,
/// inode). Inode 0 sockets are returned too; they have no owner and callers drop them.
#[cfg(any(test, feature = "internals"))]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn parse_line(line: &[u8], protocol: Protocol, family: Family) -> Result<Socket, LineError> {
    parse_fields(line, protocol, family).map(|(socket, _)| socket)
}

/// The timer columns of a table line: `tr` (which timer) and `tm->when` (clock ticks
/// left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timer {
    kind: u8,
    ticks: u64,
}

/// [`parse_line`], with the timer columns.
fn parse_fields(
    line: &[u8],
    protocol: Protocol,
    family: Family,
) -> Result<(Socket, Timer), LineError> {
    let mut fields = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let mut next = |what| fields.next().ok_or(LineError::Malformed(what));
    let slot = next("slot")?;
    if slot == b"sl" {
        return Err(LineError::Header);
    }
    if slot.last() != Some(&b':') {
        return Err(LineError::Malformed("slot"));
    }
    let local = parse_address(next("local address")?, family)?;
    next("remote address")?;
    let state = hex_u32(next("state")?)
        .and_then(|code| u8::try_from(code).ok())
        .and_then(|code| super::state_codes::from_code(protocol, code))
        .ok_or(LineError::Malformed("state"))?;
    next("queues")?;
    let timer = next("timer")?;
    next("retransmits")?;
    let uid = decimal(next("uid")?)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(LineError::Malformed("uid"))?;
    next("timeout")?;
    let inode = decimal(next("inode")?).ok_or(LineError::Malformed("inode"))?;
    // `03:0000175B`; anything else is no timer we use.
    let timer = timer
        .split_at_checked(2)
        .and_then(|(kind, rest)| {
            Some(Timer {
                kind: u8::try_from(hex_u32(kind)?).ok()?,
                ticks: u64::from(hex_u32(rest.strip_prefix(b":")?)?),
            })
        })
        .unwrap_or(Timer { kind: 0, ticks: 0 });
    let socket = Socket {
        protocol,
        family,
        local,
        state,
        uid: Some(uid),
        key: SocketKey::Inode(inode),
    };
    Ok((socket, timer))
}

/// `0100007F:1F40` or the 32-digit IPv6 form. The kernel prints each 32-bit word of the
/// address as a host-order integer, so the bytes of every word come out in native order.
fn parse_address(field: &[u8], family: Family) -> Result<SocketAddr, LineError> {
    const BAD: LineError = LineError::Malformed("local address");
    let colon = field.iter().position(|&b| b == b':').ok_or(BAD)?;
    let (addr, port) = (&field[..colon], &field[colon + 1..]);
    if port.len() != 4 {
        return Err(BAD);
    }
    let port = hex_u32(port).ok_or(BAD)? as u16;
    let ip = match family {
        Family::V4 if addr.len() == 8 => {
            IpAddr::V4(Ipv4Addr::from(hex_u32(addr).ok_or(BAD)?.to_ne_bytes()))
        }
        Family::V6 if addr.len() == 32 => {
            let mut bytes = [0u8; 16];
            for (word, chunk) in bytes.chunks_exact_mut(4).zip(addr.chunks_exact(8)) {
                word.copy_from_slice(&hex_u32(chunk).ok_or(BAD)?.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return Err(BAD),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Up to 8 hex digits; `None` for anything else, so it cannot overflow.
fn hex_u32(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some(acc << 4 | d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    fn inode(key: SocketKey) -> u64 {
        match key {
            SocketKey::Inode(inode) => inode,
            SocketKey::Pid(_) | SocketKey::Held { .. } => panic!("Linux keys sockets by inode"),
        }
    }

    const TCP4: &str = "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41234 1 0000000000000000 100 0 0 10 0";

    #[test]
    fn parses_a_real_ipv4_listener() {
        let s = parse_line(TCP4.as_bytes(), Protocol::Tcp, Family::V4).unwrap();
        assert_eq!(s.local, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(s.state, State::Listen);
        assert_eq!(s.uid, Some(1000));
        assert_eq!(s.key, SocketKey::Inode(41234));
        assert_eq!(s.kind(), "tcp");
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_ipv6_words_in_host_byte_order() {
        // [::1]:8080, as x86 kernels print it.
        let line = "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0";
        let s = parse_line(line.as_bytes(), Protocol::Tcp, Family::V6).unwrap();
        assert_eq!(s.local, "[::1]:8080".parse().unwrap());
        // fe80::1234:5678 on a little-endian kernel.
        let line = "  2: 000080FE00000000785634120000000A:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 7 2 0000000000000000 0";
        let s = parse_line(line.as_bytes(), Protocol::Udp, Family::V6).unwrap();
        assert_eq!(
            s.local,
            "[fe80::1234:5678:a00:0]:53".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(s.state, State::Unconnected);
        assert_eq!(s.kind(), "udp6");
    }

    #[test]
    fn reads_the_timer_columns() {
        let line = "   1: 0100007F:9C4B 0100007F:9C4A 06 00000000:00000000 03:0000175B 00000000     0        0 0 3 0000000067e93c5b";
        let (socket, timer) = parse_fields(line.as_bytes(), Protocol::Tcp, Family::V4).unwrap();
        assert_eq!(socket.state, State::TimeWait);
        assert_eq!(
            timer,
            Timer {
                kind: 3,
                ticks: 0x175B
            }
        );
        let (_, timer) = parse_fields(TCP4.as_bytes(), Protocol::Tcp, Family::V4).unwrap();
        assert_eq!(timer, Timer { kind: 0, ticks: 0 });
    }

    #[test]
    fn maps_udp_close_to_unconnected_and_tcp_close_to_close() {
        let udp = TCP4.replacen(" 0A ", " 07 ", 1);
        assert_eq!(
            parse_line(udp.as_bytes(), Protocol::Udp, Family::V4)
                .unwrap()
                .state,
            State::Unconnected
        );
        assert_eq!(
            parse_line(udp.as_bytes(), Protocol::Tcp, Family::V4)
                .unwrap()
                .state,
            State::Close
        );
    }

    #[test]
    fn rejects_headers_and_malformed_lines() {
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
        assert_eq!(
            parse_line(header.as_bytes(), Protocol::Tcp, Family::V4),
            Err(LineError::Header)
        );
        let bad = [
            "",
            "garbage",
            "0: 0100007F:1F40",
            "0: 0100007F1F40 00000000:0000 0A a b c 0 0 1",
            "0: 0100007F:1F4 00000000:0000 0A a b c 0 0 1",
            "0: 0100007G:1F40 00000000:0000 0A a b c 0 0 1",
            "0: 0100007F:1F40 00000000:0000 ZZ a b c 0 0 1",
            "0: 0100007F:1F40 00000000:0000 FF a b c 0 0 1",
            "0: 0100007F:1F40 00000000:0000 0A a b c x 0 1",
            "0: 0100007F:1F40 00000000:0000 0A a b c 99999999999 0 1",
            "0: 0100007F:1F40 00000000:0000 0A a b c 0 0 99999999999999999999999",
            "0: 0100007F:1F40 00000000:0000 0A a b c 0 0",
            "0 0100007F:1F40 00000000:0000 0A a b c 0 0 1",
        ];
        for line in bad {
            assert!(
                matches!(
                    parse_line(line.as_bytes(), Protocol::Tcp, Family::V4),
                    Err(LineError::Malformed(_))
                ),
                "{line:?}"
            );
        }
        // An IPv4-sized address in the IPv6 table is malformed, not misread.
        assert!(parse_line(TCP4.as_bytes(), Protocol::Tcp, Family::V6).is_err());
    }

    #[test]
    fn read_table_filters_and_skips_bad_lines_and_inode_zero() {
        let table = format!(
            "  sl  local_address rem_address   st\n{TCP4}\nnonsense line\n{}\n{}\n",
            TCP4.replace("1F40", "1F41"),
            TCP4.replace(" 41234 ", " 0 ")
        );
        let query = Query::ports(vec!["8000".parse().unwrap()]);
        let mut out = Vec::new();
        read_table(
            table.as_bytes(),
            Protocol::Tcp,
            Family::V4,
            &query,
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key, SocketKey::Inode(41234));
    }

    /// Tables recorded on an x86_64 (little-endian) kernel, so the recorded IPv6 words
    /// only read back right on a little-endian host. tests/data/README.md lists the
    /// sockets that were open.
    #[cfg(target_endian = "little")]
    mod recorded {
        use super::*;

        const TCP: &[u8] = include_bytes!("../../../tests/data/proc_net/tcp");
        const TCP6: &[u8] = include_bytes!("../../../tests/data/proc_net/tcp6");
        const UDP: &[u8] = include_bytes!("../../../tests/data/proc_net/udp");
        const UDP6: &[u8] = include_bytes!("../../../tests/data/proc_net/udp6");

        fn data_dir(name: &str) -> std::path::PathBuf {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(name)
        }

        /// Every line of a table through `parse_line`: the header must be the only line
        /// that is not a socket.
        fn parse_all(
            table: &[u8],
            protocol: Protocol,
            family: Family,
        ) -> Vec<(SocketAddr, State, u32, u64)> {
            let mut lines = table.split(|&b| b == b'\n').filter(|l| !l.is_empty());
            let header = lines.next().unwrap();
            assert_eq!(parse_line(header, protocol, family), Err(LineError::Header));
            lines
                .map(|line| {
                    let s = parse_line(line, protocol, family)
                        .unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(line)));
                    assert_eq!((s.protocol, s.family), (protocol, family));
                    (s.local, s.state, s.uid.unwrap(), inode(s.key))
                })
                .collect()
        }

        fn row(addr: &str, state: State, uid: u32, inode: u64) -> (SocketAddr, State, u32, u64) {
            (addr.parse().unwrap(), state, uid, inode)
        }

        #[test]
        fn every_recorded_line_parses_to_the_socket_that_was_open() {
            use State::*;
            assert_eq!(
                parse_all(TCP, Protocol::Tcp, Family::V4),
                [
                    row("127.0.0.1:47003", Listen, 65534, 618323),
                    row("192.0.2.10:47008", Listen, 65534, 618330),
                    row("0.0.0.0:47001", Listen, 65534, 618321),
                    row("127.0.0.1:47003", Established, 65534, 618325),
                    row("127.0.0.1:47004", Established, 65534, 618324),
                    // The client end of a closed connection: no owner, inode 0, uid 0.
                    row("127.0.0.1:47021", TimeWait, 0, 0),
                ]
            );
            assert_eq!(
                parse_all(TCP6, Protocol::Tcp, Family::V6),
                [
                    row("[2001:db8::1:2:3:4]:47009", Listen, 65534, 618331),
                    row("[::1]:47005", Listen, 65534, 618326),
                    row("[::]:47007", Listen, 65534, 618329),
                    row("[::]:47002", Listen, 65534, 618322),
                    row("[::1]:47006", Established, 65534, 618327),
                    row("[::1]:47005", Established, 65534, 618328),
                ]
            );
            assert_eq!(
                parse_all(UDP, Protocol::Udp, Family::V4),
                [
                    row("0.0.0.0:47011", Unconnected, 65534, 618332),
                    row("127.0.0.1:47013", Established, 65534, 618334),
                ]
            );
            assert_eq!(
                parse_all(UDP6, Protocol::Udp, Family::V6),
                [
                    row("[::1]:47012", Unconnected, 65534, 618333),
                    row("[2001:db8::1:2:3:4]:47014", Unconnected, 65534, 618335),
                ]
            );
        }

        #[test]
        fn read_table_keeps_owned_sockets_in_the_wanted_states() {
            let mut out = Vec::new();
            let every_port = Query::ports(vec![]);
            read_table(TCP, Protocol::Tcp, Family::V4, &every_port, &mut out).unwrap();
            // TIME_WAIT is neither a wanted state nor owned.
            assert_eq!(out.len(), 5);
            let mut listen = Query::ports(vec![]);
            listen.listen_only = true;
            out.clear();
            read_table(TCP6, Protocol::Tcp, Family::V6, &listen, &mut out).unwrap();
            let keys: Vec<SocketKey> = out.iter().map(|s| s.key).collect();
            assert_eq!(keys, [618331, 618326, 618329, 618322].map(SocketKey::Inode));
        }

        fn ports_and_kinds(dir: &str, query: &Query) -> Vec<(u16, &'static str, u64)> {
            let mut found: Vec<_> = sockets_in(&data_dir(dir), query)
                .unwrap()
                .iter()
                .map(|s| (s.port(), s.kind(), inode(s.key)))
                .collect();
            found.sort_unstable();
            found
        }

        #[test]
        fn sockets_in_reads_a_recorded_directory() {
            let q = |spec: &str| Query::ports(vec![spec.parse().unwrap()]);
            assert_eq!(
                ports_and_kinds("proc_net", &q("47003")),
                [(47003, "tcp", 618323), (47003, "tcp", 618325)]
            );
            assert_eq!(
                ports_and_kinds("proc_net", &q("47005")),
                [(47005, "tcp6", 618326), (47005, "tcp6", 618328)]
            );
            assert_eq!(
                ports_and_kinds("proc_net", &q("47011-47014/udp")),
                [
                    (47011, "udp", 618332),
                    (47012, "udp6", 618333),
                    (47013, "udp", 618334),
                    (47014, "udp6", 618335)
                ]
            );
            // A TIME_WAIT socket has no owner to find.
            assert!(ports_and_kinds("proc_net", &q("47021")).is_empty());
            // Every owned socket: 5 tcp, 6 tcp6, 2 udp, 2 udp6.
            assert_eq!(ports_and_kinds("proc_net", &Query::ports(vec![])).len(), 15);
            let mut v6 = Query::ports(vec![]);
            v6.ipv4 = false;
            assert!(
                ports_and_kinds("proc_net", &v6)
                    .iter()
                    .all(|&(_, kind, _)| kind.ends_with('6'))
            );
        }

        #[test]
        fn sockets_in_without_ipv6_tables_still_finds_ipv4() {
            // An IPv6-less kernel has no tcp6 or udp6 file at all.
            let q = |spec: &str| Query::ports(vec![spec.parse().unwrap()]);
            assert_eq!(
                ports_and_kinds("proc_net_no_ipv6", &q("47001")),
                [(47001, "tcp", 618321)]
            );
            assert_eq!(
                ports_and_kinds("proc_net_no_ipv6", &q("47011/udp")),
                [(47011, "udp", 618332)]
            );
            assert_eq!(
                ports_and_kinds("proc_net_no_ipv6", &Query::ports(vec![])).len(),
                7
            );
            // An IPv6 port is simply free, not an error.
            assert!(ports_and_kinds("proc_net_no_ipv6", &q("47002")).is_empty());
            let mut v6 = Query::ports(vec![]);
            v6.ipv4 = false;
            assert!(ports_and_kinds("proc_net_no_ipv6", &v6).is_empty());
        }

        /// A directory holding copies of the recorded tables named in `tables`, plus
        /// `if_inet6` when `ipv6` (the mark of a kernel with IPv6).
        fn partial_copy(tag: &str, tables: &[&str], ipv6: bool) -> std::path::PathBuf {
            let dir =
                std::env::temp_dir().join(format!("rekt-proc-net-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for t in tables {
                std::fs::copy(data_dir("proc_net").join(t), dir.join(t)).unwrap();
            }
            if ipv6 {
                std::fs::write(dir.join("if_inet6"), "").unwrap();
            }
            dir
        }

        #[test]
        fn blockers_are_the_closing_connections_with_their_timer() {
            let q = |spec: &str| Query::ports(vec![spec.parse().unwrap()]);
            let found = blockers_in(&data_dir("proc_net"), &q("47021")).unwrap();
            assert_eq!(found.bound, BoundVisibility::TextTables);
            assert!(found.sockets.is_empty());
            assert_eq!(found.lingering.len(), 1);
            let tw = &found.lingering[0];
            assert_eq!(tw.socket.state, State::TimeWait);
            assert_eq!(tw.socket.local, "127.0.0.1:47021".parse().unwrap());
            let left = tw.ends_in.expect("the TIME_WAIT timer column");
            assert!(left > std::time::Duration::ZERO && left <= std::time::Duration::from_secs(60));
            // A listener's port has no blockers; nor does a UDP-only question.
            assert!(
                blockers_in(&data_dir("proc_net"), &q("47001"))
                    .unwrap()
                    .lingering
                    .is_empty()
            );
            assert!(
                blockers_in(&data_dir("proc_net"), &q("47021/udp"))
                    .unwrap()
                    .lingering
                    .is_empty()
            );
        }

        #[test]
        fn blockers_right_after_a_read_of_the_same_tables_reuse_it() {
            let q = |spec: &str| Query::ports(vec![spec.parse().unwrap()]);
            let dir = data_dir("proc_net");
            let fresh = blockers_in(&dir, &q("47021/tcp")).unwrap();
            sockets_in(&dir, &q("47000-47030")).unwrap();
            // Served from the read above (a narrower port set of it), then gone.
            assert!(LAST_READ.with(|l| {
                let last = l.take();
                let covers = last
                    .as_ref()
                    .is_some_and(|r| r.covers(&dir, &q("47021/tcp")));
                l.set(last);
                covers
            }));
            assert_eq!(blockers_in(&dir, &q("47021/tcp")).unwrap(), fresh);
            assert!(LAST_READ.with(|l| {
                let last = l.take();
                last.is_none()
            }));
            // Another directory, port or family filter is read afresh.
            sockets_in(&dir, &q("47000-47010")).unwrap();
            assert!(LAST_READ.with(|l| {
                let last = l.take();
                let covers = last
                    .as_ref()
                    .is_some_and(|r| r.covers(&dir, &q("47021/tcp")));
                !covers
            }));
        }

        #[test]
        fn a_missing_ipv4_table_fails_the_lookup() {
            // /proc/net hidden (a proc mounted with subset=pid) or damaged: never "free".
            let dir = partial_copy("no-v4", &["tcp6", "udp", "udp6"], true);
            let err = sockets_in(&dir, &Query::ports(vec!["47001".parse().unwrap()]));
            let err = err.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
            assert!(err.to_string().contains("/tcp: "), "{err}");
            // Not asked about TCP: the TCP table is not needed.
            let udp = sockets_in(&dir, &Query::ports(vec!["47011/udp".parse().unwrap()]));
            assert_eq!(udp.unwrap().len(), 1);
            std::fs::remove_dir_all(&dir).unwrap();
        }

        #[test]
        fn a_missing_ipv6_table_fails_unless_the_kernel_has_no_ipv6() {
            let query = Query::ports(vec!["47001".parse().unwrap()]);
            let dir = partial_copy("no-v6-table", &["tcp", "udp", "udp6"], true);
            let err = sockets_in(&dir, &query).unwrap_err();
            assert!(err.to_string().contains("/tcp6: "), "{err}");
            std::fs::remove_dir_all(&dir).unwrap();
            // Without if_inet6, the kernel has no IPv6: nothing to find there.
            let dir = partial_copy("no-v6-kernel", &["tcp", "udp"], false);
            assert_eq!(sockets_in(&dir, &query).unwrap().len(), 1);
            std::fs::remove_dir_all(&dir).unwrap();
        }

        #[test]
        fn sockets_in_reports_a_socket_seen_on_two_pages_once() {
            let q = |spec: &str| Query::ports(vec![spec.parse().unwrap()]);
            assert_eq!(
                ports_and_kinds("proc_net_repeated", &q("47001/tcp")),
                [(47001, "tcp", 618321)]
            );
            // The same five owned sockets as the recording it was made from (which has
            // only a `tcp` table, so only TCP is asked about).
            assert_eq!(
                ports_and_kinds("proc_net_repeated", &q("1-65535/tcp")),
                ports_and_kinds("proc_net_no_ipv6", &q("1-65535/tcp"))
            );
        }

        #[test]
        fn sockets_in_names_the_table_it_could_not_read() {
            // A file where the directory should be: opening `tcp` under it is ENOTDIR, a
            // real error (unlike a missing table).
            let not_a_dir = data_dir("proc_net").join("tcp");
            let err = sockets_in(&not_a_dir, &Query::ports(vec![])).unwrap_err();
            assert!(err.to_string().contains("proc_net/tcp/tcp"), "{err}");
        }
    }
}
