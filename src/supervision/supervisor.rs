//! Supervisors: what restarts a process (systemd, pm2, nodemon, supervisord, runit, s6,
//! daemontools, a shell loop, a container engine), recognised from names and command
//! lines, with the command that stops each one for good.

use super::ancestry::{Link, basename, kind_of, names};
use super::unit::Unit;
use crate::model::{ProcessInfo, Text};
use crate::platform::{Backend, Os};
use crate::text::{shell_word, windows_word};

/// What restarts a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SupervisorKind {
    /// A systemd service (`Restart=` decides whether it restarts; rekt cannot read it).
    Systemd,
    /// pm2's God Daemon.
    Pm2,
    /// nodemon: restarts its program when a watched file changes.
    Nodemon,
    /// supervisord (`autorestart`).
    Supervisord,
    /// runit's runsv.
    Runit,
    /// s6-supervise.
    S6,
    /// daemontools' supervise.
    Daemontools,
    /// A shell that started the program again (a `while true` loop): known only once it
    /// has done so.
    Shell,
    /// Another process that started the program again: known only once it has done so.
    Process,
    /// A container engine, by the container's restart policy (`always`, `unless-stopped`,
    /// `on-failure`): stopping the container through the engine ends it for good.
    Engine,
    /// A system service (Windows: the service control manager, whose recovery actions may
    /// restart it): stopping the service ends it for good.
    Service,
}

impl SupervisorKind {
    /// Its name in JSON.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SupervisorKind::Systemd => "systemd",
            SupervisorKind::Pm2 => "pm2",
            SupervisorKind::Nodemon => "nodemon",
            SupervisorKind::Supervisord => "supervisord",
            SupervisorKind::Runit => "runit",
            SupervisorKind::S6 => "s6",
            SupervisorKind::Daemontools => "daemontools",
            SupervisorKind::Shell => "shell",
            SupervisorKind::Process => "process",
            SupervisorKind::Engine => "engine",
            SupervisorKind::Service => "service",
        }
    }

    /// How long after its program exits it may start it again, so how long a freed port
    /// is watched for it: about a second for supervisord and s6-supervise (measured 1.11-1.21
    /// s), then two; within a few hundred milliseconds for the others (pm2 147-302 ms, runsv
    /// 115-161, supervise 132-224; systemd's default `RestartSec=` is 100 ms), then one.
    pub(crate) fn restart_window(self) -> std::time::Duration {
        match self {
            SupervisorKind::Supervisord | SupervisorKind::S6 => std::time::Duration::from_secs(2),
            _ => std::time::Duration::from_secs(1),
        }
    }
}

/// A supervisor, as far as it can be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Supervisor {
    pub(crate) kind: SupervisorKind,
    /// Its process, when it is one (not for systemd).
    pub(crate) pid: Option<u32>,
    /// What it calls the program: the unit, pm2's app, supervisord's program, the service
    /// directory.
    pub(crate) name: Option<Text>,
    /// The command that stops it for good, written for a POSIX shell, when known.
    pub(crate) stop: Option<String>,
}

/// Which supervisor `info` is, from its names and command line alone.
pub(crate) fn recognise(info: &ProcessInfo) -> Option<SupervisorKind> {
    let names = names(info);
    let named = |n: &str| names.iter().any(|m| m == n);
    let args: Vec<String> = info
        .cmdline
        .iter()
        .take(2)
        .map(|a| a.to_str_lossless().into_owned())
        .collect();
    // An interpreter running a script: `python3 /usr/bin/supervisord`, `node
    // /usr/bin/nodemon`. Only the script (argv[1]) counts, not any later argument.
    let script = |n: &str| {
        args.get(1).is_some_and(|a| {
            let base = basename(a);
            base == n || base.strip_suffix(".js").is_some_and(|b| b == n)
        })
    };
    // pm2 names its daemon `PM2 v5.3.0: God Daemon (/home/dev/.pm2)` (process.title).
    if args
        .first()
        .is_some_and(|a| a.starts_with("PM2 ") && a.contains("God Daemon"))
    {
        return Some(SupervisorKind::Pm2);
    }
    // Where a process cannot rename itself in its command line (Windows), the daemon is
    // `node ...\pm2\lib\Daemon.js`, as pm2 starts it.
    if args.get(1).is_some_and(|a| {
        let a = a.replace('\\', "/");
        a.ends_with("/pm2/lib/Daemon.js")
    }) {
        return Some(SupervisorKind::Pm2);
    }
    if named("supervisord") || script("supervisord") {
        return Some(SupervisorKind::Supervisord);
    }
    if named("nodemon")
        || script("nodemon")
        || args
            .get(1)
            .is_some_and(|a| a.contains("/nodemon/") || a.contains("\\nodemon\\"))
    {
        return Some(SupervisorKind::Nodemon);
    }
    if named("runsv") {
        return Some(SupervisorKind::Runit);
    }
    if named("s6-supervise") {
        return Some(SupervisorKind::S6);
    }
    if named("supervise") {
        return Some(SupervisorKind::Daemontools);
    }
    None
}

