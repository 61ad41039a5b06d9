//! The one platform seam. Each OS module answers the same two questions (which sockets
//! match, which processes hold them) and can pin and signal a process; everything else in
//! rekt is platform-neutral. A new OS is a new folder here and nothing else.
//!
//! Each module provides: `sockets`, `owners`, `process_info`, `user_name`, `Target`,
//! `wait_for_exit`, `protected_reason`, `parent_pid`, `is_privileged`,
//! `ERROR_NO_SUCH_PROCESS` and `PRIVILEGE_HINT`.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!("rekt supports Linux and Windows only");
