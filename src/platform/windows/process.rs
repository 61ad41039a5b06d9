//! Process details, read only for owners. The name comes from the Toolhelp snapshot
//! (`szExeFile`), which needs no handle, so a process rekt may not open still has a name,
//! and a PID with no name has no process. The path, user and command line need a handle
//! (`PROCESS_QUERY_LIMITED_INFORMATION`); opening another account's process is often
//! denied, and each of those fields is then unknown (`?`) and rekt goes on. Also: our
//! parent (never signalled), whether we run elevated, SeDebugPrivilege, and which
//! processes the system protects.

use std::ffi::OsString;
use std::io;
use std::os::windows::ffi::OsStringExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::Path;
use std::sync::OnceLock;

use windows_sys::Wdk::System::Threading::{
    NtQueryInformationProcess, ProcessBasicInformation, ProcessCommandLineInformation,
    ProcessProtectionInformation,
};
use windows_sys::Win32::Foundation::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_NOT_ALL_ASSIGNED, FILETIME, GetLastError, HANDLE, HLOCAL,
    INVALID_HANDLE_VALUE, LUID, LocalFree, STATUS_INFO_LENGTH_MISMATCH, STATUS_INVALID_INFO_CLASS,
    STATUS_NOT_IMPLEMENTED, UNICODE_STRING,
};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{
    AdjustTokenPrivileges, GetTokenInformation, LUID_AND_ATTRIBUTES, LookupAccountSidW,
    LookupPrivilegeValueW, PSID, SE_DEBUG_NAME, SE_PRIVILEGE_ENABLED, SID_NAME_USE,
    TOKEN_ADJUST_PRIVILEGES, TOKEN_ELEVATION, TOKEN_PRIVILEGES, TOKEN_QUERY, TOKEN_USER,
    TokenElevation, TokenUser,
};
use windows_sys::Win32::System::Diagnostics::Debug::ReadProcessMemory;
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetExitCodeProcess, GetProcessTimes, OpenProcess, OpenProcessToken,
    PROCESS_ACCESS_RIGHTS, PROCESS_NAME_WIN32, PROCESS_QUERY_INFORMATION,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_VM_READ, QueryFullProcessImageNameW,
};

use super::binder::{Entry, Times};
use super::cmdline;
use crate::model::{ProcessInfo, ProcessStat, Text};

/// The exit code GetExitCodeProcess gives a process that is still running.
const STILL_ACTIVE: u32 = 259;

pub(crate) fn process_info(pid: u32) -> ProcessInfo {
    let entry = match pid {
        // Neither has an image file; OpenProcess refuses PID 0 outright.
        0 | 4 => None,
        _ => processes().and_then(|list| list.into_iter().find(|e| e.pid == pid)),
    };
    let handle = match pid {
        0 => None,
        _ => open(pid, PROCESS_QUERY_LIMITED_INFORMATION).ok(),
    };
    describe(pid, entry.as_ref(), handle.as_ref())
}

/// What can be said of `pid` from its snapshot entry (if it is listed) and a handle (if it
/// could be opened).
fn describe(pid: u32, entry: Option<&Entry>, handle: Option<&OwnedHandle>) -> ProcessInfo {
    let fixed_name = match pid {
        0 => Some("System Idle Process"),
        4 => Some("System"),
        _ => None,
    };
    let exe = handle.and_then(image_path);
    let name = fixed_name
        .map(Text::from)
        .or_else(|| entry.map(|e| e.name.clone()))
        .or_else(|| {
            exe.as_deref()
                .and_then(|p| Path::new(p).file_name())
                .map(Text::from)
        });
    ProcessInfo {
        name,
        // The image name is the name Windows shows (Task Manager, Get-Process).
        command: None,
        exe: exe.map(Text::from),
        deleted: false,
        cmdline: handle.map_or_else(Vec::new, |h| command_line(pid, h)),
        uid: None,
        user: handle.and_then(account_of),
    }
}

