//! Everything rekt shows, behind one `Printer` trait with three small implementations:
//! human tables and notes, one JSON document, or nothing. The run (`app`) tells the printer
//! what happened; the printer decides how (and whether) to show it. All wording lives here
//! (`words`), and every byte goes out through `stream`, which never panics.

mod human;
mod json;
mod stream;
mod table;
mod words;

use std::collections::HashMap;
use std::io::{self, BufRead, IsTerminal};

use clap::CommandFactory;

use crate::cli::{Cli, Format};
use crate::error::UsageError;
use crate::exit_codes::ExitCode;
use crate::kill::{Event, Report};
use crate::lookup::Lookup;
use crate::model::{ProcessInfo, Signal};
use crate::verdict::Verdict;

pub use human::HumanPrinter;
pub use json::JsonPrinter;
use stream::{Stream, Which};

/// Process details by PID, read once per run for the owners that will be shown.
pub type Details = HashMap<u32, ProcessInfo>;

/// What a run tells its printer, in the order it happens.
pub trait Printer {
    /// Whether this printer shows process details (names, users), so that they are worth
    /// reading: in list mode (`listing`), or for a run that signals (`signalling`), whose
    /// reports name processes.
    fn wants_details(&self, listing: bool, signalling: bool) -> bool;
    /// The owners of the requested ports.
    fn owners(&mut self, found: &Lookup, details: &Details);
    /// List mode: every listener and its owner.
    fn listeners(&mut self, found: &Lookup, details: &Details);
    /// Matching sockets whose owner could not be found, each with its reason.
    fn hidden(&mut self, found: &Lookup, privileged: bool);
    /// The status of every port asked about: once per run, after the lookup, or after
    /// the signals and the second lookup (`verdict.after_signal`).
    fn verdict(&mut self, verdict: &Verdict, details: &Details);
    /// An owner that will not be signalled (protected, already gone, declined).
    fn skipped(&mut self, report: &Report, details: &Details);
    /// Progress while signalling, as it happens.
    fn event(&mut self, event: Event<'_>, details: &Details);
    /// What became of every owner, once signalling is over.
    fn outcomes(&mut self, reports: &[Report]);
    /// The lookup itself failed (exit 4).
    fn lookup_failed(&mut self, error: &io::Error);
    /// The check after signalling failed (exit 4).
    fn recheck_failed(&mut self, error: &io::Error);
    /// The run is over with `code`; returns the code to exit with (4 when the output
    /// itself could not be written).
    fn finish(&mut self, code: ExitCode) -> ExitCode;
}

/// The printer for `format`.
pub fn printer(format: Format) -> Box<dyn Printer> {
    match format {
        Format::Human { verbose } => Box::new(HumanPrinter::new(verbose)),
        Format::Json => Box::new(JsonPrinter::default()),
        Format::Quiet => Box::new(QuietPrinter),
    }
}

/// `-q`: the exit code says it all.
pub struct QuietPrinter;

impl Printer for QuietPrinter {
    fn wants_details(&self, _: bool, _: bool) -> bool {
        false
    }
    fn owners(&mut self, _: &Lookup, _: &Details) {}
    fn listeners(&mut self, _: &Lookup, _: &Details) {}
    fn hidden(&mut self, _: &Lookup, _: bool) {}
    fn verdict(&mut self, _: &Verdict, _: &Details) {}
    fn skipped(&mut self, _: &Report, _: &Details) {}
    fn event(&mut self, _: Event<'_>, _: &Details) {}
    fn outcomes(&mut self, _: &[Report]) {}
    fn lookup_failed(&mut self, _: &io::Error) {}
    fn recheck_failed(&mut self, _: &io::Error) {}
    fn finish(&mut self, code: ExitCode) -> ExitCode {
        code
    }
}

/// Says a usage error in one line on stderr; returns its exit code.
pub fn usage_error(error: &UsageError) -> ExitCode {
    Stream::new(Which::Stderr).line(&format!("rekt: {error}"));
    ExitCode::Usage
}

/// Writes the completion script for `shell` to stdout. A closed pipe is not a failure.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "rekt", &mut script);
    write_all_of(&script, "the completion script")
}

/// Writes the man page (roff) to stdout. A closed pipe is not a failure.
pub fn man_page() -> ExitCode {
    let mut page = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
        return write_error(&e, "the man page");
    }
    write_all_of(&page, "the man page")
}

fn write_all_of(bytes: &[u8], what: &str) -> ExitCode {
    let mut out = Stream::new(Which::Stdout);
    out.write(bytes);
    match out.failure() {
        Some(e) => write_error(e, what),
        None => ExitCode::Success,
    }
}

fn write_error(e: &io::Error, what: &str) -> ExitCode {
    Stream::new(Which::Stderr).line(&format!("rekt: cannot write {what}: {e}"));
    ExitCode::Error
}

/// Asks on the terminal whether to send `signal` to `pid`; anything but y or yes is no.
pub fn confirm(signal: Signal, pid: u32, details: &Details) -> bool {
    let question = format!(
        "{} {}? [y/N] ",
        words::verb(signal),
        words::who(pid, details)
    );
    Stream::new(Which::Stderr).write(question.as_bytes());
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// ANSI styling, on only for a terminal and only when `NO_COLOR` is unset
/// (https://no-color.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    enabled: bool,
}

impl Style {
    #[cfg(test)]
    pub fn plain() -> Style {
        Style { enabled: false }
    }

    #[cfg(test)]
    pub fn colored() -> Style {
        Style { enabled: true }
    }

    /// Colour for `stream` if it is a terminal and the user has not opted out.
    pub fn for_stream(stream: &impl IsTerminal) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            enabled: !no_color && stream.is_terminal(),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
}
