//! Process details through libproc, read only for owners. Every read may fail because the
//! process exited or is not ours; each field is then simply unknown. Everything is kept as
//! bytes: a process chooses its own name and arguments.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::libproc;
use crate::model::{ProcessInfo, Text, completed_comm};
use crate::platform::unix::users::user_name;

/// NAME is the name the process goes by, as ps shows it: the kernel's `p_comm` (cut at 15
/// bytes, so completed from `argv[0]` when it begins with it), else `pbi_name`; the
/// executable's file name (`proc_pidpath`, which any user may read) is what rekt
/// recognises programs by, and the fallback. USER is the real uid (`pbi_ruid`, or
/// `pbsi_ruid` for another user's process), as on Linux; the uid of its sockets is the
/// effective one (`decode::held`), which differs only for a setuid program.
pub(crate) fn process_info(pid: u32) -> ProcessInfo {
    let exe = libproc::path(pid);
    let bsd = libproc::bsd_info(pid).ok();
    let short = match bsd {
        Some(_) => None,
        None => libproc::short_info(pid).ok(),
    };
    // Arguments are readable only where bsd_info is; 64-bit is every process since macOS
    // 10.15.
    let cmdline: Vec<Text> = libproc::args(pid, bsd.as_ref().map_or(8, |b| b.word()))
        .unwrap_or_default()
        .into_iter()
        .map(Text::from_bytes)
        .collect();
    let comm = match (&bsd, &short) {
        (Some(b), _) => &b.comm[..],
        (None, Some(s)) => &s.comm[..],
        (None, None) => &[],
    };
    let command = (!comm.is_empty()).then(|| {
        let argv0 = cmdline.first().map(Text::as_bytes);
        Text::from_bytes(completed_comm(comm, argv0, COMM_CUT))
    });
    let name = exe
        .as_deref()
        .and_then(|p| Path::new(std::ffi::OsStr::from_bytes(p)).file_name())
        .map(|n| Text::from_bytes(n.as_bytes()))
        .or_else(|| {
            let kept = bsd.as_ref().map_or(comm, |b| b.best_name());
            (!kept.is_empty()).then(|| Text::from_bytes(kept))
        });
    let uid = bsd.as_ref().map(|b| b.ruid).or(short.map(|s| s.ruid));
    ProcessInfo {
        name,
        command,
        exe: exe.map(Text::from_bytes),
        // proc_pidpath answers with the path the vnode had; no deleted mark to read.
        deleted: false,
        cmdline,
        uid,
        user: uid.map(user_name),
    }
}

/// `pbi_comm` comes out at most 15 bytes long (see `decode::MAXCOMLEN`).
const COMM_CUT: usize = 15;
