//! Human output: tables on stdout, one-line notes and reports on stderr.

use std::io::{self, Write};

use super::{Details, Printer, Style, table};
use crate::Lookup;
use crate::duration;
use crate::exit_codes::ExitCode;
use crate::kill::{Event, Outcome, Report};
use crate::model::{PortStatus, Socket};
use crate::platform;

pub struct HumanPrinter {
    verbose: bool,
    listing: bool,
    out: Style,
    err: Style,
}

impl HumanPrinter {
    pub fn new(verbose: bool) -> HumanPrinter {
        HumanPrinter {
            verbose,
            listing: false,
            out: Style::for_stream(&io::stdout()),
            err: Style::for_stream(&io::stderr()),
        }
    }

    fn print_table(&self, table: &table::Table) {
        if table.is_empty() {
            return;
        }
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        // A closed pipe (`rekt | head -1`) is not worth an error.
        let _ = table.write(&mut out, self.out).and_then(|()| out.flush());
    }

    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}

impl Printer for HumanPrinter {
    fn owners(&mut self, found: &Lookup, details: &Details) {
        self.print_table(&table::lookup_table(found, self.verbose, details));
    }

    fn listeners(&mut self, found: &Lookup, details: &Details) {
        self.listing = true;
        self.print_table(&table::list_table(
            found,
            self.verbose,
            details,
            platform::user_name,
        ));
    }

    fn hidden(&mut self, found: &Lookup, privileged: bool) {
        let hidden = &found.ownership.hidden;
        if !self.listing && found.ownership.incomplete && !privileged {
            for line in shared_notes(found) {
                self.note(&self.err.yellow(&format!("rekt: {line}")));
            }
        }
        if hidden.is_empty() {
            return;
        }
        let why = Hidden::explain(found.ownership.incomplete, privileged);
        if self.listing {
            let n = hidden.len();
            let (s, its) = if n == 1 { ("", "its") } else { ("s", "their") };
            self.note(&format!(
                "rekt: {n} socket{s} shown with PID '-': {its} owner is {}",
                why.reason()
            ));
            return;
        }
        for line in hidden_notes(hidden, why) {
            self.note(&self.err.yellow(&format!("rekt: {line}")));
        }
    }

    fn hint(&mut self, text: &str) {
        self.note(&self.err.yellow(&format!("rekt: {text}")));
    }

    fn free(&mut self, ports: &str) {
        self.note(&format!("rekt: nothing holds {ports}"));
    }

    fn event(&mut self, event: Event<'_>) {
        let line = match event {
            Event::Sent(report, signal) => format!("{} {}", signal.verb(), report.who()),
            Event::NotSent(report) | Event::Skipped(report) => describe(report),
            Event::Escalating { report, waited } if waited.is_zero() => {
                format!("killing {} instead (--escalate)", report.who())
            }
            Event::Escalating { report, waited } => format!(
                "{} is still running after {}; killing it",
                report.who(),
                duration::format(waited)
            ),
            Event::StillRunning { report, waited } => self.err.red(&format!(
                "{} is still running after {}{}",
                report.who(),
                duration::format(waited),
                if report.signal == Some(crate::kill::Signal::Terminate) {
                    "; use -k or --escalate to force it"
                } else {
                    ""
                }
            )),
        };
        self.note(&line);
    }

    fn outcomes(&mut self, _: &[Report]) {}

    fn ports(&mut self, statuses: &[PortStatus], details: &Details) {
        for status in statuses {
            let port = format!("port {}/{}", status.port, status.protocol);
            if status.is_free() {
                self.note(&self.err.green(&format!("{port} is free")));
                continue;
            }
            let mut holders: Vec<String> = status
                .holders
                .iter()
                .map(
                    |pid| match details.get(pid).and_then(|i| i.name.as_deref()) {
                        Some(name) => format!("{pid} ({name})"),
                        None => pid.to_string(),
                    },
                )
                .collect();
            if status.hidden {
                holders.push("a process you cannot see".into());
            }
            let by = match status.holders.len() {
                0 => holders.join(", "),
                1 => format!("PID {}", holders.join(", ")),
                _ => format!("PIDs {}", holders.join(", ")),
            };
            self.note(&self.err.red(&format!("{port} is still held by {by}")));
        }
    }

    fn error(&mut self, message: &str) {
        self.note(&format!("rekt: {message}"));
    }

