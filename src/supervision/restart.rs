//! Who could bind a port again once rekt has ended its owners. The settle watch after a
//! signal is not a fixed wait but this question, asked again at every look: *which living
//! process could start the owner again?*
//!
//! - The owners' ancestors, nearest first, up to the first that surely will not: an
//!   interactive shell back at its prompt (its terminal's foreground group is its own, and
//!   it has no children left), a terminal or multiplexer, sshd or login, init (PID 1, or
//!   systemd as a user's manager), and rekt's own callers (they wait for rekt, and rekt
//!   never blames them). A shell that runs a script or a loop, a wrapper (`npm run`,
//!   `sudo`) and any other program in between could: each is watched while it lives.
//! - Every supervisor found (pm2, runsv, supervisord, a systemd service...), for the time
//!   it is known to take to restart a program.
//!
//! A container's restart policy needs no watch: rekt ends containers through their engine,
//! which keeps the policy from bringing them back.

use std::time::Duration;

use super::ancestry::{Link, ancestry, basename, kind_of};
use super::{Context, SupervisorKind, recognise};
use crate::model::{ProcessInfo, ProcessStat};

/// How long a parent that could start the owner again (a shell loop, a wrapper, another
/// program) is watched while it lives: longer than every restart measured for a shell loop
/// (103-399 ms) and a re-forking script, and time for an interpreter to start.
pub(crate) const BUSY: Duration = Duration::from_secs(2);

/// How long after a parent's visible `sleep` ends it is still watched: the time the loop
/// takes to start the program again and bind.
pub(crate) const AFTER_SLEEP: Duration = Duration::from_secs(1);

/// The longest any watch lasts without `--settle`, whatever a `sleep` says.
pub(crate) const MAX: Duration = Duration::from_secs(30);

/// A process (or a supervisor) that may start an ended owner again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Restarter {
    /// Its PID; `None` for systemd, which is no process rekt watches.
    pub(crate) pid: Option<u32>,
    /// When it started, so that a PID given to another process is not taken for it.
    pub(crate) started: Option<u64>,
    pub(crate) kind: RestarterKind,
}

/// Why a process may start an owner again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestarterKind {
    /// A supervisor, which restarts a program after its own delay.
    Supervisor(SupervisorKind),
    /// A parent that is not known to restart anything but could: watched while it lives
    /// (and, for a shell, while it is not back at its prompt).
    Parent(Link),
}

/// What the rules read about processes: the run's cache and the platform answer.
pub(crate) trait Look {
    fn stat(&self, pid: u32) -> Option<ProcessStat>;
    fn children(&self, pid: u32) -> Vec<u32>;
    fn info(&mut self, pid: u32) -> ProcessInfo;
    /// How long ago a process that started at `started` (in `ProcessStat` units) started.
    fn age(&self, started: u64) -> Option<Duration>;
}

/// The facts about one process that the rules need, read fresh at each look.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) stat: ProcessStat,
    pub(crate) info: ProcessInfo,
    /// Its children that are alive (not zombies) and were not ended by rekt.
    pub(crate) children: Vec<Child>,
}

/// A live child of a parent that rekt watches.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub(crate) info: ProcessInfo,
    /// How long it has run, when the OS says when it started.
    pub(crate) age: Option<Duration>,
}

/// Reads what the rules need about `pid` now; `None` when it is gone. `ended` (the owners
/// rekt signalled) are not counted among its children.
pub(crate) fn see(pid: u32, ended: &[u32], look: &mut impl Look) -> Option<Seen> {
    let stat = look.stat(pid)?;
    let info = look.info(pid);
    let mut children = Vec::new();
    for child in look.children(pid) {
        if ended.contains(&child) {
            continue;
        }
        let Some(s) = look.stat(child).filter(|s| !s.zombie) else {
            continue;
        };
        children.push(Child {
            info: look.info(child),
            age: s.started.and_then(|t| look.age(t)),
        });
    }
    Some(Seen {
        stat,
        info,
        children,
    })
}

/// Names of inits and service managers: what starts a program again is their unit, not
/// the process itself (`systemd --user` is a user's manager).
const INITS: &[&str] = &[
    "init",
    "systemd",
    "launchd",
    "tini",
    "dumb-init",
    "docker-init",
];