/// Every process, from one Toolhelp snapshot: PID, recorded parent and executable name
/// (`szExeFile`, which needs no access to the process). `None` if no snapshot can be taken.
pub(crate) fn processes() -> Option<Vec<Entry>> {
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
    let mut list = Vec::new();
    // SAFETY: `entry` is a PROCESSENTRY32W with dwSize set, as both calls require.
    let mut more = unsafe { Process32FirstW(raw(&snap), &mut entry) } != 0;
    while more {
        let name = &entry.szExeFile;
        let len = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        list.push(Entry {
            pid: entry.th32ProcessID,
            parent: entry.th32ParentProcessID,
            name: Text::from_wide(&name[..len]),
        });
        // SAFETY: as above.
        more = unsafe { Process32NextW(raw(&snap), &mut entry) } != 0;
    }
    Some(list)
}

/// Opens a process. The error keeps its raw code, so callers can tell "no such process"
/// from "access denied". SeDebugPrivilege is enabled first, where rekt holds it.
pub(super) fn open(pid: u32, access: PROCESS_ACCESS_RIGHTS) -> io::Result<OwnedHandle> {
    debug_privilege();
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

/// The process's command line, split as its C runtime splits it. From the system's copy
/// (`ProcessCommandLineInformation`, Windows 8.1 and later), which the limited handle may
/// read; where the system does not know that class (older Windows; wine 8.0), from the
/// process's own PEB, which needs a handle that may read its memory. Empty where neither
/// is allowed.
fn command_line(pid: u32, process: &OwnedHandle) -> Vec<Text> {
    let wide = match command_line_of(process) {
        Ok(wide) => Some(wide),
        Err(status) if status == STATUS_INVALID_INFO_CLASS || status == STATUS_NOT_IMPLEMENTED => {
            command_line_from_peb(pid)
        }
        Err(status) => {
            crate::debug!("command line of {pid}: NTSTATUS {status:#x}");
            None
        }
    };
    wide.map_or_else(Vec::new, |w| {
        cmdline::split(&w)
            .iter()
            .map(|a| Text::from_wide(a))
            .collect()
    })
}

/// `NtQueryInformationProcess(ProcessCommandLineInformation)`: a UNICODE_STRING followed by
/// its characters. The error is the NTSTATUS.
fn command_line_of(process: &OwnedHandle) -> Result<Vec<u16>, i32> {
    let mut len = 0u32;
    // SAFETY: a size query with a null buffer.
    let status = unsafe {
        NtQueryInformationProcess(
            raw(process),
            ProcessCommandLineInformation,
            std::ptr::null_mut(),
            0,
            &mut len,
        )
    };
    if status != STATUS_INFO_LENGTH_MISMATCH || (len as usize) < size_of::<UNICODE_STRING>() {
        return Err(status);
    }
    let mut buf = vec![0u64; (len as usize).div_ceil(8)];
    let size = u32::try_from(buf.len() * 8).map_err(|_| STATUS_INFO_LENGTH_MISMATCH)?;
    // SAFETY: `buf` has `size` writable bytes, aligned for the UNICODE_STRING.
    let status = unsafe {
        NtQueryInformationProcess(
            raw(process),
            ProcessCommandLineInformation,
            buf.as_mut_ptr().cast(),
            size,
            &mut len,
        )
    };
    if status != 0 {
        return Err(status);
    }
    // SAFETY: on success the buffer starts with a UNICODE_STRING.
    let us = unsafe { *buf.as_ptr().cast::<UNICODE_STRING>() };
    let start = us.Buffer as usize;
    let (lo, hi) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len() * 8);
    let bytes = usize::from(us.Length);
    if us.Buffer.is_null() || start < lo || start + bytes > hi || !start.is_multiple_of(2) {
        return Ok(Vec::new());
    }
    // SAFETY: the characters lie inside `buf` (checked above).
    Ok(unsafe { std::slice::from_raw_parts(us.Buffer, bytes / 2) }.to_vec())
}

