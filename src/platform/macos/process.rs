//! Process details through libproc, read only for owners. Every read may fail because the
//! process exited or is not ours; each field is then simply unknown. Everything is kept as
//! bytes: a process chooses its own name and arguments.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::libproc;
use crate::model::{ProcessInfo, Text};
use crate::platform::unix::users::user_name;

/// NAME is the executable's file name (`proc_pidpath`, which any user may read, and which
/// is right even when a program renames itself); else the name the kernel keeps
/// (`proc_name`'s: `pbi_name`, else `pbi_comm`, cut by the kernel to 31 and 15 bytes), else
/// the short command name. USER is the real uid (`pbi_ruid`, or `pbsi_ruid` for another
/// user's process), as on Linux; the uid of its sockets is the effective one
/// (`decode::held`), which differs only for a setuid program.
pub(crate) fn process_info(pid: u32) -> ProcessInfo {
    let exe = libproc::path(pid);
    let bsd = libproc::bsd_info(pid).ok();
    let short = match bsd {
        Some(_) => None,
        None => libproc::short_info(pid).ok(),
    };
    let name = exe
        .as_deref()
        .and_then(|p| Path::new(std::ffi::OsStr::from_bytes(p)).file_name())
        .map(|n| Text::from_bytes(n.as_bytes()))
        .or_else(|| {
            let kept = match (&bsd, &short) {
                (Some(b), _) => b.best_name(),
                (None, Some(s)) => &s.comm,
                (None, None) => &[],
            };
            (!kept.is_empty()).then(|| Text::from_bytes(kept))
        });
    let uid = bsd.as_ref().map(|b| b.ruid).or(short.map(|s| s.ruid));
    ProcessInfo {
        name,
        exe: exe.map(Text::from_bytes),
        // Arguments are readable only where bsd_info is; 64-bit is every process since
        // macOS 10.15.
        cmdline: libproc::args(pid, bsd.as_ref().map_or(8, |b| b.word()))
            .unwrap_or_default()
            .into_iter()
            .map(Text::from_bytes)
            .collect(),
        uid,
        user: uid.map(user_name),
    }
}
