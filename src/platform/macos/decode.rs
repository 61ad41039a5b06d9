//! Decoders for what libproc and `sysctl` answer: `struct proc_bsdinfo`, the
//! `struct proc_fdinfo` list, `struct socket_fdinfo`, `KERN_PROCARGS2`, and what a return
//! value or a refusal means. Each is a pure function over bytes or numbers, so the layout,
//! byte-order and error rules are tested on any machine with answers built like the
//! kernel's, rather than trusted. The FFI calls are in `libproc.rs`.
//!
//! Every rule here was checked against xnu's source (xnu-11417: `bsd/sys/proc_info.h`,
//! `bsd/kern/proc_info.c`, `bsd/kern/socket_info.c`, `bsd/kern/kern_exec.c`,
//! `libsyscall/wrappers/libproc/libproc.c`, `bsd/netinet6/in6.h`), never on a Mac.
//!
//! The layouts are `#[repr(C)]` mirrors of `<sys/proc_info.h>` (xnu, bsd/sys/proc_info.h),
//! and every offset the decoders use is taken from them with `offset_of!`. macOS on arm64
//! and x86_64 is LP64 with natural alignment (`uint64_t` is 8-aligned on both), so one
//! mirror fits both; the tests pin the sizes the headers give: `proc_bsdinfo` 136 bytes,
//! `proc_bsdshortinfo` 64, `proc_fdinfo` 8, `socket_fdinfo` 792. On macOS the mirrors are
//! also checked at compile time against libc's own definitions where libc has them.
//!
//! This file is compiled on every target for the tests (see `platform/mod.rs`); only macOS
//! uses it outside them.

#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::io;
use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use crate::model::{Family, Protocol, Socket, SocketKey, State};

/// `MAXCOMLEN` in `<sys/param.h>`: the size of `pbi_comm`. The kernel copies that many
/// bytes of `p_comm` and then writes a NUL over the last (`proc_pidbsdinfo`), so a command
/// name comes out at most 15 bytes long, and `pbi_name` at most 31.
const MAXCOMLEN: usize = 16;

/// `struct proc_bsdinfo`: what `proc_pidinfo(PROC_PIDTBSDINFO)` writes. Readable for one's
/// own processes (all of them as root).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct ProcBsdInfo {
    pub(crate) pbi_flags: u32,
    pub(crate) pbi_status: u32,
    pub(crate) pbi_xstatus: u32,
    pub(crate) pbi_pid: u32,
    pub(crate) pbi_ppid: u32,
    pub(crate) pbi_uid: u32,
    pub(crate) pbi_gid: u32,
    pub(crate) pbi_ruid: u32,
    pub(crate) pbi_rgid: u32,
    pub(crate) pbi_svuid: u32,
    pub(crate) pbi_svgid: u32,
    pub(crate) rfu_1: u32,
    pub(crate) pbi_comm: [u8; MAXCOMLEN],
    pub(crate) pbi_name: [u8; 2 * MAXCOMLEN],
    pub(crate) pbi_nfiles: u32,
    pub(crate) pbi_pgid: u32,
    pub(crate) pbi_pjobc: u32,
    pub(crate) e_tdev: u32,
    pub(crate) e_tpgid: u32,
    pub(crate) pbi_nice: i32,
    pub(crate) pbi_start_tvsec: u64,
    pub(crate) pbi_start_tvusec: u64,
}

/// `struct proc_bsdshortinfo`: what `proc_pidinfo(PROC_PIDT_SHORTBSDINFO)` writes, which
/// any user may read about any process.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct ProcBsdShortInfo {
    pub(crate) pbsi_pid: u32,
    pub(crate) pbsi_ppid: u32,
    pub(crate) pbsi_pgid: u32,
    pub(crate) pbsi_status: u32,
    pub(crate) pbsi_comm: [u8; MAXCOMLEN],
    pub(crate) pbsi_flags: u32,
    pub(crate) pbsi_uid: u32,
    pub(crate) pbsi_gid: u32,
    pub(crate) pbsi_ruid: u32,
    pub(crate) pbsi_rgid: u32,
    pub(crate) pbsi_svuid: u32,
    pub(crate) pbsi_svgid: u32,
    pub(crate) pbsi_rfu: u32,
}

/// `struct proc_fdinfo`: one entry of `proc_pidinfo(PROC_PIDLISTFDS)`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct ProcFdInfo {
    pub(crate) proc_fd: i32,
    pub(crate) proc_fdtype: u32,
}

/// `struct proc_fileinfo`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct ProcFileInfo {
    pub(crate) fi_openflags: u32,
    pub(crate) fi_status: u32,
    pub(crate) fi_offset: i64,
    pub(crate) fi_type: i32,
    pub(crate) fi_guardflags: u32,
}

/// `struct vinfo_stat`: a stat64 with fixed-size fields. For a socket (`soi_stat`) the
/// kernel never fills it: `pid_socketinfo` zeroes the whole `socket_fdinfo`, and neither
/// `fill_socketinfo` nor `fill_common_sockinfo` writes `soi_stat`, in every xnu since
/// 1228. So `vst_uid` is always 0 there, and is never read.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct VinfoStat {
    pub(crate) vst_dev: u32,
    pub(crate) vst_mode: u16,
    pub(crate) vst_nlink: u16,
    pub(crate) vst_ino: u64,
    pub(crate) vst_uid: u32,
    pub(crate) vst_gid: u32,
    pub(crate) vst_atime: i64,
    pub(crate) vst_atimensec: i64,
    pub(crate) vst_mtime: i64,
    pub(crate) vst_mtimensec: i64,
    pub(crate) vst_ctime: i64,
    pub(crate) vst_ctimensec: i64,
    pub(crate) vst_birthtime: i64,
    pub(crate) vst_birthtimensec: i64,
    pub(crate) vst_size: i64,
    pub(crate) vst_blocks: i64,
    pub(crate) vst_blksize: i32,
    pub(crate) vst_flags: u32,
    pub(crate) vst_gen: u32,
    pub(crate) vst_rdev: u32,
    pub(crate) vst_qspare: [i64; 2],
}

/// `struct sockbuf_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct SockbufInfo {
    pub(crate) sbi_cc: u32,
    pub(crate) sbi_hiwat: u32,
    pub(crate) sbi_mbcnt: u32,
    pub(crate) sbi_mbmax: u32,
    pub(crate) sbi_lowat: u32,
    pub(crate) sbi_flags: i16,
    pub(crate) sbi_timeo: i16,
}