/// Programs that log a person in: a chain above them is not the owner's business.
const LOGINS: &[&str] = &["sshd", "sshd-session", "login", "dropbear", "mosh-server"];

/// The processes that may start `owner` again once it is gone, from its ancestry and its
/// context (the supervisor found for it). `callers` are rekt's own ancestors; `ended` the
/// owners rekt signals.
pub(crate) fn restarters(
    owner: u32,
    context: &Context,
    callers: &[u32],
    ended: &[u32],
    look: &mut impl Look,
) -> Vec<Restarter> {
    let mut found = Vec::new();
    // A systemd service or a Windows service: their managers are no process rekt watches.
    if let Some(s) = &context.supervisor
        && matches!(s.kind, SupervisorKind::Systemd | SupervisorKind::Service)
    {
        found.push(Restarter {
            pid: None,
            started: None,
            kind: RestarterKind::Supervisor(s.kind),
        });
    }
    let chain = ancestry(owner, |pid| look.stat(pid), |_| true);
    for pid in chain {
        if pid == 1 || callers.contains(&pid) {
            break;
        }
        let Some(seen) = see(pid, ended, look) else {
            break;
        };
        if is_boundary(&seen.info) {
            break;
        }
        if let Some(kind) = recognise(&seen.info) {
            // A supervisor is what restarts; above it, nothing more is the owner's. nodemon
            // restarts only when a watched file changes, not when its program is killed.
            if kind != SupervisorKind::Nodemon {
                found.push(Restarter {
                    pid: Some(pid),
                    started: seen.stat.started,
                    kind: RestarterKind::Supervisor(kind),
                });
            }
            break;
        }
        let link = kind_of(&seen.info);
        if link == Link::Shell && at_prompt(&seen) {
            break;
        }
        found.push(Restarter {
            pid: Some(pid),
            started: seen.stat.started,
            kind: RestarterKind::Parent(link),
        });
    }
    found
}

/// Until when (from the start of the watch) `r` may start an owner again, seen at
/// `elapsed` into the watch: `None` once it cannot (it exited, its PID is another's now, a
/// shell came back to its prompt). The watch keeps the latest answer for each, so that a
/// loop seen sleeping is still watched once its `sleep` is over and it starts the program.
pub(crate) fn until(r: &Restarter, seen: Option<&Seen>, elapsed: Duration) -> Option<Duration> {
    let link = match r.kind {
        RestarterKind::Supervisor(kind) => {
            // A supervisor's process that exited restarts nothing; systemd has none to watch.
            if r.pid.is_some() && !alive(r, seen) {
                return None;
            }
            return Some(kind.restart_window());
        }
        RestarterKind::Parent(link) => link,
    };
    let seen = seen.filter(|_| alive(r, seen))?;
    if link == Link::Shell && at_prompt(seen) {
        return None;
    }
    let sleeping = seen.children.iter().filter_map(sleep_left).max();
    let until = match sleeping {
        Some(left) => (elapsed + left + AFTER_SLEEP).max(BUSY),
        None => BUSY,
    };
    Some(until.min(MAX))
}

/// Whether `r` is the process it was when found: alive, not a zombie, same start time.
fn alive(r: &Restarter, seen: Option<&Seen>) -> bool {
    seen.is_some_and(|s| !s.stat.zombie && (r.started.is_none() || s.stat.started == r.started))
}

/// An interactive shell back at its prompt: its terminal listens to its own process group,
/// and it runs nothing. Where the OS has no job control to tell (no process groups), a
/// shell started with no script or command to run is taken for an interactive one.
pub(crate) fn at_prompt(seen: &Seen) -> bool {
    if !seen.children.is_empty() {
        return false;
    }
    match (seen.stat.group, seen.stat.terminal_group) {
        (Some(group), Some(foreground)) => group == foreground,
        (Some(_), None) => false,
        (None, _) => seen.info.cmdline.iter().skip(1).all(|a| {
            let a = a.to_str_lossless();
            matches!(
                a.to_ascii_lowercase().as_str(),
                "-i" | "-l" | "--login" | "--interactive" | "-nologo" | "-noexit"
            )
        }),
    }
}

