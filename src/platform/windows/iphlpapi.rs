//! The IP Helper socket tables (`GetExtendedTcpTable`, `GetExtendedUdpTable`) and a decoder
//! for their rows. Each row names its owning PID, so on Windows the table is the whole join:
//! no per-process scan is needed.
//!
//! Fetching and decoding are kept apart: `decode` is a pure function over the bytes the API
//! writes, so the byte-order rules (addresses and ports in network order, ports in the low
//! 16 bits of a DWORD) are tested with hand-made tables rather than trusted.

use std::io;
use std::mem::{offset_of, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, NO_ERROR};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetExtendedTcpTable, GetExtendedUdpTable, MIB_TCP_STATE_CLOSE_WAIT, MIB_TCP_STATE_CLOSED,
    MIB_TCP_STATE_CLOSING, MIB_TCP_STATE_DELETE_TCB, MIB_TCP_STATE_ESTAB, MIB_TCP_STATE_FIN_WAIT1,
    MIB_TCP_STATE_FIN_WAIT2, MIB_TCP_STATE_LAST_ACK, MIB_TCP_STATE_LISTEN, MIB_TCP_STATE_SYN_RCVD,
    MIB_TCP_STATE_SYN_SENT, MIB_TCP_STATE_TIME_WAIT, MIB_TCP6ROW_OWNER_PID,
    MIB_TCP6TABLE_OWNER_PID, MIB_TCPROW_OWNER_PID, MIB_TCPTABLE_OWNER_PID, MIB_UDP6ROW_OWNER_PID,
    MIB_UDP6TABLE_OWNER_PID, MIB_UDPROW_OWNER_PID, MIB_UDPTABLE_OWNER_PID, TCP_TABLE_OWNER_PID_ALL,
    UDP_TABLE_OWNER_PID,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};

use super::api_error;
use crate::model::{Family, Protocol, Socket, SocketKey, State};

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
                rows_at: offset_of!(MIB_TCPTABLE_OWNER_PID, table),
                row_size: size_of::<MIB_TCPROW_OWNER_PID>(),
                addr: offset_of!(MIB_TCPROW_OWNER_PID, dwLocalAddr),
                scope: None,
                port: offset_of!(MIB_TCPROW_OWNER_PID, dwLocalPort),
                state: Some(offset_of!(MIB_TCPROW_OWNER_PID, dwState)),
                pid: offset_of!(MIB_TCPROW_OWNER_PID, dwOwningPid),
            },
            Table::Tcp6 => Layout {
                rows_at: offset_of!(MIB_TCP6TABLE_OWNER_PID, table),
                row_size: size_of::<MIB_TCP6ROW_OWNER_PID>(),
                addr: offset_of!(MIB_TCP6ROW_OWNER_PID, ucLocalAddr),
                scope: Some(offset_of!(MIB_TCP6ROW_OWNER_PID, dwLocalScopeId)),
                port: offset_of!(MIB_TCP6ROW_OWNER_PID, dwLocalPort),
                state: Some(offset_of!(MIB_TCP6ROW_OWNER_PID, dwState)),
                pid: offset_of!(MIB_TCP6ROW_OWNER_PID, dwOwningPid),
            },
            Table::Udp4 => Layout {
                rows_at: offset_of!(MIB_UDPTABLE_OWNER_PID, table),
                row_size: size_of::<MIB_UDPROW_OWNER_PID>(),
                addr: offset_of!(MIB_UDPROW_OWNER_PID, dwLocalAddr),
                scope: None,
                port: offset_of!(MIB_UDPROW_OWNER_PID, dwLocalPort),
                state: None,
                pid: offset_of!(MIB_UDPROW_OWNER_PID, dwOwningPid),
            },
            Table::Udp6 => Layout {
                rows_at: offset_of!(MIB_UDP6TABLE_OWNER_PID, table),
                row_size: size_of::<MIB_UDP6ROW_OWNER_PID>(),
                addr: offset_of!(MIB_UDP6ROW_OWNER_PID, ucLocalAddr),
                scope: Some(offset_of!(MIB_UDP6ROW_OWNER_PID, dwLocalScopeId)),
                port: offset_of!(MIB_UDP6ROW_OWNER_PID, dwLocalPort),
                state: None,
                pid: offset_of!(MIB_UDP6ROW_OWNER_PID, dwOwningPid),
            },
        }
    }
}

/// Byte offsets of the fields rekt reads. The table is a DWORD count followed by rows.
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
}

/// A table as the system returned it. The buffer is made of DWORDs so the rows the API
/// writes into it are aligned.
pub(crate) struct Snapshot {
    table: Table,
    words: Vec<u32>,
}