/// `struct in_sockinfo`. The addresses are unions of `struct in4in6_addr` (three words of
/// padding, then the IPv4 address) and `struct in6_addr`: 16 bytes, 4-aligned.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct InSockInfo {
    pub(crate) insi_fport: i32,
    pub(crate) insi_lport: i32,
    pub(crate) insi_gencnt: u64,
    pub(crate) insi_flags: u32,
    pub(crate) insi_flow: u32,
    pub(crate) insi_vflag: u8,
    pub(crate) insi_ip_ttl: u8,
    pub(crate) rfu_1: u32,
    pub(crate) insi_faddr: [u32; 4],
    pub(crate) insi_laddr: [u32; 4],
    pub(crate) insi_v4: InSockInfoV4,
    pub(crate) insi_v6: InSockInfoV6,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct InSockInfoV4 {
    pub(crate) in4_tos: u8,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct InSockInfoV6 {
    pub(crate) in6_hlim: u8,
    pub(crate) in6_cksum: i32,
    pub(crate) in6_ifindex: u16,
    pub(crate) in6_hops: i16,
}

/// `struct tcp_sockinfo`: an `in_sockinfo` followed by the TCP state (`TSI_S_*`).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct TcpSockInfo {
    pub(crate) tcpsi_ini: InSockInfo,
    pub(crate) tcpsi_state: i32,
    pub(crate) tcpsi_timer: [i32; 4],
    pub(crate) tcpsi_mss: i32,
    pub(crate) tcpsi_flags: u32,
    pub(crate) rfu_1: u32,
    pub(crate) tcpsi_tp: u64,
}

/// `struct un_sockinfo`, only for its size: the largest member of the protocol union
/// (two `SOCK_MAXADDRLEN` (255) byte addresses after two handles).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct UnSockInfo {
    pub(crate) unsi_conn_so: u64,
    pub(crate) unsi_conn_pcb: u64,
    pub(crate) unsi_addr: [u8; 255],
    pub(crate) unsi_caddr: [u8; 255],
}

/// `struct kern_ctl_info` (`MAX_KCTL_NAME` is 96), for the union's size.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct KernCtlInfo {
    pub(crate) kcsi_id: u32,
    pub(crate) kcsi_reg_unit: u32,
    pub(crate) kcsi_flags: u32,
    pub(crate) kcsi_recvbufsize: u32,
    pub(crate) kcsi_sendbufsize: u32,
    pub(crate) kcsi_unit: u32,
    pub(crate) kcsi_name: [u8; 96],
}

/// The `soi_proto` union; `soi_kind` says which member is valid. The members rekt never
/// reads (ndrv, kernel events, vsock) are smaller than these.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) union SoiProto {
    pub(crate) pri_in: InSockInfo,
    pub(crate) pri_tcp: TcpSockInfo,
    pub(crate) pri_un: UnSockInfo,
    pub(crate) pri_kern_ctl: KernCtlInfo,
}

/// `struct socket_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct SocketInfo {
    pub(crate) soi_stat: VinfoStat,
    /// Opaque handle of the socket: the same in every process that has it open.
    pub(crate) soi_so: u64,
    pub(crate) soi_pcb: u64,
    pub(crate) soi_type: i32,
    pub(crate) soi_protocol: i32,
    pub(crate) soi_family: i32,
    pub(crate) soi_options: i16,
    pub(crate) soi_linger: i16,
    pub(crate) soi_state: i16,
    pub(crate) soi_qlen: i16,
    pub(crate) soi_incqlen: i16,
    pub(crate) soi_qlimit: i16,
    pub(crate) soi_timeo: i16,
    pub(crate) soi_error: u16,
    pub(crate) soi_oobmark: u32,
    pub(crate) soi_rcv: SockbufInfo,
    pub(crate) soi_snd: SockbufInfo,
    pub(crate) soi_kind: i32,
    pub(crate) rfu_1: u32,
    pub(crate) soi_proto: SoiProto,
}

/// `struct socket_fdinfo`: what `proc_pidfdinfo(PROC_PIDFDSOCKETINFO)` writes.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct SocketFdInfo {
    pub(crate) pfi: ProcFileInfo,
    pub(crate) psi: SocketInfo,
}

/// `PROX_FDTYPE_SOCKET`: a `proc_fdinfo` entry for a socket.
pub(crate) const PROX_FDTYPE_SOCKET: u32 = 2;
/// `SOCKINFO_IN` and `SOCKINFO_TCP`: which member of `soi_proto` is filled.
pub(crate) const SOCKINFO_IN: i32 = 1;
pub(crate) const SOCKINFO_TCP: i32 = 2;
/// `INI_IPV4` and `INI_IPV6` in `insi_vflag`: which address the PCB carries.
pub(crate) const INI_IPV4: u8 = 0x1;
pub(crate) const INI_IPV6: u8 = 0x2;
/// Darwin's `AF_INET` and `AF_INET6` (30, not Linux's 10).
pub(crate) const AF_INET: i32 = 2;
pub(crate) const AF_INET6: i32 = 30;
pub(crate) const IPPROTO_UDP: i32 = 17;
/// `SZOMB` in `pbi_status`.
pub(crate) const SZOMB: u32 = 5;
/// `PROC_FLAG_LP64` in `pbi_flags`: a 64-bit process.
pub(crate) const PROC_FLAG_LP64: u32 = 0x10;

/// When a process started: with the PID, what names one process for its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Started {
    pub(crate) sec: u64,
    pub(crate) usec: u64,
}

/// The fields of `proc_bsdinfo` that rekt uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BsdInfo {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    /// The effective uid (`pbi_uid`): what the kernel compares with the caller's to decide
    /// whether it may read the process, and the uid of the sockets it holds.
    pub(crate) uid: u32,
    /// The real uid.
    pub(crate) ruid: u32,
    /// `PROC_FLAG_*`.
    pub(crate) flags: u32,
    /// `SIDL`, `SRUN`, `SSLEEP`, `SSTOP` or `SZOMB`.
    pub(crate) status: u32,
    /// The size of the fd table: how many `proc_fdinfo` entries to make room for.
    pub(crate) nfiles: u32,
    pub(crate) started: Started,
    /// The command name (`p_comm`, at most 15 bytes: the kernel ends it with a NUL).
    pub(crate) comm: Vec<u8>,
    /// The longer name (`p_name`, at most 31 bytes); empty when none was registered.
    pub(crate) name: Vec<u8>,
}

impl BsdInfo {
    /// What `proc_name` gives: the longer name when there is one, else the command name.
    pub(crate) fn best_name(&self) -> &[u8] {
        if self.name.is_empty() {
            &self.comm
        } else {
            &self.name
        }
    }

    /// The size of a pointer in the process: what its argument strings are aligned to.
    pub(crate) fn word(&self) -> usize {
        if self.flags & PROC_FLAG_LP64 != 0 {
            8
        } else {
            4
        }
    }
}

/// Decodes `struct proc_bsdinfo`; `None` when the buffer is shorter than the struct.
pub(crate) fn bsd_info(bytes: &[u8]) -> Option<BsdInfo> {
    if bytes.len() < size_of::<ProcBsdInfo>() {
        return None;
    }
    let u = |at| u32_at(bytes, at);
    Some(BsdInfo {
        pid: u(offset_of!(ProcBsdInfo, pbi_pid))?,
        ppid: u(offset_of!(ProcBsdInfo, pbi_ppid))?,
        uid: u(offset_of!(ProcBsdInfo, pbi_uid))?,
        ruid: u(offset_of!(ProcBsdInfo, pbi_ruid))?,
        flags: u(offset_of!(ProcBsdInfo, pbi_flags))?,
        status: u(offset_of!(ProcBsdInfo, pbi_status))?,
        nfiles: u(offset_of!(ProcBsdInfo, pbi_nfiles))?,
        started: Started {
            sec: u64_at(bytes, offset_of!(ProcBsdInfo, pbi_start_tvsec))?,
            usec: u64_at(bytes, offset_of!(ProcBsdInfo, pbi_start_tvusec))?,
        },
        comm: c_string(bytes, offset_of!(ProcBsdInfo, pbi_comm), MAXCOMLEN),
        name: c_string(bytes, offset_of!(ProcBsdInfo, pbi_name), 2 * MAXCOMLEN),
    })
}

