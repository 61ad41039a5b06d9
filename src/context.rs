//! Describe: who started an owner, and what would start it again. For each owner shown
//! (never for every process): its parent chain up to the first process that is not a
//! shell, terminal or sudo; its systemd unit, from its cgroup lines; and its supervisor,
//! when the chain or the unit shows one. Also rekt's own ancestry, whose members are never
//! signalled (`roles`).
//!
//! The facts come through the platform seam (`Backend::process_stat`, `cgroup_lines`,
//! `working_dir`, `environment`); reading them is this module's business, deciding from
//! them is done by pure functions below, which the unit tests feed with real lines.

use std::collections::HashMap;

use crate::containers::Container;
use crate::model::{ProcessInfo, ProcessStat, Text};
use crate::platform::{Backend, Os};
use crate::roles::Role;

/// How far up a chain is followed at most: deeper than any real process tree, and a bound
/// on a chain that a race could make long.
const MAX_DEPTH: usize = 64;

/// What is known about processes in this run, by PID, each read at most once: details
/// (name, user, command line) for the owners and their ancestors, each owner's role, and
/// each owner's context.
#[derive(Debug, Default)]
pub struct Details {
    info: HashMap<u32, ProcessInfo>,
    roles: HashMap<u32, Role>,
    contexts: HashMap<u32, Context>,
    /// The container each owner runs in, when it runs in one (`containers`).
    containers: HashMap<u32, Container>,
}

impl Details {
    pub fn new() -> Details {
        Details::default()
    }

    /// What is known of `pid`, if it was read.
    pub fn get(&self, pid: &u32) -> Option<&ProcessInfo> {
        self.info.get(pid)
    }

    /// Reads `pid`'s details unless they were read before; returns them.
    pub fn read(&mut self, pid: u32) -> &ProcessInfo {
        self.info
            .entry(pid)
            .or_insert_with(|| Os::process_info(pid))
    }

    /// `pid`'s role, if it was decided.
    pub fn role(&self, pid: u32) -> Option<&Role> {
        self.roles.get(&pid)
    }

    pub fn set_role(&mut self, pid: u32, role: Role) {
        self.roles.insert(pid, role);
    }

    /// The container `pid` runs in, if it runs in one.
    pub fn container(&self, pid: u32) -> Option<&Container> {
        self.containers.get(&pid)
    }

    pub fn set_container(&mut self, pid: u32, container: Container) {
        self.containers.insert(pid, container);
    }

    /// `pid`'s context, if it was described.
    pub fn context(&self, pid: u32) -> Option<&Context> {
        self.contexts.get(&pid)
    }

    /// Describes `pid` (parent chain, unit, supervisor) unless it was described before. A
    /// process in a container with a restart policy has the engine as its supervisor.
    pub fn describe(&mut self, pid: u32) -> &Context {
        if !self.contexts.contains_key(&pid) {
            let mut context = describe(pid, self);
            if let Some(c) = self.containers.get(&pid)
                && c.restart.is_some()
            {
                context.supervisor = Some(Supervisor {
                    kind: SupervisorKind::Engine,
                    pid: None,
                    name: Some(c.handle()),
                    stop: Some(c.command(false)),
                });
            }
            self.contexts.insert(pid, context);
        }
        &self.contexts[&pid]
    }

    /// Records a context found otherwise (a newcomer's supervisor inferred by the watch).
    pub fn set_context(&mut self, pid: u32, context: Context) {
        self.contexts.insert(pid, context);
    }

    #[cfg(test)]
    pub fn insert(&mut self, pid: u32, info: ProcessInfo) {
        self.info.insert(pid, info);
    }
}

/// Who started a process and what would start it again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Its parent, grandparent, ... nearest first, up to and including the first that is
    /// not a shell, terminal or sudo (or PID 1).
    pub parents: Vec<u32>,
    /// The systemd unit it runs in, from its cgroup.
    pub unit: Option<Unit>,
    /// What restarts it, when the chain or the unit shows it.
    pub supervisor: Option<Supervisor>,
}

/// A systemd unit, named as in the cgroup path (`app.service`, `session-3.scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub name: Text,
    /// For a unit of a user's own service manager (`user@1000.service/.../app.service`):
    /// that user's uid.
    pub user: Option<u32>,
}

