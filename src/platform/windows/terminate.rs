//! Ending owners without ever hitting a recycled PID.
//!
//! A PID from the socket table can exit and be reused before we act. So for each owner we
//! first open a process handle, which names that one process for as long as it is held
//! (Windows does not reuse a PID while a handle to its process is open), and only then read
//! the tables again to check that this PID still owns one of the sockets. Every later step
//! goes through the handle.
//!
//! Windows has no SIGTERM. `Terminate` posts WM_CLOSE to the process's top-level windows,
//! which is how a user closes a program; a process without windows (a console program, a
//! service) cannot be asked, and the error says to use `-k`. `Kill` is TerminateProcess.

use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{
    ERROR_INVALID_PARAMETER, HANDLE, HWND, LPARAM, TRUE, WAIT_OBJECT_0,
};
use windows_sys::Win32::System::Threading::{
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE, TerminateProcess,
    WaitForSingleObject,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    EnumWindows, GetWindowThreadProcessId, PostMessageW, WM_CLOSE,
};
use windows_sys::core::BOOL;

use super::iphlpapi::{Snapshot, Table};
use super::last_error;
use super::process::open;
use crate::model::{AcquireError, Owner, SendError, Signal, SocketKey};
use crate::platform::Handle;

/// The exit code a killed process gets, as with `taskkill /f`.
const KILLED_EXIT_CODE: u32 = 1;

/// One owner, pinned by a process handle: what is done through it reaches the process we
/// found or nobody.
#[derive(Debug)]
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub struct Target {
    pid: u32,
    handle: OwnedHandle,
}

impl Target {
    /// Opens `owner` and checks, in fresh tables, that it still owns one of its sockets.
    pub(crate) fn acquire(owner: &Owner) -> Result<Target, AcquireError> {
        let access = PROCESS_TERMINATE | PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION;
        let handle = open(owner.pid, access).map_err(|e| {
            if e.raw_os_error() == Some(ERROR_INVALID_PARAMETER as i32) {
                AcquireError::Gone
            } else {
                AcquireError::Io(io::Error::new(e.kind(), format!("OpenProcess failed: {e}")))
            }
        })?;
        let target = Target {
            pid: owner.pid,
            handle,
        };
        if target.has_exited() {
            return Err(AcquireError::Gone);
        }
        if !still_owns(owner).map_err(AcquireError::Io)? {
            // It exited, or closed the socket; either way it is no longer an owner.
            return Err(if target.has_exited() {
                AcquireError::Gone
            } else {
                AcquireError::Released
            });
        }
        Ok(target)
    }

    fn raw(&self) -> HANDLE {
        self.handle.as_raw_handle()
    }

    /// Posts WM_CLOSE to each top-level window of the process.
    fn close_windows(&self) -> Result<(), SendError> {
        let windows = top_level_windows(self.pid);
        if windows.is_empty() {
            return Err(SendError::NoWindows);
        }
        let mut failure = None;
        let mut posted = 0;
        for hwnd in windows {
            // SAFETY: posting a message needs no pointers; a window that has gone since
            // the enumeration only makes the call fail.
            if unsafe { PostMessageW(hwnd, WM_CLOSE, 0, 0) } != 0 {
                posted += 1;
            } else {
                failure = Some(last_error("PostMessageW(WM_CLOSE)"));
            }
        }
        match failure {
            Some(e) if posted == 0 => Err(SendError::Other(e)),
            _ => Ok(()),
        }
    }
}

impl Handle for Target {
    fn send(&self, signal: Signal) -> Result<(), SendError> {
        let result = match signal {
            Signal::Terminate => self.close_windows(),
            Signal::Kill => {
                // SAFETY: a live process handle opened with PROCESS_TERMINATE.
                if unsafe { TerminateProcess(self.raw(), KILLED_EXIT_CODE) } != 0 {
                    Ok(())
                } else {
                    let e = last_error("TerminateProcess");
                    Err(if e.kind() == io::ErrorKind::PermissionDenied {
                        SendError::Denied(e)
                    } else {
                        SendError::Other(e)
                    })
                }
            }
        };
        // Both calls fail on a process that has already exited; that is no failure of ours.
        match result {
            Err(_) if self.has_exited() => Err(SendError::Gone),
            other => other,
        }
    }

    /// Whether the process has exited: its handle is signalled then.
    fn has_exited(&self) -> bool {
        // SAFETY: a live handle opened with SYNCHRONIZE; a zero timeout only polls.
        unsafe { WaitForSingleObject(self.raw(), 0) == WAIT_OBJECT_0 }
    }
}

/// Whether the tables still show `owner.pid` owning one of its sockets (same protocol and
/// local address). Only the tables its sockets came from are read.
fn still_owns(owner: &Owner) -> io::Result<bool> {
    let mut tables: Vec<Table> = owner.sockets.iter().map(Table::of).collect();
    tables.dedup();
    for table in Table::ALL.into_iter().filter(|t| tables.contains(t)) {
        let snapshot = Snapshot::take(table)?;
        let found = snapshot.sockets().any(|row| {
            row.key == SocketKey::Pid(owner.pid)
                && owner
                    .sockets
                    .iter()
                    .any(|s| s.protocol == row.protocol && s.local == row.local)
        });
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The top-level windows that belong to `pid`.
fn top_level_windows(pid: u32) -> Vec<HWND> {
    struct Search {
        pid: u32,
        found: Vec<HWND>,
    }
    unsafe extern "system" fn visit(hwnd: HWND, lparam: LPARAM) -> BOOL {
        // SAFETY: `lparam` is the `Search` that EnumWindows was given below, alive and not
        // otherwise borrowed for the duration of the enumeration.
        let search = unsafe { &mut *(lparam as *mut Search) };
        let mut owner = 0u32;
        // SAFETY: writes the owning PID of a window EnumWindows just handed us.
        unsafe { GetWindowThreadProcessId(hwnd, &mut owner) };
        if owner == search.pid {
            search.found.push(hwnd);
        }
        TRUE
    }
    let mut search = Search {
        pid,
        found: Vec::new(),
    };
    // SAFETY: `visit` only touches `search`, which outlives the call. A failed enumeration
    // finds nothing, which the caller reports.
    unsafe { EnumWindows(Some(visit), &mut search as *mut Search as LPARAM) };
    search.found
}

/// Waits until every target has exited or `timeout` passes; returns which have exited.
/// Waiting on each handle in turn with the time left is enough: the total never exceeds the
/// timeout, and a handle checked late is checked with whatever time remains (or none).
pub(crate) fn wait_for_exit(targets: &[&Target], timeout: Duration) -> Vec<bool> {
    let deadline = Instant::now() + timeout;
    targets
        .iter()
        .map(|t| {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = u32::try_from(left.as_millis()).unwrap_or(u32::MAX - 1);
            // SAFETY: a live handle opened with SYNCHRONIZE.
            unsafe { WaitForSingleObject(t.raw(), ms) == WAIT_OBJECT_0 }
        })
        .collect()
}