/// The fields of `proc_bsdshortinfo` that rekt uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShortInfo {
    pub(crate) ppid: u32,
    pub(crate) ruid: u32,
    pub(crate) status: u32,
    pub(crate) comm: Vec<u8>,
}

/// Decodes `struct proc_bsdshortinfo`; `None` when the buffer is shorter than the struct.
pub(crate) fn short_info(bytes: &[u8]) -> Option<ShortInfo> {
    if bytes.len() < size_of::<ProcBsdShortInfo>() {
        return None;
    }
    Some(ShortInfo {
        ppid: u32_at(bytes, offset_of!(ProcBsdShortInfo, pbsi_ppid))?,
        ruid: u32_at(bytes, offset_of!(ProcBsdShortInfo, pbsi_ruid))?,
        status: u32_at(bytes, offset_of!(ProcBsdShortInfo, pbsi_status))?,
        comm: c_string(bytes, offset_of!(ProcBsdShortInfo, pbsi_comm), MAXCOMLEN),
    })
}

/// The socket fds in a `PROC_PIDLISTFDS` answer (an array of `proc_fdinfo`). A trailing
/// partial entry is ignored.
pub(crate) fn socket_fds(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    let fd_at = offset_of!(ProcFdInfo, proc_fd);
    let type_at = offset_of!(ProcFdInfo, proc_fdtype);
    bytes
        .chunks_exact(size_of::<ProcFdInfo>())
        .filter(move |e| u32_at(e, type_at) == Some(PROX_FDTYPE_SOCKET))
        .filter_map(move |e| u32::try_from(i32_at(e, fd_at)?).ok())
}

/// An IPv4 or IPv6 TCP or UDP socket, as `socket_fdinfo` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InetSocket {
    pub(crate) protocol: Protocol,
    pub(crate) family: Family,
    pub(crate) local: SocketAddr,
    pub(crate) state: State,
    /// The kernel's opaque handle for the socket (`soi_so`): the same in every process
    /// that shares it, and what `lsof` compares to tell that they do.
    pub(crate) handle: u64,
}

/// Decodes `struct socket_fdinfo`. `None` for anything but a TCP or UDP socket of family
/// `AF_INET` or `AF_INET6`, for a TCP socket without a TCP control block (nothing to say
/// about its state), and for a buffer shorter than the struct (a short answer is not one
/// the kernel gives for a socket it described).
///
/// - The family is the socket's (`soi_family`), as Linux reports it: an `AF_INET6` socket
///   that carries an IPv4 address (`insi_vflag` is `INI_IPV4` only: bound to or connected
///   through a v4-mapped address, or accepted from an IPv4 client by a dual-stack
///   listener) is IPv6 with the v4-mapped address `::ffff:a.b.c.d`. A dual-stack `[::]`
///   listener (`INI_IPV4 | INI_IPV6`) is IPv6 `[::]`.
/// - The port (`insi_lport`) is the PCB's `u_short` in network byte order, stored in an
///   `int`: `ntohs((u_short)insi_lport)`.
/// - An IPv4 address is the last word of `struct in4in6_addr`, in network byte order.
/// - A scoped IPv6 address carries the KAME-embedded scope (the interface index in its
///   second 16-bit word, as the kernel keeps it); it is moved to the scope id, as netstat
///   does (see [`unembed_scope`]).
/// - There is no uid: `soi_stat` is never filled. A socket's uid is its holder's
///   ([`held`]).
/// - UDP sockets are `Unconnected`, or `Established` once connected (a foreign port set).
pub(crate) fn socket(bytes: &[u8]) -> Option<InetSocket> {
    if bytes.len() < size_of::<SocketFdInfo>() {
        return None;
    }
    let psi = offset_of!(SocketFdInfo, psi);
    let at = |field: usize| psi + field;
    let family = match i32_at(bytes, at(offset_of!(SocketInfo, soi_family)))? {
        AF_INET => Family::V4,
        AF_INET6 => Family::V6,
        _ => return None,
    };
    // Every member of the union starts where the union does.
    let proto = at(offset_of!(SocketInfo, soi_proto));
    let ini = proto + offset_of!(TcpSockInfo, tcpsi_ini);
    let kind = i32_at(bytes, at(offset_of!(SocketInfo, soi_kind)))?;
    let protocol = i32_at(bytes, at(offset_of!(SocketInfo, soi_protocol)))?;
    let (protocol, state) = match (kind, protocol) {
        (SOCKINFO_TCP, _) => {
            let code = i32_at(bytes, proto + offset_of!(TcpSockInfo, tcpsi_state))?;
            (Protocol::Tcp, tcp_state(code)?)
        }
        (SOCKINFO_IN, IPPROTO_UDP) => {
            let fport = i32_at(bytes, ini + offset_of!(InSockInfo, insi_fport))?;
            let state = if fport == 0 {
                State::Unconnected
            } else {
                State::Established
            };
            (Protocol::Udp, state)
        }
        _ => return None,
    };
    let lport = i32_at(bytes, ini + offset_of!(InSockInfo, insi_lport))?;
    // The int holds the u_short's value; its low 16 bits are the port in network order.
    let port = u16::from_be(lport as u16);
    let vflag = *bytes.get(ini + offset_of!(InSockInfo, insi_vflag))?;
    let laddr = ini + offset_of!(InSockInfo, insi_laddr);
    let raw: [u8; 16] = bytes.get(laddr..laddr + 16)?.try_into().ok()?;
    let ipv4 = Ipv4Addr::new(raw[12], raw[13], raw[14], raw[15]);
    let local = match family {
        Family::V4 => SocketAddr::new(IpAddr::V4(ipv4), port),
        Family::V6 if vflag & INI_IPV6 == 0 && vflag & INI_IPV4 != 0 => {
            SocketAddr::V6(SocketAddrV6::new(ipv4.to_ipv6_mapped(), port, 0, 0))
        }
        Family::V6 => {
            let (ip, scope) = unembed_scope(raw);
            SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope))
        }
    };
    Some(InetSocket {
        protocol,
        family,
        local,
        state,
        handle: u64_at(bytes, at(offset_of!(SocketInfo, soi_so)))?,
    })
}

