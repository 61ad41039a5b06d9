//! Ports nothing uses.

use super::no_forks;
#[cfg(target_os = "linux")]
use super::{Isolation, isolation};

/// A port nothing uses now (no TCP or UDP socket, IPv4 or IPv6), from 10000..18000. That is
/// below the kernel's ephemeral range (32768-60999 by default), so no bind to port 0, by
/// this test or one running alongside, is given it later; binding port 0 is not enough for
/// tests that look a port up by number, because the kernel may hand a SO_REUSEADDR UDP
/// socket, a SO_REUSEPORT socket or a socket on another address a port that is already
/// in use, and clients take their local ports from that range. Each call in one test
/// process returns a different port. In a private network namespace every port is free but
/// the test's own, so the next one is taken without probing; in the shared one each is
/// probed with a bind of each kind.
pub fn unused_port() -> u16 {
    unused_ports::<1>()[0]
}

/// `N` consecutive ports that nothing uses now (see [`unused_port`]), for ranges.
pub fn unused_ports<const N: usize>() -> [u16; N] {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 8_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    #[cfg(target_os = "linux")]
    let private = match isolation() {
        Isolation::Unset => panic!("call support::private_netns() before picking ports"),
        Isolation::Private => true,
        Isolation::Shared => false,
    };
    #[cfg(not(target_os = "linux"))]
    let private = false;
    // Start where the PID says, so that two test processes rarely probe the same ports.
    let start = std::process::id() % SPAN;
    let free = |port: u16| private || nothing_uses(port);
    let _probing = (!private).then(no_forks);
    for _ in 0..SPAN {
        let first = (start + NEXT.fetch_add(N as u32, Ordering::Relaxed)) % SPAN;
        if first + N as u32 > SPAN {
            continue;
        }
        let ports: [u16; N] = std::array::from_fn(|i| (LOW + first + i as u32) as u16);
        if ports.iter().all(|&p| free(p)) {
            return ports;
        }
    }
    panic!("no {N} unused consecutive ports in {LOW}..{}", LOW + SPAN)
}

/// The first of `n` consecutive ports that nothing uses in the calling thread's network
/// namespace, from 18500..32000, and that no other call in this test process returned. For
/// tests that compare rekt's whole output: called before [`private_netns`](super::private_netns),
/// it probes the machine's namespace, because even in a namespace of its own a test sees
/// rekt hint at the other namespaces (the machine's, other tests') that hold a port it
/// names, and an exact expected output would then have an extra line. [`unused_port`]
/// does not probe in a private namespace, and its ports (10000..18000) are not in this
/// region.
#[cfg(target_os = "linux")]
pub fn unused_on_the_machine(n: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(18_500);
    let _probing = no_forks();
    loop {
        let first = NEXT.fetch_add(n, Ordering::Relaxed);
        assert!(
            u32::from(first) + u32::from(n) <= 32_000,
            "no {n} free ports left in 18500..32000"
        );
        if (first..first + n).all(nothing_uses) {
            return first;
        }
    }
}

/// Whether a bind of each kind (TCP and UDP, IPv4 and dual-stack IPv6, any address)
/// succeeds on `port` in the calling thread's network namespace.
fn nothing_uses(port: u16) -> bool {
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};
    let in_use =
        |r: std::io::Result<()>| r.is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse);
    !(in_use(TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).map(drop))
        || in_use(UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).map(drop))
        || in_use(TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)).map(drop))
        || in_use(UdpSocket::bind((Ipv6Addr::UNSPECIFIED, port)).map(drop)))
}

#[cfg(target_os = "linux")]
/// `127.0.0.1:PORT` with a port from [`unused_port`].
pub fn v4() -> String {
    format!("127.0.0.1:{}", unused_port())
}

#[cfg(target_os = "linux")]
/// `[::1]:PORT` with a port from [`unused_port`].
pub fn v6() -> String {
    format!("[::1]:{}", unused_port())
}
