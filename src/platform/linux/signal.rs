//! Signalling owners without ever hitting a recycled PID.
//!
//! A PID found in /proc can exit and be reused by an unrelated process before we signal it.
//! So for each owner we first open a pidfd, which names that one process for as long as it
//! is held, and only then check (by re-reading the fds we found) that the process behind it
//! still holds the socket. The signal goes through the pidfd. Waiting polls the pidfds, so
//! no sleep loop is needed. On kernels without pidfd (before 5.3) we fall back to kill(2)
//! after the same check, which narrows the race to microseconds but cannot close it.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, kill_process, pidfd_open, pidfd_send_signal};

use super::fd_scan::holds;
use crate::model::{AcquireError, Owner, SendError, Signal, SocketKey};
use crate::platform::Handle;

/// One owner, pinned: signals sent through it reach the process we found or nobody.
#[derive(Debug)]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub struct Target {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    /// The sockets it held when pinned, by inode, and the fds it held them by.
    inodes: Vec<u64>,
    fds: Vec<u32>,
}

impl Target {
    /// Pins `owner` and checks that it still holds at least one of its matching sockets.
    pub(crate) fn acquire(owner: &Owner) -> Result<Target, AcquireError> {
        let Some(pid) = Pid::from_raw(owner.pid as i32) else {
            return Err(AcquireError::Gone);
        };
        let pidfd = match pidfd_open(pid, PidfdFlags::empty()) {
            Ok(fd) => Some(fd),
            Err(Errno::SRCH) => return Err(AcquireError::Gone),
            Err(Errno::NOSYS) => None,
            Err(e) => return Err(AcquireError::Io(e.into())),
        };
        let inodes: Vec<u64> = owner
            .sockets
            .iter()
            .filter_map(|s| match s.key {
                SocketKey::Inode(inode) => Some(inode),
                SocketKey::Pid(_) | SocketKey::Held { .. } => None,
            })
            .collect();
        let still_holds = owner
            .fds
            .iter()
            .any(|&fd| holds(owner.pid, fd, &inodes).unwrap_or(false));

        let target = Target {
            pid,
            pidfd,
            inodes,
            fds: owner.fds.clone(),
        };
        if !still_holds {
            // Either it exited (and the PID may already be someone else's) or it closed the
            // socket. Both mean it is no longer an owner.
            return Err(if target.has_exited() {
                AcquireError::Gone
            } else {
                AcquireError::Released
            });
        }
        Ok(target)
    }
}

impl Handle for Target {
    fn send(&self, signal: Signal) -> Result<(), SendError> {
        let sig = match signal {
            Signal::Terminate => rustix::process::Signal::TERM,
            Signal::Kill => rustix::process::Signal::KILL,
        };
        let sent = match &self.pidfd {
            Some(fd) => pidfd_send_signal(fd, sig),
            None => kill_process(self.pid, sig),
        };
        sent.map_err(|e| match e {
            // The process exited between pinning and now.
            Errno::SRCH => SendError::Gone,
            Errno::PERM | Errno::ACCESS => SendError::Denied(e.into()),
            _ => SendError::Other(e.into()),
        })
    }

    /// State `T` in /proc/PID/stat, read while the pidfd shows the process has not
    /// exited: the PID is still this process's, so the state read is its own.
    fn is_stopped(&self) -> bool {
        let pid = self.pid.as_raw_nonzero().get() as u32;
        let stopped = super::process::stat(pid).is_some_and(|s| s.stopped);
        stopped && !self.has_exited()
    }

    fn resume(&self) -> Result<(), SendError> {
        let sent = match &self.pidfd {
            Some(fd) => pidfd_send_signal(fd, rustix::process::Signal::CONT),
            None => kill_process(self.pid, rustix::process::Signal::CONT),
        };
        sent.map_err(|e| match e {
            Errno::SRCH => SendError::Gone,
            Errno::PERM | Errno::ACCESS => SendError::Denied(e.into()),
            _ => SendError::Other(e.into()),
        })
    }

    /// Still alive and holding one of its sockets: by an fd it was found with, or, when it
    /// moved the socket (dup2), by any other fd of its own.
    fn holds(&self) -> bool {
        if self.has_exited() {
            return false;
        }
        let pid = self.pid.as_raw_nonzero().get() as u32;
        let by_known = self
            .fds
            .iter()
            .any(|&fd| holds(pid, fd, &self.inodes).unwrap_or(false));
        // The pidfd shows it had not exited, so these fds are still its own.
        by_known || super::fd_scan::holds_any(pid, &self.inodes).unwrap_or(true)
    }

    /// Whether the process has exited (a zombie counts: it holds no fds any more).
    fn has_exited(&self) -> bool {
        match &self.pidfd {
            Some(fd) => exited_now(fd),
            None => {
                let pid = self.pid.as_raw_nonzero().get();
                !proc_exists(pid) || is_zombie(pid)
            }
        }
    }
}

/// Waits until every target has exited or `timeout` passes; returns which have exited.
pub(crate) fn wait_for_exit(targets: &[&Target], timeout: Duration) -> Vec<bool> {
    let deadline = Instant::now() + timeout;
    let mut exited: Vec<bool> = targets.iter().map(|t| t.has_exited()).collect();
    loop {
        let pending: Vec<usize> = (0..targets.len()).filter(|&i| !exited[i]).collect();
        let now = Instant::now();
        if pending.is_empty() || now >= deadline {
            return exited;
        }
        let left = deadline - now;
        let pidfds: Option<Vec<&OwnedFd>> =
            pending.iter().map(|&i| targets[i].pidfd.as_ref()).collect();
        let Some(pidfds) = pidfds else {
            // No pidfds (a kernel before 5.3): look again every 10 ms.
            std::thread::sleep(left.min(Duration::from_millis(10)));
            for &i in &pending {
                exited[i] = targets[i].has_exited();
            }
            continue;
        };
        let mut fds: Vec<PollFd<'_>> = pidfds
            .iter()
            .map(|fd| PollFd::new(*fd, PollFlags::IN))
            .collect();
        let wait = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        match poll(&mut fds, Some(&wait)) {
            Ok(_) | Err(Errno::INTR) => {}
            // Unexpected; do not spin.
            Err(_) => std::thread::sleep(left.min(Duration::from_millis(10))),
        }
        for (pfd, &i) in fds.iter().zip(&pending) {
            if !pfd.revents().is_empty() {
                exited[i] = true;
            }
        }
    }
}

/// A pidfd polls readable once its process has exited.
fn exited_now(pidfd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    matches!(poll(&mut fds, Some(&Timespec::default())), Ok(n) if n > 0)
}

fn proc_exists(pid: i32) -> bool {
    std::fs::metadata(format!("/proc/{pid}")).is_ok()
}

/// State `Z` in /proc/PID/stat (the field after the parenthesised command name).
fn is_zombie(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.iter()
            .rposition(|&b| b == b')')
            .and_then(|i| stat.get(i + 2))
            .is_some_and(|&state| state == b'Z')
    })
}
