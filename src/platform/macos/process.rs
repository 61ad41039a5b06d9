//! Process details through libproc, read only for owners. Every read may fail because the
//! process exited or is not ours; each field is then simply unknown. Everything is kept as
//! bytes: a process chooses its own name and arguments.

use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Mutex;

use super::libproc;
use crate::model::{ProcessInfo, Text};

/// NAME is the executable's file name (`proc_pidpath`, which any user may read, and which
/// is right even when a program renames itself); else the name the kernel keeps
/// (`proc_name`'s: `pbi_name`, else `pbi_comm`), else the short command name. USER is the
/// real uid (`pbi_ruid`, or `pbsi_ruid` for another user's process).
pub fn process_info(pid: u32) -> ProcessInfo {
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
        cmdline: libproc::args(pid)
            .unwrap_or_default()
            .into_iter()
            .map(Text::from_bytes)
            .collect(),
        uid,
        user: uid.map(user_name),
    }
}

/// The user's name from the directory services (getpwuid_r), or the uid as a number.
/// Cached: list mode asks for the same few users once per owner.
pub fn user_name(uid: u32) -> Text {
    static CACHE: Mutex<Vec<(u32, Text)>> = Mutex::new(Vec::new());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, name)) = cache.iter().find(|(u, _)| *u == uid) {
        return name.clone();
    }
    let name = lookup_user(uid).unwrap_or_else(|| Text::from(uid.to_string()));
    cache.push((uid, name.clone()));
    name
}

/// getpwuid_r, growing the buffer as asked.
fn lookup_user(uid: u32) -> Option<Text> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: passwd is plain data; getpwuid_r writes into `pwd` and `buf` only.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast::<libc::c_char>(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return Some(Text::from_bytes(name.to_bytes()));
    }
}
