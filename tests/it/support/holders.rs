//! The fixture processes: programs under `tests/fixtures/` (built by `cargo test` as
//! examples) that hold sockets and say `READY PID PORT`, killed when dropped.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(target_os = "linux")]
use super::{Isolation, forget_binds, isolation, record_holder, setpriv, world_readable_copy};
#[cfg(any(target_os = "linux", windows))]
use super::{TempDir, no_forks};
use super::{spawn, wait_within};

/// The bound on a fixture's READY (or ACCEPTED) line.
pub const READY_BOUND: Duration = Duration::from_secs(30);

/// The path of fixture `name` (`tests/fixtures/NAME.rs`), which `cargo test` builds as an
/// example next to the test binary.
pub fn fixture(name: &str) -> PathBuf {
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let mut path = std::env::current_exe().expect("test binary path");
    path.pop();
    path.pop();
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built; run cargo test, or cargo build --examples before a filtered run",
        path.display()
    );
    path
}

#[cfg(any(target_os = "linux", windows))]
/// Fixture `name` under another file name, `dir/file_name`, which may be any bytes a
/// file name can hold (escape sequences, newlines, invalid UTF-8): rekt names a process by
/// its executable's file name. A hard link when it can be; otherwise a copy, written while
/// no test thread forks and staged under a name of its own (see [`world_readable_copy`]).
pub fn fixture_named(name: &str, dir: &TempDir, file_name: &std::ffi::OsStr) -> PathBuf {
    let path = dir.0.join(file_name);
    let original = fixture(name);
    // Not under wine: it knows a file by its inode, so every process of a hard-linked
    // executable would get the last name it saw.
    if cfg!(not(windows)) && std::fs::hard_link(&original, &path).is_ok() {
        return path;
    }
    let staged = dir.join(".staged");
    {
        let _no_forks = no_forks();
        std::fs::copy(&original, &staged).unwrap();
    }
    std::fs::rename(&staged, &path).unwrap();
    path
}

/// A running fixture process that holds sockets (sockhold, oddproc, or a program run
/// through setpriv, unshare, ip netns exec...), killed when dropped.
///
/// Its stdout is read by a thread, line by line, and each READY line waited for within
/// [`READY_BOUND`]; its stderr is collected by another thread and is part of every
/// failure message about it.
pub struct Holder {
    pub child: Child,
    /// Every PID that reported READY, sorted.
    pub pids: Vec<u32>,
    pub port: u16,
    /// The protocol of the first socket (`tcp` or `udp`).
    pub proto: &'static str,
    /// Whether `pids` are PIDs in this test's PID namespace: false for a holder in a PID
    /// namespace of its own, whose READY lines give PIDs in there.
    ours: bool,
    /// The command, for messages.
    what: String,
    lines: Option<Receiver<String>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Closed (disconnected) when both reader threads have finished.
    readers_done: Option<Receiver<()>>,
    /// A pidfd for each READY PID (Linux), so that dropping the holder can never signal a
    /// process that reuses the PID of one that has exited.
    #[cfg(target_os = "linux")]
    pidfds: Vec<(u32, std::os::fd::OwnedFd)>,
    /// (port, protocol) of the sockets it binds, registered for `check_signal_args`.
    binds: Vec<(u16, &'static str)>,
}

impl Holder {
    /// Spawns `sockhold ARGS` and waits for `ready` READY lines.
    pub fn spawn(args: &[&str], ready: usize) -> Holder {
        let mut cmd = Command::new(fixture("sockhold"));
        cmd.args(args);
        Holder::spawn_command(cmd, ready)
    }

    #[cfg(any(target_os = "linux", windows))]
    pub fn tcp(addr: &str) -> Holder {
        Holder::spawn(&["tcp", addr], 1)
    }

    pub fn udp(addr: &str) -> Holder {
        Holder::spawn(&["udp", addr], 1)
    }

    #[cfg(target_os = "linux")]
    /// Spawns another fixture that prints READY lines (`oddproc`, for one).
    pub fn spawn_fixture(name: &str, args: &[&str], ready: usize) -> Holder {
        let mut cmd = Command::new(fixture(name));
        cmd.args(args);
        Holder::spawn_command(cmd, ready)
    }

