//! The libproc calls (`<libproc.h>`, in libSystem) and `sysctl(KERN_PROCARGS2)`, through
//! libc's darwin bindings. Each fills a byte buffer and hands it to a decoder in
//! `decode.rs`; nothing here interprets a struct field itself.
//!
//! libproc's `proc_pidinfo` and `proc_pidfdinfo` return the number of bytes written, and 0
//! on failure with `errno` set (the wrappers in `libproc.c` turn the kernel's -1 into 0).
//! An empty fd list is also 0 bytes, so `errno` is cleared before each call to tell the two
//! apart. `proc_listallpids` fails the same way, with 0, never a negative number.

use std::io;
use std::mem::size_of;

use libc::{c_int, c_void};

use super::decode::{self, BsdInfo, InetSocket, ProcBsdInfo, ProcBsdShortInfo, ShortInfo};
use super::decode::{ProcFdInfo, SocketFdInfo};

/// `PROC_PIDT_SHORTBSDINFO`, `PROC_PIDPATHINFO_MAXSIZE` and `PROC_PIDFDSOCKETINFO` from
/// `<sys/proc_info.h>` (libc has the first two).
const PROC_PIDT_SHORTBSDINFO: c_int = libc::PROC_PIDT_SHORTBSDINFO;
const PROC_PIDPATHINFO_MAXSIZE: usize = libc::PROC_PIDPATHINFO_MAXSIZE as usize;
const PROC_PIDFDSOCKETINFO: c_int = 3;

/// Every PID on the system, sorted. `proc_listallpids` with no buffer says how many there
/// are (with some room to spare); the list is read again with a bigger buffer while it
/// fills the one it was given, since processes start meanwhile. A refused list is an error
/// (`decode::listed_pids`), never an empty machine.
pub(crate) fn list_pids() -> io::Result<Vec<u32>> {
    let listed =
        |n: c_int| decode::listed_pids(n, errno()).map_err(|e| with_call("proc_listallpids", e));
    clear_errno();
    // SAFETY: a null buffer of size 0 only asks for the count.
    let hint = listed(unsafe { libc::proc_listallpids(std::ptr::null_mut(), 0) })?;
    let mut room = hint + 64;
    loop {
        let mut pids: Vec<c_int> = vec![0; room];
        let bytes = c_int::try_from(room * size_of::<c_int>()).unwrap_or(c_int::MAX);
        clear_errno();
        // SAFETY: `pids` has room for `bytes` bytes.
        let n = listed(unsafe { libc::proc_listallpids(pids.as_mut_ptr().cast(), bytes) })?;
        let n = n.min(room);
        if n < room || room >= 1 << 22 {
            pids.truncate(n);
            let mut pids: Vec<u32> = pids
                .into_iter()
                .filter_map(|p| u32::try_from(p).ok())
                .collect();
            pids.sort_unstable();
            pids.dedup();
            return Ok(pids);
        }
        room *= 2;
    }
}

/// `proc_pidinfo(pid, flavor, 0, buf)`: the bytes written. 0 bytes with no error is an
/// empty answer.
fn pid_info(pid: u32, flavor: c_int, buf: &mut [u8]) -> io::Result<usize> {
    let pid = c_int::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    let size = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
    clear_errno();
    // SAFETY: `buf` has room for `size` bytes.
    let n = unsafe { libc::proc_pidinfo(pid, flavor, 0, buf.as_mut_ptr().cast::<c_void>(), size) };
    if n <= 0 {
        let err = io::Error::last_os_error();
        if n < 0 || err.raw_os_error().is_some_and(|e| e != 0) {
            return Err(err);
        }
        return Ok(0);
    }
    Ok(usize::try_from(n).unwrap_or(0).min(buf.len()))
}

/// `proc_bsdinfo` of `pid`: only for one's own processes (all of them as root); others
/// give EPERM, and a process that has exited (or is a zombie) ESRCH.
pub(crate) fn bsd_info(pid: u32) -> io::Result<BsdInfo> {
    let mut buf = [0u8; size_of::<ProcBsdInfo>()];
    let n = pid_info(pid, libc::PROC_PIDTBSDINFO, &mut buf)?;
    decode::bsd_info(&buf[..n]).ok_or_else(|| short_answer("PROC_PIDTBSDINFO"))
}

/// `proc_bsdshortinfo` of `pid`, which any user may read about any process.
pub(crate) fn short_info(pid: u32) -> io::Result<ShortInfo> {
    let mut buf = [0u8; size_of::<ProcBsdShortInfo>()];
    let n = pid_info(pid, PROC_PIDT_SHORTBSDINFO, &mut buf)?;
    decode::short_info(&buf[..n]).ok_or_else(|| short_answer("PROC_PIDT_SHORTBSDINFO"))
}

