//! Shared fixtures for the end-to-end tests: run rekt, and spawn real processes that hold
//! real sockets (the `sockhold` example, which `cargo test` builds).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the rekt binary under test.
pub fn rekt(args: &[&str]) -> Output {
    rekt_with_env(args, &[])
}

/// Runs rekt with extra environment variables.
pub fn rekt_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rekt"))
        .args(args)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run rekt")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// The PIDs in the PID column of rekt's table, in order.
pub fn pids_in_table(out: &Output) -> Vec<u32> {
    stdout(out)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

/// The path of an example binary built next to the test binary.
pub fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let mut path = std::env::current_exe().expect("test binary path");
    path.pop();
    path.pop();
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built; run cargo test",
        path.display()
    );
    path
}

/// A running sockhold process (and any child it forked), killed when dropped.
pub struct Holder {
    pub child: Child,
    /// Every PID that reported READY, the spawned one first.
    pub pids: Vec<u32>,
    pub port: u16,
    /// The protocol of the first socket (`tcp` or `udp`).
    pub proto: &'static str,
    lines: BufReader<ChildStdout>,
}

impl Holder {
    /// Spawns `sockhold ARGS` and waits for `ready` READY lines.
    pub fn spawn(args: &[&str], ready: usize) -> Holder {
        let mut cmd = Command::new(example("sockhold"));
        cmd.args(args);
        Holder::spawn_command(cmd, ready)
    }

    pub fn tcp(addr: &str) -> Holder {
        Holder::spawn(&["tcp", addr], 1)
    }

    pub fn udp(addr: &str) -> Holder {
        Holder::spawn(&["udp", addr], 1)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `PORT/PROTO` of the first socket. Tests look ports up with the protocol: on a busy
    /// machine another process's socket of the other protocol (or a client connection) may
    /// use the same port number, and a test must never see, let alone kill, it.
    pub fn spec(&self) -> String {
        format!("{}/{}", self.port, self.proto)
    }

    /// Reads the next line, which must start with `tag`; returns its pid and port.
    pub fn expect_line(&mut self, tag: &str) -> (u32, u16) {
        let mut line = String::new();
        self.lines.read_line(&mut line).expect("read sockhold");
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some(tag), "sockhold said {line:?}");
        let pid = words.next().and_then(|w| w.parse().ok()).expect("pid");
        let port = words.next().and_then(|w| w.parse().ok()).expect("port");
        (pid, port)
    }

    /// Waits for the spawned process to exit; true if it did within `timeout`.
    pub fn exited_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        for &pid in &self.pids {
            if pid != self.child.id() {
                kill_pid(pid);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
pub fn kill_pid(pid: u32) {
    // SAFETY: kill(2) on a PID this test started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
}

#[cfg(not(unix))]
pub fn kill_pid(_pid: u32) {}

/// Whether a process with this PID exists and is not a zombie.
#[cfg(target_os = "linux")]
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            state.is_some_and(|c| c != 'Z' && c != 'X')
        })
        .unwrap_or(false)
}

/// Polls until `pid` is gone or `timeout` passes.
#[cfg(target_os = "linux")]
pub fn gone_within(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    !alive(pid)
}

#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Skips the calling test (with a printed reason) unless running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("skipped: this test needs root (CI runs as root)");
            return;
        }
    };
}

