//! Is this port free? A fresh socket, `bind()` to the wildcard address, close. The IP
//! Helper tables cannot say it alone:
//!
//! - Ports inside an excluded port range (`netsh int ipv4 show excludedportrange
//!   protocol=tcp`; Hyper-V, WinNAT, WSL and Docker Desktop reserve such ranges) have no
//!   socket at all, yet a bind() there fails with WSAEACCES (10013).
//! - A TCP socket that is bound but neither listening nor connected is left out of the
//!   tables, yet it holds its port: a bind() fails with WSAEADDRINUSE (10048).
//!
//! So where the tables show no socket on a port the user named, rekt asks bind() before it
//! calls the port free. The probe sets no option: with SO_REUSEADDR, Windows would let it
//! bind over another socket rather than report it. Without options, a wildcard bind fails
//! on a port that another wildcard socket holds, and succeeds beside a socket bound to one
//! address (Microsoft's table of bind results, "Using SO_REUSEADDR and
//! SO_EXCLUSIVEADDRUSE"): the probe answers for the wildcard address, where servers bind.
//! It never calls `listen()`, so no connection is ever accepted on the port.

use std::sync::OnceLock;

use windows_sys::Win32::Networking::WinSock::{
    AF_INET, AF_INET6, INVALID_SOCKET, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP, IPV6_V6ONLY,
    SOCK_DGRAM, SOCK_STREAM, SOCKADDR, SOCKADDR_IN, SOCKADDR_IN6, WSA_FLAG_NO_HANDLE_INHERIT,
    WSADATA, WSAEACCES, WSAEADDRINUSE, WSAGetLastError, WSASocketW, WSAStartup, bind, closesocket,
    getsockname, setsockopt,
};

use crate::model::{Family, Protocol};

/// What a bind() to the wildcard address said about a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    /// It succeeded: nothing holds the port there.
    Free,
    /// WSAEADDRINUSE: a socket holds the port.
    InUse,
    /// WSAEACCES: the system reserves the port (an excluded port range).
    Reserved,
    /// Anything else (no IPv6 on this machine, no socket to probe with): says nothing.
    Unknown,
}

/// What a bind() error code says about the port.
pub(crate) fn classify(code: i32) -> Probe {
    match code {
        0 => Probe::Free,
        WSAEADDRINUSE => Probe::InUse,
        WSAEACCES => Probe::Reserved,
        _ => Probe::Unknown,
    }
}

/// Binds a fresh `protocol` socket to the wildcard address of `family` at `port`, and
/// closes it.
pub(crate) fn probe(protocol: Protocol, family: Family, port: u16) -> Probe {
    if !started() {
        return Probe::Unknown;
    }
    let (af, kind, proto) = (
        match family {
            Family::V4 => AF_INET,
            Family::V6 => AF_INET6,
        },
        match protocol {
            Protocol::Tcp => SOCK_STREAM,
            Protocol::Udp => SOCK_DGRAM,
        },
        match protocol {
            Protocol::Tcp => IPPROTO_TCP,
            Protocol::Udp => IPPROTO_UDP,
        },
    );
    // SAFETY: plain calls on a socket this function owns and closes; the address structs
    // are plain data of the sizes passed.
    unsafe {
        let s = WSASocketW(
            af.into(),
            kind,
            proto,
            std::ptr::null(),
            0,
            WSA_FLAG_NO_HANDLE_INHERIT,
        );
        if s == INVALID_SOCKET {
            crate::debug!("probe: WSASocketW: error {}", WSAGetLastError());
            return Probe::Unknown;
        }
        let rc = match family {
            Family::V4 => {
                let sa = SOCKADDR_IN {
                    sin_family: AF_INET,
                    sin_port: port.to_be(),
                    ..Default::default()
                };
                bind(
                    s,
                    (&sa as *const SOCKADDR_IN).cast::<SOCKADDR>(),
                    size_of::<SOCKADDR_IN>() as i32,
                )
            }
            Family::V6 => {
                // The IPv4 side is the IPv4 probe's business (Windows' default, said
                // anyway).
                let on: i32 = 1;
                setsockopt(
                    s,
                    IPPROTO_IPV6,
                    IPV6_V6ONLY,
                    (&on as *const i32).cast(),
                    size_of::<i32>() as i32,
                );
                let sa = SOCKADDR_IN6 {
                    sin6_family: AF_INET6,
                    sin6_port: port.to_be(),
                    ..Default::default()
                };
                bind(
                    s,
                    (&sa as *const SOCKADDR_IN6).cast::<SOCKADDR>(),
                    size_of::<SOCKADDR_IN6>() as i32,
                )
            }
        };
        let code = if rc == 0 { 0 } else { WSAGetLastError() };
        closesocket(s);
        let found = classify(code);
        if found == Probe::Unknown {
            crate::debug!("probe {port}/{protocol}: bind: error {code}");
        }
        found
    }
}