/// The supervisor that `ancestor` is to `pid`, with the name it gives the program and the
/// command that stops it, reading what that takes (an environment variable, a working
/// directory).
pub(super) fn supervisor_in_chain(
    pid: u32,
    ancestor: u32,
    info: &ProcessInfo,
) -> Option<Supervisor> {
    let kind = recognise(info)?;
    let mut supervisor = Supervisor {
        kind,
        pid: Some(ancestor),
        name: None,
        stop: None,
    };
    match kind {
        SupervisorKind::Pm2 => {
            let env = Os::environment(pid, &["name", "pm_id"]);
            let value = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            // The app's name, or its id; both stop it.
            let app = value("name").or_else(|| value("pm_id"));
            let home = info.cmdline.first().and_then(pm2_home);
            supervisor.stop = app.as_ref().map(|app| pm2_stop(app, home.as_ref()));
            supervisor.name = app;
        }
        SupervisorKind::Supervisord => {
            let env = Os::environment(pid, &["SUPERVISOR_PROCESS_NAME", "SUPERVISOR_GROUP_NAME"]);
            let value = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if let Some(process) = value("SUPERVISOR_PROCESS_NAME") {
                let program = match value("SUPERVISOR_GROUP_NAME") {
                    Some(group) if group != process => {
                        let mut both = group.as_bytes().to_vec();
                        both.push(b':');
                        both.extend_from_slice(process.as_bytes());
                        Text::from_bytes(both)
                    }
                    _ => process,
                };
                let config = supervisord_config(&info.cmdline);
                supervisor.stop = Some(supervisorctl_stop(&program, config.as_ref()));
                supervisor.name = Some(program);
            }
        }
        SupervisorKind::Runit | SupervisorKind::S6 | SupervisorKind::Daemontools => {
            // Each runs in the directory of the service it supervises.
            let dir = Os::working_dir(ancestor);
            supervisor.stop = dir.as_ref().map(|d| {
                let tool = match kind {
                    SupervisorKind::Runit => "sv down",
                    SupervisorKind::S6 => "s6-svc -d",
                    _ => "svc -d",
                };
                format!("{tool} {}", shell_word(d))
            });
            supervisor.name = dir;
        }
        SupervisorKind::Nodemon => supervisor.stop = Some(format!("kill {ancestor}")),
        SupervisorKind::Systemd
        | SupervisorKind::Shell
        | SupervisorKind::Process
        | SupervisorKind::Engine
        | SupervisorKind::Service => {}
    }
    Some(supervisor)
}

/// A system service as a supervisor (Windows): `sc.exe stop NAME` stops it for good (the
/// `.exe`, because in PowerShell `sc` may be Set-Content; `Stop-Service NAME` is the same).
pub(crate) fn service_supervisor(name: &Text) -> Supervisor {
    Supervisor {
        kind: SupervisorKind::Service,
        pid: None,
        name: Some(name.clone()),
        stop: Some(format!("sc.exe stop {}", windows_word(name))),
    }
}

/// A systemd service as a supervisor: `systemctl stop`, or `systemctl --user stop` for a
/// user's unit (`-M USER@` when that user is not the one running rekt).
pub(crate) fn systemd_supervisor(unit: &Unit) -> Option<Supervisor> {
    if !unit.is_service() {
        return None;
    }
    let name = shell_word(&unit.name);
    let stop = match unit.user {
        None => format!("systemctl stop {name}"),
        Some(uid) if Os::current_uid().is_some_and(|me| me != uid) => format!(
            "systemctl --user -M {}@ stop {name}",
            shell_word(&Os::user_name(uid))
        ),
        Some(_) => format!("systemctl --user stop {name}"),
    };
    Some(Supervisor {
        kind: SupervisorKind::Systemd,
        pid: None,
        name: Some(unit.name.clone()),
        stop: Some(stop),
    })
}