/// Runs rekt as another user (`setpriv`, root only). The binary is copied to a private
/// world-readable directory first, because the build tree may not be reachable by that
/// user.
#[cfg(target_os = "linux")]
pub fn rekt_as(uid: u32, args: &[&str]) -> Output {
    let bin = world_readable_copy(std::path::Path::new(env!("CARGO_BIN_EXE_rekt")));
    let mut attempt = 0;
    loop {
        let out = setpriv(uid)
            .arg(&bin)
            .args(args)
            .output()
            .expect("run setpriv");
        // Another test thread that forks while the copy is written inherits its write fd
        // until it execs, and exec then fails with ETXTBSY for a moment. Try again.
        if out.status.code() == Some(126)
            && String::from_utf8_lossy(&out.stderr).contains("Text file busy")
            && attempt < 100
        {
            attempt += 1;
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        return out;
    }
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

/// A copy of the binary at `path` in a private world-readable directory, so that another
/// user can run it (the build tree may not be reachable by that user). Copied once per
/// binary name and test process.
#[cfg(target_os = "linux")]
pub fn world_readable_copy(path: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("rekt-test-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join(path.file_name().expect("a file name"));
    if !copy.exists() {
        // A hard link when it can (same file system): no file is ever open for writing, so
        // no other test's fork can inherit a write fd and make exec fail with ETXTBSY.
        // Otherwise copy under a temporary name and rename, so that a test running
        // concurrently never executes a half-written file.
        let tmp = dir.join(format!(
            ".{}.{:?}",
            copy.file_name().unwrap().to_string_lossy(),
            std::thread::current().id()
        ));
        if std::fs::hard_link(path, &tmp).is_err() {
            std::fs::copy(path, &tmp).unwrap();
        }
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, &copy).unwrap();
    }
    copy
}

/// `setpriv --reuid=UID --regid=UID --clear-groups`: add more setpriv options, then the
/// program (a `world_readable_copy`) and its arguments. Root only. setpriv execs the
/// program, so the child's PID is the program's, and the program is dumpable (its
/// /proc/PID/fd belongs to UID) as anything that user started would be.
#[cfg(target_os = "linux")]
pub fn setpriv(uid: u32) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .env("NO_COLOR", "1");
    cmd
}

impl Holder {
    /// Spawns `cmd`, whose stdout must be READY lines as sockhold prints them, and waits for
    /// `ready` of them.
    pub fn spawn_command(mut cmd: Command, ready: usize) -> Holder {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn a holder");
        let lines = BufReader::new(child.stdout.take().expect("piped stdout"));
        // The first `tcp` or `udp` argument names the first socket's protocol.
        let first = cmd.get_args().find(|a| *a == "tcp" || *a == "udp");
        let proto = if first.is_some_and(|a| a == "udp") {
            "udp"
        } else {
            "tcp"
        };
        let mut holder = Holder {
            child,
            pids: Vec::new(),
            port: 0,
            proto,
            lines,
        };
        for _ in 0..ready {
            let (pid, port) = holder.expect_line("READY");
            holder.pids.push(pid);
            holder.port = port;
        }
        holder.pids.sort_unstable();
        holder
    }

    /// Spawns another example program that prints READY lines (`oddproc`, for one).
    pub fn spawn_example(name: &str, args: &[&str], ready: usize) -> Holder {
        let mut cmd = Command::new(example(name));
        cmd.args(args);
        Holder::spawn_command(cmd, ready)
    }

    /// Spawns `sockhold ARGS` as user `uid` (root only), through `setpriv`.
    #[cfg(target_os = "linux")]
    pub fn spawn_as(uid: u32, args: &[&str], ready: usize) -> Holder {
        let mut cmd = setpriv(uid);
        cmd.arg(world_readable_copy(&example("sockhold")))
            .args(args);
        Holder::spawn_command(cmd, ready)
    }
}

/// Runs `cmd` to the end and returns its output; if it takes longer than `timeout`, kills
/// it and fails the test. For runs that must not hang.
pub fn output_within(cmd: &mut Command, timeout: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// How many fds process `pid` has open (`/proc/PID/fd` entries).
#[cfg(target_os = "linux")]
pub fn fd_count(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A port nothing uses now (no TCP or UDP socket, IPv4 or IPv6), from 10000..18000. That is
/// below the kernel's ephemeral range (32768-60999 by default), so no bind to port 0, by
/// this test or one running alongside, is given it later; binding port 0 is not enough for
/// tests that look a port up by number, because the kernel may hand a SO_REUSEADDR UDP
/// socket, a SO_REUSEPORT socket or a socket on another address a port that is already
/// in use. Each call in one test process returns a different port.
pub fn unused_port() -> u16 {
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, UdpSocket};
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 8_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Start where the PID says, so that two test processes rarely probe the same ports.
    let start = std::process::id() % SPAN;
    let in_use =
        |r: std::io::Result<()>| r.is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse);
    for _ in 0..SPAN {
        let port = (LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN) as u16;
        let busy = in_use(TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).map(drop))
            || in_use(UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).map(drop))
            || in_use(TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)).map(drop))
            || in_use(UdpSocket::bind((Ipv6Addr::UNSPECIFIED, port)).map(drop));
        if !busy {
            return port;
        }
    }
    panic!("no unused port in {LOW}..{}", LOW + SPAN)
}
