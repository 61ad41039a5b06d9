//! `--debug` (or `REKT_DEBUG=1`): one line on stderr for each choice that changes what rekt
//! reads, such as which socket source answered and why. For bug reports; off by default,
//! and then it costs one relaxed load per trace point.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(false);

/// Turns tracing on for the rest of the run.
pub(crate) fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Whether tracing is on: `--debug`, or `REKT_DEBUG` set to anything but empty or `0`.
pub(crate) fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Turns tracing on if `REKT_DEBUG` asks for it.
pub(crate) fn from_env() {
    if std::env::var_os("REKT_DEBUG").is_some_and(|v| !v.is_empty() && v != "0") {
        enable();
    }
}

/// Writes one trace line. A closed or failing stderr is ignored: tracing must never stop
/// the work.
pub(crate) fn write(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "rekt: debug: {args}");
}

/// `debug!("sockets: {source}")`: a trace line when `--debug` is on.
#[macro_export]
#[doc(hidden)]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::debug::enabled() {
            $crate::debug::write(format_args!($($arg)*));
        }
    };
}