/// The supervisor inferred for a newcomer whose parent also started an owner that rekt
/// ended: that parent started it again (a `while true` loop, a script that re-forks).
pub(crate) fn restarter(parent: u32, info: &ProcessInfo) -> Supervisor {
    let kind = if kind_of(info) == Link::Shell {
        SupervisorKind::Shell
    } else {
        SupervisorKind::Process
    };
    Supervisor {
        kind,
        pid: Some(parent),
        name: info.name.clone(),
        stop: Some(format!("kill {parent}")),
    }
}

/// `PM2_HOME` from the daemon's title `PM2 v5.3.0: God Daemon (/home/dev/.pm2)`, when it
/// is not the default (`~/.pm2`), so that the stop command reaches the same daemon.
fn pm2_home(title: &Text) -> Option<Text> {
    let title = title.as_bytes();
    let open = title.iter().position(|&b| b == b'(')?;
    let close = title.iter().rposition(|&b| b == b')')?;
    let home = title.get(open + 1..close)?;
    (!home.ends_with(b"/.pm2") && !home.is_empty()).then(|| Text::from_bytes(home))
}

fn pm2_stop(app: &Text, home: Option<&Text>) -> String {
    match home {
        Some(home) => format!("PM2_HOME={} pm2 stop {}", shell_word(home), shell_word(app)),
        None => format!("pm2 stop {}", shell_word(app)),
    }
}

/// The configuration file supervisord was started with (`-c FILE`, `--configuration
/// FILE`, `--configuration=FILE`), which supervisorctl needs to reach it.
fn supervisord_config(cmdline: &[Text]) -> Option<Text> {
    let mut args = cmdline.iter();
    while let Some(arg) = args.next() {
        let bytes = arg.as_bytes();
        if bytes == b"-c" || bytes == b"--configuration" {
            return args.next().cloned();
        }
        if let Some(file) = bytes.strip_prefix(b"--configuration=") {
            return Some(Text::from_bytes(file));
        }
        if let Some(file) = bytes.strip_prefix(b"-c")
            && !file.is_empty()
        {
            return Some(Text::from_bytes(file));
        }
    }
    None
}