/// The socket `found`, as the process `pid` (whose `proc_bsdinfo` is `holder`) holds it.
/// Its uid is the holder's effective uid (`pbi_uid`), since the kernel says nothing about
/// the socket's own (see [`VinfoStat`]): a socket shared by a root master process and its
/// workers shows each holder's uid. A socket that no readable process holds (the bind
/// probe's) has no uid at all.
pub(crate) fn held(found: InetSocket, pid: u32, holder: &BsdInfo) -> Socket {
    Socket {
        protocol: found.protocol,
        family: found.family,
        local: found.local,
        state: found.state,
        uid: Some(holder.uid),
        key: SocketKey::Held {
            pid: Some(pid),
            socket: found.handle,
        },
    }
}

/// An IPv6 address as the kernel keeps it in a PCB: the address, and its scope id.
///
/// The kernel embeds the interface index in bytes 2-3 (network order) of the addresses
/// `IN6_IS_SCOPE_EMBED` names (`in6.h`): link-local unicast (fe80::/10), link-local
/// multicast (ff?2, but not unicast-prefix-based ff32, whose flags are 0x3), and
/// interface-local multicast (ff?1, any flags). Those come back without it, with the
/// index as the scope id; any other address as it is, with scope 0.
///
/// When embedding is switched off (`net.inet6.ip6.in6_embedded_scope=0`), the kernel keeps
/// the scope elsewhere and bytes 2-3 of such an address are 0 (a link-local prefix has no
/// other bits there): the address still comes out right, with scope 0, which is all a
/// decoder of these bytes can know.
fn unembed_scope(mut raw: [u8; 16]) -> (Ipv6Addr, u32) {
    let link_local_unicast = raw[0] == 0xfe && raw[1] & 0xc0 == 0x80;
    let multicast = raw[0] == 0xff;
    let (flags, scope) = (raw[1] & 0xf0, raw[1] & 0x0f);
    // IPV6_ADDR_MC_FLAGS_UNICAST_BASED: the transient and prefix flags.
    let link_local_multicast = multicast && scope == 0x2 && flags != 0x30;
    let interface_local_multicast = multicast && scope == 0x1;
    if !(link_local_unicast || link_local_multicast || interface_local_multicast) {
        return (Ipv6Addr::from(raw), 0);
    }
    let scope = u32::from(u16::from_be_bytes([raw[2], raw[3]]));
    raw[2] = 0;
    raw[3] = 0;
    (Ipv6Addr::from(raw), scope)
}

/// A BSD TCP state (`TSI_S_*` in `<sys/proc_info.h>`, the `TCPS_*` numbers of
/// `<netinet/tcp_fsm.h>`) as rekt's state. The numbering differs from Linux's: BSD counts
/// CLOSED 0, LISTEN 1, ... TIME_WAIT 10. `TSI_S_RESERVED` (11) and anything else unknown is
/// `None`: no query can ask for it.
pub(crate) fn tcp_state(code: i32) -> Option<State> {
    Some(match code {
        0 => State::Close,
        1 => State::Listen,
        2 => State::SynSent,
        3 => State::SynRecv,
        4 => State::Established,
        5 => State::CloseWait,
        6 => State::FinWait1,
        7 => State::Closing,
        8 => State::LastAck,
        9 => State::FinWait2,
        10 => State::TimeWait,
        _ => return None,
    })
}

/// The arguments in a `KERN_PROCARGS2` answer: `argc` (a native `int`), the executable's
/// path, its NUL and padding, then `argc` NUL-terminated arguments (then the environment,
/// which is not read). A truncated buffer yields the arguments that are complete.
///
/// The padding makes the path's bytes, NUL included, a multiple of `word`, the size of a
/// pointer in the process ([`BsdInfo::word`]; `exec_extract_strings` in `kern_exec.c`), so
/// the arguments start there. Skipping every NUL after the path instead (as `ps` does)
/// would take an empty `argv[0]` for padding, and shift every argument by one. Should the
/// padding hold anything but NULs (not the kernel's layout), the arguments are taken to
/// start after the run of NULs that ends the path.
pub(crate) fn proc_args(bytes: &[u8], word: usize) -> Vec<Vec<u8>> {
    let Some(argc) = i32_at(bytes, 0).and_then(|n| usize::try_from(n).ok()) else {
        return Vec::new();
    };
    let rest = &bytes[4..];
    let Some(path_end) = rest.iter().position(|&b| b == 0) else {
        return Vec::new();
    };
    let aligned = (path_end + 1).next_multiple_of(word.max(1));
    let start = match rest.get(path_end..aligned) {
        Some(pad) if pad.iter().all(|&b| b == 0) => aligned,
        // Truncated within the padding: no argument is complete.
        None => return Vec::new(),
        Some(_) => {
            let nuls = rest[path_end..].iter().take_while(|&&b| b == 0).count();
            path_end + nuls
        }
    };
    let mut args = Vec::new();
    let mut rest = &rest[start..];
    while args.len() < argc {
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            break;
        };
        args.push(rest[..end].to_vec());
        rest = &rest[end + 1..];
    }
    args
}

/// What `proc_listallpids` returned, with `errno` as it was after the call: the number of
/// PIDs written, or the error. libproc turns the kernel's -1 into 0 (`proc_listpids` in
/// `libproc.c`), so the function never returns a negative number, and 0 is its failure:
/// there is never no process (rekt is one). A sandbox that refuses the list, say, must not
/// look like an empty machine, on which every port would be free.
pub(crate) fn listed_pids(returned: i32, errno: i32) -> io::Result<usize> {
    match usize::try_from(returned) {
        Ok(n) if n > 0 => Ok(n),
        _ if errno != 0 => Err(io::Error::from_raw_os_error(errno)),
        _ => Err(io::Error::other("it listed no processes")),
    }
}

/// Whether a process that refused to be read (EPERM) may hold a socket that rekt should
/// have seen, so that the scan is incomplete without it. Not PID 0: `kernproc` refuses
/// everyone but root, and holds no socket fd (the kernel's own sockets have no fd).
///
/// Every other refusal counts. The kernel refuses `PROC_PIDTBSDINFO` and `PROC_PIDLISTFDS`
/// when the caller's effective uid differs from the process's (and the caller is not
/// root), so without root that is every process of another user: launchd (which holds the
/// listening sockets of socket-activated services, sshd's port 22 among them) and the
/// system's daemons (root's, `_mdnsresponder`'s, ...). A normal user's scan is therefore
/// still incomplete on any Mac, as it is on Linux; a refusal of one's own process (a
/// sandbox) counts too.
pub(crate) fn refusal_counts(pid: u32) -> bool {
    pid != 0
}

/// The NUL-terminated string in the `len`-byte array at `at` (all of it if it has no NUL).
fn c_string(bytes: &[u8], at: usize, len: usize) -> Vec<u8> {
    let field = bytes.get(at..at.saturating_add(len)).unwrap_or_default();
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(array(bytes, at)?))
}

