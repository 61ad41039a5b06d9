//! Process details from handles and tokens, read only for owners. Opening another user's
//! process or token is often denied; each field is then unknown (shown as `?`) and rekt
//! goes on. Also: our parent (never signalled) and whether we run elevated.

use std::ffi::OsString;
use std::io;
use std::os::windows::ffi::OsStringExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::Path;

use windows_sys::Win32::Foundation::{
    ERROR_INSUFFICIENT_BUFFER, FILETIME, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Security::{
    GetTokenInformation, LookupAccountSidW, SID_NAME_USE, TOKEN_ELEVATION, TOKEN_QUERY, TOKEN_USER,
    TokenElevation, TokenUser,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetProcessTimes, OpenProcess, OpenProcessToken, PROCESS_ACCESS_RIGHTS,
    PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION, QueryFullProcessImageNameW,
};

use crate::model::{ProcessInfo, ProcessStat, Text};

pub(crate) fn process_info(pid: u32) -> ProcessInfo {
    // Neither has an image file; OpenProcess refuses PID 0 outright.
    let fixed_name = match pid {
        0 => Some("System Idle Process"),
        4 => Some("System"),
        _ => None,
    };
    let handle = if pid == 0 {
        None
    } else {
        open(pid, PROCESS_QUERY_LIMITED_INFORMATION).ok()
    };
    let exe = handle.as_ref().and_then(image_path);
    let name = fixed_name.map(Text::from).or_else(|| {
        exe.as_deref()
            .and_then(|p| Path::new(p).file_name())
            .map(Text::from)
    });
    ProcessInfo {
        name,
        exe: exe.map(Text::from),
        // Another process's command line lives in its memory (PEB); not worth the access.
        cmdline: Vec::new(),
        uid: None,
        user: handle.as_ref().and_then(account_of),
    }
}

/// Opens a process. The error keeps its raw code, so callers can tell "no such process"
/// from "access denied".
pub(super) fn open(pid: u32, access: PROCESS_ACCESS_RIGHTS) -> io::Result<OwnedHandle> {
    // SAFETY: OpenProcess takes plain values and returns a new handle or null.
    let h = unsafe { OpenProcess(access, 0, pid) };
    if h.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the handle is new and ours.
    Ok(unsafe { OwnedHandle::from_raw_handle(h) })
}

fn raw(handle: &OwnedHandle) -> HANDLE {
    handle.as_raw_handle()
}

/// The full Win32 path of the process's executable.
fn image_path(process: &OwnedHandle) -> Option<OsString> {
    let mut buf = vec![0u16; 260];
    loop {
        let mut len = u32::try_from(buf.len()).ok()?;
        // SAFETY: `buf` has `len` u16s; on success `len` is the count written, no NUL.
        let ok = unsafe {
            QueryFullProcessImageNameW(raw(process), PROCESS_NAME_WIN32, buf.as_mut_ptr(), &mut len)
        };
        if ok != 0 {
            let len = (len as usize).min(buf.len());
            return Some(OsString::from_wide(&buf[..len]));
        }
        // Long paths (\\?\ prefixed) can reach 32767 characters.
        if io::Error::last_os_error().raw_os_error() != Some(ERROR_INSUFFICIENT_BUFFER as i32)
            || buf.len() >= 32_768
        {
            return None;
        }
        buf.resize(buf.len() * 4, 0);
    }
}

/// The process's user as `DOMAIN\user`, from its token.
fn account_of(process: &OwnedHandle) -> Option<Text> {
    let token = open_token(raw(process))?;
    let info = token_information(&token, TokenUser)?;
    // SAFETY: TokenUser data starts with a TOKEN_USER; the buffer is u64-aligned and at
    // least as long as the system said; the SID it points to lives in the same buffer.
    let sid = unsafe { (*info.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let (mut name_len, mut domain_len) = (0u32, 0u32);
    let mut usage: SID_NAME_USE = 0;
    // SAFETY: a size query: null buffers with zero lengths.
    unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            sid,
            std::ptr::null_mut(),
            &mut name_len,
            std::ptr::null_mut(),
            &mut domain_len,
            &mut usage,
        )
    };
    if name_len == 0 {
        return None;
    }
    let mut name = vec![0u16; name_len as usize];
    let mut domain = vec![0u16; domain_len.max(1) as usize];
    let (mut name_len, mut domain_len) = (name_len, domain_len.max(1));
    // SAFETY: both buffers have the lengths we pass; on success the lengths exclude the NUL.
    let ok = unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            sid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut usage,
        )
    };
    if ok == 0 {
        return None;
    }
    let (name, domain) = (
        &name[..(name_len as usize).min(name.len())],
        &domain[..(domain_len as usize).min(domain.len())],
    );
    let backslash = u16::from(b'\\');
    let account: Vec<u16> = if domain.is_empty() {
        name.to_vec()
    } else {
        [domain, &[backslash], name].concat()
    };
    Some(Text::from_wide(&account))
}

fn open_token(process: HANDLE) -> Option<OwnedHandle> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `process` is a live process handle; a new handle goes into `token`.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return None;
    }
    // SAFETY: the handle is new and ours.
    Some(unsafe { OwnedHandle::from_raw_handle(token) })
}

