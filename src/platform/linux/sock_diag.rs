//! Sockets from netlink `NETLINK_SOCK_DIAG` (sock_diag(7)): the fast path.
//!
//! The kernel filters for us: `idiag_states` selects the states that count (LISTEN only
//! skips the walk of the established-connection hash, which is most of the cost), and an
//! inet_diag bytecode program keeps only the wanted local ports, so a busy machine sends back
//! a handful of messages instead of every connection. TCP is one `TCPDIAG_GETSOCK` dump for
//! both families, UDP one dump per family, all over one netlink socket.
//!
//! Requests and replies are laid out by hand (no crate expresses the bytecode filter), at
//! offsets taken from `#[repr(C)]` mirrors of the kernel's structs. The reply parser is a
//! pure function over bytes: it checks every length before it reads, returns an error for
//! anything malformed, and never panics.

use std::io;
use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::fs::fstat;
use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{
    AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, bind, getsockname, recv, sendto,
    socket_with,
};

use crate::model::State;
use crate::model::{Blockers, BoundVisibility, Family, Lingering, Protocol, Socket, SocketKey};
use crate::query::Query;

// Constants from linux/netlink.h, linux/sock_diag.h and linux/inet_diag.h.
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The original inet_diag request type, which the kernel still serves. Unlike
/// SOCK_DIAG_BY_FAMILY it dumps TCP sockets of both families in one walk of the hash
/// tables (the kernel sets the family to AF_UNSPEC), which halves the cost of the
/// connected-state query on a busy machine.
const TCPDIAG_GETSOCK: u16 = 18;
const INET_DIAG_REQ_BYTECODE: u16 = 1;
/// The reply attribute with an IPv6 socket's IPV6_V6ONLY option (a u8). The kernel adds it
/// unasked to every AF_INET6 socket in LISTEN or CLOSE (a bound or unconnected one), the
/// states where the option decides which binds it blocks (inet_diag_msg_attrs_fill).
const INET_DIAG_SKV6ONLY: u16 = 11;
/// `idiag_timer` of a socket whose `idiag_expires` is the TIME_WAIT timer (also that of the
/// FIN_WAIT2 a closed socket waits in): the time left before the kernel drops it.
const TIMER_TIME_WAIT: u8 = 3;
/// The flag bits of an attribute's type (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
const NLA_TYPE_MASK: u16 = 0x3fff;
const INET_DIAG_BC_JMP: u8 = 1;
const INET_DIAG_BC_S_GE: u8 = 2;
const INET_DIAG_BC_S_LE: u8 = 3;

/// Keeps every jump offset (and the attribute length) well inside 16 bits.
const MAX_FILTER_RANGES: usize = 1024;

/// `struct nlmsghdr` (linux/netlink.h).
#[repr(C)]
struct NlMsgHdr {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

/// `struct inet_diag_sockid` (linux/inet_diag.h). Ports and addresses are big-endian.
#[repr(C)]
struct InetDiagSockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u8; 16],
    dst: [u8; 16],
    interface: u32,
    cookie: [u32; 2],
}

/// `struct inet_diag_req_v2`, the body of a SOCK_DIAG_BY_FAMILY request.
#[repr(C)]
struct InetDiagReqV2 {
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: InetDiagSockId,
}

/// `struct inet_diag_req`, the body of the older TCPDIAG_GETSOCK request.
#[repr(C)]
struct InetDiagReq {
    family: u8,
    src_len: u8,
    dst_len: u8,
    ext: u8,
    id: InetDiagSockId,
    states: u32,
    dbs: u32,
}

/// `struct inet_diag_msg`, one socket of a dump reply.
#[repr(C)]
struct InetDiagMsg {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: InetDiagSockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

const NLMSG_HDR_LEN: usize = size_of::<NlMsgHdr>();
const DIAG_MSG_LEN: usize = size_of::<InetDiagMsg>();
/// Where the local port and address of a socket are in an `inet_diag_msg`.
const MSG_SPORT: usize = offset_of!(InetDiagMsg, id) + offset_of!(InetDiagSockId, sport);
const MSG_SRC: usize = offset_of!(InetDiagMsg, id) + offset_of!(InetDiagSockId, src);
const MSG_IF: usize = offset_of!(InetDiagMsg, id) + offset_of!(InetDiagSockId, interface);

/// Something the kernel's reply did not allow us to use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub enum DiagError {
    /// A message header or body is cut short, or claims a length it does not have.
    BadLength { at: usize, len: usize },
    /// The kernel answered with an error (a positive errno).
    Kernel(i32),
}

impl std::fmt::Display for DiagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiagError::BadLength { at, len } => {
                write!(
                    f,
                    "malformed sock_diag reply: bad length {len} at byte {at}"
                )
            }
            DiagError::Kernel(errno) => {
                write!(f, "sock_diag: {}", io::Error::from_raw_os_error(*errno))
            }
        }
    }
}

impl From<DiagError> for io::Error {
    fn from(e: DiagError) -> io::Error {
        match e {
            DiagError::Kernel(errno) => io::Error::from_raw_os_error(errno),
            other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}

/// Whether a reply buffer finished the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub enum Progress {
    More,
    Done,
}

/// One socket of a dump reply, with what the kernel says about it beyond the [`Socket`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diag {
    pub(crate) socket: Socket,
    /// Its IPV6_V6ONLY option, when the reply has it (`INET_DIAG_SKV6ONLY`).
    pub(crate) v6only: Option<bool>,
    /// The time left before the kernel drops it, for a socket on the TIME_WAIT timer.
    pub(crate) expires: Option<Duration>,
}

/// Every matching socket, by one dump per wanted protocol and family.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn sockets(query: &Query) -> io::Result<Vec<Socket>> {
    let nl = open()?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut diags = Vec::new();
    let mut seq = 0;
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        if !query.wants_protocol(protocol) {
            continue;
        }
        let states = super::state_codes::mask(query, protocol);
        let ranges = query.port_ranges(protocol);
        dump_families(
            &nl, query, protocol, states, &ranges, &mut buf, &mut seq, &mut diags,
        )?;
    }
    let mut dual_stack_default = None;
    let out = diags
        .into_iter()
        .filter(|d| {
            d.socket.key != SocketKey::Inode(0)
                && query.matches_with(&d.socket, v6only(d, query, &mut dual_stack_default))
        })
        .map(|d| d.socket)
        .collect();
    Ok(super::once_each(out))
}