fn i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(array(bytes, at)?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(array(bytes, at)?))
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// On macOS, the mirrors must agree with libc's definitions of the same structs.
#[cfg(target_os = "macos")]
const _: () = {
    assert!(size_of::<ProcBsdInfo>() == size_of::<libc::proc_bsdinfo>());
    assert!(offset_of!(ProcBsdInfo, pbi_nfiles) == offset_of!(libc::proc_bsdinfo, pbi_nfiles));
    assert!(offset_of!(ProcBsdInfo, pbi_uid) == offset_of!(libc::proc_bsdinfo, pbi_uid));
    assert!(offset_of!(ProcBsdInfo, pbi_ruid) == offset_of!(libc::proc_bsdinfo, pbi_ruid));
    assert!(offset_of!(ProcBsdInfo, pbi_flags) == offset_of!(libc::proc_bsdinfo, pbi_flags));
    assert!(offset_of!(ProcBsdInfo, pbi_comm) == offset_of!(libc::proc_bsdinfo, pbi_comm));
    assert!(offset_of!(ProcBsdInfo, pbi_name) == offset_of!(libc::proc_bsdinfo, pbi_name));
    assert!(
        offset_of!(ProcBsdInfo, pbi_start_tvsec) == offset_of!(libc::proc_bsdinfo, pbi_start_tvsec)
    );
    assert!(size_of::<ProcFdInfo>() == size_of::<libc::proc_fdinfo>());
    assert!(size_of::<ProcFdInfo>() == libc::PROC_PIDLISTFD_SIZE as usize);
    assert!(size_of::<VinfoStat>() == size_of::<libc::vinfo_stat>());
    assert!(offset_of!(VinfoStat, vst_uid) == offset_of!(libc::vinfo_stat, vst_uid));
    assert!(PROX_FDTYPE_SOCKET == libc::PROX_FDTYPE_SOCKET as u32);
    assert!(AF_INET == libc::AF_INET && AF_INET6 == libc::AF_INET6);
};

#[cfg(test)]
mod tests {
    use super::*;

    const IPPROTO_TCP: i32 = 6;

    /// The sizes and offsets of `<sys/proc_info.h>` on LP64 macOS (arm64 and x86_64 alike),
    /// worked out from the header by hand: the mirrors must reproduce them.
    #[test]
    fn layouts_match_the_headers() {
        assert_eq!(size_of::<ProcBsdInfo>(), 136);
        assert_eq!(offset_of!(ProcBsdInfo, pbi_flags), 0);
        assert_eq!(offset_of!(ProcBsdInfo, pbi_uid), 20);
        assert_eq!(offset_of!(ProcBsdInfo, pbi_ruid), 28);
        assert_eq!(offset_of!(ProcBsdInfo, pbi_comm), 48);
        assert_eq!(offset_of!(ProcBsdInfo, pbi_name), 64);
        assert_eq!(offset_of!(ProcBsdInfo, pbi_nfiles), 96);
        assert_eq!(offset_of!(ProcBsdInfo, pbi_start_tvsec), 120);
        assert_eq!(offset_of!(ProcBsdInfo, pbi_start_tvusec), 128);
        assert_eq!(size_of::<ProcBsdShortInfo>(), 64);
        assert_eq!(offset_of!(ProcBsdShortInfo, pbsi_ruid), 44);
        assert_eq!(size_of::<ProcFdInfo>(), 8);
        assert_eq!(size_of::<ProcFileInfo>(), 24);
        assert_eq!(size_of::<VinfoStat>(), 136);
        assert_eq!(offset_of!(VinfoStat, vst_uid), 16);
        assert_eq!(size_of::<SockbufInfo>(), 24);
        assert_eq!(size_of::<InSockInfo>(), 80);
        assert_eq!(offset_of!(InSockInfo, insi_lport), 4);
        assert_eq!(offset_of!(InSockInfo, insi_vflag), 24);
        assert_eq!(offset_of!(InSockInfo, insi_faddr), 32);
        assert_eq!(offset_of!(InSockInfo, insi_laddr), 48);
        assert_eq!(offset_of!(InSockInfo, insi_v6), 68);
        assert_eq!(size_of::<TcpSockInfo>(), 120);
        assert_eq!(offset_of!(TcpSockInfo, tcpsi_state), 80);
        assert_eq!(size_of::<UnSockInfo>(), 528);
        assert_eq!(size_of::<SoiProto>(), 528);
        assert_eq!(offset_of!(SocketInfo, soi_so), 136);
        assert_eq!(offset_of!(SocketInfo, soi_family), 160);
        assert_eq!(offset_of!(SocketInfo, soi_kind), 232);
        assert_eq!(offset_of!(SocketInfo, soi_proto), 240);
        assert_eq!(size_of::<SocketInfo>(), 768);
        assert_eq!(offset_of!(SocketFdInfo, psi), 24);
        assert_eq!(size_of::<SocketFdInfo>(), 792);
    }

    /// A `socket_fdinfo` as the kernel writes it, built through the mirror so every field
    /// lands where `offset_of!` says.
    struct Sock(SocketFdInfo);

    impl Sock {
        fn new(family: i32, kind: i32, protocol: i32) -> Sock {
            // SAFETY: every mirror is plain integers and byte arrays; all zeros is valid.
            let mut s: SocketFdInfo = unsafe { std::mem::zeroed() };
            s.psi.soi_family = family;
            s.psi.soi_kind = kind;
            s.psi.soi_protocol = protocol;
            s.psi.soi_type = if protocol == IPPROTO_TCP { 1 } else { 2 };
            s.psi.soi_so = 0xffff_ff80_1234_5678;
            s.psi.soi_pcb = 0xffff_ff80_8765_4321;
            // soi_stat stays zero, as the kernel leaves it.
            Sock(s)
        }

        fn tcp(family: i32, state: i32) -> Sock {
            let mut s = Sock::new(family, SOCKINFO_TCP, IPPROTO_TCP);
            s.0.psi.soi_proto.pri_tcp.tcpsi_state = state;
            s
        }

        fn udp(family: i32) -> Sock {
            Sock::new(family, SOCKINFO_IN, IPPROTO_UDP)
        }

        fn ini(&mut self) -> &mut InSockInfo {
            // SAFETY: `pri_in` and `pri_tcp.tcpsi_ini` are the same bytes, and any bit
            // pattern is a valid InSockInfo.
            unsafe { &mut self.0.psi.soi_proto.pri_in }
        }

        /// The port as the kernel stores it: the network-order u_short in an int.
        fn port(mut self, port: u16) -> Sock {
            self.ini().insi_lport = i32::from(port.to_be());
            self
        }

        fn vflag(mut self, vflag: u8) -> Sock {
            self.ini().insi_vflag = vflag;
            self
        }

        /// An IPv4 address as `struct in4in6_addr` holds it: the last word.
        fn v4(mut self, ip: [u8; 4]) -> Sock {
            self.ini().insi_laddr = [0, 0, 0, u32::from_ne_bytes(ip)];
            self.vflag(INI_IPV4)
        }

        fn v6(mut self, ip: [u8; 16]) -> Sock {
            let words: Vec<u32> = ip
                .chunks_exact(4)
                .map(|w| u32::from_ne_bytes(w.try_into().unwrap()))
                .collect();
            self.ini().insi_laddr = words.try_into().unwrap();
            self.vflag(INI_IPV6)
        }