impl Snapshot {
    /// Reads the whole table: asks for its size, then fills a buffer, and asks again with a
    /// bigger one while the table grows in between.
    pub(crate) fn take(table: Table) -> io::Result<Snapshot> {
        // Sockets come and go while we ask; a few retries absorb that. Many more would mean
        // the size answer is not to be trusted.
        const TRIES: usize = 8;
        let mut words: Vec<u32> = Vec::new();
        for _ in 0..TRIES {
            let mut size = u32::try_from(words.len() * 4).unwrap_or(u32::MAX);
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
                    words = vec![0; bytes.div_ceil(4)];
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
        // SAFETY: viewing initialised u32s as bytes; u8 has no alignment needs.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.words.len() * 4)
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
                TCP_TABLE_OWNER_PID_ALL,
                0,
            ),
            Table::Tcp6 => GetExtendedTcpTable(
                buf,
                size,
                unsorted,
                AF_INET6.into(),
                TCP_TABLE_OWNER_PID_ALL,
                0,
            ),
            Table::Udp4 => {
                GetExtendedUdpTable(buf, size, unsorted, AF_INET.into(), UDP_TABLE_OWNER_PID, 0)
            }
            Table::Udp6 => {
                GetExtendedUdpTable(buf, size, unsorted, AF_INET6.into(), UDP_TABLE_OWNER_PID, 0)
            }
        }
    }
}

/// Decodes a table in the layout of `MIB_{TCP,TCP6,UDP,UDP6}TABLE_OWNER_PID`, in native byte
/// order as the API writes it. A count larger than the buffer yields only the rows that fit;
/// a TCP row with an unknown state is skipped, since no query can ask for it.
pub(crate) fn decode(table: Table, bytes: &[u8]) -> impl Iterator<Item = Socket> + '_ {
    let layout = table.layout();
    let count = dword(bytes, 0).unwrap_or(0) as usize;
    let rows = bytes.get(layout.rows_at..).unwrap_or_default();
    rows.chunks_exact(layout.row_size)
        .take(count)
        .filter_map(move |row| decode_row(table, &layout, row))
}