/// Whether a chain stops at this process: an init or service manager, a terminal, a login.
fn is_boundary(info: &ProcessInfo) -> bool {
    let name = |list: &[&str]| {
        let exe = info.name.as_ref().map(|n| n.to_str_lossless().into_owned());
        let argv0 = info.cmdline.first().map(|a| {
            basename(&a.to_str_lossless())
                .trim_start_matches('-')
                .to_owned()
        });
        [exe, argv0].into_iter().flatten().any(|n| {
            list.iter()
                .any(|l| n == *l || n.starts_with(&format!("{l}:")))
        })
    };
    kind_of(info) == Link::Terminal || name(INITS) || name(LOGINS)
}

/// How long a `sleep` child has left to sleep, from its arguments (`sleep 2`, `sleep 1.5`,
/// `sleep 1m 30s`) and its age.
fn sleep_left(child: &Child) -> Option<Duration> {
    let args = &child.info.cmdline;
    let argv0 = args.first()?.to_str_lossless();
    if basename(&argv0) != "sleep" {
        return None;
    }
    let mut total = Duration::ZERO;
    for arg in args.iter().skip(1) {
        total += sleep_arg(&arg.to_str_lossless())?;
    }
    Some(total.saturating_sub(child.age.unwrap_or_default()))
}

