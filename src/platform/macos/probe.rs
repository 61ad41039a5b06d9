//! Is this port in use? A fresh socket, `SO_REUSEADDR`, `bind()` to the wildcard address,
//! close: EADDRINUSE says some socket holds the port.
//!
//! On macOS, sockets are found only through the processes that hold them, so a port held
//! by another user's process (which rekt may not read without root) would look free. When
//! the scan met such processes and found no socket on a port the user named, this probe
//! tells "free" from "held by someone you cannot see". What xnu's `in_pcbbind` answers:
//!
//! - `SO_REUSEADDR` makes the bind ignore connected sockets of one's own (TIME_WAIT after
//!   a kill, for one) and look only for a socket bound to the same address and port.
//! - Without root, a bind also fails when a socket of another user has the port on any
//!   local address (the check against stealing another user's port), so a listener on
//!   `127.0.0.1:PORT` is found through the wildcard address too.
//! - A dual-stack `[::]` listener blocks the IPv4 probe and the IPv6 one alike.
//!
//! The probe never calls `listen()`, so no connection is ever accepted on the port. This
//! file has no macOS-only call: its tests run on Linux, whose bind rules differ in the
//! details but agree on the cases tested.

#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::io;
use std::mem::size_of;

use crate::model::{Family, Protocol};

/// Whether binding `protocol` on the wildcard address of `family` at `port` fails with
/// EADDRINUSE. Any other failure (no IPv6, a port reserved by the system) says nothing
/// about the port and is `Ok(false)`; only a failure to make the socket is an error.
pub(crate) fn in_use(protocol: Protocol, family: Family, port: u16) -> io::Result<bool> {
    let (domain, kind) = (
        match family {
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        },
        match protocol {
            Protocol::Tcp => libc::SOCK_STREAM,
            Protocol::Udp => libc::SOCK_DGRAM,
        },
    );
    // SAFETY: plain system calls on an fd this function owns and closes.
    unsafe {
        let fd = libc::socket(domain, kind, 0);
        if fd < 0 {
            let err = io::Error::last_os_error();
            // A kernel without IPv6 has nothing to bind there.
            if err.raw_os_error() == Some(libc::EAFNOSUPPORT) {
                return Ok(false);
            }
            return Err(err);
        }
        let on: libc::c_int = 1;
        let opt = |level, name| {
            libc::setsockopt(
                fd,
                level,
                name,
                (&on as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let mut ok = opt(libc::SOL_SOCKET, libc::SO_REUSEADDR) == 0;
        if family == Family::V6 {
            // The IPv4 side is the IPv4 probe's business.
            ok &= opt(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) == 0;
        }
        let rc = if !ok {
            -1
        } else {
            match family {
                Family::V4 => {
                    let mut sa: libc::sockaddr_in = std::mem::zeroed();
                    #[cfg(target_os = "macos")]
                    {
                        sa.sin_len = size_of::<libc::sockaddr_in>() as u8;
                    }
                    sa.sin_family = libc::AF_INET as libc::sa_family_t;
                    sa.sin_port = port.to_be();
                    libc::bind(
                        fd,
                        (&sa as *const libc::sockaddr_in).cast(),
                        size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                }
                Family::V6 => {
                    let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                    #[cfg(target_os = "macos")]
                    {
                        sa.sin6_len = size_of::<libc::sockaddr_in6>() as u8;
                    }
                    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                    sa.sin6_port = port.to_be();
                    libc::bind(
                        fd,
                        (&sa as *const libc::sockaddr_in6).cast(),
                        size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                }
            }
        };
        let err = (rc != 0).then(io::Error::last_os_error);
        libc::close(fd);
        Ok(err.is_some_and(|e| e.raw_os_error() == Some(libc::EADDRINUSE)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, TcpListener, UdpSocket};

    #[test]
    fn finds_wildcard_listeners_and_free_ports() {
        let tcp = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        assert!(in_use(Protocol::Tcp, Family::V4, port).unwrap());
        // The probe itself left nothing behind: the listener still works, and after it is
        // gone the port is free to the probe.
        drop(tcp);
        assert!(!in_use(Protocol::Tcp, Family::V4, port).unwrap());

        let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        assert!(in_use(Protocol::Udp, Family::V4, port).unwrap());
        drop(udp);
        assert!(!in_use(Protocol::Udp, Family::V4, port).unwrap());

        // IPv6, where the machine has it.
        if let Ok(tcp6) = TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)) {
            let port = tcp6.local_addr().unwrap().port();
            assert!(in_use(Protocol::Tcp, Family::V6, port).unwrap());
            drop(tcp6);
            assert!(!in_use(Protocol::Tcp, Family::V6, port).unwrap());
        }
    }

    #[test]
    fn a_connection_in_time_wait_does_not_count() {
        // The server side closes first, so its side of the connection goes to TIME_WAIT
        // on the listener's port: after a kill, that is what is left, and the port is
        // free to a new server (which sets SO_REUSEADDR, as the probe does).
        let listener = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        drop(listener);
        drop(server);
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(client);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!in_use(Protocol::Tcp, Family::V4, port).unwrap());
    }
}
