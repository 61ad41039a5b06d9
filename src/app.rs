//! One run of rekt, step by step as the data flows: look up, show, judge each port, pin,
//! ask, signal, look up and judge again, and decide the exit code. What is said at each
//! step, and how, is the printer's business (`output`); this module only decides what
//! happened.

use std::io;

use clap::Parser;

use crate::cli::{Cli, Command, Format, Options};
use crate::exit_codes::ExitCode;
use crate::kill::{self, Outcome, Pinned, Policy, Report};
use crate::lookup::{Elsewhere, Lookup, Scope, Search, lookup_in, lookup_with_hints};
use crate::model::Owner;
use crate::output::{self, Details, Printer};
use crate::platform::{Backend, Os};
use crate::verdict::Verdict;
use crate::{cli, debug};

/// The `rekt` binary: parse the command line, run, and return the exit code.
pub fn main() -> std::process::ExitCode {
    debug::from_env();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version: clap prints them to stdout.
            let _ = err.print();
            return ExitCode::Success.into();
        }
        Err(err) => return output::usage_error(&cli::one_line_error(&err)).into(),
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
        Err(e) => output::usage_error(&e).into(),
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
        self.show(&found);
        if self.opts.is_list() {
            return ExitCode::Success;
        }
        let before = Verdict::judge(&self.opts.query, &found, &elsewhere, None);
        let Some(policy) = self.opts.action else {
            self.printer.verdict(&before, &self.details);
            return before.exit_code();
        };
        if found.ownership.owners.is_empty() {
            // Nothing to signal: the lookup's verdict is the answer.
            self.printer.verdict(&before, &self.details);
            return before.exit_code();
        }
        pause_for_tests();
        let (pinned, mut reports) = self.pin(&found.ownership.owners);
        let pinned = self.ask(pinned, policy, &mut reports);
        reports.extend(self.signal(&pinned, policy));
        drop(pinned);
        reports.sort_by_key(|r| r.pid);
        self.printer.outcomes(&reports);
        let after = match self.look_up() {
            Ok((now, elsewhere)) => {
                Verdict::judge(&self.opts.query, &now, &elsewhere, Some(&before))
            }
            Err(e) => {
                self.printer.recheck_failed(&e);
                return ExitCode::Error;
            }
        };
        let holders: Vec<u32> = after.holders().collect();
        self.read_details(holders.into_iter());
        self.printer.verdict(&after, &self.details);
        let signalling = if reports.iter().any(|r| r.outcome.is_failure()) {
            ExitCode::Partial
        } else {
            ExitCode::Success
        };
        after.exit_code().max(signalling)
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

    /// Shows what was found: the owners (or, in list mode, the listeners) and the sockets
    /// whose owner cannot be seen.
    fn show(&mut self, found: &Lookup) {
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
        } else {
            self.printer.owners(found, &self.details);
        }
        self.printer.hidden(found, privileged);
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
        pinned.retain(|p| {
            let pid = p.owner.pid;
            let yes = output::confirm(policy.signal, pid, &self.details);
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
