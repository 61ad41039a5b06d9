//! The terminal for the view, and its restoring on every way out: the view's own exit
//! (Esc, Ctrl-C), SIGTERM and SIGHUP (a flag the loop checks at least every 200 ms), and
//! a panic (a hook, since the release build aborts on panic and runs no destructor). Each
//! way out leaves the alternate screen, shows the cursor and turns raw mode off.

use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use super::render;
use super::state::State;

/// Raised by SIGTERM or SIGHUP.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether SIGTERM or SIGHUP arrived: the view must restore the terminal and exit.
pub(super) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Whether the terminal hung up (its window closed, its tmux killed): crossterm then reads
/// end-of-file without end and never says so, so the view asks the terminal itself.
#[cfg(unix)]
pub(super) fn hung_up() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n > 0 && fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// Windows: closing the console ends the process.
#[cfg(windows)]
pub(super) fn hung_up() -> bool {
    false
}

/// Waits at most `timeout` for an event; `Err` when the terminal hung up. On a terminal
/// that hung up, crossterm's own wait reads end-of-file without end, so the wait is
/// `poll(2)` on stdin, and crossterm is asked only what is ready.
#[cfg(unix)]
pub(super) fn wait(timeout: std::time::Duration) -> io::Result<bool> {
    let gone = || io::Error::from(io::ErrorKind::UnexpectedEof);
    if hung_up() {
        return Err(gone());
    }
    if crossterm::event::poll(std::time::Duration::ZERO)? {
        return Ok(true);
    }
    let mut fd = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd. EINTR (SIGTERM, SIGHUP, SIGWINCH) is a wait that ended.
    let n = unsafe { libc::poll(&mut fd, 1, ms) };
    if n <= 0 {
        return Ok(false);
    }
    if fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return Err(gone());
    }
    crossterm::event::poll(std::time::Duration::ZERO)
}

#[cfg(windows)]
pub(super) fn wait(timeout: std::time::Duration) -> io::Result<bool> {
    crossterm::event::poll(timeout)
}

/// The terminal in the view's modes; restored when dropped.
pub(super) struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    /// Raw mode, the alternate screen, the cursor hidden; the panic hook and the signal
    /// handlers that undo them first.
    pub(super) fn open() -> io::Result<Screen> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        catch_signals();
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, Hide) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => Ok(Screen { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    pub(super) fn draw(&mut self, state: &mut State) -> io::Result<()> {
        self.terminal.draw(|f| render::draw(f, state)).map(|_| ())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor, turns raw mode off. Errors are
/// ignored: there is nothing better to do with them on the way out.
fn restore() {
    let mut stdout = io::stdout();
    let _ = execute!(stdout, LeaveAlternateScreen, Show);
    let _ = disable_raw_mode();
    let _ = stdout.flush();
}

/// SIGTERM and SIGHUP raise the flag instead of ending rekt with the terminal in raw
/// mode. No SA_RESTART, so a wait is cut short.
#[cfg(unix)]
fn catch_signals() {
    extern "C" fn raise(_: libc::c_int) {
        INTERRUPTED.store(true, Ordering::Relaxed);
    }
    for signal in [libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an atomic, which
        // is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = raise as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Windows: closing the console ends the process; Ctrl-C arrives as a key in raw mode.
#[cfg(windows)]
fn catch_signals() {}