/// Dumps `protocol` sockets in `states` with a local port in `ranges` (all when empty),
/// for the families `query` wants, appending them to `out`. TCP of both families is one
/// TCPDIAG_GETSOCK walk; anything else is one SOCK_DIAG_BY_FAMILY dump per family.
#[allow(clippy::too_many_arguments)]
fn dump_families(
    nl: &OwnedFd,
    query: &Query,
    protocol: Protocol,
    states: u32,
    ranges: &[(u16, u16)],
    buf: &mut [u8],
    seq: &mut u32,
    out: &mut Vec<Diag>,
) -> io::Result<()> {
    let bytecode = port_filter(ranges);
    if protocol == Protocol::Tcp && query.wants_family(Family::V4) && query.wants_family(Family::V6)
    {
        *seq += 1;
        let before = out.len();
        match dump(
            nl,
            &tcp_both(states, &bytecode, *seq),
            buf,
            protocol,
            *seq,
            out,
        ) {
            Ok(()) => return Ok(()),
            // A kernel without the old request type: ask per family below.
            Err(_) => out.truncate(before),
        }
    }
    for family in [Family::V4, Family::V6] {
        if !query.wants_family(family) {
            continue;
        }
        *seq += 1;
        let request = by_family(protocol, family, states, &bytecode, *seq);
        match dump(nl, &request, buf, protocol, *seq, out) {
            Ok(()) => {}
            Err(e) if family_missing(family, &e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The IPV6_V6ONLY option to judge `d` by. Only `-4` asks, and only of a socket bound to
/// `::`: the reply says for listeners and bound sockets; for any other state (a UDP socket
/// connected without a local address, which is rare), the namespace's default for new
/// sockets (`net.ipv6.bindv6only`), read once into `default`.
fn v6only(d: &Diag, query: &Query, default: &mut Option<bool>) -> Option<bool> {
    if d.v6only.is_some() || query.ipv6 || !d.socket.local.ip().is_unspecified() {
        return d.v6only;
    }
    Some(*default.get_or_insert_with(super::bindv6only))
}

/// The sockets that block a fresh bind() on the query's TCP ports but that [`sockets`]
/// does not return, as one TCPDIAG_GETSOCK dump (one walk of the bind table for the
/// bound-only sockets, one of the established hash for the closing ones):
/// - TCP sockets bound but neither listening nor connected (`TCP_BOUND_INACTIVE`, 6.8+),
///   reported as [`State::Bound`]. Older kernels ignore the state bit and return none, so
///   the dump carries a probe: a socket of ours bound to port 0 (the kernel picks a free
///   port) and never listening, with its port added to the filter. It comes back exactly
///   when the kernel shows bound-only sockets.
/// - Closing connections: TIME_WAIT and the other states after a close or shutdown
///   (FIN_WAIT1, FIN_WAIT2, CLOSING, LAST_ACK). With an inode, a process still holds the
///   socket (it called shutdown()); without (inode 0), none does any more: the socket
///   lingers until the kernel drops it, and `expires` says when for the TIME_WAIT timer.
pub(crate) fn blockers(query: &Query) -> io::Result<Blockers> {
    let ranges = query.port_ranges(Protocol::Tcp);
    if !query.wants_protocol(Protocol::Tcp) || ranges.is_empty() {
        return Ok(Blockers::default());
    }
    let nl = open()?;
    let probe = Probe::bind();
    let mut with_probe = ranges.clone();
    if let Some(p) = &probe {
        with_probe.push((p.port, p.port));
    }
    let mut both = query.clone();
    (both.ipv4, both.ipv6) = (true, true);
    let mut diags = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    dump_families(
        &nl,
        &both,
        Protocol::Tcp,
        super::state_codes::blocker_mask() & !old_kernel_for_tests(),
        &with_probe,
        &mut buf,
        &mut 0,
        &mut diags,
    )?;
    let mut found = Blockers {
        bound: match &probe {
            Some(_) => BoundVisibility::OldKernel,
            None => BoundVisibility::Unknown,
        },
        ..Blockers::default()
    };
    let mut dual_stack_default = None;
    for mut d in diags {
        if d.socket.state == State::Close {
            // Only the bind-table walk returns TCP_CLOSE sockets.
            d.socket.state = State::Bound;
        }
        if let Some(p) = &probe
            && d.socket.key == SocketKey::Inode(p.inode)
        {
            found.bound = BoundVisibility::Shown;
            continue;
        }
        let v6only = v6only(&d, query, &mut dual_stack_default);
        let s = &d.socket;
        if !(query.matches_family(s.family, s.local.ip(), v6only)
            && query.matches_port(Protocol::Tcp, s.port()))
        {
            continue;
        }
        match d.socket.key {
            SocketKey::Inode(0) => found.lingering.push(Lingering {
                socket: d.socket,
                ends_in: d.expires,
            }),
            _ => found.sockets.push(d.socket),
        }
    }
    found.sockets = super::once_each(found.sockets);
    Ok(found)
}

/// A test hook, compiled only into debug builds (what `cargo test` runs), never into a
/// release: with `REKT_TEST_OLD_KERNEL` set, the bound-only bit is left out of the request,
/// which is what a kernel before 6.8 does with it (it ignores it), so that the tests can
/// check what rekt says on such a kernel. Returns the bits to clear.
#[cfg(debug_assertions)]
fn old_kernel_for_tests() -> u32 {
    match std::env::var_os("REKT_TEST_OLD_KERNEL") {
        Some(_) => 1 << super::state_codes::BOUND_INACTIVE,
        None => 0,
    }
}

#[cfg(not(debug_assertions))]
fn old_kernel_for_tests() -> u32 {
    0
}

/// A TCP socket of ours, bound to a port the kernel picks and never listening: a
/// bound-only socket whose port and inode we know.
struct Probe {
    _fd: OwnedFd,
    port: u16,
    inode: u64,
}

impl Probe {
    /// `None` when no socket can be made (then it is unknown whether bound-only sockets
    /// would show).
    fn bind() -> Option<Probe> {
        let fd = socket_with(
            AddressFamily::INET,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .ok()?;
        bind(&fd, &SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).ok()?;
        let port = match getsockname(&fd).ok()?.try_into() {
            Ok(SocketAddr::V4(addr)) => addr.port(),
            _ => return None,
        };
        let inode = fstat(&fd).ok()?.st_ino;
        Some(Probe {
            _fd: fd,
            port,
            inode,
        })
    }
}

/// Whether a dump of `family` failed because the kernel (or the container) has no such
/// family, which means there are no sockets of it to find rather than a failed lookup. Only
/// IPv6 can be missing: a kernel without IPv6 (`ipv6.disable=1`, or built without it)
/// answers the AF_INET6 dump with ENOENT (no inet_diag handler registered for the family),
/// EAFNOSUPPORT or EOPNOTSUPP. Any error for IPv4 is a real failure.
pub(crate) fn family_missing(family: Family, error: &io::Error) -> bool {
    family == Family::V6
        && matches!(
            error.raw_os_error(),
            Some(libc::ENOENT | libc::EAFNOSUPPORT | libc::EOPNOTSUPP)
        )
}

/// Whether a failed dump means netlink itself was refused (a seccomp filter, an LSM, a
/// kernel or container without sock_diag), so that the /proc/net text tables may answer
/// instead. A reply we could not parse is not a refusal: it fails the lookup.
pub(crate) fn refused(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(
            libc::EPERM
                | libc::EACCES
                | libc::ENOSYS
                | libc::EPROTONOSUPPORT
                | libc::EAFNOSUPPORT
                | libc::EOPNOTSUPP
                | libc::ENOENT
        )
    )
}

fn open() -> io::Result<OwnedFd> {
    Ok(socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?)
}

/// Sends one dump request and collects the reply into `out`.
fn dump(
    nl: &OwnedFd,
    request: &[u8],
    buf: &mut [u8],
    protocol: Protocol,
    seq: u32,
    out: &mut Vec<Diag>,
) -> io::Result<()> {
    // Port 0 is the kernel.
    sendto(
        nl,
        request,
        SendFlags::empty(),
        &SocketAddrNetlink::new(0, 0),
    )?;
    loop {
        let n = match recv(nl, &mut *buf, RecvFlags::empty()) {
            Ok((n, _)) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sock_diag: the kernel closed the dump without NLMSG_DONE",
            ));
        }
        if parse_diags(&buf[..n.min(buf.len())], protocol, seq, out)? == Progress::Done {
            return Ok(());
        }
    }
}

/// The dump request: netlink header, `inet_diag_req_v2`, and a bytecode attribute that
/// keeps only the wanted local ports (none in list mode, which wants every port).
#[cfg(any(test, feature = "internals"))]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn request(protocol: Protocol, family: Family, query: &Query, seq: u32) -> Vec<u8> {
    let bytecode = port_filter(&query.port_ranges(protocol));
    let states = super::state_codes::mask(query, protocol);
    by_family(protocol, family, states, &bytecode, seq)
}

/// A SOCK_DIAG_BY_FAMILY dump request for `states` (a mask of `1 << sk_state`).
fn by_family(
    protocol: Protocol,
    family: Family,
    states: u32,
    bytecode: &[u8],
    seq: u32,
) -> Vec<u8> {
    let mut msg = header(
        SOCK_DIAG_BY_FAMILY,
        size_of::<InetDiagReqV2>(),
        bytecode,
        seq,
    );
    let body = NLMSG_HDR_LEN;
    msg[body + offset_of!(InetDiagReqV2, family)] = match family {
        Family::V4 => libc::AF_INET as u8,
        Family::V6 => libc::AF_INET6 as u8,
    };
    msg[body + offset_of!(InetDiagReqV2, protocol)] = match protocol {
        Protocol::Tcp => libc::IPPROTO_TCP as u8,
        Protocol::Udp => libc::IPPROTO_UDP as u8,
    };
    // No extensions, and an all-zero socket id: dumps do not use it.
    put_u32(&mut msg, body + offset_of!(InetDiagReqV2, states), states);
    finish(msg, bytecode)
}

/// A TCPDIAG_GETSOCK dump request (`struct inet_diag_req`) for TCP in both families: the
/// kernel ignores its family field and dumps both.
#[cfg(any(test, feature = "internals"))]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn request_tcp_both(query: &Query, seq: u32) -> Vec<u8> {
    let bytecode = port_filter(&query.port_ranges(Protocol::Tcp));
    tcp_both(
        super::state_codes::mask(query, Protocol::Tcp),
        &bytecode,
        seq,
    )
}