        fn bytes(&self) -> Vec<u8> {
            // SAFETY: a fully initialised (zeroed, then written) plain-data struct.
            let raw = unsafe {
                std::slice::from_raw_parts(
                    (&self.0 as *const SocketFdInfo).cast::<u8>(),
                    size_of::<SocketFdInfo>(),
                )
            };
            raw.to_vec()
        }
    }

    #[test]
    fn tcp4_listener_port_byte_order_and_handle() {
        let s = Sock::tcp(AF_INET, 1).v4([127, 0, 0, 1]).port(8000);
        let d = socket(&s.bytes()).unwrap();
        assert_eq!(d.protocol, Protocol::Tcp);
        assert_eq!(d.family, Family::V4);
        assert_eq!(d.local, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(d.state, State::Listen);
        assert_eq!(d.handle, 0xffff_ff80_1234_5678);
        // 0x1234 = 4660; read in the wrong order it would be 0x3412 = 13330.
        let s = Sock::tcp(AF_INET, 4).v4([10, 1, 2, 3]).port(0x1234);
        assert_eq!(socket(&s.bytes()).unwrap().local.port(), 4660);
        // The bytes of the port field itself: 0x1f40 (8000) in network order, in the low
        // half of a little-endian int, as arm64 and x86_64 store it.
        let s = Sock::tcp(AF_INET, 1).v4([0; 4]).port(8000);
        let at = offset_of!(SocketFdInfo, psi)
            + offset_of!(SocketInfo, soi_proto)
            + offset_of!(InSockInfo, insi_lport);
        if cfg!(target_endian = "little") {
            assert_eq!(&s.bytes()[at..at + 4], &[0x1f, 0x40, 0, 0]);
        }
    }

    #[test]
    fn ipv4_address_bytes_are_in_network_order() {
        let s = Sock::udp(AF_INET).v4([192, 168, 1, 20]).port(5353);
        let bytes = s.bytes();
        let at = offset_of!(SocketFdInfo, psi)
            + offset_of!(SocketInfo, soi_proto)
            + offset_of!(InSockInfo, insi_laddr);
        assert_eq!(&bytes[at + 12..at + 16], &[192, 168, 1, 20]);
        let d = socket(&bytes).unwrap();
        assert_eq!(d.local, "192.168.1.20:5353".parse().unwrap());
        assert_eq!(d.kind(), "udp");
    }

    impl InetSocket {
        fn kind(&self) -> &'static str {
            match (self.protocol, self.family) {
                (Protocol::Tcp, Family::V4) => "tcp",
                (Protocol::Tcp, Family::V6) => "tcp6",
                (Protocol::Udp, Family::V4) => "udp",
                (Protocol::Udp, Family::V6) => "udp6",
            }
        }
    }

    #[test]
    fn ipv6_sockets_and_their_vflags() {
        // An IPv6-only socket on ::1.
        let s = Sock::tcp(AF_INET6, 1)
            .v6(Ipv6Addr::LOCALHOST.octets())
            .port(8443);
        let d = socket(&s.bytes()).unwrap();
        assert_eq!((d.family, d.kind()), (Family::V6, "tcp6"));
        assert_eq!(d.local, "[::1]:8443".parse().unwrap());

        // A dual-stack [::] listener: both flags, IPv6 `[::]`.
        let s = Sock::tcp(AF_INET6, 1)
            .v6([0; 16])
            .vflag(INI_IPV4 | INI_IPV6)
            .port(3000);
        let d = socket(&s.bytes()).unwrap();
        assert_eq!(d.family, Family::V6);
        assert_eq!(d.local, "[::]:3000".parse().unwrap());

        // An AF_INET6 socket with an IPv4 PCB (INI_IPV4 only): a connection that a
        // dual-stack listener accepted from an IPv4 client. The address is in the
        // in4in6 form and comes out v4-mapped, as Linux shows it.
        let s = Sock::tcp(AF_INET6, 4).v4([127, 0, 0, 1]).port(3000);
        let d = socket(&s.bytes()).unwrap();
        assert_eq!(d.family, Family::V6);
        assert_eq!(d.state, State::Established);
        assert_eq!(d.local, "[::ffff:127.0.0.1]:3000".parse().unwrap());

        // The same vflag on an AF_INET socket is plain IPv4.
        let s = Sock::tcp(AF_INET, 4).v4([127, 0, 0, 1]).port(3000);
        assert_eq!(
            socket(&s.bytes()).unwrap().local,
            "127.0.0.1:3000".parse().unwrap()
        );
    }

    #[test]
    fn link_local_scopes_are_unembedded() {
        // fe80:4::1 as the kernel keeps fe80::1%4.
        let mut ip = "fe80::1".parse::<Ipv6Addr>().unwrap().octets();
        ip[3] = 4;
        let s = Sock::udp(AF_INET6).v6(ip).port(5353);
        let d = socket(&s.bytes()).unwrap();
        let want: Ipv6Addr = "fe80::1".parse().unwrap();
        assert_eq!(d.local, SocketAddr::V6(SocketAddrV6::new(want, 5353, 0, 4)));
        // ff02:7::fb (mDNS on interface 7).
        let mut ip = "ff02::fb".parse::<Ipv6Addr>().unwrap().octets();
        ip[3] = 7;
        let d = socket(&Sock::udp(AF_INET6).v6(ip).port(5353).bytes()).unwrap();
        let want: Ipv6Addr = "ff02::fb".parse().unwrap();
        assert_eq!(d.local, SocketAddr::V6(SocketAddrV6::new(want, 5353, 0, 7)));
        // A global address has no embedded scope; its second word is left alone.
        let ip: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let d = socket(&Sock::udp(AF_INET6).v6(ip.octets()).port(53).bytes()).unwrap();
        assert_eq!(d.local, "[2001:db8::1]:53".parse().unwrap());
    }

    /// `ip` with `index` in bytes 2-3, as the kernel embeds it, decoded from a UDP socket.
    fn embedded(ip: &str, index: u16) -> (Ipv6Addr, u32) {
        let mut raw = ip.parse::<Ipv6Addr>().unwrap().octets();
        raw[2..4].copy_from_slice(&index.to_be_bytes());
        let d = socket(&Sock::udp(AF_INET6).v6(raw).port(9).bytes()).unwrap();
        match d.local {
            SocketAddr::V6(a) => (*a.ip(), a.scope_id()),
            SocketAddr::V4(a) => panic!("{a} is not IPv6"),
        }
    }

