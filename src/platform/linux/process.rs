//! Process details from `/proc/PID`, read only for owners. Every read may fail because the
//! process exited or is not ours; each field is then simply unknown.

use std::ffi::CStr;
use std::fs;
use std::path::Path;
use std::sync::Mutex;

use crate::model::ProcessInfo;

pub fn process_info(pid: u32) -> ProcessInfo {
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| {
        let p = p.to_string_lossy();
        // An executable replaced on disk (a rebuilt server) is still the right name.
        p.strip_suffix(" (deleted)").unwrap_or(&p).to_owned()
    });
    // exe shows the real program even when the main thread is renamed (Node does this);
    // comm is the fallback for kernel threads and other users' processes.
    let name = exe
        .as_deref()
        .and_then(|p| Path::new(p).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| command_name(pid));
    let uid = real_uid(pid);
    ProcessInfo {
        name,
        exe,
        cmdline: command_line(pid),
        uid,
        user: uid.map(user_name),
    }
}

/// The short command name (`/proc/PID/comm`), which any user may read.
pub fn command_name(pid: u32) -> Option<String> {
    let comm = fs::read(format!("/proc/{pid}/comm")).ok()?;
    let comm = String::from_utf8_lossy(&comm);
    let comm = comm.trim_end_matches('\n');
    (!comm.is_empty()).then(|| comm.to_owned())
}

fn command_line(pid: u32) -> Vec<String> {
    let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return Vec::new();
    };
    raw.split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// The real uid: the first number on the `Uid:` line of `/proc/PID/status`.
fn real_uid(pid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_real_uid(&status)
}

fn parse_real_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The user's name from the system's user database, or the uid as a number. Cached: list
/// mode asks for the same few users once per owner, and each lookup may go through NSS.
pub fn user_name(uid: u32) -> String {
    static CACHE: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, name)) = cache.iter().find(|(u, _)| *u == uid) {
        return name.clone();
    }
    let name = lookup_user(uid);
    cache.push((uid, name.clone()));
    name
}

fn lookup_user(uid: u32) -> String {
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
            return uid.to_string();
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return name.to_string_lossy().into_owned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_uid_not_the_effective_one() {
        let status = "Name:\tsudo\nUid:\t1000\t0\t0\t0\nGid:\t1000\t0\t0\t0\n";
        assert_eq!(parse_real_uid(status), Some(1000));
        assert_eq!(parse_real_uid("Name:\tx\n"), None);
        assert_eq!(parse_real_uid("Uid:\tnope\n"), None);
    }

    #[test]
    fn describes_this_process() {
        let info = process_info(std::process::id());
        let exe = std::env::current_exe().unwrap();
        assert_eq!(info.exe.as_deref(), exe.to_str());
        assert_eq!(
            info.name.as_deref(),
            exe.file_name().and_then(|n| n.to_str())
        );
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        assert_eq!(info.uid, Some(uid));
        assert!(!info.cmdline.is_empty());
    }

    #[test]
    fn names_root_and_falls_back_to_the_number() {
        assert_eq!(user_name(0), "root");
        assert_eq!(user_name(3_999_999_999), "3999999999");
    }
}