impl Unit {
    /// A service is started, and maybe restarted, by systemd; a scope only groups
    /// processes that something else started (a login session, a container).
    pub fn is_service(&self) -> bool {
        self.name.as_bytes().ends_with(b".service")
    }
}

/// What restarts a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorKind {
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
    pub fn as_str(self) -> &'static str {
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

    /// Whether it waits about a second before it restarts a program (measured: supervisord
    /// 1.13-1.19 s, s6-supervise 1.11-1.21 s), longer than the default settle time.
    pub fn restarts_slowly(self) -> bool {
        matches!(self, SupervisorKind::Supervisord | SupervisorKind::S6)
    }
}

/// A supervisor, as far as it can be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervisor {
    pub kind: SupervisorKind,
    /// Its process, when it is one (not for systemd).
    pub pid: Option<u32>,
    /// What it calls the program: the unit, pm2's app, supervisord's program, the service
    /// directory.
    pub name: Option<Text>,
    /// The command that stops it for good, written for a POSIX shell, when known.
    pub stop: Option<String>,
}

/// rekt's own ancestors, nearest first, up to PID 1: none of them is ever signalled.
pub fn callers() -> Vec<u32> {
    ancestry(std::process::id(), Os::process_stat, |_| true)
}

/// The ancestors of `pid`, nearest first, read with `stat`, for as long as `more` says to
/// go on past the one just added. A chain stops at a process with no parent, at a parent
/// that cannot be read, at a cycle, and at a "parent" that started after its child: that
/// PID was given to a newcomer after the real parent exited (Windows keeps a dead parent's
/// PID in its records and reuses PIDs).
pub fn ancestry(
    pid: u32,
    stat: impl Fn(u32) -> Option<ProcessStat>,
    mut more: impl FnMut(u32) -> bool,
) -> Vec<u32> {
    let mut chain = Vec::new();
    let Some(mut child) = stat(pid) else {
        return chain;
    };
    while chain.len() < MAX_DEPTH {
        let Some(parent) = child.parent else { break };
        if parent == pid || chain.contains(&parent) {
            break;
        }
        let Some(up) = stat(parent) else { break };
        if let (Some(theirs), Some(ours)) = (up.started, child.started)
            && theirs > ours
        {
            break;
        }
        chain.push(parent);
        if !more(parent) {
            break;
        }
        child = up;
    }
    chain
}

/// Describes `pid`: its parent chain, unit and supervisor, reading the ancestors' details
/// into `details` (their names are shown).
fn describe(pid: u32, details: &mut Details) -> Context {
    let parents = ancestry(pid, Os::process_stat, |p| {
        p != 1 && kind_of(details.read(p)) != Kind::Other
    });
    let unit = unit_of(&Os::cgroup_lines(pid));
    let supervisor = parents
        .iter()
        .find_map(|&p| supervisor_in_chain(pid, p, details.read(p)))
        .or_else(|| unit.as_ref().and_then(systemd_supervisor))
        .or_else(|| Os::service(pid).map(|name| service_supervisor(&name)));
    Context {
        parents,
        unit,
        supervisor,
    }
}

/// What a process in a chain is, as far as a chain cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Shell,
    /// A terminal or multiplexer: what runs a shell for a person.
    Terminal,
    /// sudo and its kin: run one command as another user.
    Sudo,
    Other,
}