/// The command line as the process's PEB holds it (`ProcessParameters->CommandLine`), read
/// with ReadProcessMemory: where `ProcessCommandLineInformation` is not known.
fn command_line_from_peb(pid: u32) -> Option<Vec<u16>> {
    /// `PROCESS_BASIC_INFORMATION`, as ntdll lays it out.
    #[repr(C)]
    #[derive(Default)]
    struct BasicInformation {
        exit_status: i32,
        peb: usize,
        affinity: usize,
        base_priority: i32,
        pid: usize,
        parent: usize,
    }
    // Offsets in the PEB and RTL_USER_PROCESS_PARAMETERS of a process of rekt's width.
    #[cfg(target_pointer_width = "64")]
    const PARAMETERS: usize = 0x20;
    #[cfg(target_pointer_width = "64")]
    const COMMAND_LINE: usize = 0x70;
    #[cfg(target_pointer_width = "32")]
    const PARAMETERS: usize = 0x10;
    #[cfg(target_pointer_width = "32")]
    const COMMAND_LINE: usize = 0x40;

    let process = open(pid, PROCESS_QUERY_INFORMATION | PROCESS_VM_READ).ok()?;
    let mut info = BasicInformation::default();
    let mut len = 0u32;
    // SAFETY: `info` has the size passed.
    let status = unsafe {
        NtQueryInformationProcess(
            raw(&process),
            ProcessBasicInformation,
            (&mut info as *mut BasicInformation).cast(),
            size_of::<BasicInformation>() as u32,
            &mut len,
        )
    };
    if status != 0 || info.peb == 0 {
        return None;
    }
    let read = |at: usize, out: *mut u8, size: usize| -> bool {
        let mut done = 0usize;
        // SAFETY: `out` has `size` writable bytes; the source is the other process's
        // memory, which the call checks.
        let ok = unsafe {
            ReadProcessMemory(raw(&process), at as *const _, out.cast(), size, &mut done)
        };
        ok != 0 && done == size
    };
    let mut parameters = 0usize;
    if !read(
        info.peb + PARAMETERS,
        (&mut parameters as *mut usize).cast(),
        size_of::<usize>(),
    ) || parameters == 0
    {
        return None;
    }
    let mut us = UNICODE_STRING::default();
    if !read(
        parameters + COMMAND_LINE,
        (&mut us as *mut UNICODE_STRING).cast(),
        size_of::<UNICODE_STRING>(),
    ) || us.Buffer.is_null()
    {
        return None;
    }
    // A command line is at most 32767 characters.
    let chars = usize::from(us.Length / 2).min(32_767);
    let mut wide = vec![0u16; chars];
    read(us.Buffer as usize, wide.as_mut_ptr().cast(), chars * 2).then_some(wide)
}

