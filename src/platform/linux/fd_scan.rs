//! Which processes hold these socket inodes? The answer is in every `/proc/PID/fd`, and
//! reading it is nearly all of rekt's run time, so this module does the least the kernel
//! allows: one `openat` per process relative to a `/proc` directory fd, `getdents64` into a
//! reused buffer, and one `readlinkat` per fd relative to the fd directory, with no path
//! strings and no allocation per fd. Every process is scanned, because several can hold the
//! same socket (forked workers, inherited fds) or share a port (SO_REUSEPORT).

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{CWD, Mode, OFlags, RawDir, openat, readlinkat_raw};
use rustix::io::Errno;

pub(crate) use crate::platform::unix::parallel::for_each_pid;

/// One fd that refers to a wanted socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Hit {
    pub(crate) pid: u32,
    pub(crate) fd: u32,
    pub(crate) inode: u64,
}

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Sorted by pid, then fd.
    pub(crate) hits: Vec<Hit>,
    /// Processes whose fd directory we may not read (another user's, without privileges),
    /// sorted.
    pub(crate) denied: Vec<u32>,
    /// How many processes were looked at, and how many fd entries were read: for `--debug`.
    pub(crate) processes: usize,
    pub(crate) fds: usize,
}

/// The getdents64 buffer. 32 KiB holds about 1,300 fd entries per call.
const DIRENT_BUF: usize = 32 * 1024;

/// `socket:[` followed by up to 20 digits and `]`; longer links are not sockets.
const LINK_BUF: usize = 40;
pub(crate) const SOCKET_PREFIX: &[u8] = b"socket:[";

/// Opens `/proc` as a directory fd that every later lookup is relative to.
pub(crate) fn open_proc() -> io::Result<OwnedFd> {
    open_dir(CWD, c"/proc")
}

/// Finds every fd of every process that refers to one of `inodes` (sorted, deduplicated).
pub(crate) fn scan(proc_dir: &OwnedFd, inodes: &[u64]) -> io::Result<Scan> {
    debug_assert!(inodes.is_sorted());
    let pids = list_pids(proc_dir)?;
    let parts = for_each_pid(
        &pids,
        || Worker::new(proc_dir.as_fd(), inodes),
        Worker::scan_process,
    );
    let mut result = Scan {
        processes: pids.len(),
        ..Scan::default()
    };
    for part in parts {
        result.hits.extend(part.result.hits);
        result.denied.extend(part.result.denied);
        result.fds += part.result.fds;
    }
    result.hits.sort_unstable();
    result.denied.sort_unstable();
    Ok(result)
}

/// Finds the fds of `pids` only that refer to `inodes` (sorted, deduplicated), looking at
/// the processes in the order given and stopping once every inode has a holder: the live
/// view's first look for a new socket, among the processes that gained one last.
pub(crate) fn scan_among(proc_dir: &OwnedFd, inodes: &[u64], pids: &[u32]) -> Scan {
    debug_assert!(inodes.is_sorted());
    let mut worker = Worker::new(proc_dir.as_fd(), inodes);
    let mut found = std::collections::BTreeSet::new();
    for &pid in pids {
        let before = worker.result.hits.len();
        worker.scan_process(pid);
        found.extend(worker.result.hits[before..].iter().map(|h| h.inode));
        if found.len() == inodes.len() {
            break;
        }
    }
    let mut result = worker.result;
    result.hits.sort_unstable();
    result.denied.sort_unstable();
    result
}