/// One argument of `sleep`: a number (decimals allowed) with an optional unit s, m, h, d.
fn sleep_arg(arg: &str) -> Option<Duration> {
    let (number, unit) = match arg.char_indices().last()? {
        (i, c @ ('s' | 'm' | 'h' | 'd')) => (&arg[..i], c),
        _ => (arg, 's'),
    };
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let seconds = match unit {
        'm' => n * 60.0,
        'h' => n * 3600.0,
        'd' => n * 86400.0,
        _ => n,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::info;

    fn stat(group: Option<u32>, foreground: Option<u32>) -> ProcessStat {
        ProcessStat {
            parent: Some(1),
            started: Some(10),
            group,
            terminal_group: foreground,
            ..ProcessStat::default()
        }
    }

    #[test]
    fn a_shell_is_at_its_prompt_when_its_terminal_listens_to_it_and_it_runs_nothing() {
        let bash = info("bash", &["-bash"]);
        let idle = Seen {
            stat: stat(Some(300), Some(300)),
            info: bash.clone(),
            children: vec![],
        };
        assert!(at_prompt(&idle));
        // A foreground job holds the terminal.
        let busy = Seen {
            stat: stat(Some(300), Some(400)),
            ..idle.clone()
        };
        assert!(!at_prompt(&busy));
        // A subshell loop `( while ...; done ) &` has a group of its own, not the
        // terminal's; a script has no terminal at all.
        let subshell = Seen {
            stat: stat(Some(500), Some(300)),
            info: bash.clone(),
            children: vec![],
        };
        assert!(!at_prompt(&subshell));
        let script = Seen {
            stat: stat(Some(500), None),
            info: bash.clone(),
            children: vec![],
        };
        assert!(!at_prompt(&script));
        // Running something (a background job still alive) is not at the prompt.
        let server = info("python3", &["python3", "-m", "http.server"]);
        let with_job = Seen {
            stat: stat(Some(300), Some(300)),
            info: bash.clone(),
            children: vec![Child {
                info: server.clone(),
                age: None,
            }],
        };
        assert!(!at_prompt(&with_job));
    }

    #[test]
    fn without_job_control_a_shell_with_nothing_to_run_is_interactive() {
        let cmd = info("cmd.exe", &["cmd.exe"]);
        let seen = |info: &ProcessInfo| Seen {
            stat: stat(None, None),
            info: info.clone(),
            children: vec![],
        };
        assert!(at_prompt(&seen(&cmd)));
        let script = info("cmd.exe", &["cmd.exe", "/c", "loop.bat"]);
        assert!(!at_prompt(&seen(&script)));
        let pwsh = info("pwsh.exe", &["pwsh.exe", "-NoExit"]);
        assert!(at_prompt(&seen(&pwsh)));
    }

    #[test]
    fn sleep_arguments_as_gnu_and_busybox_take_them() {
        assert_eq!(sleep_arg("2"), Some(Duration::from_secs(2)));
        assert_eq!(sleep_arg("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(sleep_arg("1m"), Some(Duration::from_secs(60)));
        assert_eq!(sleep_arg("0.5s"), Some(Duration::from_millis(500)));
        assert_eq!(sleep_arg("x"), None);
        assert_eq!(sleep_arg("-1"), None);
        assert_eq!(sleep_arg(""), None);
        let sleep = info("sleep", &["sleep", "1m", "30"]);
        let child = Child {
            info: sleep.clone(),
            age: Some(Duration::from_secs(10)),
        };
        assert_eq!(sleep_left(&child), Some(Duration::from_secs(80)));
        let busybox = info("busybox", &["sleep", "2"]);
        let child = Child {
            info: busybox.clone(),
            age: None,
        };
        assert_eq!(sleep_left(&child), Some(Duration::from_secs(2)));
        let not = info("python3", &["python3", "2"]);
        let child = Child {
            info: not.clone(),
            age: None,
        };
        assert_eq!(sleep_left(&child), None);
    }

    #[test]
    fn a_busy_parent_is_watched_longer_while_it_visibly_sleeps() {
        let sh = info("bash", &["bash", "-c", "while true; do srv; sleep 3; done"]);
        let sleep = info("sleep", &["sleep", "3"]);
        let r = Restarter {
            pid: Some(40),
            started: Some(10),
            kind: RestarterKind::Parent(Link::Shell),
        };
        let busy = Seen {
            stat: stat(Some(40), None),
            info: sh.clone(),
            children: vec![],
        };
        assert_eq!(until(&r, Some(&busy), Duration::ZERO), Some(BUSY));
        assert_eq!(
            until(&r, Some(&busy), Duration::from_millis(500)),
            Some(BUSY)
        );
        let sleeping = Seen {
            stat: stat(Some(40), None),
            info: sh.clone(),
            children: vec![Child {
                info: sleep.clone(),
                age: Some(Duration::from_millis(100)),
            }],
        };
        // 2.9 s of sleep left, then a second to start and bind: until 4 s into the watch.
        assert_eq!(
            until(&r, Some(&sleeping), Duration::from_millis(100)),
            Some(Duration::from_millis(4000))
        );
        // Gone, or a zombie, or its PID now another's: it restarts nothing.
        assert_eq!(until(&r, None, Duration::ZERO), None);
        let zombie = Seen {
            stat: ProcessStat {
                zombie: true,
                ..stat(Some(40), None)
            },
            info: sh.clone(),
            children: vec![],
        };
        assert_eq!(until(&r, Some(&zombie), Duration::ZERO), None);
        let reused = Seen {
            stat: ProcessStat {
                started: Some(99),
                ..stat(Some(40), None)
            },
            info: sh.clone(),
            children: vec![],
        };
        assert_eq!(until(&r, Some(&reused), Duration::ZERO), None);
    }

    #[test]
    fn supervisors_are_watched_for_their_restart_delay() {
        let systemd = Restarter {
            pid: None,
            started: None,
            kind: RestarterKind::Supervisor(SupervisorKind::Systemd),
        };
        assert_eq!(
            until(&systemd, None, Duration::ZERO),
            Some(SupervisorKind::Systemd.restart_window())
        );
        let sd = info("python3", &["python3", "/usr/bin/supervisord"]);
        let supervisord = Restarter {
            pid: Some(7),
            started: Some(10),
            kind: RestarterKind::Supervisor(SupervisorKind::Supervisord),
        };
        let seen = Seen {
            stat: stat(Some(7), None),
            info: sd.clone(),
            children: vec![],
        };
        assert_eq!(
            until(&supervisord, Some(&seen), Duration::from_millis(500)),
            Some(SupervisorKind::Supervisord.restart_window())
        );
        assert_eq!(until(&supervisord, None, Duration::ZERO), None);
    }

    #[test]
    fn chains_stop_at_inits_terminals_and_logins() {
        assert!(is_boundary(&info(
            "systemd",
            &["/lib/systemd/systemd", "--user"]
        )));
        assert!(is_boundary(&info("sshd", &["sshd: dev@pts/0"])));
        assert!(is_boundary(&info("tmux", &["tmux: server"])));
        assert!(is_boundary(&info("tini", &["/sbin/tini", "--", "srv"])));
        assert!(!is_boundary(&info("node", &["npm run dev"])));
        assert!(!is_boundary(&info("bash", &["bash", "loop.sh"])));
    }
}