fn decode_row(table: Table, layout: &Layout, row: &[u8]) -> Option<Socket> {
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
    Some(Socket {
        protocol: table.protocol(),
        family: table.family(),
        local,
        state,
        uid: None,
        key: SocketKey::Pid(dword(row, layout.pid)?),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a table as the API lays it out: a count, then rows of DWORDs and byte arrays.
    struct Builder(Vec<u8>);

    impl Builder {
        fn new(count: u32) -> Builder {
            Builder(count.to_ne_bytes().to_vec())
        }
        fn dword(mut self, v: u32) -> Builder {
            self.0.extend_from_slice(&v.to_ne_bytes());
            self
        }
        fn bytes(mut self, b: &[u8]) -> Builder {
            self.0.extend_from_slice(b);
            self
        }
        /// A port as the API stores it: `htons(port)` widened to a DWORD.
        fn port(self, port: u16) -> Builder {
            self.dword(u32::from(port.to_be()))
        }
        /// An IPv4 address as the API stores it: network byte order.
        fn v4(self, ip: [u8; 4]) -> Builder {
            self.bytes(&ip)
        }
    }

    fn tcp4_row(b: Builder, state: u32, ip: [u8; 4], port: u16, pid: u32) -> Builder {
        b.dword(state)
            .v4(ip)
            .port(port)
            .v4([10, 0, 0, 9])
            .port(443)
            .dword(pid)
    }

    #[test]
    fn layouts_match_the_sdk_sizes() {
        assert_eq!(Table::Tcp4.layout().row_size, 24);
        assert_eq!(Table::Tcp6.layout().row_size, 56);
        assert_eq!(Table::Udp4.layout().row_size, 12);
        assert_eq!(Table::Udp6.layout().row_size, 28);
        for t in Table::ALL {
            assert_eq!(t.layout().rows_at, 4, "{t:?}");
        }
    }

    #[test]
    fn tcp4_ports_and_addresses_are_network_byte_order() {
        let b = tcp4_row(Builder::new(2), 2, [127, 0, 0, 1], 8000, 1234);
        let b = tcp4_row(b, 5, [192, 168, 1, 20], 0x1234, 0);
        let rows: Vec<Socket> = decode(Table::Tcp4, &b.0).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].local, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(rows[0].state, State::Listen);
        assert_eq!(rows[0].key, SocketKey::Pid(1234));
        assert_eq!(rows[0].protocol, Protocol::Tcp);
        assert_eq!(rows[0].family, Family::V4);
        assert_eq!(rows[0].uid, None);
        // 0x1234 = 4660: a swapped decoder would say 0x3412 = 13330.
        assert_eq!(rows[1].local, "192.168.1.20:4660".parse().unwrap());
        assert_eq!(rows[1].state, State::Established);
        assert_eq!(rows[1].key, SocketKey::Pid(0));
    }

    #[test]
    fn port_bytes_sit_in_the_low_half_of_the_dword() {
        // Port 80 (0x0050) as the first two bytes of the DWORD, high bytes zero; a decoder
        // that reads the wrong half or the wrong order sees 0 or 20480.
        let b = Builder::new(1)
            .dword(2)
            .v4([0, 0, 0, 0])
            .bytes(&[0x00, 0x50, 0, 0])
            .v4([0, 0, 0, 0])
            .dword(0)
            .dword(7);
        let rows: Vec<Socket> = decode(Table::Tcp4, &b.0).collect();
        assert_eq!(rows[0].port(), 80);
    }

    #[test]
    fn tcp6_rows_carry_address_scope_and_state() {
        let ip: Ipv6Addr = "fe80::1:2:3:4".parse().unwrap();
        let b = Builder::new(1)
            .bytes(&ip.octets())
            .dword(3)
            .port(8443)
            .bytes(&Ipv6Addr::LOCALHOST.octets())
            .dword(0)
            .port(50000)
            .dword(8)
            .dword(4321);
        let rows: Vec<Socket> = decode(Table::Tcp6, &b.0).collect();
        assert_eq!(rows.len(), 1);
        let s = &rows[0];
        assert_eq!(s.family, Family::V6);
        assert_eq!(s.kind(), "tcp6");
        assert_eq!(s.local, SocketAddr::V6(SocketAddrV6::new(ip, 8443, 0, 3)));
        assert_eq!(s.local_display(|_| None), "[fe80::1:2:3:4]%3:8443");
        assert_eq!(s.state, State::CloseWait);
        assert_eq!(s.key, SocketKey::Pid(4321));
    }

    #[test]
    fn udp_rows_are_unconnected() {
        let b = Builder::new(2)
            .v4([0, 0, 0, 0])
            .port(5353)
            .dword(812)
            .v4([127, 0, 0, 1])
            .port(53)
            .dword(4);
        let rows: Vec<Socket> = decode(Table::Udp4, &b.0).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].local, "0.0.0.0:5353".parse().unwrap());
        assert_eq!(rows[0].state, State::Unconnected);
        assert_eq!(rows[0].key, SocketKey::Pid(812));
        assert_eq!(rows[1].local, "127.0.0.1:53".parse().unwrap());
        assert_eq!(rows[1].kind(), "udp");

        let b = Builder::new(1)
            .bytes(&Ipv6Addr::UNSPECIFIED.octets())
            .dword(0)
            .port(5355)
            .dword(99);
        let rows: Vec<Socket> = decode(Table::Udp6, &b.0).collect();
        assert_eq!(rows[0].local_display(|_| None), "[::]:5355");
        assert_eq!(rows[0].kind(), "udp6");
        assert_eq!(rows[0].state, State::Unconnected);
        assert_eq!(rows[0].key, SocketKey::Pid(99));
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
        let b = tcp4_row(Builder::new(2), 100, [127, 0, 0, 1], 1, 1);
        let b = tcp4_row(b, 2, [127, 0, 0, 1], 2, 2);
        let ports: Vec<u16> = decode(Table::Tcp4, &b.0).map(|s| s.port()).collect();
        assert_eq!(ports, vec![2]);
    }

    #[test]
    fn short_or_lying_buffers_do_not_panic() {
        // The count claims three rows, but only one and a half fit.
        let b = tcp4_row(Builder::new(3), 2, [127, 0, 0, 1], 8000, 1).bytes(&[0; 12]);
        assert_eq!(decode(Table::Tcp4, &b.0).count(), 1);
        for t in Table::ALL {
            assert_eq!(decode(t, &[]).count(), 0);
            assert_eq!(decode(t, &[1, 0]).count(), 0);
            assert_eq!(decode(t, &Builder::new(u32::MAX).0).count(), 0);
        }
        // Rows beyond the count are stale bytes from a bigger buffer: ignored.
        let b = tcp4_row(Builder::new(0), 2, [127, 0, 0, 1], 8000, 1);
        assert_eq!(decode(Table::Tcp4, &b.0).count(), 0);
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
        let ours: Vec<Socket> = snap.sockets().filter(|s| s.port() == port).collect();
        assert_eq!(ours.len(), 1, "{ours:?}");
        assert_eq!(ours[0].local, sock.local_addr().unwrap());
    }
}
