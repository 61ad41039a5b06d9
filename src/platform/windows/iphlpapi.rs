//! The IP Helper socket tables (`GetExtendedTcpTable`, `GetExtendedUdpTable`) and a decoder
//! for their rows. Each row names its owning PID, so on Windows the table is nearly the
//! whole join: no per-process scan is needed.
//!
//! The tables are read in their `*_OWNER_MODULE` classes. The PID they give is the process
//! that *bound* the socket ("issued a context bind"), not necessarily the one that holds it
//! now: a child that inherited the socket outlives its parent, and the parent's PID may be
//! reused. The module rows also say when the bind happened (`liCreateTimestamp`, a
//! FILETIME), so a process created after it can be told from the binder (`binder.rs`), and
//! they name the module that bound the socket, which for a service host is the service
//! (`GetOwnerModuleFrom*Entry`).
//!
//! Fetching and decoding are kept apart: `decode` is a pure function over the bytes the API
//! writes, so the byte-order rules (addresses and ports in network order, ports in the low
//! 16 bits of a DWORD) and the row layouts are tested with hand-made tables rather than
//! trusted.

use std::io;
use std::mem::{offset_of, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, NO_ERROR};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetExtendedTcpTable, GetExtendedUdpTable, GetOwnerModuleFromTcp6Entry,
    GetOwnerModuleFromTcpEntry, GetOwnerModuleFromUdp6Entry, GetOwnerModuleFromUdpEntry,
    MIB_TCP_STATE_CLOSE_WAIT, MIB_TCP_STATE_CLOSED, MIB_TCP_STATE_CLOSING,
    MIB_TCP_STATE_DELETE_TCB, MIB_TCP_STATE_ESTAB, MIB_TCP_STATE_FIN_WAIT1,
    MIB_TCP_STATE_FIN_WAIT2, MIB_TCP_STATE_LAST_ACK, MIB_TCP_STATE_LISTEN, MIB_TCP_STATE_SYN_RCVD,
    MIB_TCP_STATE_SYN_SENT, MIB_TCP_STATE_TIME_WAIT, MIB_TCP6ROW_OWNER_MODULE,
    MIB_TCP6TABLE_OWNER_MODULE, MIB_TCPROW_OWNER_MODULE, MIB_TCPTABLE_OWNER_MODULE,
    MIB_UDP6ROW_OWNER_MODULE, MIB_UDP6TABLE_OWNER_MODULE, MIB_UDPROW_OWNER_MODULE,
    MIB_UDPTABLE_OWNER_MODULE, TCP_TABLE_OWNER_MODULE_ALL, TCPIP_OWNER_MODULE_BASIC_INFO,
    TCPIP_OWNER_MODULE_INFO_BASIC, UDP_TABLE_OWNER_MODULE,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};

use super::api_error;
use crate::model::{Family, Protocol, Socket, SocketKey, State, Text};

/// One of the four tables; it decides the call and the row layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Tcp4,
    Tcp6,
    Udp4,
    Udp6,
}

impl Table {
    pub(crate) const ALL: [Table; 4] = [Table::Tcp4, Table::Tcp6, Table::Udp4, Table::Udp6];

    pub(crate) fn protocol(self) -> Protocol {
        match self {
            Table::Tcp4 | Table::Tcp6 => Protocol::Tcp,
            Table::Udp4 | Table::Udp6 => Protocol::Udp,
        }
    }

    pub(crate) fn family(self) -> Family {
        match self {
            Table::Tcp4 | Table::Udp4 => Family::V4,
            Table::Tcp6 | Table::Udp6 => Family::V6,
        }
    }

    /// The table that holds `socket`.
    pub(crate) fn of(socket: &Socket) -> Table {
        match (socket.protocol, socket.family) {
            (Protocol::Tcp, Family::V4) => Table::Tcp4,
            (Protocol::Tcp, Family::V6) => Table::Tcp6,
            (Protocol::Udp, Family::V4) => Table::Udp4,
            (Protocol::Udp, Family::V6) => Table::Udp6,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Table::Tcp4 => "GetExtendedTcpTable (IPv4)",
            Table::Tcp6 => "GetExtendedTcpTable (IPv6)",
            Table::Udp4 => "GetExtendedUdpTable (IPv4)",
            Table::Udp6 => "GetExtendedUdpTable (IPv6)",
        }
    }