    /// Spawns `sockhold ARGS` as user `uid` (root only), through `setpriv`.
    #[cfg(target_os = "linux")]
    pub fn spawn_as(uid: u32, args: &[&str], ready: usize) -> Holder {
        let mut cmd = setpriv(uid);
        cmd.arg(world_readable_copy(&fixture("sockhold")))
            .args(args);
        Holder::spawn_command(cmd, ready)
    }

    /// Spawns `cmd`, whose stdout must be READY lines as sockhold prints them (the program
    /// may be started through setpriv, unshare -n or ip netns exec, which exec it), and
    /// waits for `ready` of them.
    pub fn spawn_command(cmd: Command, ready: usize) -> Holder {
        Holder::start(cmd, ready, true)
    }

    #[cfg(target_os = "linux")]
    /// Like `spawn_command`, for a program in a PID namespace of its own: its READY lines
    /// give PIDs in there, which mean other processes here, so they are never signalled;
    /// dropping the holder kills `cmd`'s process only (use `unshare --kill-child`).
    pub fn spawn_foreign(cmd: Command, ready: usize) -> Holder {
        Holder::start(cmd, ready, false)
    }

    #[cfg(target_os = "linux")]
    /// Takes over a child that prints no READY lines (and holds no socket of its own
    /// choosing): it is killed when dropped.
    pub fn adopt(child: Child, what: &str) -> Holder {
        let pid = child.id();
        let mut holder = Holder {
            child,
            pids: vec![pid],
            port: 0,
            proto: "tcp",
            ours: true,
            what: what.to_owned(),
            lines: None,
            stderr: Arc::default(),
            readers_done: None,
            #[cfg(target_os = "linux")]
            pidfds: Vec::new(),
            binds: Vec::new(),
        };
        holder.pin(pid);
        holder
    }