/// The names a process goes by: its executable's file name and its argv[0]'s (a login
/// shell's `-bash`, busybox's applet), in lower case and without `.exe`.
fn names(info: &ProcessInfo) -> Vec<String> {
    let argv0 = info.cmdline.first().map(|a| {
        basename(&a.to_str_lossless())
            .trim_start_matches('-')
            .to_owned()
    });
    let exe = info.name.as_ref().map(|n| n.to_str_lossless().into_owned());
    [exe, argv0]
        .into_iter()
        .flatten()
        .map(|n| {
            let n = n.to_ascii_lowercase();
            n.strip_suffix(".exe").map(str::to_owned).unwrap_or(n)
        })
        .collect()
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "fish",
    "ksh",
    "ksh93",
    "mksh",
    "pdksh",
    "oksh",
    "ash",
    "yash",
    "tcsh",
    "csh",
    "rbash",
    "nu",
    "elvish",
    "xonsh",
    "pwsh",
    "powershell",
    "cmd",
];
const TERMINALS: &[&str] = &[
    "tmux",
    "tmux: server",
    "screen",
    "script",
    "login",
    "agetty",
    "xterm",
    "uxterm",
    "urxvt",
    "rxvt",
    "st",
    "gnome-terminal-server",
    "konsole",
    "xfce4-terminal",
    "mate-terminal",
    "lxterminal",
    "terminator",
    "tilix",
    "alacritty",
    "kitty",
    "wezterm-gui",
    "foot",
    "ghostty",
    "terminal",
    "iterm2",
    "conhost",
    "openconsole",
    "windowsterminal",
];
const SUDOS: &[&str] = &[
    "sudo", "su", "doas", "runuser", "setpriv", "pkexec", "gsudo", "sudo-rs",
];

/// Whether `info` is a shell, a terminal, sudo or something else.
pub fn kind_of(info: &ProcessInfo) -> Kind {
    let names = names(info);
    let is = |list: &[&str]| names.iter().any(|n| list.contains(&n.as_str()));
    if is(SHELLS) {
        Kind::Shell
    } else if is(SUDOS) {
        Kind::Sudo
    } else if is(TERMINALS) {
        Kind::Terminal
    } else {
        Kind::Other
    }
}