    /// Where each field sits, taken from the SDK's structs so the offsets cannot drift.
    fn layout(self) -> Layout {
        match self {
            Table::Tcp4 => Layout {
                rows_at: offset_of!(MIB_TCPTABLE_OWNER_MODULE, table),
                row_size: size_of::<MIB_TCPROW_OWNER_MODULE>(),
                addr: offset_of!(MIB_TCPROW_OWNER_MODULE, dwLocalAddr),
                scope: None,
                port: offset_of!(MIB_TCPROW_OWNER_MODULE, dwLocalPort),
                state: Some(offset_of!(MIB_TCPROW_OWNER_MODULE, dwState)),
                pid: offset_of!(MIB_TCPROW_OWNER_MODULE, dwOwningPid),
                created: offset_of!(MIB_TCPROW_OWNER_MODULE, liCreateTimestamp),
            },
            Table::Tcp6 => Layout {
                rows_at: offset_of!(MIB_TCP6TABLE_OWNER_MODULE, table),
                row_size: size_of::<MIB_TCP6ROW_OWNER_MODULE>(),
                addr: offset_of!(MIB_TCP6ROW_OWNER_MODULE, ucLocalAddr),
                scope: Some(offset_of!(MIB_TCP6ROW_OWNER_MODULE, dwLocalScopeId)),
                port: offset_of!(MIB_TCP6ROW_OWNER_MODULE, dwLocalPort),
                state: Some(offset_of!(MIB_TCP6ROW_OWNER_MODULE, dwState)),
                pid: offset_of!(MIB_TCP6ROW_OWNER_MODULE, dwOwningPid),
                created: offset_of!(MIB_TCP6ROW_OWNER_MODULE, liCreateTimestamp),
            },
            Table::Udp4 => Layout {
                rows_at: offset_of!(MIB_UDPTABLE_OWNER_MODULE, table),
                row_size: size_of::<MIB_UDPROW_OWNER_MODULE>(),
                addr: offset_of!(MIB_UDPROW_OWNER_MODULE, dwLocalAddr),
                scope: None,
                port: offset_of!(MIB_UDPROW_OWNER_MODULE, dwLocalPort),
                state: None,
                pid: offset_of!(MIB_UDPROW_OWNER_MODULE, dwOwningPid),
                created: offset_of!(MIB_UDPROW_OWNER_MODULE, liCreateTimestamp),
            },
            Table::Udp6 => Layout {
                rows_at: offset_of!(MIB_UDP6TABLE_OWNER_MODULE, table),
                row_size: size_of::<MIB_UDP6ROW_OWNER_MODULE>(),
                addr: offset_of!(MIB_UDP6ROW_OWNER_MODULE, ucLocalAddr),
                scope: Some(offset_of!(MIB_UDP6ROW_OWNER_MODULE, dwLocalScopeId)),
                port: offset_of!(MIB_UDP6ROW_OWNER_MODULE, dwLocalPort),
                state: None,
                pid: offset_of!(MIB_UDP6ROW_OWNER_MODULE, dwOwningPid),
                created: offset_of!(MIB_UDP6ROW_OWNER_MODULE, liCreateTimestamp),
            },
        }
    }
}

/// Byte offsets of the fields rekt reads. The table is a DWORD count followed by rows
/// (8-byte aligned, for the timestamp in each).
struct Layout {
    rows_at: usize,
    row_size: usize,
    addr: usize,
    /// IPv6 rows only.
    scope: Option<usize>,
    port: usize,
    /// TCP rows only; UDP sockets have no state.
    state: Option<usize>,
    pid: usize,
    /// `liCreateTimestamp`: when the socket was bound.
    created: usize,
}

/// One row of a table: the socket, when it was bound, and the row as the API wrote it
/// (what `GetOwnerModuleFrom*Entry` takes).
#[derive(Debug, Clone)]
pub(crate) struct Row<'a> {
    pub(crate) socket: Socket,
    /// When the bind happened, in FILETIME ticks; `None` when the table leaves it 0 (wine
    /// does).
    pub(crate) bound_at: Option<u64>,
    table: Table,
    bytes: &'a [u8],
}

