//! What the end-to-end tests share. A test starts processes that hold real sockets, runs
//! rekt on them, and asserts on the PIDs it started; every wait is bounded, and a fixture
//! that fails says why, with its stderr.
//!
//! `isolation`, `skip` and `rewrite` are Linux's; Windows runs the tests in the machine's
//! network namespace (under wine, in one of the script's own), and macOS runs only `usage`.
//!
//! - [`runs`]: running rekt (and other programs) within a bound: `rekt`, `rekt_command`,
//!   `rekt_bin` (for a run another program starts), `json_of`, `stdout`/`stderr`/`code`,
//!   on a terminal, as another user, paused before its signals. Every run of rekt goes
//!   through the signal-argument guard.
//! - [`isolation`]: keeping a test to what it started: `private_netns` (root),
//!   `shared_netns`, the signal-argument guard every signalling run goes through
//!   (`check_signal_args`), `netns_of`, reruns in a process or PID namespace of their own
//!   (`pid_sandbox!`).
//! - [`skip`]: the one way to skip a test (`skip`, `require_root!`), for want of root or
//!   of a program, which `REKT_REQUIRE_ROOT_TESTS=1` turns into a failure.
//! - [`holders`]: the fixture processes (`tests/fixtures/`, built by `cargo test` as
//!   examples): `Holder` (one fixture), `Group` (a process group: shell loops,
//!   supervisors), `fixture` (a fixture's path).
//! - [`ports`]: ports nothing uses (`unused_port`, `v4`, `v6`; `unused_on_the_machine` for
//!   tests that compare rekt's whole output).
//! - [`rewrite`]: reading rekt's output as it would be without other namespaces' sockets
//!   (`here`, `json_here`).
//! - [`system`]: temporary directories, copies another user can run, programs on the PATH,
//!   /proc, wine.
//! - [`tmux`]: a terminal as a person uses it (`Tmux`: type, read the screen, ask tmux
//!   whether the alternate screen is on), for the live view, the shell that takes its
//!   terminal back, and rows that fit the terminal.

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
#[cfg(target_os = "linux")]
mod tmux;

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
#[cfg(target_os = "linux")]
pub use tmux::*;
