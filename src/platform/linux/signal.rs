//! Signalling owners without ever hitting a recycled PID.
//!
//! A PID found in /proc can exit and be reused by an unrelated process before we signal it.
//! So for each owner we first open a pidfd, which names that one process for as long as it
//! is held, and only then check (by re-reading the fds we found) that the process behind it
//! still holds the socket. The signal goes through the pidfd. Waiting polls the pidfds, so
//! no sleep loop is needed. On kernels without pidfd (before 5.3) we fall back to kill(2)
//! after the same check, which narrows the race to microseconds but cannot close it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::fd_scan::socket_inode_of;
use crate::kill::{AcquireError, Signal};
use crate::model::Owner;

/// One owner, pinned: signals sent through it reach the process we found or nobody.
#[derive(Debug)]
pub struct Target {
    pid: u32,
    pidfd: Option<OwnedFd>,
}

impl Target {
    /// Pins `owner` and checks that it still holds at least one of its matching sockets.
    pub fn acquire(owner: &Owner) -> Result<Target, AcquireError> {
        let pid = owner.pid;
        let pidfd = match pidfd_open(pid) {
            Ok(fd) => Some(fd),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(AcquireError::Gone),
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => None,
            Err(e) => return Err(AcquireError::Io(e)),
        };
        let still_holds = owner.fds.iter().any(|&fd| {
            socket_inode_of(pid, fd)
                .ok()
                .flatten()
                .is_some_and(|inode| owner.sockets.iter().any(|s| s.key == inode))
        });
        if !still_holds {
            // Either it exited (and the PID may already be someone else's) or it closed the
            // socket. Both mean it is no longer an owner.
            return Err(
                if pidfd.as_ref().is_some_and(has_exited) || !proc_exists(pid) {
                    AcquireError::Gone
                } else {
                    AcquireError::Released
                },
            );
        }
        Ok(Target { pid, pidfd })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn send(&self, signal: Signal) -> io::Result<()> {
        let sig = match signal {
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: plain syscalls on integers; a null siginfo means "as kill(2) would".
        let rc = match &self.pidfd {
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            },
            None => unsafe { libc::kill(self.pid as libc::pid_t, sig) as libc::c_long },
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Whether the process has exited (a zombie counts: it holds no fds any more).
    pub fn has_exited(&self) -> bool {
        match &self.pidfd {
            Some(fd) => has_exited(fd),
            None => !proc_exists(self.pid) || is_zombie(self.pid),
        }
    }
}

/// Waits until every target has exited or `timeout` passes; returns which have exited.
pub fn wait_for_exit(targets: &[&Target], timeout: Duration) -> Vec<bool> {
    let deadline = Instant::now() + timeout;
    let mut exited: Vec<bool> = targets.iter().map(|t| t.has_exited()).collect();
    loop {
        let pending: Vec<usize> = (0..targets.len()).filter(|&i| !exited[i]).collect();
        let now = Instant::now();
        if pending.is_empty() || now >= deadline {
            return exited;
        }
        let left = deadline - now;
        if pending.iter().all(|&i| targets[i].pidfd.is_some()) {
            let mut fds: Vec<libc::pollfd> = pending
                .iter()
                .map(|&i| libc::pollfd {
                    fd: targets[i].pidfd.as_ref().map_or(-1, |f| f.as_raw_fd()),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
            // SAFETY: `fds` is a valid array of pollfd for its length.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if rc < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                std::thread::sleep(left.min(Duration::from_millis(10)));
            }
            for (pfd, &i) in fds.iter().zip(&pending) {
                if pfd.revents != 0 {
                    exited[i] = true;
                }
            }
        } else {
            std::thread::sleep(left.min(Duration::from_millis(10)));
            for &i in &pending {
                exited[i] = targets[i].has_exited();
            }
        }
    }
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A pidfd polls readable once its process has exited.
fn has_exited(pidfd: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut pfd, 1, 0) > 0 }
}

fn proc_exists(pid: u32) -> bool {
    std::fs::metadata(format!("/proc/{pid}")).is_ok()
}

/// State `Z` in /proc/PID/stat (the field after the parenthesised command name).
fn is_zombie(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.iter()
            .rposition(|&b| b == b')')
            .and_then(|i| stat.get(i + 2))
            .is_some_and(|&state| state == b'Z')
    })
}
