//! A plain lookup reads only what it prints (issue 17, item 5): `rekt PORT`, run under
//! `strace`, opens no process's `status`, `cmdline`, `cgroup` or `environ`, no `task/`
//! directory, no user database, and reads the `stat` of no process but the owner's, its
//! own and its callers' back to the owner's start; `rekt -v PORT` still reads the owner's
//! details. Every test runs in a private network namespace as root (tests/it/support) on the
//! processes it starts, and skips (or, with `REKT_REQUIRE_ROOT_TESTS=1`, fails) without
//! strace.
use crate::support::{
    Holder, TempDir, code, fixture, output_within, pids_in_table, private_netns, rekt, stderr,
    unused_port, v4,
};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

/// What one traced run of rekt did.
struct Trace {
    /// rekt's own PID: the first PID in the trace.
    rekt: u32,
    /// Every path that an `open*`, `readlink*` or `stat*` call named, as written, after
    /// the call's name.
    paths: Vec<(String, String)>,
    /// Every `connect` call, as written.
    connects: Vec<String>,
    /// The table rekt printed.
    out: std::process::Output,
}

/// Whether strace can trace a child here; skips the calling test (the caller returns) if
/// not.
fn strace_works() -> bool {
    let ok = Command::new("strace")
        .args(["-qq", "-e", "trace=none", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        crate::support::skip(
            "this test needs strace, able to trace a child (apt-get install strace)",
        );
    }
    ok
}

/// Runs `rekt ARGS` under `strace -f` and returns what it opened, read and stat-ed.
fn traced(args: &[&str]) -> Trace {
    let dir = TempDir::new("strace");
    let file = dir.join("trace");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-s", "256", "-o"])
        .arg(&file)
        .args([
            "-e",
            "trace=open,openat,openat2,readlink,readlinkat,stat,lstat,newfstatat,statx,connect",
            "--",
            env!("CARGO_BIN_EXE_rekt"),
        ])
        .args(args)
        .env("NO_COLOR", "1");
    let out = output_within(&mut cmd, Duration::from_secs(60));
    let text = std::fs::read_to_string(&file).expect("strace's output");
    let rekt = text
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a PID before the first call");
    let mut paths = Vec::new();
    let mut connects = Vec::new();
    for line in text.lines() {
        // `PID  call(...)`: strace pads the PID column.
        let call = line
            .split_once(' ')
            .map_or(line, |(_, rest)| rest)
            .trim_start();
        if call.starts_with("connect(") {
            connects.push(call.to_owned());
        } else if let (Some((name, _)), Some(path)) = (call.split_once('('), call.split('"').nth(1))
        {
            paths.push((name.to_owned(), path.to_owned()));
        }
    }
    Trace {
        rekt,
        paths,
        connects,
        out,
    }
}

impl Trace {
    /// `(PID, FILE)` for every path of the form `/proc/PID/FILE` or `PID/FILE` (relative
    /// to an open `/proc`).
    fn proc_files(&self) -> Vec<(u32, String)> {
        self.proc_files_by(|_| true)
    }

    /// [`Trace::proc_files`] of the calls that `call` accepts (by name).
    fn proc_files_by(&self, call: impl Fn(&str) -> bool) -> Vec<(u32, String)> {
        self.paths
            .iter()
            .filter(|(name, _)| call(name))
            .filter_map(|(_, p)| {
                let p = p.strip_prefix("/proc/").unwrap_or(p);
                let (pid, file) = p.split_once('/')?;
                Some((pid.parse().ok()?, file.to_owned()))
            })
            .collect()
    }

    /// The PIDs whose `FILE` (`status`, `stat`...) was named.
    fn pids_reading(&self, file: &str) -> BTreeSet<u32> {
        self.proc_files()
            .into_iter()
            .filter(|(_, f)| f == file)
            .map(|(pid, _)| pid)
            .collect()
    }

    /// Every process's `task/` (or a thread's file under it) that was opened. A `stat` of
    /// `task/` (its link count tells the threads) opens nothing.
    fn task_dirs(&self) -> Vec<(u32, String)> {
        self.proc_files_by(|call| call.starts_with("open"))
            .into_iter()
            .filter(|(_, f)| f == "task" || f.starts_with("task/"))
            .collect()
    }

    /// The user database, through NSS: its files or nscd's socket.
    fn user_database(&self) -> Vec<String> {
        let files = ["/etc/passwd", "/etc/group", "/etc/nsswitch.conf"];
        let mut used: Vec<String> = self
            .paths
            .iter()
            .filter(|(_, p)| files.contains(&p.as_str()))
            .map(|(_, p)| p.clone())
            .collect();
        used.extend(self.connects.iter().filter(|c| c.contains("nscd")).cloned());
        used
    }

    fn all(&self) -> String {
        format!("paths: {:#?}\nconnects: {:#?}", self.paths, self.connects)
    }
}

#[test]
fn a_plain_lookup_reads_no_process_details() {
    let _net = private_netns();
    if !strace_works() {
        return;
    }
    // The test process then started well before the holder (a start time counts clock
    // ticks): rekt's walk up its callers stops at it.
    std::thread::sleep(Duration::from_millis(50));
    let h = Holder::tcp(&v4());
    let t = traced(&[&h.port.to_string()]);
    assert_eq!(code(&t.out), 0, "{}", stderr(&t.out));
    assert_eq!(pids_in_table(&t.out), vec![h.pid()]);

    for file in ["status", "cmdline", "cgroup", "environ", "cwd"] {
        let read = t.pids_reading(file);
        assert!(read.is_empty(), "read {file} of {read:?}\n{}", t.all());
    }
    assert_eq!(t.task_dirs(), vec![], "{}", t.all());
    assert_eq!(t.user_database(), Vec::<String>::new(), "{}", t.all());
    // The owner's name is what its lines may show, and what tells a forwarder.
    assert!(
        t.proc_files().contains(&(h.pid(), "exe".into())),
        "{}",
        t.all()
    );
    // stat: the owner's (its start), rekt's own, and its callers' back to the first one
    // that started before the owner: strace, then this test process. Not PID 1's.
    let strace = t.pids_reading("stat");
    let test = std::process::id();
    let allowed: BTreeSet<u32> = [h.pid(), t.rekt, test].into_iter().collect();
    let others: Vec<u32> = strace
        .iter()
        .copied()
        .filter(|p| !allowed.contains(p))
        .collect();
    // The one left is strace itself (rekt's parent), whose PID the trace does not name.
    assert!(others.len() <= 1, "stat of {others:?}\n{}", t.all());
    assert!(!strace.contains(&1), "{}", t.all());
    assert!(
        !strace.contains(&std::os::unix::process::parent_id()),
        "read past the test process\n{}",
        t.all()
    );
}

#[test]
fn a_free_port_reads_no_process_details_either() {
    let _net = private_netns();
    if !strace_works() {
        return;
    }
    let port = crate::support::unused_port();
    let t = traced(&[&port.to_string()]);
    assert_eq!(code(&t.out), 1, "{}", stderr(&t.out));
    for file in ["status", "cmdline", "cgroup", "environ", "stat", "exe"] {
        let read = t.pids_reading(file);
        assert!(read.is_empty(), "read {file} of {read:?}\n{}", t.all());
    }
    assert_eq!(t.task_dirs(), vec![], "{}", t.all());
    assert_eq!(t.user_database(), Vec::<String>::new(), "{}", t.all());
}

#[test]
fn verbose_still_reads_what_it_shows() {
    let _net = private_netns();
    if !strace_works() {
        return;
    }
    let h = Holder::tcp(&v4());
    let t = traced(&["-v", &h.port.to_string()]);
    assert_eq!(code(&t.out), 0, "{}", stderr(&t.out));
    assert_eq!(pids_in_table(&t.out), vec![h.pid()]);
    // NAME and USER (the uid in status, its name in the user database), the container
    // (cgroup), and PARENTS (each ancestor's stat, up to PID 1).
    for file in ["status", "cmdline", "cgroup", "stat"] {
        assert!(
            t.pids_reading(file).contains(&h.pid()),
            "no {file} of {}\n{}",
            h.pid(),
            t.all()
        );
    }
    assert!(t.pids_reading("stat").contains(&1), "{}", t.all());
    assert!(!t.user_database().is_empty(), "{}", t.all());
}

#[test]
fn a_threads_own_fd_table_is_found_where_it_exists() {
    let _net = private_netns();
    if !strace_works() {
        return;
    }
    // The socket is only in a thread's own fd table: the main scan leaves it over, and
    // the search of threads' tables finds it, opening the task/ directory of processes
    // with threads alone.
    let h = Holder::spawn(&["--own-fd-table", "tcp", &v4()], 1);
    let t = traced(&[&h.port.to_string()]);
    assert_eq!(code(&t.out), 0, "{}", stderr(&t.out));
    assert_eq!(pids_in_table(&t.out), vec![h.pid()]);
    let opened: BTreeSet<u32> = t.task_dirs().into_iter().map(|(pid, _)| pid).collect();
    assert!(opened.contains(&h.pid()), "{}", t.all());
    // Kernel threads (kthreadd's children) have no fds and one thread: before, every one
    // of them had its task/ opened by every lookup.
    for pid in opened {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .unwrap_or("");
        assert!(
            pid != 2 && parent != "2",
            "task/ of kernel thread {pid}\n{}",
            t.all()
        );
    }
}

/// The other namespaces are searched for listeners only (which keeps a free port cheap:
/// see `lookup::elsewhere_query`): a connection there on the same port number is no
/// server, and gets no hint.
#[test]
fn only_a_listener_in_another_namespace_gets_the_hint() {
    require_root!();
    pid_sandbox!();
    let _net = private_netns();
    let mut unshare = Command::new("unshare");
    unshare.arg("-n").arg(fixture("sockhold")).args([
        "--accept-one",
        "tcp",
        &format!("127.0.0.1:{}", unused_port()),
    ]);
    let mut server = Holder::spawn_command(unshare, 1);
    let spec = format!("{}/tcp", server.port);
    let out = rekt(&[&spec]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("but held in network namespace"),
        "{}",
        stderr(&out)
    );
    // A client there connects: the server closes its listener and keeps the connection,
    // which is on the same port number.
    let netns = format!("--net=/proc/{}/ns/net", server.pid());
    let up = output_within(
        Command::new("nsenter").args([&netns, "ip", "link", "set", "lo", "up"]),
        Duration::from_secs(30),
    );
    assert!(up.status.success(), "{}", stderr(&up));
    let mut nsenter = Command::new("nsenter");
    nsenter
        .arg(&netns)
        .arg("--")
        .arg(fixture("sockhold"))
        .args(["--connect", "tcp", &format!("127.0.0.1:{}", server.port)]);
    let _client = Holder::spawn_command(nsenter, 1);
    server.expect_line("ACCEPTED");
    let out = rekt(&[&spec]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("network namespace"),
        "{}",
        stderr(&out)
    );
}
