//! Ending owners without ever hitting a recycled PID.
//!
//! A PID from the socket table can exit and be reused before we act. So for each owner we
//! first open a process handle, which names that one process for as long as it is held
//! (Windows does not reuse a PID while a handle to its process is open), and only then read
//! the tables again to check that this PID still owns one of the sockets, through a socket
//! bound after this process was created: the tables name the process that bound a socket,
//! and keep naming its PID after it exits, so a process created later under the same PID
//! is not the owner. Every later step goes through the handle.
//!
//! Windows has no SIGTERM. `Terminate` posts WM_CLOSE to the process's top-level windows,
//! which is how a user closes a program. Never to a console window: conhost makes a
//! console's window look as if it belonged to the console's first process, and WM_CLOSE
//! there sends CTRL_CLOSE_EVENT to every process attached to that console, which ends them
//! all. So a console program, like a process without windows (a service), cannot be
//! asked, and the error says to use `-k` or `--escalate`. `Kill` is TerminateProcess.

use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{
    ERROR_INVALID_PARAMETER, HANDLE, HWND, LPARAM, TRUE, WAIT_OBJECT_0,
};
use windows_sys::Win32::System::Console::GetConsoleWindow;
use windows_sys::Win32::System::Threading::{
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE, TerminateProcess,
    WaitForSingleObject,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    EnumWindows, GetClassNameW, GetWindowThreadProcessId, PostMessageW, WM_CLOSE,
};
use windows_sys::core::BOOL;

use super::iphlpapi::{Snapshot, Table};
use super::last_error;
use super::process::{open, times_of};
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
    /// Opened to wait on only ([`Target::watch`]): signals are refused.
    watch_only: bool,
}

impl Target {
    /// Opens `owner` to end it, and checks, in fresh tables, that it still owns one of its
    /// sockets.
    pub(crate) fn acquire(owner: &Owner) -> Result<Target, AcquireError> {
        let access = PROCESS_TERMINATE | PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION;
        Target::open_checked(owner, access, false)
    }

    /// Opens `owner` to wait on it, with the rights waiting needs (SYNCHRONIZE, and the
    /// limited query right for its creation time where granted), which are granted where
    /// the right to end it may not be.
    pub(crate) fn watch(owner: &Owner) -> Result<Target, AcquireError> {
        let access = PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION;
        Target::open_checked(owner, access, true)
            .or_else(|_| Target::open_checked(owner, PROCESS_SYNCHRONIZE, true))
    }

    fn open_checked(owner: &Owner, access: u32, watch_only: bool) -> Result<Target, AcquireError> {
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
            watch_only,
        };
        if target.has_exited() {
            return Err(AcquireError::Gone);
        }
        // When this process was created; unknown with a SYNCHRONIZE-only handle.
        let created = times_of(&target.handle).map(|t| t.created);
        if !still_owns(owner, created).map_err(AcquireError::Io)? {
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

    /// The error of a process that was opened to wait on only.
    fn denial(&self) -> SendError {
        SendError::Denied(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "opened to wait on it only",
        ))
    }