/// Which supervisor `info` is, from its names and command line alone.
pub fn recognise(info: &ProcessInfo) -> Option<SupervisorKind> {
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
fn supervisor_in_chain(pid: u32, ancestor: u32, info: &ProcessInfo) -> Option<Supervisor> {
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

/// A systemd service as a supervisor: `systemctl stop`, or `systemctl --user stop` for a
/// user's unit (`-M USER@` when that user is not the one running rekt).
pub fn systemd_supervisor(unit: &Unit) -> Option<Supervisor> {
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

/// A system service as a supervisor (Windows): `sc.exe stop NAME` stops it for good (the
/// `.exe`, because in PowerShell `sc` may be Set-Content; `Stop-Service NAME` is the same).
pub fn service_supervisor(name: &Text) -> Supervisor {
    Supervisor {
        kind: SupervisorKind::Service,
        pid: None,
        name: Some(name.clone()),
        stop: Some(format!("sc.exe stop {}", windows_word(name))),
    }
}

/// `text` as one word for cmd and PowerShell alike: bare when it is made of safe
/// characters, else in double quotes (which no service name contains). A name with a
/// control character is written escaped: shown safely, but not something to paste.
pub fn windows_word(text: &Text) -> String {
    let bytes = text.as_bytes();
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
    if !bytes.is_empty() && bytes.iter().all(|&b| safe(b)) {
        return text.to_string();
    }
    format!("\"{}\"", text.to_string().replace('"', ""))
}

/// The supervisor inferred for a newcomer whose parent also started an owner that rekt
/// ended: that parent started it again (a `while true` loop, a script that re-forks).
pub fn restarter(parent: u32, info: &ProcessInfo) -> Supervisor {
    let kind = if kind_of(info) == Kind::Shell {
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

/// The systemd unit named by cgroup lines. The name=systemd hierarchy (cgroup v1 and the
/// hybrid layout) is the one systemd tracks units in; a system with only cgroup v2 has
/// only the `0::` line.
pub fn unit_of(lines: &[Text]) -> Option<Unit> {
    let path_of = |line: &Text| -> Option<(bool, Vec<u8>)> {
        let line = line.as_bytes();
        let mut parts = line.splitn(3, |&b| b == b':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let systemd = controllers == b"name=systemd";
        let unified = controllers.is_empty();
        (systemd || unified).then(|| (systemd, path.to_vec()))
    };
    let mut paths: Vec<(bool, Vec<u8>)> = lines.iter().filter_map(path_of).collect();
    // name=systemd first; the unified line when that one names no unit (a process moved
    // in the v2 hierarchy alone).
    paths.sort_by_key(|(systemd, _)| !systemd);
    paths.iter().find_map(|(_, path)| unit_in_path(path))
}

/// The unit in a cgroup path: its last component that names a service or a scope, and
/// whether it lies under a user's service manager (`user@UID.service`).
fn unit_in_path(path: &[u8]) -> Option<Unit> {
    let components: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let at = components
        .iter()
        .rposition(|c| c.ends_with(b".service") || c.ends_with(b".scope"))?;
    let user = components[..at].iter().find_map(|c| {
        let uid = c.strip_prefix(b"user@")?.strip_suffix(b".service")?;
        std::str::from_utf8(uid).ok()?.parse::<u32>().ok()
    });
    Some(Unit {
        name: Text::from_bytes(components[at]),
        user,
    })
}

/// `text` as one word for a POSIX shell, so that a printed command can be pasted as it is:
/// bare when it is made of safe characters, else in single quotes. A name with a control
/// character or bytes that are not UTF-8 is written escaped and quoted: shown safely, but
/// not something to paste.
pub fn shell_word(text: &Text) -> String {
    let bytes = text.as_bytes();
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b);
    if !bytes.is_empty() && bytes.iter().all(|&b| safe(b)) {
        return text.to_string();
    }
    let shown = text.to_string();
    format!("'{}'", shown.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::info;

    fn lines(text: &str) -> Vec<Text> {
        text.lines().map(Text::from).collect()
    }

    fn unit(name: &str, user: Option<u32>) -> Option<Unit> {
        Some(Unit {
            name: Text::from(name),
            user,
        })
    }

    #[test]
    fn system_units_from_cgroup_v2() {
        assert_eq!(
            unit_of(&lines("0::/system.slice/nginx.service")),
            unit("nginx.service", None)
        );
        // A service that delegates subgroups of its own.
        assert_eq!(
            unit_of(&lines("0::/system.slice/containerd.service/payload")),
            unit("containerd.service", None)
        );
        assert_eq!(
            unit_of(&lines(
                "0::/system.slice/system-getty.slice/getty@tty1.service"
            )),
            unit("getty@tty1.service", None)
        );
    }

    #[test]
    fn user_units_and_sessions() {
        assert_eq!(
            unit_of(&lines(
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app.service"
            )),
            unit("app.service", Some(1000))
        );
        // The user's service manager itself is a system unit.
        assert_eq!(
            unit_of(&lines(
                "0::/user.slice/user-1000.slice/user@1000.service/init.scope"
            )),
            unit("init.scope", Some(1000))
        );
        assert_eq!(
            unit_of(&lines("0::/user.slice/user-1000.slice/user@1000.service")),
            unit("user@1000.service", None)
        );
        let session = unit_of(&lines("0::/user.slice/user-1000.slice/session-3.scope")).unwrap();
        assert_eq!(session, unit("session-3.scope", None).unwrap());
        assert!(!session.is_service());
        assert_eq!(systemd_supervisor(&session), None);
    }

    #[test]
    fn cgroup_v1_and_hybrid_use_the_name_systemd_hierarchy() {
        let v1 = "12:pids:/system.slice/app.service\n\
                  11:memory:/system.slice/app.service\n\
                  1:name=systemd:/system.slice/app.service";
        assert_eq!(unit_of(&lines(v1)), unit("app.service", None));
        // Hybrid: the unified line may be empty or a plain `/` while name=systemd tracks.
        let hybrid = "9:name=systemd:/user.slice/user-1000.slice/user@1000.service/app.slice/web.service\n\
                      4:memory:/process_api/3f94\n\
                      0::/";
        assert_eq!(unit_of(&lines(hybrid)), unit("web.service", Some(1000)));
        // Moved in the unified hierarchy alone: that line names the unit.
        let unified = "9:name=systemd:/\n0::/system.slice/app.service";
        assert_eq!(unit_of(&lines(unified)), unit("app.service", None));
    }

    #[test]
    fn paths_without_a_unit() {
        for text in [
            "0::/",
            "9:name=systemd:/\n0::/",
            "4:memory:/process_api/3f94a5f3f4004b19acef9246dd86d27f\n0::/",
            "0::/docker/0123456789abcdef",
            "0::/lxc.payload.c1",
            "",
            "garbage",
        ] {
            assert_eq!(unit_of(&lines(text)), None, "{text:?}");
        }
        // A container under systemd shows its scope: a unit, not a supervisor.
        let docker = unit_of(&lines("0::/system.slice/docker-0123abcd.scope")).unwrap();
        assert!(!docker.is_service());
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
    fn shells_terminals_and_sudo_are_passed_through() {
        assert_eq!(kind_of(&info("bash", &["-bash"])), Kind::Shell);
        assert_eq!(kind_of(&info("busybox", &["sh", "-c", "x"])), Kind::Shell);
        assert_eq!(
            kind_of(&info("dash", &["/bin/sh", "-c", "rekt"])),
            Kind::Shell
        );
        assert_eq!(kind_of(&info("pwsh.exe", &[])), Kind::Shell);
        assert_eq!(kind_of(&info("sudo", &["sudo", "rekt"])), Kind::Sudo);
        assert_eq!(kind_of(&info("tmux", &["tmux"])), Kind::Terminal);
        assert_eq!(kind_of(&info("sshd", &["sshd: dev@pts/0"])), Kind::Other);
        assert_eq!(
            kind_of(&info("python3.11", &["python3", "sup.py"])),
            Kind::Other
        );
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

    #[test]
    fn shell_words_are_safe_to_paste() {
        assert_eq!(shell_word(&Text::from("app.service")), "app.service");
        assert_eq!(shell_word(&Text::from("/etc/sv/app")), "/etc/sv/app");
        assert_eq!(shell_word(&Text::from("my app")), "'my app'");
        assert_eq!(shell_word(&Text::from("a;rm -rf /")), "'a;rm -rf /'");
        assert_eq!(shell_word(&Text::from("it's")), r"'it'\''s'");
        assert_eq!(shell_word(&Text::from("")), "''");
        // A control character is shown escaped, never raw.
        let hostile = shell_word(&Text::from("x\x1b[2J"));
        assert!(!hostile.contains('\x1b'), "{hostile}");
    }

    /// A process table for `ancestry`: pid -> (parent, started).
    fn table(rows: &[(u32, u32, u64)]) -> impl Fn(u32) -> Option<ProcessStat> + '_ {
        move |pid| {
            rows.iter()
                .find(|r| r.0 == pid)
                .map(|&(_, parent, started)| ProcessStat {
                    parent: (parent != 0).then_some(parent),
                    started: Some(started),
                    stopped: false,
                })
        }
    }

    #[test]
    fn ancestry_goes_up_to_init() {
        let rows = [(1, 0, 1), (100, 1, 10), (200, 100, 20), (300, 200, 30)];
        assert_eq!(ancestry(300, table(&rows), |_| true), vec![200, 100, 1]);
        assert_eq!(ancestry(300, table(&rows), |p| p != 200), vec![200]);
        assert_eq!(ancestry(1, table(&rows), |_| true), Vec::<u32>::new());
        assert_eq!(ancestry(999, table(&rows), |_| true), Vec::<u32>::new());
    }

    #[test]
    fn ancestry_stops_at_a_reused_pid_and_a_cycle() {
        // 100 exited; its PID now names a process that started after 300.
        let reused = [(1, 0, 1), (100, 1, 50), (200, 100, 20), (300, 200, 30)];
        assert_eq!(ancestry(300, table(&reused), |_| true), vec![200]);
        // Records that loop (only PID reuse can make them).
        let cycle = [(100, 200, 10), (200, 100, 10), (300, 200, 10)];
        assert_eq!(ancestry(300, table(&cycle), |_| true), vec![200, 100]);
        let selfish = [(5, 5, 1)];
        assert_eq!(ancestry(5, table(&selfish), |_| true), Vec::<u32>::new());
        // A parent that cannot be read ends the chain.
        let gone = [(300, 200, 30)];
        assert_eq!(ancestry(300, table(&gone), |_| true), Vec::<u32>::new());
    }

    #[test]
    fn rekt_s_callers_end_at_init() {
        let callers = callers();
        #[cfg(unix)]
        assert_eq!(callers.first(), Some(&std::os::unix::process::parent_id()));
        assert!(!callers.contains(&std::process::id()));
    }
}
