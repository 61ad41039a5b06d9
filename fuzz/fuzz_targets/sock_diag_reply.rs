//! `sock_diag::parse_reply` on arbitrary reply buffers: truncated messages, lengths that
//! lie (too short, past the end, near u32::MAX), NLMSG_ERROR and NLMSG_DONE with any
//! status (including i32::MIN), multipart replies without NLMSG_DONE, short bodies.
//!
//! Input: the raw bytes of one `recv`, exactly as the kernel returns them (so recorded
//! replies are seeds as they are). The sequence number to accept is the one in the first
//! message header, so that most inputs reach the message parser.
//! Checks: no panic, for both protocols; every socket parsed has the asked protocol, a
//! state that protocol can have, and an address of its family; no more sockets than the
//! buffer has room for; errors convert to an `io::Error` and print.
#![no_main]

use std::io;
use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use rekt::model::{Family, Protocol};
use rekt::internals::{Progress, parse_reply, state_code, state_from_code};

/// nlmsghdr plus inet_diag_msg: the smallest message that yields a socket.
const SMALLEST_SOCKET_MESSAGE: usize = 16 + 72;

fuzz_target!(|data: &[u8]| {
    let seq = data
        .get(8..12)
        .map_or(0, |b| u32::from_ne_bytes(b.try_into().unwrap()));
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        for seq in [seq, seq.wrapping_add(1)] {
            let mut out = Vec::new();
            let result = parse_reply(data, protocol, seq, &mut out);
            assert!(out.len() <= data.len() / SMALLEST_SOCKET_MESSAGE);
            for socket in &out {
                assert_eq!(socket.protocol, protocol);
                assert_eq!(
                    state_from_code(protocol, state_code(socket.state)),
                    Some(socket.state)
                );
                match (socket.family, socket.local.ip()) {
                    (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_)) => {}
                    (f, ip) => panic!("{ip} as {f:?}"),
                }
            }
            match result {
                Ok(Progress::More | Progress::Done) => {}
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    let e = io::Error::from(e);
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    }
});