    /// Posts WM_CLOSE to each top-level window of the process but console windows.
    fn close_windows(&self) -> Result<(), SendError> {
        let found = top_level_windows(self.pid);
        // rekt's own console too, whatever its class: closing it would end rekt, its shell
        // and everything else in that terminal.
        // SAFETY: plain call; null when rekt has no console.
        let own_console = unsafe { GetConsoleWindow() };
        let windows: Vec<HWND> = found
            .iter()
            .filter(|w| w.kind == Kind::Own && w.hwnd != own_console)
            .map(|w| w.hwnd)
            .collect();
        if windows.is_empty() {
            let console = found
                .iter()
                .any(|w| w.kind == Kind::Console || w.hwnd == own_console);
            return Err(if console {
                SendError::ConsoleOnly
            } else {
                SendError::NoWindows
            });
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
            _ if self.watch_only => Err(self.denial()),
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
/// local address), bound no earlier than `created`, when this process was created (when
/// both are known): a socket bound before it was created was bound by an earlier process
/// that had the PID. Only the tables its sockets came from are read.
fn still_owns(owner: &Owner, created: Option<u64>) -> io::Result<bool> {
    let mut tables: Vec<Table> = owner.sockets.iter().map(Table::of).collect();
    tables.dedup();
    for table in Table::ALL.into_iter().filter(|t| tables.contains(t)) {
        let snapshot = Snapshot::take(table)?;
        let found = snapshot.rows().any(|row| {
            let s = &row.socket;
            s.key == SocketKey::Pid(owner.pid)
                && owner
                    .sockets
                    .iter()
                    .any(|o| o.protocol == s.protocol && o.local == s.local)
                && bound_by(created, row.bound_at)
        });
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a socket bound at `bound_at` can have been bound by a process created at
/// `created`: not if it was bound before the process existed. Unknown times say nothing.
fn bound_by(created: Option<u64>, bound_at: Option<u64>) -> bool {
    match (created, bound_at) {
        (Some(created), Some(bound)) => created <= bound,
        _ => true,
    }
}

/// A top-level window, and what it is.
struct Window {
    hwnd: HWND,
    kind: Kind,
}

/// What a top-level window is to `-t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The program's own: WM_CLOSE is how a user closes it.
    Own,
    /// A console's: WM_CLOSE closes the console and every process attached to it.
    Console,
    /// One the system makes for every GUI thread (the input method's): closing it asks
    /// the program nothing.
    System,
}

/// The window classes of consoles: conhost's, the pseudo-console's (Windows Terminal,
/// ConPTY) and wine's.
const CONSOLE_CLASSES: [&str; 3] = [
    "ConsoleWindowClass",
    "PseudoConsoleWindow",
    "WineConsoleClass",
];

/// The classes of the input method's windows, which the system gives each GUI thread.
const SYSTEM_CLASSES: [&str; 2] = ["IME", "MSCTFIME UI"];

/// What a window of class `class` is.
fn kind_of_class(class: &[u16]) -> Kind {
    let is = |names: &[&str]| {
        names
            .iter()
            .any(|c| c.encode_utf16().eq(class.iter().copied()))
    };
    if is(&CONSOLE_CLASSES) {
        Kind::Console
    } else if is(&SYSTEM_CLASSES) {
        Kind::System
    } else {
        Kind::Own
    }
}

/// The top-level windows that belong to `pid` (or, for a console window, that conhost
/// makes look as if they did).
fn top_level_windows(pid: u32) -> Vec<Window> {
    struct Search {
        pid: u32,
        found: Vec<Window>,
    }
    unsafe extern "system" fn visit(hwnd: HWND, lparam: LPARAM) -> BOOL {
        // SAFETY: `lparam` is the `Search` that EnumWindows was given below, alive and not
        // otherwise borrowed for the duration of the enumeration.
        let search = unsafe { &mut *(lparam as *mut Search) };
        let mut owner = 0u32;
        // SAFETY: writes the owning PID of a window EnumWindows just handed us.
        unsafe { GetWindowThreadProcessId(hwnd, &mut owner) };
        if owner == search.pid {
            let mut class = [0u16; 64];
            // SAFETY: `class` has room for 64 characters; the count excludes the NUL.
            let len = unsafe { GetClassNameW(hwnd, class.as_mut_ptr(), class.len() as i32) };
            let len = usize::try_from(len).unwrap_or(0).min(class.len());
            search.found.push(Window {
                hwnd,
                kind: kind_of_class(&class[..len]),
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_windows_are_known_by_their_class() {
        let wide = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        for class in CONSOLE_CLASSES {
            assert_eq!(kind_of_class(&wide(class)), Kind::Console, "{class}");
        }
        for class in SYSTEM_CLASSES {
            assert_eq!(kind_of_class(&wide(class)), Kind::System, "{class}");
        }
        for class in [
            "sockhold",
            "Notepad",
            "ConsoleWindowClas",
            "ConsoleWindowClassX",
            "",
        ] {
            assert_eq!(kind_of_class(&wide(class)), Kind::Own, "{class}");
        }
    }

    #[test]
    fn a_socket_bound_before_a_process_was_created_is_not_its_own() {
        assert!(bound_by(Some(10), Some(20)));
        assert!(bound_by(Some(20), Some(20)));
        assert!(
            !bound_by(Some(30), Some(20)),
            "the PID was reused after the bind"
        );
        // Wine leaves the bind time 0 (None); a SYNCHRONIZE-only handle cannot say when
        // the process was created.
        assert!(bound_by(None, Some(20)));
        assert!(bound_by(Some(30), None));
    }
}
