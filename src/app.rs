//! One run of rekt, step by step as the data flows: look up, show, pin, ask, signal, check
//! the ports again, and decide the exit code. What is said at each step, and how, is the
//! printer's business (`output`); this module only decides what happened.

use std::collections::BTreeSet;
use std::io;

use clap::Parser;

use crate::cli::{Cli, Command, Format, Options};
use crate::exit_codes::ExitCode;
use crate::kill::{self, Outcome, Pinned, Policy, Report};
use crate::lookup::{Elsewhere, Lookup, Scope, Search, lookup_in, lookup_with_hints};
use crate::model::{Owner, PortStatus, Protocol, Socket};
use crate::output::{self, Details, Printer};
use crate::platform::{Backend, Os};
use crate::{cli, debug};

/// The `rekt` binary: parse the command line, run, and return the exit code.
pub fn main() -> std::process::ExitCode {
    debug::from_env();
    // Even a command line that does not parse gets its answer as JSON when it asked for it.
    let json = cli::asks_for_json(std::env::args_os());
    if let Some(e) = cli::signed_port(std::env::args_os()) {
        return output::usage_error(&e, json).into();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version: clap prints them to stdout.
            let _ = err.print();
            return ExitCode::Success.into();
        }
        Err(err) => return output::usage_error(&cli::one_line_error(&err), json).into(),
    };
    if cli.debug {
        debug::enable();
    }
    match cli.command {
        Some(Command::Completions { shell }) => return output::completions(shell).into(),
        Some(Command::Man) => return output::man_page().into(),
        None => {}
    }
    match cli.into_options() {
        Ok(opts) => run(&opts).into(),
        Err(e) => output::usage_error(&e, json).into(),
    }
}

/// Runs `opts` to the end and returns the exit code.
pub fn run(opts: &Options) -> ExitCode {
    let mut printer = output::printer(opts.format);
    let code = Run {
        opts,
        printer: printer.as_mut(),
        details: Details::new(),
    }
    .run();
    printer.finish(code);
    code
}

/// The state of one run: what was asked, where it is said, and the details read so far.
struct Run<'a> {
    opts: &'a Options,
    printer: &'a mut dyn Printer,
    /// Process details, read once per PID and only when they will be shown.
    details: Details,
}

