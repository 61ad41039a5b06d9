//! The one platform seam. Each OS module answers the same two questions (which sockets
//! match, which processes hold them) and can pin and signal a process; everything else in
//! rekt is platform-neutral. A new OS is a new folder here and nothing else.
//!
//! Each module provides: `sockets`, `owners`, `process_info`, `user_name`, `Target`,
//! `wait_for_exit`, `protected_reason`, `parent_pid`, `is_privileged`, `current_uid`, the network
//! namespace trio `current_netns`, `other_netns` and `sockets_in_netns` (empty outside
//! Linux), `ERROR_NO_SUCH_PROCESS` and `PRIVILEGE_HINT`.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(target_os = "linux", windows)))]
compile_error!("rekt supports Linux and Windows only");
