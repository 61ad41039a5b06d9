//! `proc_net::parse_line` and `proc_net::read_table` on arbitrary bytes, for every
//! protocol and family.
//!
//! Input: the first byte picks the protocol (bit 0) and family (bit 1); the rest is one
//! table line (for `parse_line`) and a whole table (for `read_table`).
//! Checks: no panic; a parsed socket has the protocol and family it was asked for, a state
//! that protocol can have and an address of that family; printing it back in the kernel's
//! format and parsing that gives the same socket; `read_table` keeps only owned sockets
//! that match the query, and never more sockets than the input has lines.
#![no_main]

use std::fmt::Write;
use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use rekt::Query;
use rekt::model::{Family, Protocol, Socket, SocketKey};
use rekt::internals::{parse_line, read_table, state_code, state_from_code};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let protocol = if pick & 1 == 0 {
        Protocol::Tcp
    } else {
        Protocol::Udp
    };
    let family = if pick & 2 == 0 {
        Family::V4
    } else {
        Family::V6
    };

    let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    if let Ok(socket) = parse_line(line, protocol, family) {
        check(&socket, protocol, family);
        let again = parse_line(kernel_line(&socket).as_bytes(), protocol, family);
        assert_eq!(again.as_ref(), Ok(&socket), "{}", kernel_line(&socket));
    }

    let lines = text.split(|&b| b == b'\n').count();
    for query in [Query::ports(vec![]), listen_on(&[pick as u16 | 1])] {
        let mut out = Vec::new();
        read_table(text, protocol, family, &query, &mut out).expect("reading a slice");
        assert!(out.len() <= lines);
        for socket in &out {
            check(socket, protocol, family);
            assert!(socket.key != SocketKey::Inode(0) && query.matches(socket));
        }
    }
});

fn listen_on(ports: &[u16]) -> Query {
    let mut query = Query::ports(
        ports
            .iter()
            .map(|p| p.to_string().parse().unwrap())
            .collect(),
    );
    query.listen_only = true;
    query
}

fn check(socket: &Socket, protocol: Protocol, family: Family) {
    assert_eq!((socket.protocol, socket.family), (protocol, family));
    match (family, socket.local.ip()) {
        (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_)) => {}
        (f, ip) => panic!("{ip} in a {f:?} table"),
    }
    assert_eq!(
        state_from_code(protocol, state_code(socket.state)),
        Some(socket.state)
    );
    assert!(socket.uid.is_some());
}

/// The line the kernel would print for `socket` (seq_printf in tcp4_seq_show and friends):
/// each 32-bit word of the address as a host-order integer.
fn kernel_line(socket: &Socket) -> String {
    let mut addr = String::new();
    match socket.local.ip() {
        IpAddr::V4(ip) => write!(addr, "{:08X}", u32::from_ne_bytes(ip.octets())).unwrap(),
        IpAddr::V6(ip) => {
            for word in ip.octets().chunks_exact(4) {
                write!(addr, "{:08X}", u32::from_ne_bytes(word.try_into().unwrap())).unwrap();
            }
        }
    }
    format!(
        "  12: {addr}:{:04X} 00000000:0000 {:02X} 00000000:00000000 00:00000000 00000000 {:5} {:8} {} 1 0000000000000000 100 0 0 10 0",
        socket.port(),
        state_code(socket.state),
        socket.uid.unwrap(),
        0,
        match socket.key {
            SocketKey::Inode(inode) => inode,
            SocketKey::Pid(_) | SocketKey::Held { .. } => unreachable!("Linux keys sockets by inode"),
        }
    )
}
