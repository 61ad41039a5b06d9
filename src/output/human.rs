//! Human output: tables on stdout, one-line notes and reports on stderr.

use std::io;

use super::stream::{Stream, Which};
use super::{Details, Printer, Style, table, words};
use crate::exit_codes::ExitCode;
use crate::kill::{Event, Report};
use crate::lookup::{Elsewhere, Lookup};
use crate::model::{PortStatus, Signal, Socket};
use crate::platform::{Backend, Os};
use crate::query::PortSpec;

pub struct HumanPrinter {
    verbose: bool,
    listing: bool,
    out: Stream,
    err: Stream,
    out_style: Style,
    err_style: Style,
}

impl HumanPrinter {
    pub fn new(verbose: bool) -> HumanPrinter {
        HumanPrinter {
            verbose,
            listing: false,
            out: Stream::new(Which::Stdout),
            err: Stream::new(Which::Stderr),
            out_style: Style::for_stream(&io::stdout()),
            err_style: Style::for_stream(&io::stderr()),
        }
    }

    fn print_table(&mut self, table: &table::Table) {
        if table.is_empty() {
            return;
        }
        let mut text = Vec::new();
        // Writing into memory cannot fail.
        let _ = table.write(&mut text, self.out_style);
        self.out.write(&text);
    }

    fn note(&mut self, line: &str) {
        self.err.line(line);
    }

    /// A `rekt: …` warning, yellow on a terminal.
    fn warn(&mut self, text: &str) {
        let line = self.err_style.yellow(&format!("rekt: {text}"));
        self.note(&line);
    }
}

impl Printer for HumanPrinter {
    fn wants_details(&self, listing: bool, signalling: bool) -> bool {
        self.verbose || listing || signalling
    }

    /// `-v` shows each owner's parents, unit and supervisor (not in list mode).
    fn wants_context(&self, listing: bool) -> bool {
        self.verbose && !listing
    }

    fn supervised(&mut self, pid: u32, details: &Details) {
        if let Some(line) = words::supervised(pid, details) {
            self.warn(&line);
        }
    }

    fn too_many(&mut self, count: usize, ports: &[PortSpec], asked: bool) {
        self.warn(&words::too_many(count, ports, asked));
    }

    fn owners(&mut self, found: &Lookup, details: &Details) {
        self.print_table(&table::lookup_table(found, self.verbose, details));
        if self.verbose {
            // What would restart an owner, and how to stop that, for the owners shown.
            for owner in &found.ownership.owners {
                if let Some(line) = words::supervised(owner.pid, details) {
                    self.note(&format!("rekt: {line}"));
                }
            }
        }
    }

    fn listeners(&mut self, found: &Lookup, details: &Details) {
        self.listing = true;
        let table = table::list_table(found, self.verbose, details);
        if table.is_empty() {
            // An empty stdout would look like a failure; the exit code stays 0.
            self.note("rekt: nothing is listening");
        }
        self.print_table(&table);
    }

    fn hidden(&mut self, found: &Lookup, privileged: bool) {
        let hidden = &found.ownership.hidden;
        if !self.listing && found.ownership.incomplete && !privileged {
            for line in shared_notes(found) {
                self.warn(&line);
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
            self.warn(&line);
        }
    }

    fn free(&mut self, ports: &[PortSpec]) {
        self.note(&format!("rekt: nothing holds {}", words::ports(ports)));
    }

    fn elsewhere(&mut self, found: &[Elsewhere]) {
        for e in found {
            self.warn(&words::elsewhere(e));
        }
    }

    fn skipped(&mut self, report: &Report, details: &Details) {
        self.note(&words::not_signalled(report.pid, &report.outcome, details));
    }

    fn event(&mut self, event: Event<'_>, details: &Details) {
        let line = match event {
            Event::Sent(report, signal) => words::signalled(report, signal, details),
            Event::NotSent(report) => words::not_signalled(report.pid, &report.outcome, details),
            Event::Escalating { report, waited } if waited.is_zero() => format!(
                "killing {} instead (--escalate)",
                words::who(report.pid, details)
            ),
            Event::Escalating { report, waited } => format!(
                "{} is still running after {}; killing it",
                words::who(report.pid, details),
                words::waited(waited)
            ),
            Event::StillRunning { report, waited } => self.err_style.red(&format!(
                "{} is still running after {}{}",
                words::who(report.pid, details),
                words::waited(waited),
                if report.signal == Some(Signal::Terminate) {
                    "; use -k or --escalate to force it"
                } else {
                    ""
                }
            )),
        };
        self.note(&line);
    }

    fn outcomes(&mut self, _: &[Report], _: &Details) {}

    fn ports(&mut self, statuses: &[PortStatus], details: &Details) {
        for status in statuses {
            let port = format!("port {}/{}", status.port, status.protocol);
            if status.is_free() {
                let line = self.err_style.green(&format!("{port} is free"));
                self.note(&line);
                continue;
            }
            if status.is_retaken() {
                let line = self.err_style.red(&words::retaken(status, details));
                self.note(&line);
            }
            let survivors: Vec<u32> = status
                .holders
                .iter()
                .copied()
                .filter(|p| !status.newcomers.contains(p))
                .collect();
            if survivors.is_empty() && (status.is_retaken() && !status.hidden) {
                continue;
            }
            let mut holders: Vec<String> = survivors
                .iter()
                .map(|&pid| words::who(pid, details))
                .collect();
            if status.hidden {
                holders.push("a process you cannot see".into());
            }
            let by = match survivors.len() {
                0 => holders.join(", "),
                1 => format!("PID {}", holders.join(", ")),
                _ => format!("PIDs {}", holders.join(", ")),
            };
            let line = self.err_style.red(&format!("{port} is still held by {by}"));
            self.note(&line);
        }
    }

    fn lookup_failed(&mut self, error: &io::Error) {
        self.note(&format!("rekt: cannot look up sockets: {error}"));
    }

    fn recheck_failed(&mut self, error: &io::Error) {
        self.note(&format!("rekt: cannot check the ports again: {error}"));
    }

    fn finish(&mut self, code: ExitCode) -> ExitCode {
        if let Some(e) = self.out.failure() {
            let line = format!("rekt: cannot write to stdout: {e}");
            self.note(&line);
            return ExitCode::Error;
        }
        if self.err.failure().is_some() {
            return ExitCode::Error;
        }
        code
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
                Os::PRIVILEGE_HINT
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
    let Some(me) = Os::current_uid() else {
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
                Os::user_name(uid),
                Os::PRIVILEGE_HINT
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
                Some(uid) => format!(" of uid {uid} ({})", Os::user_name(uid)),
                None => String::new(),
            };
            match why {
                Hidden::NeedsPrivilege => format!(
                    "port {port}/{proto} is held by a process{whose} that you cannot see; {}",
                    Os::PRIVILEGE_HINT
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
