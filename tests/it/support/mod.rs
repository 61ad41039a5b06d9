//! What the end-to-end tests share. A test starts processes that hold real sockets, runs
//! rekt on them, and asserts on the PIDs it started; every wait is bounded, and a fixture
//! that fails says why, with its stderr.
//!
//! `isolation`, `skip` and `rewrite` are Linux's; Windows runs the tests in the machine's
//! network namespace (under wine, in one of the script's own), and macOS runs only `usage`.
//!
//! - [`runs`]: running rekt (and other programs) within a bound: `rekt`, `rekt_command`,
//!   `json_of`, `stdout`/`stderr`/`code`, on a terminal, as another user, paused before
//!   its signals.
//! - [`isolation`]: keeping a test to what it started: `private_netns` (root),
//!   `shared_netns`, the signal-argument guard every signalling run goes through
//!   (`check_signal_args`), reruns in a process or PID namespace of their own
//!   (`pid_sandbox!`).
//! - [`skip`]: the one way to skip (`skip`, `require_root!`), which
//!   `REKT_REQUIRE_ROOT_TESTS=1` turns into a failure.
//! - [`holders`]: the fixture processes (`tests/fixtures/`, built by `cargo test` as
//!   examples): `Holder`, `Group`, `fixture`.
//! - [`ports`]: ports nothing uses (`unused_port`, `v4`, `v6`).
//! - [`rewrite`]: reading rekt's output as it would be without other namespaces' sockets
//!   (`here`, `json_here`).
//! - [`system`]: temporary directories, copies another user can run, /proc, wine.

#[cfg(target_os = "linux")]
#[macro_use]
mod skip;
#[cfg(target_os = "linux")]
#[macro_use]
mod isolation;
mod holders;
mod ports;
#[cfg(target_os = "linux")]
mod rewrite;
mod runs;
#[cfg(any(target_os = "linux", windows))]
mod system;

pub use holders::*;
#[cfg(target_os = "linux")]
pub use isolation::*;
pub use ports::*;
#[cfg(target_os = "linux")]
pub use rewrite::*;
pub use runs::*;
#[cfg(target_os = "linux")]
pub use skip::*;
#[cfg(any(target_os = "linux", windows))]
pub use system::*;
