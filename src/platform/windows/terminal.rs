//! The console's width, for `-v` rows that fit it.

use windows_sys::Win32::System::Console::{
    CONSOLE_SCREEN_BUFFER_INFO, GetConsoleScreenBufferInfo, GetStdHandle, STD_OUTPUT_HANDLE,
};

/// The columns of the console window on standard output, or `None` when standard output is
/// no console (a pipe, a file).
pub(crate) fn stdout_columns() -> Option<u16> {
    // SAFETY: GetStdHandle only returns a handle (or null or INVALID_HANDLE_VALUE, which
    // GetConsoleScreenBufferInfo then refuses).
    let out = unsafe { GetStdHandle(STD_OUTPUT_HANDLE) };
    // SAFETY: all-zero is a valid CONSOLE_SCREEN_BUFFER_INFO.
    let mut info: CONSOLE_SCREEN_BUFFER_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: the call writes one CONSOLE_SCREEN_BUFFER_INFO through a valid pointer.
    if unsafe { GetConsoleScreenBufferInfo(out, &mut info) } == 0 {
        return None;
    }
    // The visible window, not the buffer, which may be far wider.
    let columns = i32::from(info.srWindow.Right) - i32::from(info.srWindow.Left) + 1;
    u16::try_from(columns).ok().filter(|&c| c > 0)
}
