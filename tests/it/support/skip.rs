//! Root, and the one way to skip a test (for want of root, or of a program CI installs).

use std::io::Write;

/// Set to 1 (CI does, as root): a test that would skip fails instead.
pub const REQUIRE_ROOT_ENV: &str = "REKT_REQUIRE_ROOT_TESTS";

#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `REKT_REQUIRE_ROOT_TESTS=1`: no skipping.
pub fn root_tests_required() -> bool {
    std::env::var_os(REQUIRE_ROOT_ENV).is_some_and(|v| v == "1")
}

/// Skips the calling test (the caller returns) with `reason`, printed where it is seen:
/// libtest hides what a passing test prints with `eprintln!`, but not what it writes to
/// the process's stderr itself. With `REKT_REQUIRE_ROOT_TESTS=1`, fails instead.
pub fn skip(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    assert!(
        !root_tests_required(),
        "{test} would skip ({reason}), and {REQUIRE_ROOT_ENV}=1 forbids that"
    );
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {reason}");
}

/// Skips the calling test (with a printed reason) unless running as root.
macro_rules! require_root {
    () => {
        if !$crate::support::is_root() {
            $crate::support::skip("this test needs root (CI runs as root)");
            return;
        }
    };
}