fn tcp_both(states: u32, bytecode: &[u8], seq: u32) -> Vec<u8> {
    let mut msg = header(TCPDIAG_GETSOCK, size_of::<InetDiagReq>(), bytecode, seq);
    put_u32(
        &mut msg,
        NLMSG_HDR_LEN + offset_of!(InetDiagReq, states),
        states,
    );
    finish(msg, bytecode)
}

/// A zeroed request of `body_len` bytes plus the bytecode attribute, with its netlink
/// header filled in.
fn header(kind: u16, body_len: usize, bytecode: &[u8], seq: u32) -> Vec<u8> {
    let attr_len = if bytecode.is_empty() {
        0
    } else {
        4 + bytecode.len()
    };
    let len = NLMSG_HDR_LEN + body_len + attr_len;
    let mut msg = vec![0u8; NLMSG_HDR_LEN + body_len];
    put_u32(&mut msg, offset_of!(NlMsgHdr, len), len as u32);
    msg[offset_of!(NlMsgHdr, kind)..][..2].copy_from_slice(&kind.to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg[offset_of!(NlMsgHdr, flags)..][..2].copy_from_slice(&flags.to_ne_bytes());
    put_u32(&mut msg, offset_of!(NlMsgHdr, seq), seq);
    msg
}

fn put_u32(msg: &mut [u8], at: usize, value: u32) {
    msg[at..at + 4].copy_from_slice(&value.to_ne_bytes());
}

/// Appends the bytecode attribute, if any, to a request whose body is complete.
fn finish(mut msg: Vec<u8>, bytecode: &[u8]) -> Vec<u8> {
    if !bytecode.is_empty() {
        msg.extend_from_slice(&((4 + bytecode.len()) as u16).to_ne_bytes());
        msg.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
        msg.extend_from_slice(bytecode);
    }
    debug_assert_eq!(
        msg.len(),
        u32::from_ne_bytes(msg[0..4].try_into().expect("header")) as usize
    );
    msg
}

/// An inet_diag bytecode program accepting a local port in any of `ranges`.
///
/// Each op is `{code: u8, yes: u8, no: u16}`: the program jumps `yes` bytes forward when the
/// condition holds and `no` bytes when it does not; landing exactly on the end accepts,
/// jumping 4 bytes past it rejects. A port comparison is followed by an op whose `no`
/// holds the port. One range is `S_GE lo` then `S_LE hi` (16 bytes); ranges are joined
/// with a `JMP` that sends a match straight to the end, as iproute2's ss does for OR.
/// Returns an empty program (no kernel filtering; the caller filters) when the ranges are
/// too many for the 16-bit jump offsets.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn port_filter(ranges: &[(u16, u16)]) -> Vec<u8> {
    if ranges.len() > MAX_FILTER_RANGES {
        return Vec::new();
    }
    fn op(code: u8, yes: u8, no: u16) -> [u8; 4] {
        let no = no.to_ne_bytes();
        [code, yes, no[0], no[1]]
    }
    let mut program = Vec::with_capacity(ranges.len() * 20);
    for (i, &(lo, hi)) in ranges.iter().enumerate() {
        // Failing this range jumps to the start of the next one (past the JMP), or 4 bytes
        // past the end when it is the last: both are offset 20 from the range's start.
        program.extend(op(INET_DIAG_BC_S_GE, 8, 20));
        program.extend(op(0, 0, lo));
        program.extend(op(INET_DIAG_BC_S_LE, 8, 12));
        program.extend(op(0, 0, hi));
        if i + 1 < ranges.len() {
            let rest = (ranges.len() - i - 1) * 20 - 4;
            program.extend(op(INET_DIAG_BC_JMP, 4, (rest + 4) as u16));
        }
    }
    program
}

