//! Which processes hold these socket inodes? The answer is in every `/proc/PID/fd`, and
//! reading it is nearly all of rekt's run time, so this module does the least the kernel
//! allows: one `openat` per process relative to a `/proc` directory fd, `getdents64` into a
//! reused buffer, and one `readlinkat` per fd relative to the fd directory, with no path
//! strings and no allocation per fd. Every process is scanned, because several can hold the
//! same socket (forked workers, inherited fds) or share a port (SO_REUSEPORT).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One fd that refers to a wanted socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hit {
    pub pid: u32,
    pub fd: u32,
    pub inode: u64,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Sorted by pid, then fd.
    pub hits: Vec<Hit>,
    /// Processes whose fd directory we may not read (another user's, without privileges).
    pub denied: usize,
}

/// Below this many processes one thread is as fast as two: starting a thread costs about
/// as much as scanning a few dozen small processes. Measured on 2 cores with
/// `REKT_THREADS` (bench/README.md): 12 processes 2.1 ms either way, 32 processes 2.5 ms
/// with one thread and 2.3 ms with two, 77 processes 3.0 ms and 2.6 ms.
const PARALLEL_THRESHOLD: usize = 32;

/// Processes handed to a thread at a time: small enough to balance one huge process
/// against many small ones, large enough that the shared counter is not contended.
const CHUNK: usize = 8;

/// The getdents64 buffer. 32 KiB holds about 1,300 fd entries per call.
const DIRENT_BUF_WORDS: usize = 4096;

/// `socket:[` followed by up to 20 digits and `]`; longer links are not sockets.
const LINK_BUF: usize = 40;
const SOCKET_PREFIX: &[u8] = b"socket:[";

/// Opens `/proc` as a directory fd that every later lookup is relative to.
pub fn open_proc() -> io::Result<OwnedFd> {
    open_dir(libc::AT_FDCWD, c"/proc")
}

/// Finds every fd of every process that refers to one of `inodes` (sorted, deduplicated).
pub fn scan(proc_dir: &OwnedFd, inodes: &[u64]) -> io::Result<Scan> {
    debug_assert!(inodes.is_sorted());
    let pids = list_pids(proc_dir)?;
    let parts = for_each_pid(
        &pids,
        || Worker::new(proc_dir.as_raw_fd(), inodes),
        Worker::scan_process,
    );
    let mut result = Scan::default();
    for part in parts {
        result.hits.extend(part.result.hits);
        result.denied += part.result.denied;
    }
    result.hits.sort_unstable();
    Ok(result)
}

/// Visits every PID, on as many threads as pay off for that many processes (see
/// `thread_count`), each thread with its own state from `init`; returns the states. Work is
/// handed out in small chunks, so one huge process does not leave a thread idle.
pub fn for_each_pid<S: Send>(
    pids: &[u32],
    init: impl Fn() -> S + Sync,
    visit: impl Fn(&mut S, u32) + Sync,
) -> Vec<S> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut state = init();
        loop {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= pids.len() {
                break;
            }
            for &pid in &pids[start..pids.len().min(start + CHUNK)] {
                visit(&mut state, pid);
            }
        }
        state
    };
    let threads = thread_count(pids.len());
    if threads <= 1 {
        return vec![work()];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut states = vec![work()];
        for handle in handles {
            states.push(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        states
    })
}

/// How many threads should scan `processes` processes. `REKT_THREADS` overrides the
/// choice; bench/README.md shows how the threshold was measured with it.
fn thread_count(processes: usize) -> usize {
    if let Some(n) = std::env::var("REKT_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 64);
    }
    if processes >= PARALLEL_THRESHOLD {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    }
}

/// Re-reads one fd of one process: the inode of the socket it refers to now, if any. Used
/// just before a signal to prove the PID still holds what we found. When the main thread
/// has exited, its fd directory is empty, so a live thread's view is read instead.
pub fn socket_inode_of(pid: u32, fd: u32) -> io::Result<Option<u64>> {
    match read_socket_link(&format!("/proc/{pid}/fd/{fd}")) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))?;
            for task in tasks.filter_map(Result::ok) {
                let tid = task.file_name();
                if tid.to_str() == Some(&pid.to_string()) {
                    continue;
                }
                let path = format!("/proc/{pid}/task/{}/fd/{fd}", tid.to_string_lossy());
                if let Ok(inode) = read_socket_link(&path) {
                    return Ok(inode);
                }
            }
            Err(e)
        }
        other => other,
    }
}