impl Row<'_> {
    /// The PID the table names: the process that bound the socket.
    pub(crate) fn pid(&self) -> u32 {
        match self.socket.key {
            SocketKey::Pid(pid) => pid,
            SocketKey::Inode(_) | SocketKey::Held { .. } => 0,
        }
    }

    /// The name of the module that bound the socket (`GetOwnerModuleFrom*Entry`): for a
    /// process that hosts services, the service's name. `None` when the system does not
    /// say (the process exited, access denied).
    ///
    /// Wine 8.0 does not implement these calls, and its stubs abort the process: callers
    /// ask only where a process hosts several services, which never happens under wine
    /// (see `services::is_wine`).
    pub(crate) fn owner_module(&self) -> Option<Text> {
        // The row, copied into its SDK struct: aligned, and of the size the call reads.
        fn copy<T: Default>(bytes: &[u8]) -> Option<T> {
            if bytes.len() < size_of::<T>() {
                return None;
            }
            let mut row = T::default();
            // SAFETY: `bytes` holds at least size_of::<T>() bytes; T is a plain C struct
            // (integers and arrays), valid for any bit pattern.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    (&mut row as *mut T).cast::<u8>(),
                    size_of::<T>(),
                )
            };
            Some(row)
        }
        let call = |buf: *mut core::ffi::c_void, size: &mut u32| -> Option<u32> {
            let class = TCPIP_OWNER_MODULE_INFO_BASIC;
            // SAFETY: each row is a full copy of the row the table gave; `buf` is null
            // (with size 0) or points to `size` writable bytes.
            Some(unsafe {
                match self.table {
                    Table::Tcp4 => {
                        let row: MIB_TCPROW_OWNER_MODULE = copy(self.bytes)?;
                        GetOwnerModuleFromTcpEntry(&row, class, buf, size)
                    }
                    Table::Tcp6 => {
                        let row: MIB_TCP6ROW_OWNER_MODULE = copy(self.bytes)?;
                        GetOwnerModuleFromTcp6Entry(&row, class, buf, size)
                    }
                    Table::Udp4 => {
                        let row: MIB_UDPROW_OWNER_MODULE = copy(self.bytes)?;
                        GetOwnerModuleFromUdpEntry(&row, class, buf, size)
                    }
                    Table::Udp6 => {
                        let row: MIB_UDP6ROW_OWNER_MODULE = copy(self.bytes)?;
                        GetOwnerModuleFromUdp6Entry(&row, class, buf, size)
                    }
                }
            })
        };
        let mut size = 0u32;
        if call(std::ptr::null_mut(), &mut size)? != ERROR_INSUFFICIENT_BUFFER || size == 0 {
            return None;
        }
        // Pointer-aligned: the answer starts with two pointers into the same buffer.
        let mut buf = vec![0u64; (size as usize).div_ceil(8)];
        let mut size = u32::try_from(buf.len() * 8).ok()?;
        if call(buf.as_mut_ptr().cast(), &mut size)? != NO_ERROR {
            return None;
        }
        // SAFETY: on success the buffer starts with a TCPIP_OWNER_MODULE_BASIC_INFO whose
        // strings are NUL-terminated and lie in the same buffer.
        let name = unsafe { (*buf.as_ptr().cast::<TCPIP_OWNER_MODULE_BASIC_INFO>()).pModuleName };
        if name.is_null() {
            return None;
        }
        let end = buf.len() * 8;
        let start = (name as usize).checked_sub(buf.as_ptr() as usize)?;
        if start >= end || !start.is_multiple_of(2) {
            return None;
        }
        // SAFETY: `name` points into `buf` (checked above); read up to its end at most.
        let wide = unsafe { std::slice::from_raw_parts(name, (end - start) / 2) };
        let len = wide.iter().position(|&c| c == 0)?;
        (len > 0).then(|| Text::from_wide(&wide[..len]))
    }
}

/// A table as the system returned it. The buffer is made of u64s so the rows the API
/// writes into it are aligned.
pub(crate) struct Snapshot {
    table: Table,
    words: Vec<u64>,
}