/// Finds the fds that refer to `inodes` in the fd tables of threads that have one of their
/// own: a thread that called `unshare(CLONE_FILES)` (or was cloned without CLONE_FILES)
/// keeps its fds in `/proc/PID/task/TID/fd`, which the scan of `/proc/PID/fd` (the main
/// thread's table) never sees; and a process whose main thread has exited keeps its fds
/// only there. Hits are recorded under the process's PID, which is what is signalled.
///
/// Such tables exist only where they are searched for: it runs only when a socket is left
/// without an owner by the main scan (which never opens a `task/` directory), and only in
/// processes with more than one thread. Those are told without opening anything: the link
/// count of a `/proc/PID/task` directory is 2 plus the number of threads (the kernel's
/// `proc_task_getattr`), so one `stat` per process finds them. In those alone the `task/`
/// directory is listed and each thread asked (`kcmp`) whether its table is the process's.
pub(crate) fn scan_threads(proc_dir: &OwnedFd, inodes: &[u64]) -> io::Result<Scan> {
    debug_assert!(inodes.is_sorted());
    let pids = list_pids(proc_dir)?;
    let parts = for_each_pid(
        &pids,
        || Worker::new(proc_dir.as_fd(), inodes),
        |worker, pid| {
            if !has_threads(worker.proc_dir, pid) {
                return;
            }
            let dirs = other_threads_fd_dirs(worker.proc_dir, pid, &mut worker.buf);
            for (tid, dir) in dirs {
                if !shares_fd_table(pid, tid) {
                    worker.scan_fd_dir(pid, &dir);
                }
            }
        },
    );
    let mut result = Scan {
        processes: pids.len(),
        ..Scan::default()
    };
    for part in parts {
        result.hits.extend(part.result.hits);
        result.fds += part.result.fds;
    }
    result.hits.sort_unstable();
    result.hits.dedup();
    Ok(result)
}

/// Whether process `pid` may have a thread besides its main one: the link count of its
/// `task` directory is 2 plus its threads. When the count cannot be read (the process
/// exited, or a kernel that counts otherwise), the answer is yes, so that its threads are
/// looked at.
fn has_threads(proc_dir: BorrowedFd<'_>, pid: u32) -> bool {
    let Ok(path) = CString::new(format!("{pid}/task")) else {
        return false;
    };
    match rustix::fs::statat(proc_dir, &path, rustix::fs::AtFlags::empty()) {
        Ok(stat) => stat.st_nlink != 3,
        Err(_) => true,
    }
}

/// Whether thread `tid` uses the fd table of its process `pid`: `kcmp(KCMP_FILES)`, which
/// needs the right to ptrace both (our own processes, or root). When it cannot say (no
/// kcmp in this kernel, or not allowed), the answer is no, so the thread's table is read.
fn shares_fd_table(pid: u32, tid: u32) -> bool {
    const KCMP_FILES: libc::c_long = 2;
    // SAFETY: kcmp only compares kernel objects of the two tasks; it reads no memory of
    // ours.
    let same = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            libc::c_long::from(pid as i32),
            libc::c_long::from(tid as i32),
            KCMP_FILES,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    };
    same == 0
}

/// Whether process `pid` holds one of `inodes` through its fd `fd` now: in the main
/// thread's fd table, or in the table of a thread that has one of its own (see
/// [`scan_threads`]), or (when the main thread has exited) in the one its other threads
/// share. Used just before a signal to prove the PID still holds what we found.
pub(crate) fn holds(pid: u32, fd: u32, inodes: &[u64]) -> io::Result<bool> {
    let proc_dir = open_proc()?;
    let link = |dir: &str| {
        let path = CString::new(format!("{dir}/{fd}")).map_err(io::Error::other)?;
        link_id(&proc_dir, &path, SOCKET_PREFIX)
    };
    let main = link(&format!("{pid}/fd"));
    if let Ok(Some(inode)) = main
        && inodes.contains(&inode)
    {
        return Ok(true);
    }
    let mut buf = DirBuf::new();
    for (_, dir) in other_threads_fd_dirs(proc_dir.as_fd(), pid, &mut buf) {
        if let Ok(Some(inode)) = link(&dir.to_string_lossy())
            && inodes.contains(&inode)
        {
            return Ok(true);
        }
    }
    main.map(|_| false)
}

/// Whether any fd of `pid` (in its main thread's table) is one of the sockets `inodes`:
/// a whole walk of its fd directory, for a process that no longer holds a socket by the
/// fd it was found with.
pub(crate) fn holds_any(pid: u32, inodes: &[u64]) -> io::Result<bool> {
    let proc_dir = open_proc()?;
    let mut path = [0u8; 16];
    let dir = open_dir(&proc_dir, pid_fd_path(pid, &mut path))?;
    let mut buf = DirBuf::new();
    let mut found = false;
    for_each_name(dir.as_fd(), &mut buf, |name| {
        if !found && let Ok(Some(inode)) = link_id(&dir, name, SOCKET_PREFIX) {
            found = inodes.contains(&inode);
        }
    })?;
    Ok(found)
}

