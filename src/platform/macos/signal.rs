//! Signalling owners without hitting a recycled PID, on a system without pidfds.
//!
//! macOS has no handle that pins a process for signalling, so an owner is pinned by its PID
//! and its start time (`pbi_start_tvsec`/`usec`), which together name one process for its
//! whole life. Pinning reads the start time, checks that the PID still holds one of the
//! sockets found (by the kernel's socket handle, `soi_so`, not just the port), and reads
//! the start time again: the process that holds the socket is the one whose start time is
//! kept. Just before each kill(2), both are checked again. What is left is the time between
//! that check and kill(2), a few microseconds, in which the process would have to exit and
//! its PID be handed to a new process; macOS hands out PIDs in increasing order up to 99999
//! before it wraps, so that needs the PID counter to come round to it again, through every
//! PID in between, within those microseconds.
//!
//! Waiting polls the start time every 10 ms. kqueue's `EVFILT_PROC`/`NOTE_EXIT` would wake
//! at once, but it names the process by PID only, so a start-time check is needed around
//! it anyway, and polling keeps one code path for pinning, checking and waiting, which
//! matters for code that cannot be run on a Mac here.

use std::io;
use std::time::{Duration, Instant};

use super::decode::{SZOMB, Started};
use super::libproc;
use crate::model::{AcquireError, Owner, SendError, Signal, SocketKey};
use crate::platform::Handle;

/// How often `wait_for_exit` looks.
const POLL: Duration = Duration::from_millis(10);

/// One owner, pinned by PID and start time.
#[derive(Debug)]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub struct Target {
    pid: u32,
    started: Started,
    /// The socket handles it was found holding.
    handles: Vec<u64>,
}

impl Target {
    /// Pins `owner` and checks that it still holds at least one of its matching sockets.
    pub(crate) fn acquire(owner: &Owner) -> Result<Target, AcquireError> {
        let handles: Vec<u64> = owner
            .sockets
            .iter()
            .filter_map(|s| match s.key {
                SocketKey::Held {
                    pid: Some(pid),
                    socket,
                } if pid == owner.pid => Some(socket),
                _ => None,
            })
            .collect();
        let acquire_error = |e: io::Error| {
            if libproc::is_gone(&e) {
                AcquireError::Gone
            } else {
                AcquireError::Io(e)
            }
        };
        let before = start_time(owner.pid).map_err(acquire_error)?;
        let holds = holds_any(owner.pid, &handles).map_err(acquire_error)?;
        let after = start_time(owner.pid).map_err(acquire_error)?;
        if after != before {
            // The PID changed hands while we looked: the process we found is gone.
            return Err(AcquireError::Gone);
        }
        if !holds {
            return Err(AcquireError::Released);
        }
        Ok(Target {
            pid: owner.pid,
            started: before,
            handles,
        })
    }

    /// Whether the PID is still the pinned process and still holds one of the sockets.
    fn check(&self) -> Result<(), SendError> {
        let same = |e: io::Error| {
            if libproc::is_gone(&e) {
                SendError::Gone
            } else if libproc::is_denied(&e) {
                SendError::Denied(e)
            } else {
                SendError::Other(e)
            }
        };
        if start_time(self.pid).map_err(same)? != self.started {
            return Err(SendError::Gone);
        }
        if !holds_any(self.pid, &self.handles).map_err(same)? {
            // It let go of the port since it was pinned: nothing left to do.
            return Err(SendError::Gone);
        }
        Ok(())
    }
}

impl Handle for Target {
    fn send(&self, signal: Signal) -> Result<(), SendError> {
        self.check()?;
        let sig = match signal {
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // A PID from the pid list is positive, so kill(2) never means a process group.
        let pid = libc::pid_t::try_from(self.pid)
            .ok()
            .filter(|&p| p > 0)
            .ok_or(SendError::Gone)?;
        // SAFETY: kill takes plain values.
        if unsafe { libc::kill(pid, sig) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        Err(match e.raw_os_error() {
            Some(libc::ESRCH) => SendError::Gone,
            Some(libc::EPERM) => SendError::Denied(e),
            _ => SendError::Other(e),
        })
    }

    /// Whether the pinned process has exited: its PID is gone, belongs to a process with
    /// another start time, or is a zombie (which holds no fds any more).
    fn has_exited(&self) -> bool {
        match libproc::bsd_info(self.pid) {
            Ok(info) => info.started != self.started || info.status == SZOMB,
            Err(e) => libproc::is_gone(&e),
        }
    }
}

/// Waits until every target has exited or `timeout` passes; returns which have exited.
pub(crate) fn wait_for_exit(targets: &[&Target], timeout: Duration) -> Vec<bool> {
    let deadline = Instant::now() + timeout;
    let mut exited: Vec<bool> = targets.iter().map(|t| t.has_exited()).collect();
    loop {
        let now = Instant::now();
        if exited.iter().all(|&e| e) || now >= deadline {
            return exited;
        }
        std::thread::sleep((deadline - now).min(POLL));
        for (done, target) in exited.iter_mut().zip(targets) {
            if !*done {
                *done = target.has_exited();
            }
        }
    }
}

fn start_time(pid: u32) -> io::Result<Started> {
    Ok(libproc::bsd_info(pid)?.started)
}

/// Whether `pid` has one of the sockets `handles` open now.
fn holds_any(pid: u32, handles: &[u64]) -> io::Result<bool> {
    let info = libproc::bsd_info(pid)?;
    let mut buf = Vec::new();
    let list = libproc::fd_list(pid, info.nfiles, &mut buf)?;
    let fds: Vec<u32> = super::decode::socket_fds(list).collect();
    let mut sock = Box::new([0u8; std::mem::size_of::<super::decode::SocketFdInfo>()]);
    Ok(fds.into_iter().any(|fd| {
        libproc::socket(pid, fd, &mut sock)
            .ok()
            .flatten()
            .is_some_and(|s| handles.contains(&s.handle))
    }))
}
