//! Running rekt and other programs, always within a bound.

use std::io::Read;
#[cfg(target_os = "linux")]
use std::io::Write;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use super::TempDir;
#[cfg(target_os = "linux")]
use super::check_signal_args;

/// The bound on any one run of rekt or a helper program: generous, since every run takes
/// milliseconds, even on a busy machine; only a hang gets near it.
pub const RUN_BOUND: Duration = Duration::from_secs(60);

/// The rekt binary under test with `args` and `NO_COLOR=1`, after checking that a run
/// that signals is allowed here (Linux; see `isolation`).
pub fn rekt_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(rekt_bin(args));
    cmd.args(args).env("NO_COLOR", "1");
    cmd
}

/// The rekt binary under test, for a run with `args` that another program starts (a shell,
/// `nsenter`, `setpriv`, a fixture's `--then-run`): checked first, as every run of rekt is
/// (Linux; see `isolation`).
pub fn rekt_bin(args: &[&str]) -> &'static str {
    #[cfg(target_os = "linux")]
    check_signal_args(args);
    #[cfg(not(target_os = "linux"))]
    let _ = args;
    env!("CARGO_BIN_EXE_rekt")
}

/// Runs the rekt binary under test.
pub fn rekt(args: &[&str]) -> Output {
    rekt_with_env(args, &[])
}

/// Runs rekt with extra environment variables.
pub fn rekt_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    output_within(rekt_command(args).envs(env.iter().copied()), RUN_BOUND)
}

#[cfg(target_os = "linux")]
/// Runs `cmd` (stdin empty) to the end within [`RUN_BOUND`].
pub fn run(cmd: &mut Command) -> Output {
    output_within(cmd, RUN_BOUND)
}

/// Runs `cmd` to the end and returns its output; if it takes longer than `timeout`, kills
/// it and fails the test. Stdin is empty.
pub fn output_within(cmd: &mut Command, timeout: Duration) -> Output {
    let child = spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    wait_output_within(child, timeout, &format!("{cmd:?}"))
}

/// Waits for `child` (stdout and stderr piped) to end and returns its output; if it takes
/// longer than `timeout`, kills it and fails the test, with what it printed so far.
pub fn wait_output_within(mut child: Child, timeout: Duration, what: &str) -> Output {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_within(&mut child, timeout);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        // A grandchild may still hold the pipes: do not wait for them.
        panic!("{what} did not finish within {timeout:?}");
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Waits up to `timeout` for `child` to exit; its status, or None if it is still running.
pub fn wait_within(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Held shared while a child is spawned, and exclusively while [`unused_ports`] probes. A
/// child that another test thread forks holds a copy of every fd of the test process until
/// it execs (close-on-exec only closes them then), so a probe socket closed meanwhile
/// keeps its port bound for a moment, and the fixture that binds that port next fails
/// with EADDRINUSE. `Command::spawn` returns once the child has exec'd.
static FORKING: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Holds off every [`spawn`] while it lives: for a probe socket, or a file being written
/// that a child must not inherit.
pub(super) fn no_forks() -> std::sync::RwLockWriteGuard<'static, ()> {
    FORKING.write().unwrap_or_else(|e| e.into_inner())
}

/// `cmd.spawn()`, never while a port is being probed (see [`FORKING`]). Every child a test
/// starts goes through here.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    let _forking = FORKING.read().unwrap_or_else(|e| e.into_inner());
    cmd.spawn()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// rekt's stderr, as [`here`] reads it: lines about other namespaces that hold the test's
/// port numbers through processes the test did not start read as what they say about the
/// test's own namespace.
pub fn stderr(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    #[cfg(target_os = "linux")]
    return super::here(&text);
    #[cfg(not(target_os = "linux"))]
    return text.into_owned();
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// rekt's `--json` document, exactly as printed (`json_here` reads it as [`stderr`] reads
/// rekt's stderr); fails the test, with what rekt printed, if stdout is not one.
#[cfg(any(target_os = "linux", windows))]
pub fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout {:?}, stderr {:?}", stdout(out), stderr(out)))
}

/// The PIDs in the PID column of rekt's table, in order.
#[cfg(any(target_os = "linux", windows))]
pub fn pids_in_table(out: &Output) -> Vec<u32> {
    stdout(out)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

/// Runs `rekt ARGS` on a pseudo-terminal (util-linux `script`), typing `input`, with
/// `NO_COLOR=1` or without NO_COLOR.
#[cfg(target_os = "linux")]
pub fn on_terminal(args: &[&str], input: &str, no_color: bool) -> Output {
    on_terminal_with(args, input, no_color, None)
}

/// [`on_terminal`], with rekt's stderr sent to the file `stderr_to` instead of the
/// terminal when one is given.
#[cfg(target_os = "linux")]
pub fn on_terminal_with(
    args: &[&str],
    input: &str,
    no_color: bool,
    stderr_to: Option<&std::path::Path>,
) -> Output {
    let bin = rekt_bin(args);
    let redirect = stderr_to.map(|p| p.to_str().expect("a UTF-8 path"));
    for arg in args.iter().chain(redirect.as_ref()) {
        assert!(
            !arg.is_empty() && !arg.contains([' ', '\'', '"', '\\', '$']),
            "{arg:?} would need quoting for script -c"
        );
    }
    let mut line = format!("{bin} {}", args.join(" "));
    if let Some(file) = redirect {
        line.push_str(&format!(" 2>{file}"));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let mut child = spawn(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("script(1) from util-linux");
    // script reads the answer from its stdin and types it on the terminal; the pipe stays
    // open until then, and closes when this end is dropped.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    wait_output_within(child, RUN_BOUND, &format!("script -c {line:?}"))
}

#[cfg(target_os = "linux")]
/// rekt started with the pause hook, stopped between its lookup and its signals.
pub struct Paused {
    pub child: Child,
    pub dir: TempDir,
}

#[cfg(target_os = "linux")]
/// Starts `rekt ARGS` with the test pause hook; returns it once it has looked up and
/// paused (within [`RUN_BOUND`]).
pub fn paused_rekt(args: &[&str]) -> Paused {
    let dir = TempDir::new("pause");
    let mut child = spawn(
        rekt_command(args)
            .env("REKT_TEST_PAUSE_DIR", &dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .expect("spawn rekt");
    let deadline = Instant::now() + RUN_BOUND;
    while !dir.join("paused").exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let out = wait_output_within(child, RUN_BOUND, "rekt");
            panic!(
                "rekt {args:?} exited ({status}) without pausing: {}",
                stderr(&out)
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rekt {args:?} never paused");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Paused { child, dir }
}

#[cfg(target_os = "linux")]
impl Paused {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets rekt go on, and returns its output.
    pub fn resume(self) -> Output {
        std::fs::write(self.dir.join("resume"), b"").unwrap();
        wait_output_within(self.child, RUN_BOUND, "rekt after the pause")
    }
}

/// Runs rekt as another user (`setpriv`, root only). The binary is copied to a private
/// world-readable directory first, because the build tree may not be reachable by that
/// user.
#[cfg(target_os = "linux")]
pub fn rekt_as(uid: u32, args: &[&str]) -> Output {
    let bin = super::world_readable_copy(std::path::Path::new(rekt_bin(args)));
    let mut attempt = 0;
    loop {
        let out = run(setpriv(uid).arg(&bin).args(args));
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