/// Reads the link at `path` (relative to `at`) and returns the number in `PREFIX…]`:
/// `socket:[12345]`, `net:[4026531840]`. `None` for a link of any other form.
pub(crate) fn link_id(at: impl AsFd, path: &CStr, prefix: &[u8]) -> io::Result<Option<u64>> {
    let mut buf = [0u8; LINK_BUF];
    let n = readlinkat_raw(at, path, &mut buf)?;
    Ok(bracketed(&buf[..n.min(LINK_BUF)], prefix))
}

/// The number in `PREFIX12345]`, or `None` for any other text.
pub(crate) fn bracketed(link: &[u8], prefix: &[u8]) -> Option<u64> {
    decimal(link.strip_prefix(prefix)?.strip_suffix(b"]")?)
}

/// Decimal digits that fit a u64; `None` for anything else (empty, a sign, overflow).
pub(crate) fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Every numeric entry of `/proc`: the thread-group leaders, which own the fd tables.
pub(crate) fn list_pids(proc_dir: &OwnedFd) -> io::Result<Vec<u32>> {
    // getdents64 continues from the fd's offset, so read a private duplicate from 0.
    let dir = open_dir(proc_dir, c".")?;
    let mut buf = DirBuf::new();
    let mut pids = Vec::with_capacity(512);
    for_each_name(dir.as_fd(), &mut buf, |name| {
        if let Some(pid) = decimal(name.to_bytes()).and_then(|p| u32::try_from(p).ok()) {
            pids.push(pid);
        }
    })?;
    Ok(pids)
}

/// `(TID, PID/task/TID/fd)` for every thread of `pid` but the main one, relative to
/// /proc. When the main thread has exited (a zombie leader), its `PID/fd` is empty while
/// the other threads live on with the fd table, which they share: the first of these that
/// can be read speaks for all.
fn other_threads_fd_dirs(
    proc_dir: BorrowedFd<'_>,
    pid: u32,
    buf: &mut DirBuf,
) -> Vec<(u32, CString)> {
    let Ok(path) = CString::new(format!("{pid}/task")) else {
        return Vec::new();
    };
    let Ok(tasks) = open_dir(proc_dir, &path) else {
        return Vec::new();
    };
    let mut dirs = Vec::new();
    let _ = for_each_name(tasks.as_fd(), buf, |name| {
        if let Some(tid) = decimal(name.to_bytes()).and_then(|t| u32::try_from(t).ok())
            && tid != pid
            && let Ok(dir) = CString::new(format!("{pid}/task/{tid}/fd"))
        {
            dirs.push((tid, dir));
        }
    });
    dirs
}

/// One scanning thread's buffers and findings.
struct Worker<'a> {
    proc_dir: BorrowedFd<'a>,
    inodes: &'a [u64],
    buf: DirBuf,
    result: Scan,
}

impl<'a> Worker<'a> {
    fn new(proc_dir: BorrowedFd<'a>, inodes: &'a [u64]) -> Self {
        Worker {
            proc_dir,
            inodes,
            buf: DirBuf::new(),
            result: Scan::default(),
        }
    }

    /// Scans the main thread's fd table. A process with none (a kernel thread, or one
    /// whose main thread has exited) is left to [`scan_threads`], which runs only when a
    /// socket is left without an owner: most processes with no fds are kernel threads.
    fn scan_process(&mut self, pid: u32) {
        let mut path = [0u8; 16];
        self.scan_fd_dir(pid, pid_fd_path(pid, &mut path));
    }