/// The process's user as `DOMAIN\user`, from its token; the SID as a string (`S-1-5-...`)
/// when no account name maps to it (a deleted account, a capability or logon SID).
fn account_of(process: &OwnedHandle) -> Option<Text> {
    let token = open_token(raw(process), TOKEN_QUERY)?;
    let info = token_information(&token, TokenUser)?;
    // SAFETY: TokenUser data starts with a TOKEN_USER; the buffer is u64-aligned and at
    // least as long as the system said; the SID it points to lives in the same buffer.
    let sid = unsafe { (*info.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    account_name(sid).or_else(|| string_sid(sid))
}

/// `DOMAIN\user` for a SID, if an account maps to it.
fn account_name(sid: PSID) -> Option<Text> {
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

/// The SID in its string form, `S-1-5-21-...`.
fn string_sid(sid: PSID) -> Option<Text> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: a valid SID; on success `text` is a new LocalAlloc'ed string.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 || text.is_null() {
        return None;
    }
    let mut len = 0;
    // SAFETY: the string is NUL-terminated.
    while unsafe { *text.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` characters were just read; the string is freed once, after the copy.
    let sid = Text::from_wide(unsafe { std::slice::from_raw_parts(text, len) });
    unsafe { LocalFree(text as HLOCAL) };
    Some(sid)
}

fn open_token(process: HANDLE, access: u32) -> Option<OwnedHandle> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `process` is a live process handle; a new handle goes into `token`.
    if unsafe { OpenProcessToken(process, access, &mut token) } == 0 {
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

/// Whether rekt runs elevated (as Administrator): only then may it open every process
/// (but the protected ones). Asked once.
pub(crate) fn is_privileged() -> bool {
    static ELEVATED: OnceLock<bool> = OnceLock::new();
    *ELEVATED.get_or_init(|| {
        // SAFETY: returns the current process's pseudo handle, which needs no closing.
        let me = unsafe { GetCurrentProcess() };
        let Some(token) = open_token(me, TOKEN_QUERY) else {
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
    })
}

/// Whether SeDebugPrivilege is enabled in rekt's token. An elevated token holds it,
/// disabled; enabled, it lets rekt open other accounts' processes (services, SYSTEM's).
/// Tried once, before the first OpenProcess.
pub(crate) fn debug_privilege() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        // SAFETY: the current process's pseudo handle needs no closing.
        let me = unsafe { GetCurrentProcess() };
        let Some(token) = open_token(me, TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY) else {
            return false;
        };
        let mut luid = LUID::default();
        // SAFETY: a NUL-terminated privilege name and a LUID to fill.
        if unsafe { LookupPrivilegeValueW(std::ptr::null(), SE_DEBUG_NAME, &mut luid) } == 0 {
            return false;
        }
        let wanted = TOKEN_PRIVILEGES {
            PrivilegeCount: 1,
            Privileges: [LUID_AND_ATTRIBUTES {
                Luid: luid,
                Attributes: SE_PRIVILEGE_ENABLED,
            }],
        };
        // SAFETY: a token opened for adjusting, and one privilege of the size passed.
        let ok = unsafe {
            AdjustTokenPrivileges(
                raw(&token),
                0,
                &wanted,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        // It "succeeds" without the privilege, and says so in the last error.
        // SAFETY: plain call.
        let enabled = ok != 0 && unsafe { GetLastError() } != ERROR_NOT_ALL_ASSIGNED;
        crate::debug!(
            "SeDebugPrivilege: {}",
            if enabled { "enabled" } else { "not held" }
        );
        enabled
    })
}

/// Whether the system protects `pid` (a protected process or PPL: csrss.exe, smss.exe,
/// antimalware services, LSA when so configured), so that no privilege lets rekt end it.
/// From `NtQueryInformationProcess(ProcessProtectionInformation)` (Windows 8.1 and
/// later), which a limited handle may ask; false where that cannot be read.
pub(crate) fn is_protected(pid: u32) -> bool {
    let Ok(process) = open(pid, PROCESS_QUERY_LIMITED_INFORMATION) else {
        return false;
    };
    let mut level = 0u8;
    let mut len = 0u32;
    // SAFETY: one byte, the size of PS_PROTECTION.
    let status = unsafe {
        NtQueryInformationProcess(
            raw(&process),
            ProcessProtectionInformation,
            (&mut level as *mut u8).cast(),
            1,
            &mut len,
        )
    };
    status == 0 && protected_level(level)
}

/// Whether a PS_PROTECTION byte says protected: its type (low three bits) is 1 (PPL) or 2
/// (a full protected process); the signer is the high four bits.
fn protected_level(level: u8) -> bool {
    matches!(level & 0x7, 1 | 2)
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
    processes()?
        .into_iter()
        .find(|e| e.pid == pid)
        .map(|e| e.parent)
}

/// When `pid` started, in FILETIME ticks, if we may ask.
pub(super) fn start_time_of(pid: u32) -> Option<u64> {
    times(pid).map(|t| t.created)
}

/// When `pid` started and whether it has exited, if we may ask.
pub(super) fn times(pid: u32) -> Option<Times> {
    let process = open(pid, PROCESS_QUERY_LIMITED_INFORMATION).ok()?;
    times_of(&process)
}

/// When the process of `process` started and whether it has exited.
pub(super) fn times_of(process: &OwnedHandle) -> Option<Times> {
    let mut times = [FILETIME::default(); 4];
    let [created, exited, kernel, user] = &mut times;
    // SAFETY: four FILETIMEs to write into.
    if unsafe { GetProcessTimes(raw(process), created, exited, kernel, user) } == 0 {
        return None;
    }
    let mut code = 0u32;
    // SAFETY: a live handle with query rights, and a u32 to write into. (A process that
    // exited with code 259 looks alive here; nothing else says so without SYNCHRONIZE.)
    let running =
        unsafe { GetExitCodeProcess(raw(process), &mut code) } != 0 && code == STILL_ACTIVE;
    Some(Times {
        created: u64::from(created.dwHighDateTime) << 32 | u64::from(created.dwLowDateTime),
        exited: !running,
    })
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
        // The command line is this test binary's: the program, then the test harness's
        // arguments, as std sees them.
        let ours: Vec<Text> = std::env::args_os().map(Text::from).collect();
        assert_eq!(info.cmdline.len(), ours.len(), "{:?}", info.cmdline);
        assert_eq!(info.cmdline[1..], ours[1..]);
    }

    #[test]
    fn the_name_needs_no_handle() {
        // A process rekt may not open (another account's, without privileges) still has
        // the snapshot's name; its path, user and command line are unknown.
        let entry = Entry {
            pid: 4242,
            parent: 8,
            name: Text::from("node.exe"),
        };
        let info = describe(4242, Some(&entry), None);
        assert_eq!(info.name, Some(Text::from("node.exe")));
        assert_eq!((info.exe, info.user), (None, None));
        assert!(info.cmdline.is_empty());
        // A PID the snapshot does not list has no process, and no name.
        assert_eq!(describe(4242, None, None), ProcessInfo::default());
    }

    #[test]
    fn the_snapshot_lists_this_process_by_its_file_name() {
        let me = std::process::id();
        let list = processes().expect("a snapshot");
        let entry = list.iter().find(|e| e.pid == me).expect("this process");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(
            entry.name.as_str(),
            exe.file_name().and_then(|n| n.to_str())
        );
        assert_eq!(Some(entry.parent), recorded_parent(me));
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
        assert_eq!(times(0xFFFF_FFF1), None);
        assert!(!is_protected(0xFFFF_FFF1));
    }

    #[test]
    fn our_parent_started_before_us() {
        // tests/it/windows.rs checks end to end that rekt refuses to signal its parent.
        let me = std::process::id();
        let parent = recorded_parent(me).expect("a parent");
        assert_ne!(parent, me);
        assert!(start_time_of(parent) <= start_time_of(me));
        let t = times(me).expect("our own times");
        assert!(!t.exited);
    }

    #[test]
    fn protection_levels() {
        // PS_PROTECTION: type in bits 0-2, audit bit 3, signer in bits 4-7.
        assert!(!protected_level(0x00));
        assert!(
            protected_level(0x61),
            "PsProtectedSignerWinTcb, light (smss, csrss)"
        );
        assert!(protected_level(0x31), "antimalware, light");
        assert!(
            protected_level(0x72),
            "WinSystem, full (the System process)"
        );
        assert!(
            !protected_level(0x08),
            "the audit bit alone protects nothing"
        );
        assert!(!is_protected(std::process::id()));
    }

    #[test]
    fn the_debug_privilege_is_enabled_when_held() {
        if !debug_privilege() {
            // Not held (not elevated): nothing to check, and nothing was enabled.
            return;
        }
        // SAFETY: the current process's pseudo handle.
        let token = open_token(unsafe { GetCurrentProcess() }, TOKEN_QUERY).unwrap();
        let buf = token_information(&token, windows_sys::Win32::Security::TokenPrivileges)
            .expect("the token's privileges");
        let mut luid = LUID::default();
        // SAFETY: a NUL-terminated name and a LUID to fill.
        assert_ne!(
            unsafe { LookupPrivilegeValueW(std::ptr::null(), SE_DEBUG_NAME, &mut luid) },
            0
        );
        // SAFETY: TokenPrivileges data is a TOKEN_PRIVILEGES with PrivilegeCount entries.
        let all = unsafe {
            let tp = buf.as_ptr().cast::<TOKEN_PRIVILEGES>();
            std::slice::from_raw_parts((*tp).Privileges.as_ptr(), (*tp).PrivilegeCount as usize)
        };
        let debug = all
            .iter()
            .find(|p| p.Luid.LowPart == luid.LowPart && p.Luid.HighPart == luid.HighPart)
            .expect("SeDebugPrivilege in the token");
        assert_ne!(debug.Attributes & SE_PRIVILEGE_ENABLED, 0);
    }

    #[test]
    fn a_sid_without_an_account_is_shown_as_a_string() {
        // S-1-5-21-1-2-3-4242: a domain SID that no account has.
        let mut sid = [0u8; 8 + 5 * 4];
        sid[0] = 1; // revision
        sid[1] = 5; // sub-authorities
        sid[7] = 5; // authority: NT
        for (i, v) in [21u32, 1, 2, 3, 4242].iter().enumerate() {
            sid[8 + i * 4..12 + i * 4].copy_from_slice(&v.to_le_bytes());
        }
        let psid = sid.as_mut_ptr().cast();
        assert_eq!(account_name(psid), None);
        assert_eq!(string_sid(psid), Some(Text::from("S-1-5-21-1-2-3-4242")));
    }
}
