//! Helpers for the unit tests.

/// Moves the calling thread (and every process it spawns) into a fresh network namespace
/// with `lo` up, when root: then only the test's own sockets are in the tables, and a
/// port number it picks cannot collide with another process's. Without root it does
/// nothing, and the test must cope with a shared namespace. Returns whether it moved.
#[cfg(target_os = "linux")]
pub(crate) fn private_netns() -> bool {
    use crate::platform::{Backend, Os};
    if !Os::is_privileged() {
        return false;
    }
    // SAFETY: NEWNET shares nothing that Rust code relies on (unlike CLONE_FILES), and
    // network namespaces belong to the thread, so other tests are not affected.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
        .expect("unshare(CLONE_NEWNET)");
    loopback_up();
    true
}

/// `ip link set lo up`, with the ioctls it uses.
#[cfg(target_os = "linux")]
fn loopback_up() {
    // SAFETY: a plain socket for the ioctls, closed below; `ifreq` is plain data, and the
    // kernel reads and writes only inside it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let got = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        assert!(
            got == 0,
            "SIOCGIFFLAGS: {}",
            std::io::Error::last_os_error()
        );
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        let set = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        assert!(
            set == 0,
            "SIOCSIFFLAGS: {}",
            std::io::Error::last_os_error()
        );
        libc::close(fd);
    }
}
