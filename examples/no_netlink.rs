//! no_netlink: runs a command in a process where netlink sockets cannot be opened, as under
//! a container runtime's seccomp profile or an LSM that refuses them. rekt's hardening
//! tests run rekt through it to check that the /proc/net fallback really takes over.
//!
//! ```text
//! no_netlink [--errno eafnosupport|eperm] CMD [ARGS]...   install the filter, then exec CMD
//! no_netlink [--errno ...] --probe    install the filter, try socket(AF_NETLINK) and
//!                                     socket(AF_INET) and say what happened; exit 0 when
//!                                     netlink is refused and inet is not
//! ```
//!
//! The filter is a seccomp BPF program installed with `prctl(PR_SET_NO_NEW_PRIVS)` and
//! `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)`. It fails `socket(AF_NETLINK, ...)` with the
//! chosen errno (EAFNOSUPPORT by default, as a kernel without netlink would; EPERM as a
//! seccomp profile usually does) and allows every other system call. It survives exec, so
//! the command and everything it starts inherit it. Linux on x86_64 and aarch64 only: the
//! filter checks `seccomp_data.arch`, and allows system calls of any other ABI untouched.

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut errno = "eafnosupport".to_owned();
    if args.first().map(String::as_str) == Some("--errno") {
        if args.len() < 2 {
            fail("--errno needs a value");
        }
        errno = args.remove(1);
        args.remove(0);
    }
    if args.is_empty() {
        fail("usage: no_netlink [--errno eafnosupport|eperm] (--probe | CMD [ARGS]...)");
    }
    sys::run(&errno, args)
}

fn fail(msg: &str) -> ! {
    eprintln!("no_netlink: {msg}");
    std::process::exit(2)
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod sys {
    use std::io;
    use std::os::unix::process::CommandExt;

    /// `AUDIT_ARCH_*` for this build: the ELF machine, 64-bit, little-endian.
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;

    /// Offsets in `struct seccomp_data`: `int nr; __u32 arch; __u64 ip; __u64 args[6];`.
    const NR_AT: u32 = 0;
    const ARCH_AT: u32 = 4;
    /// The low 32 bits of args[0] (the socket family); both arches are little-endian.
    const ARG0_AT: u32 = 16;

    pub fn run(errno: &str, args: Vec<String>) -> ! {
        let errno = match errno {
            "eafnosupport" => libc::EAFNOSUPPORT,
            "eperm" => libc::EPERM,
            other => super::fail(&format!("unknown errno {other}: eafnosupport or eperm")),
        };
        if let Err(e) = install(errno) {
            super::fail(&format!("cannot install the seccomp filter: {e}"));
        }
        if args[0] == "--probe" {
            probe()
        }
        let e = std::process::Command::new(&args[0]).args(&args[1..]).exec();
        super::fail(&format!("{}: {e}", args[0]))
    }

    fn install(errno: i32) -> io::Result<()> {
        let stmt = |code: u32, k: u32| libc::sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        };
        let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt,
            jf,
            k,
        };
        let load = |at: u32| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, at);
        let ret = |k: u32| stmt(libc::BPF_RET | libc::BPF_K, k);
        // A jump of n skips the next n instructions; every "no" goes to the final ALLOW.
        let filter = [
            load(ARCH_AT),                                          // 0
            jeq(AUDIT_ARCH, 0, 5),                                  // 1: other ABI -> 7
            load(NR_AT),                                            // 2
            jeq(libc::SYS_socket as u32, 0, 3),                     // 3: not socket -> 7
            load(ARG0_AT),                                          // 4
            jeq(libc::AF_NETLINK as u32, 0, 1),                     // 5: not netlink -> 7
            ret(libc::SECCOMP_RET_ERRNO | (errno as u32 & 0xffff)), // 6
            ret(libc::SECCOMP_RET_ALLOW),                           // 7
        ];
        let prog = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_ptr().cast_mut(),
        };
        // SAFETY: plain prctl calls; `prog` points at `filter`, which outlives the call
        // (the kernel copies the program).
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Tries one netlink socket (the sock_diag kind rekt opens) and one inet socket.
    fn probe() -> ! {
        let try_socket = |family, ty, proto| {
            // SAFETY: socket() returns a new fd or -1; the fd is closed at once.
            let fd = unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, proto) };
            if fd < 0 {
                Err(io::Error::last_os_error())
            } else {
                // SAFETY: our own fd.
                unsafe { libc::close(fd) };
                Ok(())
            }
        };
        let netlink = try_socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_SOCK_DIAG);
        let inet = try_socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let say = |r: &io::Result<()>| match r {
            Ok(()) => "allowed".to_owned(),
            Err(e) => format!("refused ({e})"),
        };
        println!("netlink: {}", say(&netlink));
        println!("inet: {}", say(&inet));
        std::process::exit(if netlink.is_err() && inet.is_ok() {
            0
        } else {
            1
        })
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod sys {
    pub fn run(_: &str, _: Vec<String>) -> ! {
        super::fail("needs Linux on x86_64 or aarch64")
    }
}