    fn finish(&mut self, _: ExitCode) {}
}

/// The one line for an owner that was not signalled, or whose signal failed.
fn describe(report: &Report) -> String {
    let who = report.who();
    match &report.outcome {
        Outcome::Refused(why) => format!("refusing to signal {who}: {why}"),
        Outcome::Denied(e) => format!("could not signal {who}: {e}; {}", platform::PRIVILEGE_HINT),
        Outcome::Failed(e) => format!("could not signal {who}: {e}"),
        Outcome::AlreadyGone => {
            format!("{who} already exited or let go of the port; not signalled")
        }
        Outcome::Declined => format!("skipped {who}"),
        Outcome::Exited => format!("{who} exited"),
        Outcome::StillRunning => format!("{who} is still running"),
    }
}

/// Why a matching socket has no visible owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hidden {
    /// Some processes could not be inspected, and more privileges would help.
    NeedsPrivilege,
    /// Some processes could not be inspected even with privileges (another user
    /// namespace, or a locked-down process).
    Unreadable,
    /// Every process was inspected: the socket is held from another PID namespace or by
    /// the kernel.
    Unheld,
}

impl Hidden {
    fn explain(incomplete: bool, privileged: bool) -> Hidden {
        match (incomplete, privileged) {
            (true, false) => Hidden::NeedsPrivilege,
            (true, true) => Hidden::Unreadable,
            (false, _) => Hidden::Unheld,
        }
    }

    fn reason(self) -> String {
        match self {
            Hidden::NeedsPrivilege => format!(
                "another user's process, which you cannot see; {}",
                platform::PRIVILEGE_HINT
            ),
            Hidden::Unreadable => {
                "a process whose fds cannot be read even with privileges (another user \
                 namespace, or a locked-down process)"
                    .into()
            }
            Hidden::Unheld => {
                "not a visible process: no process here has the socket open (another PID \
                 namespace, or the kernel)"
                    .into()
            }
        }
    }
}

/// A socket you can see an owner of, but that another user created: that user's processes
/// (a root master process, say) may hold it too, and you cannot see them. Said once per
/// (port, protocol, uid), since the lookup is otherwise complete and exits 0.
fn shared_notes(found: &Lookup) -> Vec<String> {
    let Some(me) = platform::current_uid() else {
        return Vec::new();
    };
    let mut keys: Vec<(u16, &'static str, u32)> = found
        .ownership
        .owners
        .iter()
        .flat_map(|o| &o.sockets)
        .filter_map(|s| Some((s.port(), s.protocol.as_str(), s.uid.filter(|&u| u != me)?)))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    // Where a socket of that user on that port is already reported hidden, that says it.
    keys.retain(|&(port, proto, uid)| {
        !found
            .ownership
            .hidden
            .iter()
            .any(|h| (h.port(), h.protocol.as_str(), h.uid) == (port, proto, Some(uid)))
    });
    keys.into_iter()
        .map(|(port, proto, uid)| {
            format!(
                "port {port}/{proto}: the socket belongs to uid {uid} ({}), whose processes may \
                 hold it too without your seeing them; {}",
                platform::user_name(uid),
                platform::PRIVILEGE_HINT
            )
        })
        .collect()
}

/// One line per (port, protocol, uid) whose socket has no visible owner, saying what is
/// known and what to do about it.
fn hidden_notes(hidden: &[Socket], why: Hidden) -> Vec<String> {
    let mut keys: Vec<(u16, &'static str, Option<u32>)> = hidden
        .iter()
        .map(|s| (s.port(), s.protocol.as_str(), s.uid))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .map(|(port, proto, uid)| {
            let whose = match uid {
                Some(uid) => format!(" of uid {uid} ({})", platform::user_name(uid)),
                None => String::new(),
            };
            match why {
                Hidden::NeedsPrivilege => format!(
                    "port {port}/{proto} is held by a process{whose} that you cannot see; {}",
                    platform::PRIVILEGE_HINT
                ),
                Hidden::Unreadable => format!(
                    "port {port}/{proto} is held by a process{whose} whose fds cannot be read, \
                     even with privileges (another user namespace, or a locked-down process)"
                ),
                Hidden::Unheld => format!(
                    "port {port}/{proto} is held by a socket{whose} that no visible process has \
                     open (another PID namespace, or the kernel)"
                ),
            }
        })
        .collect()
}