    /// Scans one fd directory (relative to /proc) for wanted sockets, recording hits under
    /// `pid`. Returns how many entries it had, or `None` if it could not be read.
    fn scan_fd_dir(&mut self, pid: u32, path: &CStr) -> Option<usize> {
        let dir = match open_dir(self.proc_dir, path) {
            Ok(dir) => dir,
            Err(e) => {
                // ENOENT: the process exited mid-scan, which is normal.
                if e.kind() == io::ErrorKind::PermissionDenied {
                    self.result.denied.push(pid);
                }
                return None;
            }
        };
        let dirfd = dir.as_fd();
        let (inodes, hits) = (self.inodes, &mut self.result.hits);
        let mut entries = 0;
        let mut denied = false;
        let listed = for_each_name(dirfd, &mut self.buf, |name| {
            entries += 1;
            if denied {
                return;
            }
            let mut link = [0u8; LINK_BUF];
            let len = match readlinkat_raw(dirfd, name, &mut link) {
                Ok(len) => len.min(LINK_BUF),
                // The directory opened but its links are not ours to read (a process in
                // another user namespace, for example): skip the rest of it.
                Err(Errno::ACCESS | Errno::PERM) => {
                    denied = true;
                    return;
                }
                Err(_) => return,
            };
            if let Some(inode) = bracketed(&link[..len], SOCKET_PREFIX)
                && inodes.binary_search(&inode).is_ok()
                && let Some(fd) = decimal(name.to_bytes())
            {
                hits.push(Hit {
                    pid,
                    fd: fd as u32,
                    inode,
                });
            }
        });
        self.result.fds += entries;
        if denied {
            self.result.denied.push(pid);
            return None;
        }
        listed.ok().map(|()| entries)
    }
}

/// Writes `PID/fd\0` into `buf` and returns it as a C string, without allocating.
fn pid_fd_path(pid: u32, buf: &mut [u8; 16]) -> &CStr {
    let mut digits = [0u8; 10];
    let mut n = pid;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let d = &digits[i..];
    buf[..d.len()].copy_from_slice(d);
    buf[d.len()..d.len() + 4].copy_from_slice(b"/fd\0");
    // The buffer holds digits, "/fd" and exactly one NUL at the end of what we wrote.
    CStr::from_bytes_until_nul(&buf[..]).expect("NUL written above")
}

pub(crate) fn open_dir(at: impl AsFd, path: &CStr) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(openat(at, path, flags, Mode::empty())?)
}

/// A reusable buffer for `getdents64`, one per thread.
pub(crate) struct DirBuf(Vec<MaybeUninit<u8>>);

impl DirBuf {
    pub(crate) fn new() -> DirBuf {
        DirBuf(vec![MaybeUninit::uninit(); DIRENT_BUF])
    }
}

/// Calls `f` with every entry name of the directory `dir` but `.` and `..`, reading from
/// the fd's current offset.
pub(crate) fn for_each_name(
    dir: BorrowedFd<'_>,
    buf: &mut DirBuf,
    mut f: impl FnMut(&CStr),
) -> io::Result<()> {
    let mut entries = RawDir::new(dir, &mut buf.0);
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            f(name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn parses_socket_links_only() {
        let socket = |link: &[u8]| bracketed(link, SOCKET_PREFIX);
        assert_eq!(socket(b"socket:[12345]"), Some(12345));
        assert_eq!(socket(b"socket:[]"), None);
        assert_eq!(socket(b"socket:[12a]"), None);
        assert_eq!(socket(b"socket:[12345"), None);
        assert_eq!(socket(b"pipe:[12345]"), None);
        assert_eq!(socket(b"/dev/null"), None);
        assert_eq!(socket(b"socket:[99999999999999999999999]"), None);
        assert_eq!(bracketed(b"net:[4026531840]", b"net:["), Some(4026531840));
        assert_eq!(decimal(b"+1"), None);
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal(b"18446744073709551616"), None);
    }

    #[test]
    fn pid_paths_have_no_allocation_and_are_right() {
        let mut buf = [0u8; 16];
        assert_eq!(pid_fd_path(1, &mut buf), c"1/fd");
        assert_eq!(pid_fd_path(4194304, &mut buf), c"4194304/fd");
        assert_eq!(pid_fd_path(u32::MAX, &mut buf), c"4294967295/fd");
    }

    #[test]
    fn finds_a_socket_this_process_holds() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", listener.as_raw_fd()))
            .unwrap()
            .ino();
        let proc_dir = open_proc().unwrap();
        let scan = scan(&proc_dir, &[inode]).unwrap();
        assert_eq!(
            scan.hits,
            vec![Hit {
                pid: std::process::id(),
                fd: listener.as_raw_fd() as u32,
                inode
            }]
        );
        let fd = listener.as_raw_fd() as u32;
        assert!(holds(std::process::id(), fd, &[inode]).unwrap());
        assert!(!holds(std::process::id(), fd, &[inode + 1]).unwrap());
    }
}
