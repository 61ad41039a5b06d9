//! Human output: tables on stdout, one-line notes and reports on stderr.

use std::collections::BTreeSet;
use std::io;

use super::stream::{Stream, Which};
use super::{Known, Printer, Style, table, words};
use crate::container::Ending;
use crate::exit_codes::ExitCode;
use crate::judge::{PortVerdict, Status, Verdict};
use crate::kill::{Event, Report};
use crate::lookup::Lookup;
use crate::model::{Hidden, Socket};
use crate::query::PortSpec;

pub(crate) struct HumanPrinter {
    verbose: bool,
    /// The terminal's width, when stdout is one.
    width: Option<usize>,
    listing: bool,
    out: Stream,
    err: Stream,
    out_style: Style,
    err_style: Style,
}

impl HumanPrinter {
    pub(crate) fn new(verbose: bool, width: Option<usize>) -> HumanPrinter {
        HumanPrinter {
            verbose,
            width,
            listing: false,
            out: Stream::new(Which::Stdout),
            err: Stream::new(Which::Stderr),
            out_style: Style::for_stream(&io::stdout()),
            err_style: Style::for_stream(&io::stderr()),
        }
    }

    /// A printer that writes nothing to the terminal and keeps its notes (the lines a
    /// plain run writes to stderr), uncoloured, for [`HumanPrinter::take_notes`]: the live
    /// view says them in its status line, in the command line's words.
    pub(crate) fn captured() -> HumanPrinter {
        HumanPrinter {
            verbose: false,
            width: None,
            listing: false,
            out: Stream::memory(),
            err: Stream::memory(),
            out_style: Style { enabled: false },
            err_style: Style { enabled: false },
        }
    }