impl Snapshot {
    /// Reads the whole table: asks for its size, then fills a buffer, and asks again with a
    /// bigger one while the table grows in between.
    pub(crate) fn take(table: Table) -> io::Result<Snapshot> {
        // Sockets come and go while we ask; a few retries absorb that. Many more would mean
        // the size answer is not to be trusted.
        const TRIES: usize = 8;
        let mut words: Vec<u64> = Vec::new();
        for _ in 0..TRIES {
            let mut size = u32::try_from(words.len() * 8).unwrap_or(u32::MAX);
            let buf = if words.is_empty() {
                std::ptr::null_mut()
            } else {
                words.as_mut_ptr().cast()
            };
            // SAFETY: `buf` is null (size 0, a size query) or points to `size` writable bytes.
            let rc = unsafe { call(table, buf, &mut size) };
            match rc {
                // An empty table may be answered at once, even without a buffer.
                NO_ERROR => return Ok(Snapshot { table, words }),
                ERROR_INSUFFICIENT_BUFFER => {
                    // Some room for sockets opened before the next call.
                    let bytes = size as usize + size as usize / 8 + 256;
                    words = vec![0; bytes.div_ceil(8)];
                }
                code => return Err(api_error(table.name(), code)),
            }
        }
        Err(io::Error::other(format!(
            "{}: the table kept growing faster than it could be read",
            table.name()
        )))
    }

    /// Every row of the table, as sockets keyed by their owning PID.
    pub(crate) fn sockets(&self) -> impl Iterator<Item = Socket> + '_ {
        self.rows().map(|row| row.socket)
    }

    /// Every row of the table.
    pub(crate) fn rows(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        // SAFETY: viewing initialised u64s as bytes; u8 has no alignment needs.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.words.len() * 8)
        };
        decode(self.table, bytes)
    }
}

/// # Safety
/// `buf` must be null or point to `*size` writable bytes.
unsafe fn call(table: Table, buf: *mut core::ffi::c_void, size: &mut u32) -> u32 {
    let unsorted = 0;
    // SAFETY: as the caller promised; the remaining arguments are plain values.
    unsafe {
        match table {
            Table::Tcp4 => GetExtendedTcpTable(
                buf,
                size,
                unsorted,
                AF_INET.into(),
                TCP_TABLE_OWNER_MODULE_ALL,
                0,
            ),
            Table::Tcp6 => GetExtendedTcpTable(
                buf,
                size,
                unsorted,
                AF_INET6.into(),
                TCP_TABLE_OWNER_MODULE_ALL,
                0,
            ),
            Table::Udp4 => GetExtendedUdpTable(
                buf,
                size,
                unsorted,
                AF_INET.into(),
                UDP_TABLE_OWNER_MODULE,
                0,
            ),
            Table::Udp6 => GetExtendedUdpTable(
                buf,
                size,
                unsorted,
                AF_INET6.into(),
                UDP_TABLE_OWNER_MODULE,
                0,
            ),
        }
    }
}

/// Decodes a table in the layout of `MIB_{TCP,TCP6,UDP,UDP6}TABLE_OWNER_MODULE`, in native
/// byte order as the API writes it. A count larger than the buffer yields only the rows
/// that fit; a TCP row with an unknown state is skipped, since no query can ask for it.
pub(crate) fn decode(table: Table, bytes: &[u8]) -> impl Iterator<Item = Row<'_>> + '_ {
    let layout = table.layout();
    let count = dword(bytes, 0).unwrap_or(0) as usize;
    let rows = bytes.get(layout.rows_at..).unwrap_or_default();
    rows.chunks_exact(layout.row_size)
        .take(count)
        .filter_map(move |row| decode_row(table, &layout, row))
}

fn decode_row<'a>(table: Table, layout: &Layout, row: &'a [u8]) -> Option<Row<'a>> {
    // The port is a u_short in network byte order stored in a DWORD: ntohs((u_short)dw).
    let port = u16::from_be(dword(row, layout.port)? as u16);
    let local = match table.family() {
        // The DWORD address is in network byte order: its bytes are the octets in order.
        Family::V4 => SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(<[u8; 4]>::try_from(row.get(layout.addr..layout.addr + 4)?).ok()?),
            port,
        )),
        Family::V6 => {
            let octets = <[u8; 16]>::try_from(row.get(layout.addr..layout.addr + 16)?).ok()?;
            let scope = layout.scope.and_then(|at| dword(row, at)).unwrap_or(0);
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(octets), port, 0, scope))
        }
    };
    let state = match layout.state {
        Some(at) => tcp_state(dword(row, at)?)?,
        None => State::Unconnected,
    };
    let created = qword(row, layout.created)?;
    Some(Row {
        socket: Socket {
            protocol: table.protocol(),
            family: table.family(),
            local,
            state,
            uid: None,
            key: SocketKey::Pid(dword(row, layout.pid)?),
        },
        // A FILETIME is never negative; 0 means the table does not say.
        bound_at: u64::try_from(created).ok().filter(|&t| t != 0),
        table,
        bytes: row,
    })
}