/// The fd list of `pid` (`PROC_PIDLISTFDS`) into `buf`, returning the bytes written. Sized
/// from `nfiles` (the fd table's size, from `proc_bsdinfo`) with some room for fds opened
/// meanwhile; read again with twice the room while the answer fills the buffer. There is
/// no fixed cap (killport's 1024-fd cap missed sockets).
pub(crate) fn fd_list(pid: u32, nfiles: u32, buf: &mut Vec<u8>) -> io::Result<&[u8]> {
    let entry = size_of::<ProcFdInfo>();
    let mut slots = usize::try_from(nfiles).unwrap_or(0) + 32;
    loop {
        buf.clear();
        buf.resize(slots * entry, 0);
        let n = pid_info(pid, libc::PROC_PIDLISTFDS, buf)?;
        // A full buffer may mean more fds than room; the kernel never lists more than
        // 2^31 bytes' worth in one answer anyway.
        if n + entry <= buf.len() || slots >= 1 << 26 {
            return Ok(&buf[..n]);
        }
        slots *= 2;
    }
}

/// The socket at `fd` of `pid` (`PROC_PIDFDSOCKETINFO`), if it is a TCP or UDP socket of
/// IPv4 or IPv6. EBADF: the fd was closed since the list was read.
pub(crate) fn socket(
    pid: u32,
    fd: u32,
    buf: &mut [u8; size_of::<SocketFdInfo>()],
) -> io::Result<Option<InetSocket>> {
    let pid = c_int::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    let fd = c_int::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    clear_errno();
    // SAFETY: `buf` has room for the size passed.
    let n = unsafe {
        libc::proc_pidfdinfo(
            pid,
            fd,
            PROC_PIDFDSOCKETINFO,
            buf.as_mut_ptr().cast::<c_void>(),
            size_of::<SocketFdInfo>() as c_int,
        )
    };
    if n <= 0 {
        return Err(io::Error::last_os_error());
    }
    let n = usize::try_from(n).unwrap_or(0).min(buf.len());
    Ok(decode::socket(&buf[..n]))
}

/// The executable's path (`proc_pidpath`), which any user may read about any process.
pub(crate) fn path(pid: u32) -> Option<Vec<u8>> {
    let pid = c_int::try_from(pid).ok()?;
    let mut buf = vec![0u8; PROC_PIDPATHINFO_MAXSIZE];
    // SAFETY: `buf` has room for the size passed.
    let n = unsafe { libc::proc_pidpath(pid, buf.as_mut_ptr().cast(), buf.len() as u32) };
    let n = usize::try_from(n).ok().filter(|&n| n > 0)?.min(buf.len());
    buf.truncate(n);
    // proc_pidpath returns the length without the NUL; be safe if one is included.
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    buf.truncate(end);
    (!buf.is_empty()).then_some(buf)
}

/// The arguments of `pid` (`sysctl kern.procargs2`): one's own processes only (all as
/// root). `None` when they cannot be read. `word` is the size of a pointer in the process
/// (`BsdInfo::word`), which the strings are aligned to.
pub(crate) fn args(pid: u32, word: usize) -> Option<Vec<Vec<u8>>> {
    let pid = c_int::try_from(pid).ok()?;
    let mut size = arg_max()?;
    let mut buf = vec![0u8; size];
    let mut mib = [libc::CTL_KERN, libc::KERN_PROCARGS2, pid];
    // SAFETY: `mib` has 3 entries; `buf` has room for `size` bytes, which sysctl updates
    // to the bytes written.
    let rc = unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            mib.len() as u32,
            buf.as_mut_ptr().cast(),
            &mut size,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    buf.truncate(size.min(buf.len()));
    Some(decode::proc_args(&buf, word))
}

/// `kern.argmax`: the most that `KERN_PROCARGS2` can return.
fn arg_max() -> Option<usize> {
    let mut max: c_int = 0;
    let mut size = size_of::<c_int>();
    let mut mib = [libc::CTL_KERN, libc::KERN_ARGMAX];
    // SAFETY: `max` is a c_int and `size` says so.
    let rc = unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            mib.len() as u32,
            (&mut max as *mut c_int).cast(),
            &mut size,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    usize::try_from(max).ok().filter(|&m| m > 0)
}

fn clear_errno() {
    // SAFETY: __error returns this thread's errno.
    unsafe { *libc::__error() = 0 };
}

fn errno() -> i32 {
    // SAFETY: __error returns this thread's errno.
    unsafe { *libc::__error() }
}

fn short_answer(flavor: &str) -> io::Error {
    io::Error::other(format!("proc_pidinfo({flavor}): short answer"))
}

/// An error that names the call, keeping its kind.
pub(crate) fn with_call(call: &str, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{call} failed: {err}"))
}

/// Whether an error means "not yours to read" (another user's process, without root).
pub(crate) fn is_denied(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EPERM | libc::EACCES))
}

/// Whether an error means the process is gone.
pub(crate) fn is_gone(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ESRCH)
}