/// Parses one buffer of a sock_diag dump reply, appending its sockets to `out`. Messages
/// for other sequence numbers are ignored.
#[cfg(any(test, feature = "internals"))]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn parse_reply(
    buf: &[u8],
    protocol: Protocol,
    seq: u32,
    out: &mut Vec<Socket>,
) -> Result<Progress, DiagError> {
    let mut diags = Vec::new();
    let progress = parse_diags(buf, protocol, seq, &mut diags);
    out.extend(diags.into_iter().map(|d| d.socket));
    progress
}

/// [`parse_reply`], keeping what the kernel says beyond each socket.
pub(crate) fn parse_diags(
    buf: &[u8],
    protocol: Protocol,
    seq: u32,
    out: &mut Vec<Diag>,
) -> Result<Progress, DiagError> {
    let mut at = 0;
    while at < buf.len() {
        let header = buf
            .get(at..at + NLMSG_HDR_LEN)
            .ok_or(DiagError::BadLength {
                at,
                len: buf.len() - at,
            })?;
        let len = u32::from_ne_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes([header[4], header[5]]);
        let msg_seq = u32::from_ne_bytes(header[8..12].try_into().expect("4 bytes"));
        if len < NLMSG_HDR_LEN || len > buf.len() - at {
            return Err(DiagError::BadLength { at, len });
        }
        let body = &buf[at + NLMSG_HDR_LEN..at + len];
        // Messages are padded to 4 bytes; the last one may end without padding.
        at = at.saturating_add(len.saturating_add(3) & !3).min(buf.len());
        if msg_seq != seq {
            continue;
        }
        match kind {
            NLMSG_DONE => {
                // Dumps put an int status in DONE; a negative one means the dump failed.
                if let Some(status) = body.get(0..4) {
                    let status = i32::from_ne_bytes(status.try_into().expect("4 bytes"));
                    if status < 0 {
                        return Err(DiagError::Kernel(status.saturating_neg()));
                    }
                }
                return Ok(Progress::Done);
            }
            NLMSG_ERROR => {
                let code = body
                    .get(0..4)
                    .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                    .ok_or(DiagError::BadLength { at, len })?;
                if code != 0 {
                    return Err(DiagError::Kernel(code.saturating_neg()));
                }
            }
            NLMSG_NOOP => {}
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                if let Some(socket) = parse_diag_msg(body, protocol)? {
                    out.push(socket);
                }
            }
            _ => {}
        }
    }
    Ok(Progress::More)
}

/// One `inet_diag_msg` and its attributes. `Ok(None)` for a socket of a family or state we
/// do not model.
fn parse_diag_msg(body: &[u8], protocol: Protocol) -> Result<Option<Diag>, DiagError> {
    let Some(msg) = body.get(..DIAG_MSG_LEN) else {
        return Err(DiagError::BadLength {
            at: 0,
            len: body.len(),
        });
    };
    let u32_at = |i: usize| u32::from_ne_bytes(msg[i..i + 4].try_into().expect("4 bytes"));
    let port = u16::from_be_bytes([msg[MSG_SPORT], msg[MSG_SPORT + 1]]);
    let src: [u8; 16] = msg[MSG_SRC..MSG_SRC + 16].try_into().expect("16 bytes");
    let (family, ip) = match i32::from(msg[offset_of!(InetDiagMsg, family)]) {
        libc::AF_INET => (
            Family::V4,
            IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        ),
        libc::AF_INET6 => (Family::V6, IpAddr::V6(Ipv6Addr::from(src))),
        _ => return Ok(None),
    };
    // A link-local address means nothing without its interface: keep it as the scope, as
    // `ss` shows it (`[fe80::1]%eth0:8000`). /proc/net has no interface column.
    let scope = match ip {
        IpAddr::V6(v6) if v6.is_unicast_link_local() => u32_at(MSG_IF),
        _ => 0,
    };
    let Some(state) = super::state_codes::from_code(protocol, msg[offset_of!(InetDiagMsg, state)])
    else {
        return Ok(None);
    };
    let expires = (msg[offset_of!(InetDiagMsg, timer)] == TIMER_TIME_WAIT)
        .then(|| Duration::from_millis(u64::from(u32_at(offset_of!(InetDiagMsg, expires)))));
    Ok(Some(Diag {
        socket: Socket {
            protocol,
            family,
            local: match ip {
                IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope)),
                IpAddr::V4(_) => SocketAddr::new(ip, port),
            },
            state,
            uid: Some(u32_at(offset_of!(InetDiagMsg, uid))),
            key: SocketKey::Inode(u64::from(u32_at(offset_of!(InetDiagMsg, inode)))),
        },
        v6only: v6only_attribute(&body[DIAG_MSG_LEN..])?,
        expires,
    }))
}

