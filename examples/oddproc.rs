//! oddproc: a TCP listener held by a process in an odd state, for rekt's hardening tests
//! (sockhold covers the ordinary holders).
//!
//! ```text
//! oddproc manyfds N [ADDR]     raise RLIMIT_NOFILE, open N fds on /dev/null, then hold the
//!                              listener at fd N+40, above all of them
//! oddproc zombie-child [ADDR]  hold the listener and fork a child that inherits it and exits
//!                              at once; the child is never reaped, so it stays a zombie
//! oddproc zombie-leader [ADDR] hold the listener in a second thread, then end the main
//!                              thread alone: /proc shows the process as a zombie (Z) while
//!                              the process, its other thread and its fds live on
//! ```
//! ADDR defaults to 127.0.0.1:0. Once the odd state is in place it prints
//! `READY <pid> <port>` (and, for zombie-child, `ZOMBIE <child pid> <port>`), then blocks in
//! `accept` until it is killed.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match (arg(0), arg(1), arg(2)) {
        (Some("manyfds"), Some(n), addr) => {
            let n = n.parse().unwrap_or_else(|_| fail("N must be a number"));
            sys::manyfds(n, addr.unwrap_or("127.0.0.1:0"))
        }
        (Some("zombie-child"), addr, None) => sys::zombie_child(addr.unwrap_or("127.0.0.1:0")),
        (Some("zombie-leader"), addr, None) => sys::zombie_leader(addr.unwrap_or("127.0.0.1:0")),
        _ => fail("usage: oddproc manyfds N [ADDR] | zombie-child [ADDR] | zombie-leader [ADDR]"),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("oddproc: {msg}");
    std::process::exit(2)
}

#[cfg(target_os = "linux")]
mod sys {
    use std::io::Write;
    use std::net::TcpListener;
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
    use std::time::{Duration, Instant};

    fn listen(addr: &str) -> TcpListener {
        TcpListener::bind(addr)
            .unwrap_or_else(|e| super::fail(&format!("cannot bind tcp {addr}: {e}")))
    }

    fn say(tag: &str, pid: u32, listener: &TcpListener) {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{tag} {pid} {port}");
        let _ = out.flush();
    }

    fn serve(listener: TcpListener) -> ! {
        loop {
            let _ = listener.accept();
        }
    }

    /// The state letter in /proc/PID/stat (after the parenthesised command name).
    fn state(pid: u32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?.1.trim_start().chars().next()
    }

    fn wait_for_zombie(pid: u32) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while state(pid) != Some('Z') {
            if Instant::now() > deadline {
                super::fail(&format!("{pid} did not become a zombie"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn manyfds(n: u32, addr: &str) -> ! {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let want = u64::from(n) + 64;
        // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
        let n = unsafe {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            let hard = lim.rlim_max;
            lim.rlim_cur = want;
            lim.rlim_max = hard.max(want);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                n
            } else {
                // Raising the hard limit takes CAP_SYS_RESOURCE; without it, go as high
                // as the hard limit allows.
                lim.rlim_cur = hard;
                lim.rlim_max = hard;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
                let n = n.min(u32::try_from(hard.saturating_sub(64)).unwrap_or(u32::MAX));
                eprintln!("oddproc: RLIMIT_NOFILE is capped at {hard}; opening {n} fds");
                n
            }
        };
        let high = n + 40;
        let null = std::fs::File::open("/dev/null").unwrap_or_else(|e| super::fail(&e.to_string()));
        for _ in 1..n {
            // SAFETY: dup of an fd we own; the copies are deliberately kept open forever.
            if unsafe { libc::dup(null.as_raw_fd()) } < 0 {
                super::fail(&format!("dup: {}", std::io::Error::last_os_error()));
            }
        }
        let listener = listen(addr);
        // SAFETY: F_DUPFD_CLOEXEC returns a new fd >= `high` or -1.
        let moved = unsafe {
            libc::fcntl(
                listener.as_raw_fd(),
                libc::F_DUPFD_CLOEXEC,
                high as libc::c_int,
            )
        };
        if moved < 0 {
            super::fail(&format!("F_DUPFD: {}", std::io::Error::last_os_error()));
        }
        drop(listener);
        std::mem::forget(null);
        // SAFETY: `moved` is a new fd that nothing else owns.
        let listener = unsafe { TcpListener::from_raw_fd(moved) };
        say("READY", std::process::id(), &listener);
        serve(listener)
    }

    pub fn zombie_child(addr: &str) -> ! {
        let listener = listen(addr);
        // SAFETY: single-threaded here; the child only calls _exit.
        let child = unsafe { libc::fork() };
        if child < 0 {
            super::fail("fork failed");
        }
        if child == 0 {
            // SAFETY: ends the child at once, without running any of the parent's cleanup.
            unsafe { libc::_exit(0) };
        }
        wait_for_zombie(child as u32);
        say("READY", std::process::id(), &listener);
        say("ZOMBIE", child as u32, &listener);
        serve(listener)
    }

    pub fn zombie_leader(addr: &str) -> ! {
        let listener = listen(addr);
        let pid = std::process::id();
        let fd = listener.into_raw_fd();
        std::thread::spawn(move || {
            // SAFETY: the fd was handed over by the main thread, which no longer uses it.
            let listener = unsafe { TcpListener::from_raw_fd(fd) };
            wait_for_zombie(pid);
            say("READY", pid, &listener);
            serve(listener)
        });
        // SAFETY: SYS_exit ends only the calling thread (exit_group would end them all);
        // nothing on this thread needs cleaning up.
        unsafe { libc::syscall(libc::SYS_exit, 0) };
        unreachable!("SYS_exit returned")
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub fn manyfds(_: u32, _: &str) -> ! {
        super::fail("needs Linux")
    }
    pub fn zombie_child(_: &str) -> ! {
        super::fail("needs Linux")
    }
    pub fn zombie_leader(_: &str) -> ! {
        super::fail("needs Linux")
    }
}