    #[test]
    fn scopes_follow_in6_is_scope_embed() {
        let ip = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        // Interface-local multicast (ff01, and ff?1 with any flags) is scoped.
        assert_eq!(embedded("ff01::1", 5), (ip("ff01::1"), 5));
        assert_eq!(embedded("ff11::1", 5), (ip("ff11::1"), 5));
        assert_eq!(embedded("ff31::1", 5), (ip("ff31::1"), 5));
        // Link-local multicast with the transient flag (ff12) is scoped too.
        assert_eq!(embedded("ff12::1", 3), (ip("ff12::1"), 3));
        assert_eq!(embedded("fe80::1", 0x0102), (ip("fe80::1"), 0x0102));
        // Unicast-prefix-based link-local multicast (ff32, RFC 3306) is not: its bytes 2-3
        // are its own (reserved, and the prefix length), not an interface.
        let raw = "ff32:40:fe80::1";
        assert_eq!(embedded(raw, 0x0040), (ip(raw), 0));
        // Site-local and wider multicast are not scoped by the kernel.
        assert_eq!(embedded("ff05::2", 7), (ip("ff05:7::2"), 0));
        // With embedding off, the word is 0: the address is right, the scope 0.
        assert_eq!(embedded("fe80::1", 0), (ip("fe80::1"), 0));
        assert_eq!(embedded("ff02::fb", 0), (ip("ff02::fb"), 0));
    }

    #[test]
    fn udp_state_follows_the_foreign_port() {
        let s = Sock::udp(AF_INET).v4([0; 4]).port(53);
        assert_eq!(socket(&s.bytes()).unwrap().state, State::Unconnected);
        let mut s = Sock::udp(AF_INET).v4([127, 0, 0, 1]).port(53);
        s.ini().insi_fport = i32::from(4444u16.to_be());
        assert_eq!(socket(&s.bytes()).unwrap().state, State::Established);
    }

    #[test]
    fn every_tcp_state_maps() {
        let expected = [
            (0, State::Close),
            (1, State::Listen),
            (2, State::SynSent),
            (3, State::SynRecv),
            (4, State::Established),
            (5, State::CloseWait),
            (6, State::FinWait1),
            (7, State::Closing),
            (8, State::LastAck),
            (9, State::FinWait2),
            (10, State::TimeWait),
        ];
        for (code, state) in expected {
            assert_eq!(tcp_state(code), Some(state), "TSI_S {code}");
            let s = Sock::tcp(AF_INET, code).v4([127, 0, 0, 1]).port(1);
            assert_eq!(socket(&s.bytes()).unwrap().state, state, "TSI_S {code}");
        }
        // TSI_S_RESERVED and garbage: no state, so no socket.
        for code in [11, 12, -1, i32::MAX, i32::MIN] {
            assert_eq!(tcp_state(code), None, "{code}");
            let s = Sock::tcp(AF_INET, code).v4([127, 0, 0, 1]).port(1);
            assert_eq!(socket(&s.bytes()), None, "{code}");
        }
        // Linux's LISTEN is 10; BSD's 10 is TIME_WAIT.
        assert_eq!(tcp_state(10), Some(State::TimeWait));
    }

    #[test]
    fn other_sockets_are_not_decoded() {
        // A Unix-domain socket (AF_UNIX 1, SOCKINFO_UN 3).
        assert_eq!(socket(&Sock::new(1, 3, 0).bytes()), None);
        // A TCP socket without a TCP control block: SOCKINFO_IN, IPPROTO_TCP.
        let s = Sock::new(AF_INET, SOCKINFO_IN, IPPROTO_TCP)
            .v4([0; 4])
            .port(80);
        assert_eq!(socket(&s.bytes()), None);
        // An ICMP datagram socket.
        let s = Sock::new(AF_INET, SOCKINFO_IN, 1).v4([0; 4]);
        assert_eq!(socket(&s.bytes()), None);
        // Linux's AF_INET6 number means nothing here.
        let s = Sock::tcp(10, 1).v6([0; 16]).port(80);
        assert_eq!(socket(&s.bytes()), None);
    }

    #[test]
    fn truncated_buffers_do_not_panic() {
        let full = Sock::tcp(AF_INET6, 1).v6([0; 16]).port(80).bytes();
        assert!(socket(&full).is_some());
        for len in 0..full.len() {
            assert_eq!(socket(&full[..len]), None, "{len} bytes");
        }
        // Longer is fine (the kernel's struct may grow at its end).
        let mut long = full.clone();
        long.extend_from_slice(&[0xff; 100]);
        assert_eq!(socket(&long), socket(&full));
        assert_eq!(bsd_info(&[0; 135]), None);
        assert_eq!(short_info(&[0; 63]), None);
        assert_eq!(socket_fds(&[1, 0, 0]).count(), 0);
        assert!(proc_args(&[], 8).is_empty());
        assert!(proc_args(&[2, 0], 8).is_empty());
    }

    fn bsd_bytes(info: &ProcBsdInfo) -> Vec<u8> {
        // SAFETY: plain data, fully initialised.
        unsafe {
            std::slice::from_raw_parts(
                (info as *const ProcBsdInfo).cast::<u8>(),
                size_of::<ProcBsdInfo>(),
            )
        }
        .to_vec()
    }

    #[test]
    fn bsd_info_fields() {
        // SAFETY: plain data; all zeros is valid.
        let mut info: ProcBsdInfo = unsafe { std::mem::zeroed() };
        info.pbi_flags = PROC_FLAG_LP64;
        info.pbi_pid = 4242;
        info.pbi_ppid = 1;
        info.pbi_uid = 0;
        info.pbi_ruid = 501;
        info.pbi_status = 2;
        info.pbi_nfiles = 10240;
        info.pbi_start_tvsec = 1_700_000_000;
        info.pbi_start_tvusec = 123_456;
        info.pbi_comm[..4].copy_from_slice(b"node");
        let d = bsd_info(&bsd_bytes(&info)).unwrap();
        assert_eq!(
            (d.pid, d.ppid, d.uid, d.ruid, d.status),
            (4242, 1, 0, 501, 2)
        );
        assert_eq!((d.flags, d.word()), (PROC_FLAG_LP64, 8));
        assert_eq!(d.nfiles, 10240);
        assert_eq!(
            d.started,
            Started {
                sec: 1_700_000_000,
                usec: 123_456
            }
        );
        assert_eq!(d.best_name(), b"node");
        // A registered name wins. The longest names the kernel writes: it copies 16 and 32
        // bytes and puts a NUL over the last, so 15 and 31 bytes are left.
        info.pbi_comm = *b"com.example.rel\0";
        info.pbi_name = *b"com.example.release-helper-tool\0";
        let d = bsd_info(&bsd_bytes(&info)).unwrap();
        assert_eq!(d.comm, b"com.example.rel");
        assert_eq!(d.best_name(), b"com.example.release-helper-tool");
        assert_eq!(d.best_name().len(), 31);
        // A longer buffer is fine (the kernel's struct may grow at its end).
        let mut long = bsd_bytes(&info);
        long.extend_from_slice(&[0xff; 64]);
        assert_eq!(bsd_info(&long), Some(d));
    }