/// One class of token information, in a buffer aligned for the structs it holds.
fn token_information(token: &OwnedHandle, class: i32) -> Option<Vec<u64>> {
    let mut len = 0u32;
    // SAFETY: a size query with a null buffer.
    unsafe { GetTokenInformation(raw(token), class, std::ptr::null_mut(), 0, &mut len) };
    if len == 0 {
        return None;
    }
    let mut buf = vec![0u64; (len as usize).div_ceil(8)];
    let size = u32::try_from(buf.len() * 8).ok()?;
    // SAFETY: `buf` has `size` writable bytes.
    let ok =
        unsafe { GetTokenInformation(raw(token), class, buf.as_mut_ptr().cast(), size, &mut len) };
    (ok != 0).then_some(buf)
}

/// Whether rekt runs elevated (as Administrator): only then may it open every process.
pub(crate) fn is_privileged() -> bool {
    // SAFETY: returns the current process's pseudo handle, which needs no closing.
    let me = unsafe { GetCurrentProcess() };
    let Some(token) = open_token(me) else {
        return false;
    };
    let mut elevation = TOKEN_ELEVATION::default();
    let mut len = 0u32;
    // SAFETY: `elevation` is a TOKEN_ELEVATION of the size we pass.
    let ok = unsafe {
        GetTokenInformation(
            raw(&token),
            TokenElevation,
            (&mut elevation as *mut TOKEN_ELEVATION).cast(),
            size_of::<TOKEN_ELEVATION>() as u32,
            &mut len,
        )
    };
    ok != 0 && elevation.TokenIsElevated != 0
}

/// The parent the system recorded for `pid` and when `pid` started. The recorded parent
/// may have exited and its PID been reused: `context` compares start times.
pub(crate) fn stat(pid: u32) -> Option<ProcessStat> {
    let parent = recorded_parent(pid)?;
    Some(ProcessStat {
        // The System Idle Process (0) is nobody's parent.
        parent: Some(parent).filter(|&p| p != 0 && p != pid),
        started: start_time_of(pid),
        ..ProcessStat::default()
    })
}

/// The parent PID the system recorded for `pid` (from a process snapshot).
fn recorded_parent(pid: u32) -> Option<u32> {
    // SAFETY: returns a new snapshot handle or INVALID_HANDLE_VALUE.
    let snap = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    if snap == INVALID_HANDLE_VALUE || snap.is_null() {
        return None;
    }
    // SAFETY: the handle is new and ours.
    let snap = unsafe { OwnedHandle::from_raw_handle(snap) };
    let mut entry = PROCESSENTRY32W {
        dwSize: size_of::<PROCESSENTRY32W>() as u32,
        ..Default::default()
    };
    // SAFETY: `entry` is a PROCESSENTRY32W with dwSize set, as both calls require.
    let mut more = unsafe { Process32FirstW(raw(&snap), &mut entry) } != 0;
    while more {
        if entry.th32ProcessID == pid {
            return Some(entry.th32ParentProcessID);
        }
        // SAFETY: as above.
        more = unsafe { Process32NextW(raw(&snap), &mut entry) } != 0;
    }
    None
}

/// When `pid` started, in FILETIME ticks, if we may ask.
fn start_time_of(pid: u32) -> Option<u64> {
    let process = open(pid, PROCESS_QUERY_LIMITED_INFORMATION).ok()?;
    let mut times = [FILETIME::default(); 4];
    let [created, exited, kernel, user] = &mut times;
    // SAFETY: four FILETIMEs to write into.
    let ok = unsafe { GetProcessTimes(raw(&process), created, exited, kernel, user) };
    (ok != 0).then(|| u64::from(created.dwHighDateTime) << 32 | u64::from(created.dwLowDateTime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_process() {
        let info = process_info(std::process::id());
        let exe = std::env::current_exe().unwrap();
        let name = info.name.as_ref().and_then(Text::as_str);
        assert_eq!(name, exe.file_name().and_then(|n| n.to_str()), "{info:?}");
        let path = info
            .exe
            .as_ref()
            .and_then(Text::as_str)
            .expect("our own image path");
        assert!(path.ends_with(name.unwrap()), "{path}");
        let user = info
            .user
            .as_ref()
            .and_then(Text::as_str)
            .expect("our own token's user");
        assert!(!user.is_empty() && !user.starts_with('\\'), "{user}");
        assert_eq!(info.uid, None);
    }

    #[test]
    fn idle_and_system_have_fixed_names() {
        assert_eq!(
            process_info(0).name,
            Some(Text::from("System Idle Process"))
        );
        assert_eq!(process_info(4).name, Some(Text::from("System")));
    }

    #[test]
    fn a_pid_that_names_no_process_is_unknown_not_an_error() {
        // PIDs are multiples of 4; this one is not, so no process has it.
        let info = process_info(0xFFFF_FFF1);
        assert_eq!(info, ProcessInfo::default());
    }

    #[test]
    fn our_parent_started_before_us() {
        // tests/windows.rs checks end to end that rekt refuses to signal its parent.
        let me = std::process::id();
        let parent = recorded_parent(me).expect("a parent");
        assert_ne!(parent, me);
        assert!(start_time_of(parent) <= start_time_of(me));
    }
}