impl Run<'_> {
    fn run(&mut self) -> ExitCode {
        let (found, elsewhere) = match self.look_up() {
            Ok(found) => found,
            Err(e) => {
                self.printer.lookup_failed(&e);
                return ExitCode::Error;
            }
        };
        let code = self.show(&found, &elsewhere);
        let Some(policy) = self.opts.action else {
            return code;
        };
        if found.ownership.owners.is_empty() {
            return code;
        }
        pause_for_tests();
        let (pinned, mut reports) = self.pin(&found.ownership.owners);
        let pinned = self.ask(pinned, policy, &mut reports);
        reports.extend(self.signal(&pinned, policy));
        drop(pinned);
        reports.sort_by_key(|r| r.pid);
        self.printer.outcomes(&reports);
        let statuses = match self.recheck(&found) {
            Ok(statuses) => statuses,
            Err(e) => {
                self.printer.recheck_failed(&e);
                return ExitCode::Error;
            }
        };
        self.read_details(statuses.iter().flat_map(|s| s.holders.iter().copied()));
        self.printer.ports(&statuses, &self.details);
        if reports.iter().any(|r| r.outcome.is_failure()) || statuses.iter().any(|s| !s.is_free()) {
            ExitCode::Partial
        } else {
            ExitCode::Success
        }
    }

    /// Finds the owners; for a port that is free here, also where else it is held (a
    /// container's namespace), which every other tool would miss.
    fn look_up(&self) -> io::Result<(Lookup, Vec<Elsewhere>)> {
        let opts = self.opts;
        let hinting = opts.scope == Scope::Here && !opts.is_list() && opts.format != Format::Quiet;
        if !hinting {
            return lookup_in(&opts.query, opts.scope).map(|found| (found, Vec::new()));
        }
        // Signalling comes next: let no search thread run on (and hold /proc) meanwhile.
        let search = match opts.action {
            Some(_) => Search::Finish,
            None => Search::Abandon,
        };
        lookup_with_hints(&opts.query, search)
    }

    /// Shows what was found and returns the exit code of a run that signals nothing.
    fn show(&mut self, found: &Lookup, elsewhere: &[Elsewhere]) -> ExitCode {
        let opts = self.opts;
        if self
            .printer
            .wants_details(opts.is_list(), opts.action.is_some())
        {
            self.read_details(found.ownership.owners.iter().map(|o| o.pid));
        }
        let privileged = Os::is_privileged();
        if self.opts.is_list() {
            self.printer.listeners(found, &self.details);
            self.printer.hidden(found, privileged);
            return ExitCode::Success;
        }
        self.printer.owners(found, &self.details);
        self.printer.hidden(found, privileged);
        let code = if !found.ownership.hidden.is_empty() {
            ExitCode::Partial
        } else if found.ownership.owners.is_empty() {
            ExitCode::NothingFound
        } else {
            ExitCode::Success
        };
        if code == ExitCode::NothingFound && elsewhere.is_empty() {
            self.printer.free(&self.opts.query.ports);
        }
        self.printer.elsewhere(elsewhere);
        code
    }

    /// Pins every owner that may be signalled, before anything is asked or sent, so that a
    /// PID recycled meanwhile can never be hit. The others get their report at once.
    fn pin<'f>(&mut self, owners: &'f [Owner]) -> (Vec<Pinned<'f>>, Vec<Report>) {
        let (pinned, early) = kill::pin(owners);
        for report in &early {
            self.printer.skipped(report, &self.details);
        }
        (pinned, early)
    }

    /// With `-i`, asks before each signal and keeps the owners the user said yes to.
    fn ask<'f>(
        &mut self,
        mut pinned: Vec<Pinned<'f>>,
        policy: Policy,
        reports: &mut Vec<Report>,
    ) -> Vec<Pinned<'f>> {
        if !self.opts.interactive {
            return pinned;
        }
        // The question names the process, whatever the output format.
        self.read_details(pinned.iter().map(|p| p.owner.pid));
        // `--json` keeps stderr for nothing: the question goes to the terminal itself.
        let to_tty = self.opts.format == Format::Json;
        pinned.retain(|p| {
            let pid = p.owner.pid;
            let yes = output::confirm(policy.signal, pid, &self.details, to_tty);
            if !yes {
                let report = Report::new(pid, Outcome::Declined);
                self.printer.skipped(&report, &self.details);
                reports.push(report);
            }
            yes
        });
        pinned
    }

    /// Signals the pinned owners, waits, escalates if asked; says each step as it happens.
    fn signal(&mut self, pinned: &[Pinned<'_>], policy: Policy) -> Vec<Report> {
        let (printer, details) = (&mut *self.printer, &self.details);
        kill::execute(pinned, policy, |event| printer.event(event, details))
    }

    /// Looks again at every (port, protocol) that was held, and says who holds it now: the
    /// survivors, and any newcomer that took the port meanwhile.
    fn recheck(&self, before: &Lookup) -> io::Result<Vec<PortStatus>> {
        let held: BTreeSet<(u16, Protocol)> = before
            .ownership
            .owners
            .iter()
            .flat_map(|o| o.sockets.iter())
            .chain(&before.ownership.hidden)
            .map(|s| (s.port(), s.protocol))
            .collect();
        let now = lookup_in(&self.opts.query, self.opts.scope)?;
        Ok(held
            .into_iter()
            .map(|(port, protocol)| {
                let on_port = |s: &Socket| s.port() == port && s.protocol == protocol;
                PortStatus {
                    port,
                    protocol,
                    holders: now
                        .ownership
                        .owners
                        .iter()
                        .filter(|o| o.sockets.iter().any(on_port))
                        .map(|o| o.pid)
                        .collect(),
                    hidden: now.ownership.hidden.iter().any(on_port),
                }
            })
            .collect())
    }

    /// Reads details for the PIDs not already known.
    fn read_details(&mut self, pids: impl Iterator<Item = u32>) {
        for pid in pids {
            self.details
                .entry(pid)
                .or_insert_with(|| Os::process_info(pid));
        }
    }
}

/// A test hook, compiled only into debug builds (what `cargo test` runs), never into a
/// release: with `REKT_TEST_PAUSE_DIR` set, rekt stops between the lookup and pinning the
/// owners (creating `paused` in that directory) until `resume` appears there, so that a
/// test can swap the owner for a newcomer with the same PID.
#[cfg(debug_assertions)]
fn pause_for_tests() {
    use std::time::{Duration, Instant};
    let Some(dir) = std::env::var_os("REKT_TEST_PAUSE_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    if std::fs::write(dir.join("paused"), b"").is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("resume").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(not(debug_assertions))]
fn pause_for_tests() {}