    #[test]
    fn short_info_fields() {
        // SAFETY: plain data; all zeros is valid.
        let mut info: ProcBsdShortInfo = unsafe { std::mem::zeroed() };
        info.pbsi_ppid = 1;
        info.pbsi_uid = 0;
        info.pbsi_ruid = 88;
        info.pbsi_status = SZOMB;
        info.pbsi_comm[..13].copy_from_slice(b"ControlCenter");
        // SAFETY: plain data, fully initialised.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&info as *const ProcBsdShortInfo).cast::<u8>(),
                size_of::<ProcBsdShortInfo>(),
            )
        };
        let d = short_info(bytes).unwrap();
        assert_eq!((d.ppid, d.ruid, d.status), (1, 88, SZOMB));
        assert_eq!(d.comm, b"ControlCenter");
    }

    #[test]
    fn fd_lists_yield_socket_fds_only() {
        let mut bytes = Vec::new();
        for (fd, kind) in [(0, 1), (3, PROX_FDTYPE_SOCKET), (4, 6), (1025, 2), (-1, 2)] {
            let e = ProcFdInfo {
                proc_fd: fd,
                proc_fdtype: kind,
            };
            bytes.extend_from_slice(&e.proc_fd.to_ne_bytes());
            bytes.extend_from_slice(&e.proc_fdtype.to_ne_bytes());
        }
        // Beyond 1024 fds (killport's fixed cap) nothing is lost.
        assert_eq!(socket_fds(&bytes).collect::<Vec<_>>(), vec![3, 1025]);
        // A trailing partial entry is ignored.
        bytes.extend_from_slice(&[9, 0, 0, 0, 2]);
        assert_eq!(socket_fds(&bytes).count(), 2);
    }

    /// A `KERN_PROCARGS2` answer as `exec_extract_strings` lays it out for a process whose
    /// pointers are `word` bytes: argc, the path, NULs to a multiple of `word`, `strings`.
    fn procargs(argc: i32, path: &str, word: usize, strings: &[u8]) -> Vec<u8> {
        let mut b = argc.to_ne_bytes().to_vec();
        let mut area = path.as_bytes().to_vec();
        area.push(0);
        area.resize(area.len().next_multiple_of(word), 0);
        b.extend_from_slice(&area);
        b.extend_from_slice(strings);
        b
    }

    #[test]
    fn procargs2_arguments() {
        let b = procargs(
            3,
            "/usr/local/bin/node",
            8,
            b"node\0server.js\0--port=3000\0PATH=/usr/bin\0HOME=/Users/dev\0",
        );
        assert_eq!(&b[4..28], b"/usr/local/bin/node\0\0\0\0\0");
        let args = proc_args(&b, 8);
        assert_eq!(args, vec![&b"node"[..], b"server.js", b"--port=3000"]);
        // An empty argument is kept: it is one of argc.
        let b = procargs(2, "/bin/x", 8, b"x\0\0ENV=1\0");
        assert_eq!(proc_args(&b, 8), vec![&b"x"[..], b""]);
        // Truncated mid-argument: the complete ones only.
        let b = procargs(3, "/bin/sh", 8, b"sh\0-c\0ech");
        assert_eq!(proc_args(&b, 8), vec![&b"sh"[..], b"-c"]);
        // Truncated within the padding: nothing.
        let b = procargs(1, "/bin/node", 8, b"node\0");
        assert!(proc_args(&b[..4 + 12], 8).is_empty());
        // A negative argc or no path terminator: nothing.
        let b = procargs(-1, "/bin/sh", 8, b"sh\0");
        assert!(proc_args(&b, 8).is_empty());
        let mut b = 1i32.to_ne_bytes().to_vec();
        b.extend_from_slice(b"/bin/sh");
        assert!(proc_args(&b, 8).is_empty());
    }

    #[test]
    fn an_empty_argv0_does_not_shift_the_arguments() {
        // execve("/usr/bin/env", ["", "a", "b"], ...): the path, its padding, then the
        // empty argv[0]'s NUL, which skipping every NUL would take for padding.
        for path in ["/bin/e", "/bin/ev", "/usr/bin/env", "/usr/local/bin/node"] {
            let b = procargs(3, path, 8, b"\0a\0b\0X=1\0");
            assert_eq!(proc_args(&b, 8), vec![&b""[..], b"a", b"b"], "{path}");
        }
        // A 32-bit process (macOS 10.14 and earlier) pads to 4 bytes: "/bin/env" and its
        // NUL are 9 bytes, padded to 12, where 8 would reach into the arguments.
        let b = procargs(2, "/bin/env", 4, b"\0abc\0X=1\0");
        assert_eq!(b.len(), 4 + 12 + 9);
        assert_eq!(proc_args(&b, 4), vec![&b""[..], b"abc"]);
        let b = procargs(2, "/bin/env", 4, b"env\0abc\0");
        assert_eq!(proc_args(&b, 4), vec![&b"env"[..], b"abc"]);
        // Not the kernel's layout (an argument inside what should be padding): the
        // arguments start after the path's NULs, as before.
        let mut b = 2i32.to_ne_bytes().to_vec();
        b.extend_from_slice(b"/bin/env\0env\0abc\0");
        assert_eq!(proc_args(&b, 8), vec![&b"env"[..], b"abc"]);
    }

    #[test]
    fn a_socket_has_the_uid_of_the_process_that_holds_it() {
        // soi_stat as a (hypothetical) kernel that filled it would: never read.
        let mut s = Sock::tcp(AF_INET, 1).v4([127, 0, 0, 1]).port(8000);
        s.0.psi.soi_stat.vst_uid = 77;
        let found = socket(&s.bytes()).unwrap();
        // A setuid program: effective uid 501 (pbi_uid, byte 20), real uid 502.
        // SAFETY: plain data; all zeros is valid.
        let mut info: ProcBsdInfo = unsafe { std::mem::zeroed() };
        info.pbi_pid = 4242;
        info.pbi_uid = 501;
        info.pbi_ruid = 502;
        let bytes = bsd_bytes(&info);
        assert_eq!(u32_at(&bytes, 20), Some(501));
        let holder = bsd_info(&bytes).unwrap();
        let socket = held(found.clone(), 4242, &holder);
        assert_eq!(socket.uid, Some(501));
        assert_eq!(
            socket.key,
            SocketKey::Held {
                pid: Some(4242),
                socket: 0xffff_ff80_1234_5678
            }
        );
        assert_eq!(
            (socket.protocol, socket.family, socket.local, socket.state),
            (found.protocol, found.family, found.local, found.state)
        );
        // The same socket held by root (a master process) shows uid 0 there.
        info.pbi_uid = 0;
        let root = bsd_info(&bsd_bytes(&info)).unwrap();
        assert_eq!(held(found, 1, &root).uid, Some(0));
    }

    #[test]
    fn a_refused_process_list_is_an_error() {
        assert_eq!(listed_pids(412, 0).unwrap(), 412);
        // A stale errno does not matter when the call succeeded.
        assert_eq!(listed_pids(1, libc::EPERM).unwrap(), 1);
        // libproc's failure is 0 with errno set, never -1.
        let e = listed_pids(0, libc::EPERM).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        assert!(listed_pids(-1, libc::EINVAL).is_err());
        // No process at all cannot be (rekt is one): an error even without errno.
        assert!(listed_pids(0, 0).is_err());
    }

    #[test]
    fn only_the_kernel_refusing_does_not_count() {
        assert!(!refusal_counts(0));
        // launchd holds socket-activated listeners; any other PID may hold anything.
        assert!(refusal_counts(1));
        assert!(refusal_counts(99_999));
    }
}
