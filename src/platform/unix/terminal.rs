//! The terminal's width, for `-v` rows that fit it.

/// The columns of the terminal on standard output (`TIOCGWINSZ`), or `None` when standard
/// output is no terminal or reports no width.
pub(crate) fn stdout_columns() -> Option<u16> {
    // SAFETY: all-zero is a valid winsize; ioctl fills it in or fails, touching nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize through the pointer, which is valid for it.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(size.ws_col)
}