    fn start(mut cmd: Command, ready: usize, ours: bool) -> Holder {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let what = format!(
            "{} {}",
            std::path::Path::new(cmd.get_program())
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
            args.join(" ")
        );
        let (protos, first_addr) = sockets_in_args(&args);
        #[cfg(target_os = "linux")]
        match isolation() {
            Isolation::Unset => panic!("{what}: call support::private_netns() first"),
            Isolation::Shared => assert!(
                first_addr.is_some_and(|a| a.port() != 0),
                "{what}: in the shared network namespace, bind a port from unused_port()"
            ),
            Isolation::Private => {}
        }
        #[cfg(not(target_os = "linux"))]
        let _ = first_addr;
        let mut child = spawn(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .unwrap_or_else(|e| panic!("cannot spawn {what}: {e}"));
        let (lines_tx, lines) = std::sync::mpsc::channel();
        let (done_tx, readers_done) = std::sync::mpsc::channel::<()>();
        let out = child.stdout.take().unwrap();
        let done = done_tx.clone();
        // Each reader signals `done` by dropping its sender last, after its pipe: locals
        // drop in reverse order, and a closure's captures only after its body.
        std::thread::spawn(move || {
            let _done = done;
            let out = out;
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr: Arc<Mutex<Vec<u8>>> = Arc::default();
        let err = child.stderr.take().unwrap();
        let collected = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let _done = done_tx;
            let mut err = err;
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut holder = Holder {
            child,
            pids: Vec::new(),
            port: 0,
            proto: protos.first().copied().unwrap_or("tcp"),
            ours,
            what,
            lines: Some(lines),
            stderr,
            readers_done: Some(readers_done),
            #[cfg(target_os = "linux")]
            pidfds: Vec::new(),
            binds: Vec::new(),
        };
        for _ in 0..ready {
            let (pid, port) = holder.expect_line("READY");
            holder.pids.push(pid);
            holder.port = port;
            if ours {
                holder.pin(pid);
            }
        }
        holder.pids.sort_unstable();
        let protos = if protos.is_empty() {
            vec!["tcp"]
        } else {
            protos
        };
        holder.binds = protos.into_iter().map(|p| (holder.port, p)).collect();
        #[cfg(target_os = "linux")]
        record_holder(&holder.binds, &holder.pids);
        holder
    }

    /// Opens a pidfd for `pid`, which has just said READY (so it is the process we
    /// started, and still running).
    fn pin(&mut self, pid: u32) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: pidfd_open returns a new fd (close-on-exec) or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if fd >= 0 {
                // SAFETY: a new fd that nothing else owns.
                let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
                self.pidfds.push((pid, fd));
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = pid;
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

    /// Reads the next line, which must start with `tag`; returns its pid and port. Fails
    /// the test (with the fixture's stderr) if none comes within [`READY_BOUND`].
    pub fn expect_line(&mut self, tag: &str) -> (u32, u16) {
        let line = match self.lines.as_ref().map(|l| l.recv_timeout(READY_BOUND)) {
            Some(Ok(line)) => line,
            Some(Err(RecvTimeoutError::Timeout)) => {
                self.fail(&format!("no {tag} line within {READY_BOUND:?}"))
            }
            Some(Err(RecvTimeoutError::Disconnected)) => {
                self.fail(&format!("closed its stdout before a {tag} line"))
            }
            None => self.fail("prints no lines"),
        };
        let mut words = line.split_whitespace();
        let parsed = (words.next() == Some(tag))
            .then(|| Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?)))
            .flatten();
        parsed.unwrap_or_else(|| self.fail(&format!("said {line:?}, not {tag} PID PORT")))
    }

    /// What the fixture wrote on stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// The command, its PID and its stderr so far: for failure messages.
    pub fn context(&self) -> String {
        format!(
            "{} (PID {}); its stderr: {:?}",
            self.what,
            self.pid(),
            self.stderr()
        )
    }

    /// Fails the test: `problem`, with how the fixture ended (if it did) and its stderr.
    fn fail(&mut self, problem: &str) -> ! {
        // A fixture that is dying gets a moment to finish, so that its last words are in.
        let status = wait_within(&mut self.child, Duration::from_secs(2));
        if let Some(done) = &self.readers_done {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
        let ended = match status {
            Some(status) => format!("it exited ({status})"),
            None => "it is still running".to_owned(),
        };
        panic!(
            "{} (PID {}): {problem}; {ended}; its stderr: {:?}",
            self.what,
            self.pid(),
            self.stderr()
        )
    }

    #[cfg(any(target_os = "linux", windows))]
    /// Waits up to `timeout` for the spawned process to exit; its status, or None.
    pub fn wait_within(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_within(&mut self.child, timeout)
    }

    #[cfg(any(target_os = "linux", windows))]
    /// Waits for the spawned process to exit; true if it did within `timeout`.
    pub fn exited_within(&mut self, timeout: Duration) -> bool {
        self.wait_within(timeout).is_some()
    }

    #[cfg(target_os = "linux")]
    /// Fails the test (with the fixture's stderr) unless the spawned process exits within
    /// `timeout`.
    pub fn assert_exits_within(&mut self, timeout: Duration) {
        if !self.exited_within(timeout) {
            self.fail(&format!("still running after {timeout:?}"));
        }
    }

    #[cfg(target_os = "linux")]
    /// Fails the test (with the fixture's stderr) if the spawned process exits within
    /// `timeout`.
    pub fn assert_runs_for(&mut self, timeout: Duration) {
        if let Some(status) = self.wait_within(timeout) {
            panic!("{}: exited ({status}) within {timeout:?}", self.context());
        }
    }

    /// Whether the spawned process is still running (a zombie is not).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Whether READY process `pid` of this holder is gone (exited), waiting up to
    /// `timeout`. Through its pidfd, so a reused PID cannot fool it.
    #[cfg(target_os = "linux")]
    pub fn gone_within(&self, pid: u32, timeout: Duration) -> bool {
        use std::os::fd::AsRawFd;
        let (_, fd) = self
            .pidfds
            .iter()
            .find(|(p, _)| *p == pid)
            .unwrap_or_else(|| panic!("{pid} is not a READY process of {}", self.what));
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd; a pidfd is readable once its process has exited.
        unsafe { libc::poll(&mut poll, 1, ms) > 0 }
    }

    /// Fails the test unless every READY process is gone within `timeout`.
    #[cfg(target_os = "linux")]
    pub fn assert_all_gone_within(&self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        for &pid in &self.pids {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                self.gone_within(pid, left),
                "{pid} survived; {}",
                self.context()
            );
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        for (pid, fd) in &self.pidfds {
            if *pid != self.child.id() {
                use std::os::fd::AsRawFd;
                // SAFETY: pidfd_send_signal on our own pidfd: it reaches the process we
                // started or, if that has exited, nothing.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
            }
        }
        // Not reaped yet, so its PID cannot have been reused.
        let _ = self.child.kill();
        let _ = wait_within(&mut self.child, Duration::from_secs(10));
        if self.ours
            && let Some(done) = &self.readers_done
        {
            // The pipes close with the last process that holds them: wait, so that the
            // test's fds are back to what they were (tests/it/hardening.rs counts them).
            let _ = done.recv_timeout(Duration::from_secs(5));
        }
        #[cfg(target_os = "linux")]
        forget_binds(&self.binds);
    }
}

/// The protocols of the sockets that a holder's arguments ask for (each `tcp`/`udp`
/// followed by an address, up to `--then-run`) and the first address.
fn sockets_in_args(args: &[String]) -> (Vec<&'static str>, Option<std::net::SocketAddr>) {
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .take_while(|a| *a != "--then-run")
        .collect();
    let mut protos = Vec::new();
    for pair in args.windows(2) {
        if pair[1].parse::<std::net::SocketAddr>().is_ok() {
            match pair[0] {
                "tcp" if !protos.contains(&"tcp") => protos.push("tcp"),
                "udp" if !protos.contains(&"udp") => protos.push("udp"),
                _ => {}
            }
        }
    }
    let first = args.iter().find_map(|a| a.parse().ok());
    (protos, first)
}

/// A process group the test started (a shell loop, a supervisor, a python server) whose
/// stdout carries lines such as sockhold's `READY PID PORT`, read on a thread so that every
/// wait for one is bounded. The whole group is killed when dropped.
#[cfg(target_os = "linux")]
pub struct Group {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// (port, protocol) of the sockets its programs bind, registered for
    /// `check_signal_args` as a holder's are.
    binds: Vec<(u16, &'static str)>,
}

#[cfg(target_os = "linux")]
impl Group {
    /// Spawns `cmd` in a process group of its own. Its programs bind `binds` (port,
    /// protocol): in the shared network namespace rekt may signal those, as a holder's.
    pub fn spawn(mut cmd: Command, binds: &[(u16, &'static str)]) -> Group {
        assert!(
            isolation() != Isolation::Unset,
            "{cmd:?}: call support::private_netns() first"
        );
        use std::os::unix::process::CommandExt;
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut cmd).unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let (tx, lines) = std::sync::mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr: Arc<Mutex<Vec<u8>>> = Arc::default();
        let mut err = child.stderr.take().unwrap();
        let collected = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        record_holder(binds, &[]);
        Group {
            child,
            lines,
            stderr,
            binds: binds.to_vec(),
        }
    }

    /// The next line that starts with `tag`, split into words after it; fails the test
    /// (with the group's stderr) if none comes within [`READY_BOUND`].
    pub fn next(&self, tag: &str) -> Vec<String> {
        let deadline = std::time::Instant::now() + READY_BOUND;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no {tag} line within {READY_BOUND:?}; stderr: {:?}",
                    self.stderr()
                )
            });
            let mut words = line.split_whitespace().map(str::to_owned);
            if words.next().as_deref() == Some(tag) {
                return words.collect();
            }
        }
    }

    /// The PID of the next `READY PID PORT` line: a process this test started.
    pub fn ready(&self) -> u32 {
        let pid = self.next("READY")[0].parse().expect("a pid");
        record_holder(&[], &[pid]);
        pid
    }

    /// The PID of the process the test spawned, the group's leader.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the group wrote on stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }
}

#[cfg(target_os = "linux")]
impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group this test started.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.wait();
        forget_binds(&self.binds);
    }
}