fn read_socket_link(path: &str) -> io::Result<Option<u64>> {
    let path = CString::new(path).map_err(io::Error::other)?;
    let mut buf = [0u8; LINK_BUF];
    // SAFETY: `path` is NUL-terminated and `buf` is writable for its whole length.
    let n = unsafe {
        libc::readlink(
            path.as_ptr(),
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(parse_socket_link(&buf[..n as usize]))
}

/// The inode in `socket:[12345]`, or `None` for any other link text.
pub fn parse_socket_link(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(SOCKET_PREFIX)?.strip_suffix(b"]")?;
    parse_decimal(digits)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
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
pub fn list_pids(proc_dir: &OwnedFd) -> io::Result<Vec<u32>> {
    // getdents64 continues from the fd's offset, so read a private duplicate from 0.
    let dir = open_dir(proc_dir.as_raw_fd(), c".")?;
    let mut buf = DirentBuf::new();
    let mut pids = Vec::with_capacity(512);
    loop {
        let n = buf.fill(dir.as_raw_fd())?;
        if n == 0 {
            return Ok(pids);
        }
        for name in buf.names(n) {
            if let Some(pid) = parse_decimal(name.to_bytes()).and_then(|p| u32::try_from(p).ok()) {
                pids.push(pid);
            }
        }
    }
}

/// One scanning thread's buffers and findings.
struct Worker<'a> {
    proc_fd: RawFd,
    inodes: &'a [u64],
    buf: DirentBuf,
    result: Scan,
}

impl<'a> Worker<'a> {
    fn new(proc_fd: RawFd, inodes: &'a [u64]) -> Self {
        Worker {
            proc_fd,
            inodes,
            buf: DirentBuf::new(),
            result: Scan::default(),
        }
    }

    fn scan_process(&mut self, pid: u32) {
        let mut path = [0u8; 16];
        let path = pid_fd_path(pid, &mut path);
        if self.scan_fd_dir(pid, path) == Some(0) {
            // No fds at all: a kernel thread, or a process whose main thread has exited
            // (a zombie leader) while its other threads live on with the fd table.
            self.scan_live_thread(pid);
        }
    }

    /// Scans the fds of `pid` through the thread that still lives, if the leader is gone.
    fn scan_live_thread(&mut self, pid: u32) {
        let Ok(path) = CString::new(format!("{pid}/task")) else {
            return;
        };
        let Ok(tasks) = open_dir(self.proc_fd, &path) else {
            return;
        };
        let mut tids = Vec::new();
        while let Ok(n @ 1..) = self.buf.fill(tasks.as_raw_fd()) {
            tids.extend(
                self.buf
                    .names(n)
                    .filter_map(|name| parse_decimal(name.to_bytes()))
                    .filter(|&tid| tid != u64::from(pid)),
            );
        }
        // Threads share one fd table: the first that can be read speaks for all.
        for tid in tids {
            if let Ok(path) = CString::new(format!("{pid}/task/{tid}/fd"))
                && self.scan_fd_dir(pid, &path).is_some()
            {
                return;
            }
        }
    }

    /// Scans one fd directory (relative to /proc) for wanted sockets, recording hits under
    /// `pid`. Returns how many entries it had, or `None` if it could not be read.
    fn scan_fd_dir(&mut self, pid: u32, path: &CStr) -> Option<usize> {
        let dir = match open_dir(self.proc_fd, path) {
            Ok(dir) => dir,
            Err(e) => {
                // ENOENT: the process exited mid-scan, which is normal.
                if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) {
                    self.result.denied += 1;
                }
                return None;
            }
        };
        let dirfd = dir.as_raw_fd();
        let mut link = [0u8; LINK_BUF];
        let mut entries = 0;
        loop {
            let n = match self.buf.fill(dirfd) {
                Ok(0) => return Some(entries),
                Err(_) => return None,
                Ok(n) => n,
            };
            for name in self.buf.names(n) {
                entries += 1;
                // SAFETY: `name` is NUL-terminated and `link` is writable for its length.
                let len = unsafe {
                    libc::readlinkat(
                        dirfd,
                        name.as_ptr(),
                        link.as_mut_ptr().cast::<libc::c_char>(),
                        link.len(),
                    )
                };
                if len < 0 {
                    // The directory opened but its links are not ours to read (a process
                    // in another user namespace, for example): skip the rest of it.
                    let errno = io::Error::last_os_error().raw_os_error();
                    if matches!(errno, Some(libc::EACCES | libc::EPERM)) {
                        self.result.denied += 1;
                        return None;
                    }
                    continue;
                }
                let Some(inode) = parse_socket_link(&link[..len as usize]) else {
                    continue;
                };
                if self.inodes.binary_search(&inode).is_ok()
                    && let Some(fd) = parse_decimal(name.to_bytes())
                {
                    self.result.hits.push(Hit {
                        pid,
                        fd: fd as u32,
                        inode,
                    });
                }
            }
        }
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

fn open_dir(at: RawFd, path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is NUL-terminated; the returned fd is owned by the OwnedFd.
    let fd = unsafe {
        libc::openat(
            at,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A reusable, 8-byte aligned buffer for `getdents64`.
struct DirentBuf {
    words: Vec<u64>,
}

impl DirentBuf {
    fn new() -> Self {
        DirentBuf {
            words: vec![0; DIRENT_BUF_WORDS],
        }
    }

    /// Reads the next batch of entries; returns the number of bytes filled (0 at the end).
    fn fill(&mut self, dirfd: RawFd) -> io::Result<usize> {
        let bytes = self.words.len() * 8;
        // SAFETY: the buffer is valid for `bytes` bytes and suitably aligned for dirent64.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dirfd,
                self.words.as_mut_ptr().cast::<libc::c_void>(),
                bytes,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// The entry names in the first `len` bytes, without `.` and `..`.
    fn names(&self, len: usize) -> DirentNames<'_> {
        // SAFETY: u64 words viewed as bytes; `len` never exceeds the buffer (kernel contract).
        let bytes = unsafe {
            std::slice::from_raw_parts(
                self.words.as_ptr().cast::<u8>(),
                len.min(self.words.len() * 8),
            )
        };
        DirentNames { bytes, pos: 0 }
    }
}

struct DirentNames<'a> {
    bytes: &'a [u8],
    pos: usize,
}

/// Offsets within `struct linux_dirent64`: d_ino (8), d_off (8), d_reclen (2), d_type (1).
const RECLEN_AT: usize = 16;
const NAME_AT: usize = 19;

impl<'a> Iterator for DirentNames<'a> {
    type Item = &'a CStr;

    fn next(&mut self) -> Option<&'a CStr> {
        loop {
            let rec = self.bytes.get(self.pos..)?;
            let reclen = u16::from_ne_bytes([*rec.get(RECLEN_AT)?, *rec.get(RECLEN_AT + 1)?]);
            let reclen = usize::from(reclen);
            if reclen <= NAME_AT || reclen > rec.len() {
                return None;
            }
            self.pos += reclen;
            let name = CStr::from_bytes_until_nul(&rec[NAME_AT..reclen]).ok()?;
            if name != c"." && name != c".." {
                return Some(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn parses_socket_links_only() {
        assert_eq!(parse_socket_link(b"socket:[12345]"), Some(12345));
        assert_eq!(parse_socket_link(b"socket:[]"), None);
        assert_eq!(parse_socket_link(b"socket:[12a]"), None);
        assert_eq!(parse_socket_link(b"socket:[12345"), None);
        assert_eq!(parse_socket_link(b"pipe:[12345]"), None);
        assert_eq!(parse_socket_link(b"/dev/null"), None);
        assert_eq!(parse_socket_link(b"socket:[99999999999999999999999]"), None);
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
        assert_eq!(
            socket_inode_of(std::process::id(), listener.as_raw_fd() as u32).unwrap(),
            Some(inode)
        );
    }
}