/// The INET_DIAG_SKV6ONLY value among the attributes that follow an `inet_diag_msg`
/// (`struct nlattr`: u16 length including its 4-byte header, u16 type, the value, padding
/// to 4 bytes).
fn v6only_attribute(mut attrs: &[u8]) -> Result<Option<bool>, DiagError> {
    let mut found = None;
    while !attrs.is_empty() {
        let bad = DiagError::BadLength {
            at: 0,
            len: attrs.len(),
        };
        let header = attrs.get(..4).ok_or(bad.clone())?;
        let len = usize::from(u16::from_ne_bytes([header[0], header[1]]));
        let kind = u16::from_ne_bytes([header[2], header[3]]) & NLA_TYPE_MASK;
        let value = attrs.get(4..len.max(4)).filter(|_| len >= 4).ok_or(bad)?;
        if kind == INET_DIAG_SKV6ONLY
            && let Some(&v) = value.first()
        {
            found = Some(v != 0);
        }
        attrs = attrs.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Interprets a bytecode program the way the kernel's inet_diag_bc_run does.
    fn run(program: &[u8], port: u16) -> bool {
        let mut at: isize = 0;
        let len = program.len() as isize;
        while at < len {
            let op = &program[at as usize..];
            let (code, yes, no) = (op[0], op[1] as isize, u16::from_ne_bytes([op[2], op[3]]));
            let arg = || u16::from_ne_bytes([op[6], op[7]]);
            let hit = match code {
                INET_DIAG_BC_JMP => false,
                INET_DIAG_BC_S_GE => port >= arg(),
                INET_DIAG_BC_S_LE => port <= arg(),
                _ => panic!("unexpected op {code}"),
            };
            at += if hit { yes } else { no as isize };
        }
        at == len
    }

    #[test]
    fn port_filter_accepts_exactly_the_ranges() {
        let ranges = [(22, 22), (8000, 8010), (9000, 9000)];
        let program = port_filter(&ranges);
        assert_eq!(program.len(), 3 * 16 + 2 * 4);
        for port in [
            1u16, 21, 22, 23, 7999, 8000, 8005, 8010, 8011, 8999, 9000, 9001, 65535,
        ] {
            let want = ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&port));
            assert_eq!(run(&program, port), want, "port {port}");
        }
        assert!(port_filter(&[]).is_empty());
        let many: Vec<(u16, u16)> = (0..2000).map(|i| (i * 2 + 1, i * 2 + 1)).collect();
        assert!(
            port_filter(&many).is_empty(),
            "too many ranges: filter in userspace"
        );
        let most: Vec<(u16, u16)> = many[..MAX_FILTER_RANGES].to_vec();
        let program = port_filter(&most);
        assert!(
            run(&program, 1) && run(&program, 2047) && !run(&program, 2) && !run(&program, 2049)
        );
    }

    #[test]
    fn request_layout_matches_the_kernel_structs() {
        let mut query = Query::ports(vec!["8000".parse().unwrap()]);
        query.listen_only = true;
        let req = request(Protocol::Tcp, Family::V6, &query, 7);
        assert_eq!(req.len(), 16 + 56 + 4 + 16);
        assert_eq!(
            u32::from_ne_bytes(req[0..4].try_into().unwrap()),
            req.len() as u32
        );
        assert_eq!(u16::from_ne_bytes([req[4], req[5]]), SOCK_DIAG_BY_FAMILY);
        assert_eq!(u32::from_ne_bytes(req[8..12].try_into().unwrap()), 7);
        assert_eq!(req[16], libc::AF_INET6 as u8);
        assert_eq!(req[17], libc::IPPROTO_TCP as u8);
        assert_eq!(u32::from_ne_bytes(req[20..24].try_into().unwrap()), 1 << 10);
        assert_eq!(u16::from_ne_bytes([req[72], req[73]]), 20);

        let req = request_tcp_both(&query, 8);
        assert_eq!(req.len(), 16 + 60 + 4 + 16);
        assert_eq!(u16::from_ne_bytes([req[4], req[5]]), TCPDIAG_GETSOCK);
        assert_eq!(u32::from_ne_bytes(req[68..72].try_into().unwrap()), 1 << 10);
        assert_eq!(u16::from_ne_bytes([req[76], req[77]]), 20);
    }

    /// A netlink message of `kind` with `body`, padded to 4 bytes.
    pub(crate) fn message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDR_LEN + body.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn diag_msg(family: u8, state: u8, port: u16, addr: &[u8], uid: u32, inode: u32) -> Vec<u8> {
        let mut b = vec![0u8; DIAG_MSG_LEN];
        b[0] = family;
        b[1] = state;
        b[4..6].copy_from_slice(&port.to_be_bytes());
        b[8..8 + addr.len()].copy_from_slice(addr);
        b[64..68].copy_from_slice(&uid.to_ne_bytes());
        b[68..72].copy_from_slice(&inode.to_ne_bytes());
        b
    }

    #[test]
    fn parses_sockets_then_done() {
        let mut buf = message(
            SOCK_DIAG_BY_FAMILY,
            1,
            &diag_msg(libc::AF_INET as u8, 10, 8000, &[127, 0, 0, 1], 1000, 4242),
        );
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        buf.extend(message(
            SOCK_DIAG_BY_FAMILY,
            1,
            &diag_msg(libc::AF_INET6 as u8, 1, 8000, &v6, 0, 4343),
        ));
        // A stale message from another request is skipped.
        buf.extend(message(
            SOCK_DIAG_BY_FAMILY,
            9,
            &diag_msg(2, 10, 1, &[1, 1, 1, 1], 0, 1),
        ));
        buf.extend(message(NLMSG_DONE, 1, &0i32.to_ne_bytes()));
        let mut out = Vec::new();
        assert_eq!(
            parse_reply(&buf, Protocol::Tcp, 1, &mut out),
            Ok(Progress::Done)
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].local, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(
            (out[0].state, out[0].uid, out[0].key),
            (State::Listen, Some(1000), SocketKey::Inode(4242))
        );
        assert_eq!(out[1].local, "[::1]:8000".parse().unwrap());
        assert_eq!(out[1].state, State::Established);
    }

    #[test]
    fn a_multipart_reply_without_done_asks_for_more() {
        let buf = message(
            SOCK_DIAG_BY_FAMILY,
            3,
            &diag_msg(libc::AF_INET as u8, 7, 53, &[0, 0, 0, 0], 0, 5),
        );
        let mut out = Vec::new();
        assert_eq!(
            parse_reply(&buf, Protocol::Udp, 3, &mut out),
            Ok(Progress::More)
        );
        assert_eq!(out[0].state, State::Unconnected);
    }

    #[test]
    fn kernel_errors_and_bad_lengths_are_errors() {
        let mut out = Vec::new();
        let err = message(NLMSG_ERROR, 1, &(-libc::EACCES).to_ne_bytes());
        assert_eq!(
            parse_reply(&err, Protocol::Tcp, 1, &mut out),
            Err(DiagError::Kernel(libc::EACCES))
        );
        // An ack (error 0) is not an error.
        let ack = message(NLMSG_ERROR, 1, &0i32.to_ne_bytes());
        assert_eq!(
            parse_reply(&ack, Protocol::Tcp, 1, &mut out),
            Ok(Progress::More)
        );
        // DONE with a negative status.
        let done = message(NLMSG_DONE, 1, &(-libc::EINTR).to_ne_bytes());
        assert_eq!(
            parse_reply(&done, Protocol::Tcp, 1, &mut out),
            Err(DiagError::Kernel(libc::EINTR))
        );
        // i32::MIN cannot be negated; it must not overflow.
        let done = message(NLMSG_DONE, 1, &i32::MIN.to_ne_bytes());
        assert!(parse_reply(&done, Protocol::Tcp, 1, &mut out).is_err());

        let good = message(
            SOCK_DIAG_BY_FAMILY,
            1,
            &diag_msg(2, 10, 80, &[1, 2, 3, 4], 0, 9),
        );
        for cut in [1, 15, 16, 40, good.len() - 1] {
            assert!(
                parse_reply(&good[..cut], Protocol::Tcp, 1, &mut out).is_err(),
                "cut at {cut}"
            );
        }
        let mut huge = good.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(parse_reply(&huge, Protocol::Tcp, 1, &mut out).is_err());
        let mut tiny = good.clone();
        tiny[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(parse_reply(&tiny, Protocol::Tcp, 1, &mut out).is_err());
    }

    #[test]
    fn unknown_families_and_states_are_skipped() {
        let mut out = Vec::new();
        let buf = message(SOCK_DIAG_BY_FAMILY, 1, &diag_msg(1, 10, 80, &[], 0, 9));
        assert_eq!(
            parse_reply(&buf, Protocol::Tcp, 1, &mut out),
            Ok(Progress::More)
        );
        let buf = message(SOCK_DIAG_BY_FAMILY, 1, &diag_msg(2, 99, 80, &[], 0, 9));
        assert_eq!(
            parse_reply(&buf, Protocol::Tcp, 1, &mut out),
            Ok(Progress::More)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn a_missing_ipv6_family_means_no_ipv6_sockets() {
        for errno in [libc::ENOENT, libc::EAFNOSUPPORT, libc::EOPNOTSUPP] {
            let e = io::Error::from_raw_os_error(errno);
            assert!(family_missing(Family::V6, &e), "{e}");
            // IPv4 is never missing: the same error there is a failed lookup.
            assert!(!family_missing(Family::V4, &e), "{e}");
        }
        for errno in [libc::EACCES, libc::EPERM, libc::ENOBUFS, libc::EINVAL] {
            let e = io::Error::from_raw_os_error(errno);
            assert!(!family_missing(Family::V6, &e), "{e}");
        }
        let not_os = io::Error::new(io::ErrorKind::NotFound, "not an errno");
        assert!(!family_missing(Family::V6, &not_os));
        // What `dump` returns for a kernel's NLMSG_ERROR carrying ENOENT.
        let reply = message(NLMSG_ERROR, 4, &(-libc::ENOENT).to_ne_bytes());
        let err = parse_reply(&reply, Protocol::Udp, 4, &mut Vec::new()).unwrap_err();
        assert!(family_missing(Family::V6, &io::Error::from(err)));
    }

    /// Replies recorded on an x86_64 (little-endian) kernel: one file per `recv`. The
    /// socket set is the same as in the recorded /proc/net tables; tests/data/README.md
    /// lists it.
    #[cfg(target_endian = "little")]
    mod recorded {
        use super::*;

        macro_rules! sample {
            ($name:literal) => {
                include_bytes!(concat!("../../../tests/data/sock_diag/", $name, ".bin")).as_slice()
            };
        }

        const TCP_BOTH: [&[u8]; 2] = [sample!("tcp_both.recv0"), sample!("tcp_both.recv1")];
        const TCP4_ALL_STATES: [&[u8]; 2] = [
            sample!("tcp4_all_states.recv0"),
            sample!("tcp4_all_states.recv1"),
        ];
        const TCP6_PORT: [&[u8]; 2] = [
            sample!("tcp6_port_47005.recv0"),
            sample!("tcp6_port_47005.recv1"),
        ];
        const UDP4: [&[u8]; 2] = [sample!("udp4.recv0"), sample!("udp4.recv1")];
        const UDP6: [&[u8]; 2] = [sample!("udp6.recv0"), sample!("udp6.recv1")];
        const NO_FAMILY: &[u8] = sample!("no_family.recv0");

        type Row = (SocketAddr, State, u32, u64);

        fn row(addr: &str, state: State, uid: u32, inode: u64) -> Row {
            (addr.parse().unwrap(), state, uid, inode)
        }

        /// Feeds the buffers of one dump to `parse_reply` as `dump` does: every buffer but
        /// the last asks for more, the last one is DONE.
        fn parse_dump(buffers: &[&[u8]], protocol: Protocol, seq: u32) -> Vec<Socket> {
            let mut out = Vec::new();
            for (i, buf) in buffers.iter().enumerate() {
                let want = if i + 1 == buffers.len() {
                    Progress::Done
                } else {
                    Progress::More
                };
                assert_eq!(
                    parse_reply(buf, protocol, seq, &mut out),
                    Ok(want),
                    "recv {i}"
                );
            }
            out
        }

        fn rows(sockets: &[Socket]) -> Vec<Row> {
            sockets
                .iter()
                .map(|s| {
                    let SocketKey::Inode(inode) = s.key else {
                        panic!("Linux keys sockets by inode")
                    };
                    (s.local, s.state, s.uid.unwrap(), inode)
                })
                .collect()
        }

        #[test]
        fn one_tcp_dump_holds_both_families() {
            use State::*;
            let sockets = parse_dump(&TCP_BOTH, Protocol::Tcp, 1);
            assert_eq!(
                rows(&sockets),
                [
                    row("127.0.0.1:47003", Listen, 65534, 618323),
                    row("192.0.2.10:47008", Listen, 65534, 618330),
                    row("[2001:db8::1:2:3:4]:47009", Listen, 65534, 618331),
                    row("[::1]:47005", Listen, 65534, 618326),
                    row("[::]:47007", Listen, 65534, 618329),
                    row("[::]:47002", Listen, 65534, 618322),
                    row("0.0.0.0:47001", Listen, 65534, 618321),
                    row("[::1]:47006", Established, 65534, 618327),
                    row("127.0.0.1:47003", Established, 65534, 618325),
                    row("[::1]:47005", Established, 65534, 618328),
                    row("127.0.0.1:47004", Established, 65534, 618324),
                ]
            );
            let v6 = sockets.iter().filter(|s| s.family == Family::V6).count();
            assert_eq!(v6, 6);
            assert!(sockets.iter().all(|s| s.protocol == Protocol::Tcp));
        }

        #[test]
        fn an_all_states_dump_includes_time_wait_without_an_owner() {
            use State::*;
            let sockets = parse_dump(&TCP4_ALL_STATES, Protocol::Tcp, 2);
            assert_eq!(
                rows(&sockets),
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
        }

        /// Every buffer of one dump through `parse_diags`.
        fn diags(buffers: &[&[u8]], protocol: Protocol, seq: u32) -> Vec<Diag> {
            let mut out = Vec::new();
            for buf in buffers {
                parse_diags(buf, protocol, seq, &mut out).unwrap();
            }
            out
        }

        #[test]
        fn the_kernel_says_v6only_unasked_for_ipv6_listeners_only() {
            let v6only: Vec<(SocketAddr, Option<bool>)> = diags(&TCP_BOTH, Protocol::Tcp, 1)
                .iter()
                .map(|d| (d.socket.local, d.v6only))
                .collect();
            let at = |addr: &str| {
                let addr: SocketAddr = addr.parse().unwrap();
                v6only
                    .iter()
                    .filter(|(a, _)| *a == addr)
                    .map(|&(_, v)| v)
                    .collect::<Vec<_>>()
            };
            // The V6ONLY listener, the dual-stack one, one on ::1 without the option.
            assert_eq!(at("[::]:47002"), [Some(true)]);
            assert_eq!(at("[::]:47007"), [Some(false)]);
            assert_eq!(at("[2001:db8::1:2:3:4]:47009"), [Some(true)]);
            // Connections (and IPv4 sockets) carry no such attribute.
            assert_eq!(at("[::1]:47006"), [None]);
            assert_eq!(at("0.0.0.0:47001"), [None]);
            // UDP sockets are in TCP_CLOSE, so they have it too.
            let udp6 = diags(&UDP6, Protocol::Udp, 5);
            assert!(udp6.iter().all(|d| d.v6only == Some(true)), "{udp6:?}");
        }

        #[test]
        fn time_wait_comes_with_the_time_left() {
            let all = diags(&TCP4_ALL_STATES, Protocol::Tcp, 2);
            let tw: Vec<&Diag> = all
                .iter()
                .filter(|d| d.socket.state == State::TimeWait)
                .collect();
            assert_eq!(tw.len(), 1);
            let left = tw[0].expires.expect("the TIME_WAIT timer");
            assert!(left <= Duration::from_secs(60), "{left:?}");
            assert!(
                all.iter()
                    .filter(|d| d.socket.state != State::TimeWait)
                    .all(|d| d.expires.is_none())
            );
        }

        #[test]
        fn the_kernel_ran_our_port_filter() {
            use State::*;
            // Only local port 47005: the listener and the server end of its connection,
            // not the client end (local port 47006) nor any other socket.
            let sockets = parse_dump(&TCP6_PORT, Protocol::Tcp, 3);
            assert_eq!(
                rows(&sockets),
                [
                    row("[::1]:47005", Listen, 65534, 618326),
                    row("[::1]:47005", Established, 65534, 618328),
                ]
            );
        }

        #[test]
        fn udp_dumps_per_family() {
            use State::*;
            assert_eq!(
                rows(&parse_dump(&UDP4, Protocol::Udp, 4)),
                [
                    row("0.0.0.0:47011", Unconnected, 65534, 618332),
                    row("127.0.0.1:47013", Established, 65534, 618334),
                ]
            );
            assert_eq!(
                rows(&parse_dump(&UDP6, Protocol::Udp, 5)),
                [
                    row("[::1]:47012", Unconnected, 65534, 618333),
                    row("[2001:db8::1:2:3:4]:47014", Unconnected, 65534, 618335),
                ]
            );
            assert!(
                parse_dump(&UDP6, Protocol::Udp, 5)
                    .iter()
                    .all(|s| s.kind() == "udp6")
            );
        }

        #[test]
        fn a_recorded_enoent_is_a_kernel_error_that_means_no_such_family() {
            let err = parse_reply(NO_FAMILY, Protocol::Tcp, 6, &mut Vec::new()).unwrap_err();
            assert_eq!(err, DiagError::Kernel(libc::ENOENT));
            assert!(family_missing(Family::V6, &err.into()));
        }

        #[test]
        fn replies_to_another_request_are_ignored() {
            let mut out = Vec::new();
            for buf in TCP_BOTH.iter().chain(&UDP4).chain([&NO_FAMILY]) {
                assert_eq!(
                    parse_reply(buf, Protocol::Tcp, 99, &mut out),
                    Ok(Progress::More)
                );
            }
            assert!(out.is_empty());
        }

        #[test]
        fn a_dump_read_in_one_buffer_parses_the_same() {
            let whole = TCP_BOTH.concat();
            let mut out = Vec::new();
            assert_eq!(
                parse_reply(&whole, Protocol::Tcp, 1, &mut out),
                Ok(Progress::Done)
            );
            assert_eq!(out, parse_dump(&TCP_BOTH, Protocol::Tcp, 1));
        }

        #[test]
        fn every_truncation_of_a_recorded_reply_is_an_error_or_a_shorter_reply() {
            // Message boundaries of the first buffer: a cut there is a shorter, valid reply.
            let buf = TCP_BOTH[0];
            let mut boundaries = vec![0];
            while let Some(&at) = boundaries.last().filter(|&&at| at < buf.len()) {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                boundaries.push(at + len.next_multiple_of(4));
            }
            for cut in 0..buf.len() {
                let mut out = Vec::new();
                let parsed = parse_reply(&buf[..cut], Protocol::Tcp, 1, &mut out);
                if boundaries.contains(&cut) {
                    assert_eq!(parsed, Ok(Progress::More), "cut at {cut}");
                    assert_eq!(
                        out.len(),
                        boundaries.iter().position(|&b| b == cut).unwrap()
                    );
                } else {
                    assert!(
                        matches!(parsed, Err(DiagError::BadLength { .. })),
                        "cut at {cut}: {parsed:?}"
                    );
                }
            }
        }

        #[test]
        fn sock_diag_and_proc_net_recordings_agree() {
            // Recorded at the same moment: both sources must give the same sockets.
            let query = Query::ports(vec![]);
            let mut from_diag = parse_dump(&TCP_BOTH, Protocol::Tcp, 1);
            from_diag.extend(parse_dump(&UDP4, Protocol::Udp, 4));
            from_diag.extend(parse_dump(&UDP6, Protocol::Udp, 5));
            from_diag.retain(|s| s.key != SocketKey::Inode(0) && query.matches(s));
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/proc_net");
            let mut from_proc = crate::platform::proc_net::sockets_in(&dir, &query).unwrap();
            from_diag.sort_by_key(|s| s.key);
            from_proc.sort_by_key(|s| s.key);
            assert_eq!(from_diag, from_proc);
            assert_eq!(from_diag.len(), 15);
        }
    }

    /// Sends `request` and returns every buffer the kernel answers with, raw, up to and
    /// including the one that ends the dump (NLMSG_DONE or an error).
    fn record(nl: &OwnedFd, request: &[u8], protocol: Protocol, seq: u32) -> Vec<Vec<u8>> {
        sendto(
            nl,
            request,
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )
        .expect("sendto");
        let mut buffers = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (n, _) = recv(nl, &mut buf[..], RecvFlags::empty()).expect("recv");
            assert!(n > 0, "recv: end of stream");
            buffers.push(buf[..n].to_vec());
            match parse_reply(&buf[..n], protocol, seq, &mut Vec::new()) {
                Ok(Progress::More) => {}
                Ok(Progress::Done) | Err(_) => return buffers,
            }
        }
    }

    /// Re-records the sock_diag samples of tests/data/sock_diag/: one file per `recv`,
    /// `NAME.recvN.bin`. Does nothing unless REKT_RECORD_SOCK_DIAG names the directory to
    /// write; tests/data/record.sh runs it inside a network namespace holding known sockets.
    #[test]
    #[ignore = "records kernel replies; run by tests/data/record.sh"]
    fn record_replies() {
        let Some(dir) = std::env::var_os("REKT_RECORD_SOCK_DIAG") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let every_port = Query::ports(vec![]);
        let one_port = Query::ports(vec!["47005".parse().unwrap()]);
        let mut all_states = request(Protocol::Tcp, Family::V4, &every_port, 2);
        all_states[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
        // A family no inet_diag handler serves (AF_IPX, long gone from Linux): the error
        // reply a kernel sends for a family it does not have.
        let mut no_family = request(Protocol::Tcp, Family::V4, &every_port, 6);
        no_family[16] = 4;
        let requests = [
            (
                "tcp_both",
                request_tcp_both(&every_port, 1),
                Protocol::Tcp,
                1,
            ),
            ("tcp4_all_states", all_states, Protocol::Tcp, 2),
            (
                "tcp6_port_47005",
                request(Protocol::Tcp, Family::V6, &one_port, 3),
                Protocol::Tcp,
                3,
            ),
            (
                "udp4",
                request(Protocol::Udp, Family::V4, &every_port, 4),
                Protocol::Udp,
                4,
            ),
            (
                "udp6",
                request(Protocol::Udp, Family::V6, &every_port, 5),
                Protocol::Udp,
                5,
            ),
            ("no_family", no_family, Protocol::Tcp, 6),
        ];
        let nl = open().unwrap();
        for (name, request, protocol, seq) in requests {
            for (i, buf) in record(&nl, &request, protocol, seq).iter().enumerate() {
                std::fs::write(dir.join(format!("{name}.recv{i}.bin")), buf).unwrap();
            }
        }
    }
}