/// A `MIB_TCP_STATE` value as rekt's state. DELETE_TCB (a connection being torn down) has
/// no Linux counterpart; it is closest to CLOSE.
pub(crate) fn tcp_state(code: u32) -> Option<State> {
    let code = i32::try_from(code).ok()?;
    Some(match code {
        MIB_TCP_STATE_CLOSED | MIB_TCP_STATE_DELETE_TCB => State::Close,
        MIB_TCP_STATE_LISTEN => State::Listen,
        MIB_TCP_STATE_SYN_SENT => State::SynSent,
        MIB_TCP_STATE_SYN_RCVD => State::SynRecv,
        MIB_TCP_STATE_ESTAB => State::Established,
        MIB_TCP_STATE_FIN_WAIT1 => State::FinWait1,
        MIB_TCP_STATE_FIN_WAIT2 => State::FinWait2,
        MIB_TCP_STATE_CLOSE_WAIT => State::CloseWait,
        MIB_TCP_STATE_CLOSING => State::Closing,
        MIB_TCP_STATE_LAST_ACK => State::LastAck,
        MIB_TCP_STATE_TIME_WAIT => State::TimeWait,
        _ => return None,
    })
}

/// The native-endian DWORD at `at`, if the buffer holds one there.
fn dword(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The native-endian LARGE_INTEGER at `at`, if the buffer holds one there.
fn qword(bytes: &[u8], at: usize) -> Option<i64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    Some(i64::from_ne_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row's fields, written where the table's layout says.
    #[derive(Clone, Copy)]
    struct Fields {
        state: u32,
        /// 4 bytes (IPv4) or 16 (IPv6), network order.
        addr: [u8; 16],
        scope: u32,
        /// As the API stores it: `htons(port)` widened to a DWORD.
        port: u16,
        pid: u32,
        created: i64,
    }

    fn fields(addr: &str, state: u32, pid: u32) -> Fields {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut bytes = [0u8; 16];
        match addr {
            SocketAddr::V4(a) => bytes[..4].copy_from_slice(&a.ip().octets()),
            SocketAddr::V6(a) => bytes = a.ip().octets(),
        }
        Fields {
            state,
            addr: bytes,
            scope: 0,
            port: addr.port(),
            pid,
            created: 0,
        }
    }

    /// A table as the API lays it out: a count, padding to 8, then rows. `count` may lie.
    fn table(t: Table, count: u32, rows: &[Fields]) -> Vec<u8> {
        let l = t.layout();
        let mut out = vec![0u8; l.rows_at + rows.len() * l.row_size];
        out[..4].copy_from_slice(&count.to_ne_bytes());
        for (i, f) in rows.iter().enumerate() {
            let row = &mut out[l.rows_at + i * l.row_size..][..l.row_size];
            let mut put = |at: usize, b: &[u8]| row[at..at + b.len()].copy_from_slice(b);
            match t.family() {
                Family::V4 => put(l.addr, &f.addr[..4]),
                Family::V6 => put(l.addr, &f.addr),
            }
            if let Some(at) = l.scope {
                put(at, &f.scope.to_ne_bytes());
            }
            put(l.port, &u32::from(f.port.to_be()).to_ne_bytes());
            if let Some(at) = l.state {
                put(at, &f.state.to_ne_bytes());
            }
            put(l.pid, &f.pid.to_ne_bytes());
            put(l.created, &f.created.to_ne_bytes());
            // The module info after the timestamp: noise the decoder must not read.
            let tail = l.created + 8;
            for b in &mut row[tail..] {
                *b = 0xA5;
            }
        }
        out
    }

    fn sockets(t: Table, bytes: &[u8]) -> Vec<Socket> {
        decode(t, bytes).map(|r| r.socket).collect()
    }

    #[test]
    fn layouts_match_the_sdk_module_rows() {
        // MIB_*ROW_OWNER_MODULE: the PID row, then an 8-byte-aligned LARGE_INTEGER
        // timestamp and 16 ULONGLONGs of module information; the table's rows start at 8.
        let expect = [
            (Table::Tcp4, 160, 24),
            (Table::Tcp6, 192, 56),
            (Table::Udp4, 160, 16),
            (Table::Udp6, 176, 32),
        ];
        for (t, size, created) in expect {
            let l = t.layout();
            assert_eq!(l.row_size, size, "{t:?}");
            assert_eq!(l.created, created, "{t:?}");
            assert_eq!(l.rows_at, 8, "{t:?}");
        }
        assert_eq!(Table::Tcp4.layout().pid, 20);
        assert_eq!(Table::Tcp6.layout().pid, 52);
        assert_eq!(Table::Udp4.layout().pid, 8);
        assert_eq!(Table::Udp6.layout().pid, 24);
    }

    #[test]
    fn tcp4_ports_and_addresses_are_network_byte_order() {
        let rows = [
            fields("127.0.0.1:8000", 2, 1234),
            fields("192.168.1.20:4660", 5, 0),
        ];
        let found = sockets(Table::Tcp4, &table(Table::Tcp4, 2, &rows));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].local, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(found[0].state, State::Listen);
        assert_eq!(found[0].key, SocketKey::Pid(1234));
        assert_eq!(found[0].protocol, Protocol::Tcp);
        assert_eq!(found[0].family, Family::V4);
        assert_eq!(found[0].uid, None);
        // 0x1234 = 4660: a swapped decoder would say 0x3412 = 13330.
        assert_eq!(found[1].local, "192.168.1.20:4660".parse().unwrap());
        assert_eq!(found[1].state, State::Established);
        assert_eq!(found[1].key, SocketKey::Pid(0));
    }

    #[test]
    fn port_bytes_sit_in_the_low_half_of_the_dword() {
        // Port 80 (0x0050) as the first two bytes of the DWORD, high bytes zero; a decoder
        // that reads the wrong half or the wrong order sees 0 or 20480.
        let mut bytes = table(Table::Tcp4, 1, &[fields("0.0.0.0:1", 2, 7)]);
        let at = 8 + Table::Tcp4.layout().port;
        bytes[at..at + 4].copy_from_slice(&[0x00, 0x50, 0, 0]);
        assert_eq!(sockets(Table::Tcp4, &bytes)[0].port(), 80);
    }

    #[test]
    fn the_bind_time_is_read_and_zero_means_unknown() {
        let mut a = fields("127.0.0.1:8000", 2, 40);
        a.created = 134_000_000_000_000_000;
        let b = fields("127.0.0.1:8001", 2, 41);
        let mut c = fields("127.0.0.1:8002", 2, 42);
        c.created = -5;
        let bytes = table(Table::Tcp4, 3, &[a, b, c]);
        let rows: Vec<Row<'_>> = decode(Table::Tcp4, &bytes).collect();
        assert_eq!(rows[0].bound_at, Some(134_000_000_000_000_000));
        assert_eq!(rows[0].pid(), 40);
        assert_eq!(rows[1].bound_at, None, "wine leaves it 0");
        assert_eq!(rows[2].bound_at, None, "no FILETIME is negative");
        // Each row keeps its own bytes, module information included, for
        // GetOwnerModuleFrom*Entry.
        assert_eq!(rows[1].bytes.len(), 160);
        assert_eq!(rows[1].bytes[..4], 2u32.to_ne_bytes());
        assert!(rows[1].bytes[32..].iter().all(|&b| b == 0xA5));
        for t in Table::ALL {
            let mut f = fields(
                if t.family() == Family::V4 {
                    "10.0.0.1:9"
                } else {
                    "[::1]:9"
                },
                2,
                9,
            );
            f.created = 77;
            let bytes = table(t, 1, &[f]);
            let row = decode(t, &bytes).next().unwrap();
            assert_eq!(
                (row.bound_at, row.pid(), row.socket.port()),
                (Some(77), 9, 9)
            );
        }
    }

    #[test]
    fn tcp6_rows_carry_address_scope_and_state() {
        let mut f = fields("[fe80::1:2:3:4]:8443", 8, 4321);
        f.scope = 3;
        let found = sockets(Table::Tcp6, &table(Table::Tcp6, 1, &[f]));
        assert_eq!(found.len(), 1);
        let s = &found[0];
        let ip: Ipv6Addr = "fe80::1:2:3:4".parse().unwrap();
        assert_eq!(s.family, Family::V6);
        assert_eq!(s.kind(), "tcp6");
        assert_eq!(s.local, SocketAddr::V6(SocketAddrV6::new(ip, 8443, 0, 3)));
        assert_eq!(s.local_display(|_| None), "[fe80::1:2:3:4]%3:8443");
        assert_eq!(s.state, State::CloseWait);
        assert_eq!(s.key, SocketKey::Pid(4321));
    }

    #[test]
    fn udp_rows_are_unconnected() {
        let rows = [fields("0.0.0.0:5353", 0, 812), fields("127.0.0.1:53", 0, 4)];
        let found = sockets(Table::Udp4, &table(Table::Udp4, 2, &rows));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].local, "0.0.0.0:5353".parse().unwrap());
        assert_eq!(found[0].state, State::Unconnected);
        assert_eq!(found[0].key, SocketKey::Pid(812));
        assert_eq!(found[1].local, "127.0.0.1:53".parse().unwrap());
        assert_eq!(found[1].kind(), "udp");

        let found = sockets(
            Table::Udp6,
            &table(Table::Udp6, 1, &[fields("[::]:5355", 0, 99)]),
        );
        assert_eq!(found[0].local_display(|_| None), "[::]:5355");
        assert_eq!(found[0].kind(), "udp6");
        assert_eq!(found[0].state, State::Unconnected);
        assert_eq!(found[0].key, SocketKey::Pid(99));
    }

    #[test]
    fn every_mib_tcp_state_maps() {
        let expected = [
            (1, State::Close),
            (2, State::Listen),
            (3, State::SynSent),
            (4, State::SynRecv),
            (5, State::Established),
            (6, State::FinWait1),
            (7, State::FinWait2),
            (8, State::CloseWait),
            (9, State::Closing),
            (10, State::LastAck),
            (11, State::TimeWait),
            (12, State::Close),
        ];
        for (code, state) in expected {
            assert_eq!(tcp_state(code), Some(state), "MIB_TCP_STATE {code}");
        }
        assert_eq!(tcp_state(0), None);
        assert_eq!(tcp_state(13), None);
        assert_eq!(tcp_state(100), None);
        assert_eq!(tcp_state(u32::MAX), None);
    }

    #[test]
    fn unknown_states_are_skipped_not_misread() {
        let rows = [fields("127.0.0.1:1", 100, 1), fields("127.0.0.1:2", 2, 2)];
        let ports: Vec<u16> = sockets(Table::Tcp4, &table(Table::Tcp4, 2, &rows))
            .iter()
            .map(Socket::port)
            .collect();
        assert_eq!(ports, vec![2]);
    }

    #[test]
    fn short_or_lying_buffers_do_not_panic() {
        // The count claims three rows, but only one and a half fit.
        let mut b = table(Table::Tcp4, 3, &[fields("127.0.0.1:8000", 2, 1)]);
        b.extend_from_slice(&[0; 80]);
        assert_eq!(decode(Table::Tcp4, &b).count(), 1);
        for t in Table::ALL {
            assert_eq!(decode(t, &[]).count(), 0);
            assert_eq!(decode(t, &[1, 0]).count(), 0);
            assert_eq!(decode(t, &u32::MAX.to_ne_bytes()).count(), 0);
        }
        // Rows beyond the count are stale bytes from a bigger buffer: ignored.
        let b = table(Table::Tcp4, 0, &[fields("127.0.0.1:8000", 2, 1)]);
        assert_eq!(decode(Table::Tcp4, &b).count(), 0);
    }

    #[test]
    fn reads_the_live_tables() {
        // A UDP socket of our own must appear, owned by us, in the real IPv4 table.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        for t in Table::ALL {
            Snapshot::take(t).unwrap_or_else(|e| panic!("{t:?}: {e}"));
        }
        let snap = Snapshot::take(Table::Udp4).unwrap();
        let ours: Vec<Row<'_>> = snap.rows().filter(|r| r.socket.port() == port).collect();
        assert_eq!(ours.len(), 1, "{ours:?}");
        assert_eq!(ours[0].socket.local, sock.local_addr().unwrap());
        // Windows says when the bind happened, which is after this process started; wine
        // 8.0 leaves it 0.
        if let Some(at) = ours[0].bound_at {
            let me = super::super::process::start_time_of(std::process::id()).unwrap();
            assert!(at >= me, "bound at {at}, started at {me}");
        }
    }
}
