//! The machine: temporary directories, copies of binaries that another user can run,
//! /proc, wine.

use std::path::PathBuf;

#[cfg(target_os = "linux")]
use super::no_forks;

/// A directory of the test's own under the temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let path = std::env::temp_dir().join(format!(
                "rekt-{tag}-{}-{nanos}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return TempDir(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A copy of the binary at `path` in a world-readable directory of this user's, so that
/// another user can run it (the build tree may not be reachable by that user). One copy per
/// build of each binary (in a directory named by the binary's inode and modification
/// time), shared by every test process; builds that got no new copy for a day are removed.
#[cfg(target_os = "linux")]
pub fn world_readable_copy(path: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let dir = std::env::temp_dir().join(format!("rekt-test-bin-{euid}"));
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("{}: {e}", dir.display()),
    }
    // Not a symlink, and ours: another user could have made it first.
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert!(
        meta.is_dir() && meta.uid() == euid,
        "{} is not a directory of uid {euid}",
        dir.display()
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The file keeps its name (rekt names a process by its executable's); the build is in
    // the directory's name.
    let built = std::fs::metadata(path).unwrap();
    let build = dir.join(format!(
        "{}.{}.{}",
        built.ino(),
        built.mtime(),
        built.mtime_nsec()
    ));
    let copy = build.join(path.file_name().expect("a file name"));
    if !copy.exists() {
        prune(&dir);
        match std::fs::create_dir(&build) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("{}: {e}", build.display()),
        }
        std::fs::set_permissions(&build, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A hard link when it can (same file system). Otherwise a copy, written while no
        // test thread forks (a child would inherit the write fd until it execs, and exec of
        // the copy would fail with ETXTBSY meanwhile). Staged under a name of its own and
        // renamed, so that a test running concurrently never executes a half-written file.
        let tmp = TempDir::new("bin-tmp");
        let staged = tmp.join("bin");
        if std::fs::hard_link(path, &staged).is_err() {
            let _no_forks = no_forks();
            std::fs::copy(path, &staged).unwrap();
        }
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&staged, &copy).unwrap();
    }
    copy
}

/// Removes the copies of builds in `dir` that got no new copy for a day.
#[cfg(target_os = "linux")]
fn prune(dir: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        // A directory's ctime changes when a file is added to it.
        if entry.metadata().is_ok_and(|m| now - m.ctime() > 86_400) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// How many fds process `pid` has open (`/proc/PID/fd` entries).
#[cfg(target_os = "linux")]
pub fn fd_count(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The state letter of a process (`R`, `S`, `T`, `Z`...) from /proc/PID/stat.
#[cfg(target_os = "linux")]
pub fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The version of wine running this test (`(8, 0)`), or `None` on real Windows.
#[cfg(windows)]
pub fn wine_version() -> Option<(u32, u32)> {
    use std::ffi::{CStr, c_char};
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    let ntdll: Vec<u16> = "ntdll.dll\0".encode_utf16().collect();
    // SAFETY: ntdll is always loaded; wine's ntdll exports `const char *wine_get_version(void)`,
    // which returns a static string. Real Windows has no such export.
    let version = unsafe {
        let module = GetModuleHandleW(ntdll.as_ptr());
        if module.is_null() {
            return None;
        }
        let f = GetProcAddress(module, c"wine_get_version".as_ptr().cast())?;
        let f: unsafe extern "C" fn() -> *const c_char = std::mem::transmute(f);
        CStr::from_ptr(f()).to_str().ok()?.to_owned()
    };
    let mut parts = version.split(['.', '-', ' ']).map(|p| p.parse().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// Whether the socket tables name the process behind a listening socket (or a server's
/// accepted connection). Windows does; wine reports PID 0 for them before 9.17.
#[cfg(windows)]
pub fn tables_name_listener_owners() -> bool {
    wine_version().is_none_or(|v| v >= (9, 17))
}

/// Whether `program` is on the PATH, and where.
#[cfg(target_os = "linux")]
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.exists())
}

/// Whether process `pid` is running (a zombie is not). Only for processes the test knows
/// are its own; [`super::Holder::gone_within`] cannot be fooled by a reused PID.
#[cfg(target_os = "linux")]
pub fn alive(pid: u32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}
