//! Supervisors: what may start a process again, and how to stop it for good.

use super::super::Known;
use super::who;
use crate::supervision::{Supervisor, SupervisorKind, Unit};

/// A supervisor in a sentence: `pm2 (app web)`, `systemd unit app.service`.
pub(crate) fn supervisor(s: &Supervisor, unit: Option<&Unit>, details: &Known) -> String {
    let name = s.name.as_ref().map(|n| n.to_string());
    let pid = s.pid.map(|p| who(p, details)).unwrap_or_default();
    match (s.kind, name) {
        (SupervisorKind::Systemd, name) => {
            let user = if unit.is_some_and(|u| u.user.is_some()) {
                "user "
            } else {
                ""
            };
            format!("systemd {user}unit {}", name.unwrap_or_default())
        }
        (SupervisorKind::Pm2, Some(app)) => format!("pm2 (as {app})"),
        (SupervisorKind::Supervisord, Some(program)) => {
            format!("supervisord (program {program})")
        }
        (SupervisorKind::Runit | SupervisorKind::S6 | SupervisorKind::Daemontools, Some(dir)) => {
            format!("{} (service {dir})", tool(s.kind))
        }
        (SupervisorKind::Shell, _) => format!("the shell {pid}"),
        (SupervisorKind::Engine, name) => format!(
            "its container engine (container {}, restart policy)",
            name.unwrap_or_default()
        ),
        (SupervisorKind::Service, name) => format!(
            "the service manager (as the service {})",
            name.unwrap_or_default()
        ),
        (kind, _) => {
            let tool = tool(kind);
            if tool.is_empty() {
                pid
            } else {
                format!("{tool} {pid}")
            }
        }
    }
}

/// The program a supervisor kind runs as.
fn tool(kind: SupervisorKind) -> &'static str {
    match kind {
        SupervisorKind::Systemd => "systemd",
        SupervisorKind::Pm2 => "pm2",
        SupervisorKind::Nodemon => "nodemon",
        SupervisorKind::Supervisord => "supervisord",
        SupervisorKind::Runit => "runsv",
        SupervisorKind::S6 => "s6-supervise",
        SupervisorKind::Daemontools => "supervise",
        SupervisorKind::Shell | SupervisorKind::Process => "",
        SupervisorKind::Engine => "engine",
        SupervisorKind::Service => "service",
    }
}

/// A supervisor in a table cell: `pm2:web`, `systemd:app.service`, `shell:4100`.
pub(crate) fn supervisor_cell(s: &Supervisor) -> String {
    let what = match (&s.name, s.pid) {
        (Some(name), _) if !matches!(s.kind, SupervisorKind::Shell | SupervisorKind::Process) => {
            name.to_string()
        }
        (_, Some(pid)) => pid.to_string(),
        (Some(name), None) => name.to_string(),
        (None, None) => return s.kind.as_str().to_owned(),
    };
    format!("{}:{what}", s.kind.as_str())
}

/// Before a signal: `4100 (node) runs under pm2 (app web), which may start it again; to stop
/// it for good: pm2 stop web`.
pub(crate) fn supervised(pid: u32, details: &Known) -> Option<String> {
    let context = details.context(pid)?;
    let s = context.supervisor.as_ref()?;
    let restarts = match s.kind {
        SupervisorKind::Nodemon => "which starts it again when a watched file changes",
        _ => "which may start it again",
    };
    let mut line = format!(
        "{} runs under {}, {restarts}",
        who(pid, details),
        supervisor(s, context.unit.as_ref(), details)
    );
    if let Some(stop) = &s.stop {
        line.push_str(&format!("; to stop it for good: {stop}{}", powershell(s)));
    }
    Some(line)
}

/// A service's stop command in PowerShell's words too: ` (PowerShell: Stop-Service NAME)`.
pub(crate) fn powershell(s: &Supervisor) -> String {
    match (s.kind, &s.name) {
        (SupervisorKind::Service, Some(name)) => format!(
            " (PowerShell: Stop-Service {})",
            crate::text::windows_word(name)
        ),
        _ => String::new(),
    }
}