/// A port the system picks for a fresh `protocol` socket bound to 127.0.0.1:0 (one of its
/// dynamic ports), and that is free again when this returns: nothing listens on it.
pub(crate) fn ephemeral_port(protocol: Protocol) -> Option<u16> {
    if !started() {
        return None;
    }
    let (kind, proto) = match protocol {
        Protocol::Tcp => (SOCK_STREAM, IPPROTO_TCP),
        Protocol::Udp => (SOCK_DGRAM, IPPROTO_UDP),
    };
    // SAFETY: plain calls on a socket this function owns and closes; the address struct
    // is plain data of the size passed.
    unsafe {
        let s = WSASocketW(
            AF_INET.into(),
            kind,
            proto,
            std::ptr::null(),
            0,
            WSA_FLAG_NO_HANDLE_INHERIT,
        );
        if s == INVALID_SOCKET {
            return None;
        }
        let mut sa = SOCKADDR_IN {
            sin_family: AF_INET,
            ..Default::default()
        };
        sa.sin_addr.S_un.S_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let mut len = size_of::<SOCKADDR_IN>() as i32;
        let ok = bind(s, (&sa as *const SOCKADDR_IN).cast(), len) == 0
            && getsockname(s, (&mut sa as *mut SOCKADDR_IN).cast(), &mut len) == 0;
        closesocket(s);
        ok.then(|| u16::from_be(sa.sin_port)).filter(|&p| p != 0)
    }
}

/// Winsock, started once for the probes (rekt's own std::net use starts it too; the count
/// is the system's business, and the process's end cleans up).
fn started() -> bool {
    static STARTED: OnceLock<bool> = OnceLock::new();
    *STARTED.get_or_init(|| {
        let mut data = WSADATA::default();
        // SAFETY: `data` is a WSADATA for the call to fill.
        unsafe { WSAStartup(0x0202, &mut data) == 0 }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, TcpListener, UdpSocket};

    #[test]
    fn error_codes_say_what_holds_the_port() {
        assert_eq!(classify(0), Probe::Free);
        assert_eq!(classify(10048), Probe::InUse);
        assert_eq!(classify(10013), Probe::Reserved);
        // WSAEAFNOSUPPORT (no IPv6), WSAEADDRNOTAVAIL, WSAENOBUFS: nothing about the port.
        for code in [10047, 10049, 10055, -1] {
            assert_eq!(classify(code), Probe::Unknown, "{code}");
        }
    }

    #[test]
    fn finds_wildcard_sockets_and_free_ports() {
        let tcp = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        assert_eq!(probe(Protocol::Tcp, Family::V4, port), Probe::InUse);
        drop(tcp);
        assert_eq!(probe(Protocol::Tcp, Family::V4, port), Probe::Free);

        let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        assert_eq!(probe(Protocol::Udp, Family::V4, port), Probe::InUse);
        drop(udp);
        assert_eq!(probe(Protocol::Udp, Family::V4, port), Probe::Free);

        if let Ok(tcp6) = TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)) {
            let port = tcp6.local_addr().unwrap().port();
            assert_eq!(probe(Protocol::Tcp, Family::V6, port), Probe::InUse);
            drop(tcp6);
            assert_eq!(probe(Protocol::Tcp, Family::V6, port), Probe::Free);
        }
    }

    #[test]
    fn the_system_picks_ephemeral_ports() {
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            let port = ephemeral_port(protocol).expect("a port for port 0");
            assert_ne!(port, 0);
            // Nothing holds it any more.
            assert_eq!(probe(protocol, Family::V4, port), Probe::Free);
        }
    }
}