    /// The notes written since the last take, one per line.
    pub(crate) fn take_notes(&mut self) -> Vec<String> {
        let bytes = self.err.take();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn print_table(&mut self, table: &table::Table) {
        if table.is_empty() {
            return;
        }
        let mut text = Vec::new();
        // Writing into memory cannot fail.
        let _ = table.write(&mut text, self.out_style, self.width);
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

    /// The line for one port, if it needs one of its own. Before a signal, a held port is
    /// in the table and a hidden one has its notes already; a free one is summed up with
    /// the others. After a signal, every port the signal was for gets a line.
    fn port_line(
        &mut self,
        p: &PortVerdict,
        after: bool,
        spared: Option<&BTreeSet<u32>>,
        details: &Known,
    ) {
        let none = BTreeSet::new();
        let spared = spared.unwrap_or(&none);
        let port = format!("port {}/{}", p.first(), p.protocol());
        let still = if p.was_held() { "still " } else { "" };
        match p.status() {
            Status::Free { .. } if after && p.was_held() => {
                let line = self.err_style.green(&format!("{port} is free"));
                self.note(&line);
            }
            Status::Held { pids, hidden } if after => {
                let retaken = [
                    words::retaken(p, details),
                    words::taken_by_running(p, details),
                ];
                for line in retaken.into_iter().flatten() {
                    let line = self.err_style.red(&line);
                    self.note(&line);
                }
                // The holders besides the newcomers: survivors of the signal.
                let survivors: Vec<u32> = pids
                    .iter()
                    .copied()
                    .filter(|pid| !p.newcomers().iter().any(|n| n.pid == *pid))
                    .collect();
                if survivors.is_empty() && hidden.is_empty() {
                    return;
                }
                let by = words::holders(&survivors, !hidden.is_empty(), details);
                let line = format!("{port} is {still}held by {by}");
                // Left alone on purpose (a client, unless asked for): said, but no failure.
                let line = if survivors.iter().all(|pid| spared.contains(pid)) && hidden.is_empty()
                {
                    self.err_style.yellow(&line)
                } else {
                    self.err_style.red(&line)
                };
                self.note(&line);
            }
            Status::Hidden { sockets } if after => {
                let by = match sockets.first().and_then(|h| h.reason.as_ref()) {
                    // The table names a binder that has exited: say which processes may
                    // have inherited the socket.
                    Some(Hidden::BinderExited { binder, heirs }) => {
                        words::inherited(*binder, heirs)
                    }
                    _ => words::holders(&[], true, details),
                };
                let line = self
                    .err_style
                    .red(&format!("{port} is {still}held by {by}"));
                self.note(&line);
            }
            Status::BoundBriefly { .. } => {
                let line = self.err_style.red(&words::bound_briefly(p));
                self.note(&line);
            }
            Status::Blocked { lingering } => {
                let line =
                    words::blocked(p.first(), p.protocol(), lingering, after && p.was_held());
                if after {
                    let line = self.err_style.yellow(&line);
                    self.note(&line);
                } else {
                    self.warn(&line);
                }
            }
            Status::Elsewhere { places } => {
                for place in places {
                    let line = words::elsewhere(p.first(), p.protocol(), place);
                    if after {
                        let line = self.err_style.yellow(&line);
                        self.note(&line);
                    } else {
                        self.warn(&line);
                    }
                }
            }
            Status::Published { containers } => {
                let line = words::published(p.first(), p.protocol(), containers, after);
                if after {
                    let line = self.err_style.red(&line);
                    self.note(&line);
                } else {
                    self.warn(&line);
                }
            }
            Status::Free { .. } | Status::Held { .. } | Status::Hidden { .. } => {}
        }
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

    fn supervised(&mut self, pid: u32, details: &Known) {
        if let Some(line) = words::supervised(pid, details) {
            self.warn(&line);
        }
    }

    fn too_many(&mut self, count: usize, ports: &[PortSpec], asked: bool) {
        self.warn(&words::too_many(count, ports, asked));
    }

    fn owners(&mut self, found: &Lookup, details: &Known) {
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

    fn listeners(&mut self, found: &Lookup, details: &Known) {
        self.listing = true;
        let table = table::list_table(found, self.verbose, details);
        if table.is_empty() {
            // An empty stdout would look like a failure; the exit code stays 0.
            self.note("rekt: nothing is listening");
        }
        self.print_table(&table);
    }

    fn hidden(&mut self, found: &Lookup, privileged: bool, details: &Known) {
        let hidden = &found.ownership.hidden;
        if !self.listing && found.ownership.incomplete && !privileged {
            for line in shared_notes(found, details) {
                self.warn(&line);
            }
        }
        let reason = |s: &Socket| found.ownership.reasons.get(&s.key);
        if self.listing {
            // One footnote per kind of owner, in order of first appearance.
            let mut kinds: Vec<(String, usize)> = Vec::new();
            for s in hidden {
                let owner = words::hidden_owner(reason(s), details);
                match kinds.iter_mut().find(|(k, _)| *k == owner) {
                    Some((_, n)) => *n += 1,
                    None => kinds.push((owner, 1)),
                }
            }
            for (owner, n) in kinds {
                let (s, its) = if n == 1 { ("", "its") } else { ("s", "their") };
                self.note(&format!(
                    "rekt: {n} socket{s} shown with PID '-': {its} owner is {owner}"
                ));
            }
            return;
        }
        let mut said: Vec<String> = Vec::new();
        for s in hidden {
            let line = words::hidden(s, reason(s), details);
            if !said.contains(&line) {
                self.warn(&line);
                said.push(line);
            }
        }
    }

    fn verdict(&mut self, verdict: &Verdict, details: &Known) {
        let after = verdict.after_signal();
        let mut free: Vec<PortSpec> = Vec::new();
        let mut unseen = None;
        for spec in verdict.specs() {
            unseen = unseen.or(spec.unseen());
            if spec.all_free() {
                if after {
                    let line = self.err_style.green(&words::spec_free(spec.spec()));
                    self.note(&line);
                } else {
                    free.push(*spec.spec());
                }
                continue;
            }
            for p in spec.ports() {
                self.port_line(p, after, verdict.spared(), details);
            }
            let quiet = spec.quiet_ports();
            if quiet > 0 && spec.spec().first != spec.spec().last {
                let others = words::others(spec.spec(), quiet);
                if after {
                    let line = self.err_style.green(&format!("{others} are free"));
                    self.note(&line);
                } else {
                    self.note(&format!("rekt: nothing holds {others}"));
                }
            }
        }
        if !free.is_empty() {
            self.note(&format!("rekt: nothing holds {}", words::ports(&free)));
        }
        if let Some(why) = unseen {
            self.warn(words::unseen(why));
        }
        // Free of holders, but not for this user's bind().
        for p in verdict.entries() {
            if matches!(
                p.status(),
                Status::Free {
                    privileged: true,
                    ..
                }
            ) {
                let line = words::needs_privilege(p.first(), p.last(), p.protocol(), details);
                self.warn(&line);
            }
        }
    }

    fn skipped(&mut self, report: &Report, details: &Known) {
        self.note(&words::not_signalled(report.pid, &report.outcome, details));
    }

    fn event(&mut self, event: Event<'_>, details: &Known) {
        let line = match event {
            Event::Sent(report, signal) => words::signalled(report, signal, details),
            Event::NotSent(report) => words::not_signalled(report.pid, &report.outcome, details),
            Event::Released(report) => words::released(report.pid, details),
            Event::Escalating { report, waited } if waited.is_zero() => {
                words::escalating_at_once(report.pid, details)
            }
            Event::Escalating { report, waited } => words::escalating(report.pid, waited, details),
            Event::StillRunning { report, waited } => self
                .err_style
                .red(&words::still_running(report, waited, details)),
        };
        self.note(&line);
    }

    fn outcomes(&mut self, _: &[Report], _: &Known) {}

    fn container(&mut self, report: &Ending, details: &Known) {
        let line = words::container_ended(report, details);
        let line = if report.outcome.is_failure() {
            self.err_style.red(&line)
        } else {
            line
        };
        self.note(&line);
    }

    fn lookup_failed(&mut self, error: &io::Error) {
        self.note(&format!("rekt: {}", words::lookup_failed(error)));
    }

    fn recheck_failed(&mut self, error: &io::Error) {
        self.note(&format!("rekt: {}", words::recheck_failed(error)));
    }

    fn finish(&mut self, code: ExitCode) -> ExitCode {
        if let Some(e) = self.out.failure() {
            let line = format!("rekt: {}", words::cannot_write("to stdout", e));
            self.note(&line);
            return ExitCode::Error;
        }
        if self.err.failure().is_some() {
            return ExitCode::Error;
        }
        code
    }
}

/// A socket you can see an owner of, but that another user created: that user's processes
/// (a root master process, say) may hold it too, and you cannot see them. Said once per
/// (port, protocol, uid), since the lookup is otherwise complete and exits 0.
fn shared_notes(found: &Lookup, details: &Known) -> Vec<String> {
    let Some(me) = details.me() else {
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
                 hold it too without your seeing them{}",
                details.user(uid),
                details.privilege_hint()
            )
        })
        .collect()
}