fn supervisorctl_stop(program: &Text, config: Option<&Text>) -> String {
    match config {
        Some(config) => format!(
            "supervisorctl -c {} stop {}",
            shell_word(config),
            shell_word(program)
        ),
        None => format!("supervisorctl stop {}", shell_word(program)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::info;

    fn unit(name: &str, user: Option<u32>) -> Option<Unit> {
        Some(Unit {
            name: Text::from(name),
            user,
        })
    }

    #[test]
    fn services_stop_with_systemctl() {
        let system = systemd_supervisor(&unit("app.service", None).unwrap()).unwrap();
        assert_eq!(system.kind, SupervisorKind::Systemd);
        assert_eq!(system.stop.as_deref(), Some("systemctl stop app.service"));
        // Where processes have uids (not Windows): a user's unit, ours or another's.
        let Some(mine) = Os::current_uid() else {
            return;
        };
        let user = systemd_supervisor(&unit("app.service", Some(mine)).unwrap()).unwrap();
        assert_eq!(
            user.stop.as_deref(),
            Some("systemctl --user stop app.service")
        );
        let theirs = mine.wrapping_add(1);
        let other = systemd_supervisor(&unit("app.service", Some(theirs)).unwrap()).unwrap();
        assert!(
            other.stop.unwrap().starts_with("systemctl --user -M "),
            "another user's unit is stopped in that user's manager"
        );
    }

    #[test]
    fn windows_command_lines_name_pm2_and_nodemon() {
        // On Windows a process cannot retitle its command line: pm2's daemon is the node
        // running pm2's Daemon.js, and nodemon's paths use backslashes.
        let god = info(
            "node.exe",
            &[
                r"C:\Program Files\nodejs\node.exe",
                r"C:\Users\dev\AppData\Roaming\npm\node_modules\pm2\lib\Daemon.js",
            ],
        );
        assert_eq!(recognise(&god), Some(SupervisorKind::Pm2));
        let nodemon = info(
            "node.exe",
            &[
                "node",
                r"C:\Users\dev\AppData\Roaming\npm\node_modules\nodemon\bin\nodemon.js",
                "app.js",
            ],
        );
        assert_eq!(recognise(&nodemon), Some(SupervisorKind::Nodemon));
        let shim = info(
            "node.exe",
            &["node", r"C:\app\node_modules\nodemon\lib\cli.js"],
        );
        assert_eq!(recognise(&shim), Some(SupervisorKind::Nodemon));
        // Another script called Daemon.js is not pm2's.
        let other = info("node.exe", &["node", r"C:\app\lib\Daemon.js"]);
        assert_eq!(recognise(&other), None);
    }

    #[test]
    fn services_stop_through_the_service_manager() {
        let s = service_supervisor(&Text::from("W3SVC"));
        assert_eq!(s.kind, SupervisorKind::Service);
        assert_eq!(s.stop.as_deref(), Some("sc.exe stop W3SVC"));
        assert_eq!(s.pid, None);
        let spaced = service_supervisor(&Text::from("My App \"x\""));
        assert_eq!(spaced.stop.as_deref(), Some("sc.exe stop \"My App x\""));
        assert_eq!(windows_word(&Text::from("")), "\"\"");
    }

    #[test]
    fn supervisors_are_recognised_by_name_and_script() {
        let god = info("node", &["PM2 v5.3.0: God Daemon (/home/dev/.pm2)"]);
        assert_eq!(recognise(&god), Some(SupervisorKind::Pm2));
        let sd = info(
            "python3.11",
            &["/usr/bin/python3", "/usr/bin/supervisord", "-n"],
        );
        assert_eq!(recognise(&sd), Some(SupervisorKind::Supervisord));
        let nodemon = info("node", &["node", "/usr/bin/nodemon", "server.js"]);
        assert_eq!(recognise(&nodemon), Some(SupervisorKind::Nodemon));
        let local = info(
            "node",
            &["node", "/app/node_modules/nodemon/bin/nodemon.js", "x"],
        );
        assert_eq!(recognise(&local), Some(SupervisorKind::Nodemon));
        assert_eq!(
            recognise(&info("runsv", &["runsv", "app"])),
            Some(SupervisorKind::Runit)
        );
        assert_eq!(
            recognise(&info("busybox", &["runsv", "app"])),
            Some(SupervisorKind::Runit)
        );
        assert_eq!(
            recognise(&info("s6-supervise", &["s6-supervise", "app"])),
            Some(SupervisorKind::S6)
        );
        assert_eq!(
            recognise(&info("supervise", &["supervise", "app"])),
            Some(SupervisorKind::Daemontools)
        );
        // An argument that merely mentions a supervisor is not one.
        assert_eq!(
            recognise(&info("python3", &["python3", "-m", "supervisord"])),
            None
        );
        assert_eq!(recognise(&info("vim", &["vim", "supervisord.conf"])), None);
        assert_eq!(recognise(&info("bash", &["bash"])), None);
    }

    #[test]
    fn stop_commands_reach_the_same_daemon() {
        let home = pm2_home(&Text::from("PM2 v7.0.4: God Daemon (/tmp/x/pm2home)"));
        assert_eq!(home, Some(Text::from("/tmp/x/pm2home")));
        assert_eq!(
            pm2_home(&Text::from("PM2 v7.0.4: God Daemon (/root/.pm2)")),
            None
        );
        assert_eq!(
            pm2_stop(&Text::from("app"), home.as_ref()),
            "PM2_HOME=/tmp/x/pm2home pm2 stop app"
        );
        let args = |a: &[&str]| a.iter().map(|s| Text::from(*s)).collect::<Vec<_>>();
        assert_eq!(
            supervisord_config(&args(&[
                "python3",
                "/usr/bin/supervisord",
                "-c",
                "/e/s.conf"
            ])),
            Some(Text::from("/e/s.conf"))
        );
        assert_eq!(
            supervisord_config(&args(&["supervisord", "--configuration=/e/s.conf"])),
            Some(Text::from("/e/s.conf"))
        );
        assert_eq!(supervisord_config(&args(&["supervisord", "-n"])), None);
        assert_eq!(
            supervisorctl_stop(&Text::from("web:web_0"), Some(&Text::from("/e/s.conf"))),
            "supervisorctl -c /e/s.conf stop web:web_0"
        );
    }
}
