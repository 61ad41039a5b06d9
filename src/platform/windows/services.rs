//! System services: which run in which process, from the service control manager
//! (`EnumServicesStatusExW`, which any user may call).
//!
//! A service is supervised: the SCM starts it, and its recovery actions may start it again,
//! so the command that stops it for good is `sc.exe stop NAME` (`Stop-Service NAME`). Many
//! services share one process (svchost.exe and a service group): ending that process ends
//! every one of them, so rekt never signals a process that hosts more than one. For those,
//! the module that bound the port's socket (`GetOwnerModuleFrom*Entry`) names the service
//! to stop instead.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use windows_sys::Win32::Foundation::ERROR_MORE_DATA;
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Services::{
    CloseServiceHandle, ENUM_SERVICE_STATUS_PROCESSW, EnumServicesStatusExW, OpenSCManagerW,
    SC_ENUM_PROCESS_INFO, SC_MANAGER_ENUMERATE_SERVICE, SERVICE_ACTIVE, SERVICE_WIN32,
};

use crate::model::Text;

/// The running services by the PID of the process they run in, each list sorted; read
/// once per run (the services that matter are those running when rekt looked). Empty when
/// the SCM cannot be asked.
pub(crate) fn by_pid() -> &'static BTreeMap<u32, Vec<Text>> {
    static SERVICES: OnceLock<BTreeMap<u32, Vec<Text>>> = OnceLock::new();
    SERVICES.get_or_init(|| {
        let mut map: BTreeMap<u32, Vec<Text>> = BTreeMap::new();
        for (pid, name) in enumerate().unwrap_or_default() {
            map.entry(pid).or_default().push(name);
        }
        for names in map.values_mut() {
            names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        }
        map
    })
}

/// The services that run in `pid`.
pub(crate) fn of(pid: u32) -> &'static [Text] {
    by_pid().get(&pid).map_or(&[], Vec::as_slice)
}

/// The service whose module bound a socket of `pid` that the lookup found, for a process
/// that hosts several (filled by `owners`, read by `protection` and `service`).
static PORT_SERVICE: Mutex<BTreeMap<u32, Text>> = Mutex::new(BTreeMap::new());

pub(crate) fn set_port_service(pid: u32, name: Text) {
    if let Ok(mut map) = PORT_SERVICE.lock() {
        map.insert(pid, name);
    }
}

pub(crate) fn port_service(pid: u32) -> Option<Text> {
    PORT_SERVICE.lock().ok()?.get(&pid).cloned()
}

/// The service `pid` runs: the one it hosts alone, or, in a process that hosts several,
/// the one whose module bound the port's socket.
pub(crate) fn service(pid: u32) -> Option<Text> {
    match of(pid) {
        [] => None,
        [one] => Some(one.clone()),
        _ => port_service(pid),
    }
}

/// Every running Win32 service as (PID, name).
fn enumerate() -> Option<Vec<(u32, Text)>> {
    // SAFETY: plain call; returns a new handle or null.
    let scm = unsafe {
        OpenSCManagerW(
            std::ptr::null(),
            std::ptr::null(),
            SC_MANAGER_ENUMERATE_SERVICE,
        )
    };
    if scm.is_null() {
        crate::debug!("OpenSCManagerW: {}", std::io::Error::last_os_error());
        return None;
    }
    let mut found = Vec::new();
    let mut resume = 0u32;
    // The answer comes in pieces while it does not fit; a buffer that grows to what the
    // SCM says it needs takes one or two calls.
    let mut buf: Vec<u64> = vec![0; 8 * 1024];
    for _ in 0..64 {
        let (mut needed, mut count) = (0u32, 0u32);
        let size = u32::try_from(buf.len() * 8).unwrap_or(u32::MAX);
        // SAFETY: `buf` has `size` writable bytes, 8-aligned for the structs written there.
        let ok = unsafe {
            EnumServicesStatusExW(
                scm,
                SC_ENUM_PROCESS_INFO,
                SERVICE_WIN32,
                SERVICE_ACTIVE,
                buf.as_mut_ptr().cast(),
                size,
                &mut needed,
                &mut count,
                &mut resume,
                std::ptr::null(),
            )
        };
        let more = ok == 0
            && std::io::Error::last_os_error().raw_os_error() == Some(ERROR_MORE_DATA as i32);
        if ok == 0 && !more {
            crate::debug!("EnumServicesStatusExW: {}", std::io::Error::last_os_error());
            break;
        }
        let entries = buf.as_ptr().cast::<ENUM_SERVICE_STATUS_PROCESSW>();
        for i in 0..count as usize {
            // SAFETY: the SCM wrote `count` entries at the start of the buffer; their
            // names are NUL-terminated strings in the same buffer.
            let (pid, name) = unsafe {
                let e = &*entries.add(i);
                (e.ServiceStatusProcess.dwProcessId, wide_z(e.lpServiceName))
            };
            if pid != 0
                && let Some(name) = name
            {
                found.push((pid, name));
            }
        }
        if !more {
            break;
        }
        if needed as usize > buf.len() * 8 {
            buf = vec![0; (needed as usize).div_ceil(8)];
        }
    }
    // SAFETY: the handle is ours, closed once.
    unsafe { CloseServiceHandle(scm) };
    Some(found)
}

/// A NUL-terminated UTF-16 string, if the pointer is not null and the string not empty.
///
/// # Safety
/// `p` must be null or point to a NUL-terminated UTF-16 string.
unsafe fn wide_z(p: *const u16) -> Option<Text> {
    if p.is_null() {
        return None;
    }
    let mut len = 0;
    // SAFETY: as the caller promised, the string ends with a NUL.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` u16s were just read.
    (len > 0).then(|| Text::from_wide(unsafe { std::slice::from_raw_parts(p, len) }))
}

/// Whether rekt runs under wine (ntdll exports `wine_get_version`). Wine 8.0 implements
/// neither `GetOwnerModuleFrom*Entry` nor `GetProcessInformation`, and its stubs for them
/// abort the process; rekt does not call them there.
pub(crate) fn is_wine() -> bool {
    static WINE: OnceLock<bool> = OnceLock::new();
    *WINE.get_or_init(|| {
        let ntdll: Vec<u16> = "ntdll.dll\0".encode_utf16().collect();
        // SAFETY: a NUL-terminated name; ntdll is loaded in every process, and the handle
        // needs no release.
        let module = unsafe { GetModuleHandleW(ntdll.as_ptr()) };
        // SAFETY: a live module handle and a NUL-terminated name.
        !module.is_null()
            && unsafe { GetProcAddress(module, c"wine_get_version".as_ptr().cast()) }.is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_manager_answers() {
        // Every running service has a name and a live process; nothing else is asserted,
        // since which services run is the machine's business.
        for (&pid, names) in by_pid() {
            assert_ne!(pid, 0);
            assert!(!names.is_empty());
            assert!(names.iter().all(|n| !n.as_bytes().is_empty()));
        }
        // This test process is no service.
        assert_eq!(of(std::process::id()), &[] as &[Text]);
        assert_eq!(service(std::process::id()), None);
    }

    #[test]
    fn a_shared_host_names_only_the_port_service() {
        // A PID no process has: no services, so nothing recorded for it is a service.
        set_port_service(0xFFFF_FFF1, Text::from("W3SVC"));
        assert_eq!(port_service(0xFFFF_FFF1), Some(Text::from("W3SVC")));
        assert_eq!(service(0xFFFF_FFF1), None);
    }
}
