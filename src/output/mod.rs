//! Everything rekt shows, behind one `Printer` trait with three small implementations:
//! human tables and notes, one JSON document, or nothing. The run (`app`) tells the printer
//! what happened; the printer decides how (and whether) to show it. All wording lives here
//! (`words`), and every byte goes out through `stream`, which never panics.

mod human;
mod json;
mod stream;
mod table;
pub(crate) mod words;

use std::io::{self, BufRead, IsTerminal};

use crate::container::{Container, Ending};
use crate::error::UsageError;
use crate::exit_codes::ExitCode;
use crate::judge::Verdict;
use crate::kill::{Event, Report};
use crate::lookup::Lookup;
use crate::model::Signal;
use crate::query::PortSpec;

pub(crate) use human::HumanPrinter;
pub(crate) use json::JsonPrinter;
use stream::{Stream, Which};

mod known;

pub(crate) use known::Known;

/// How results are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Tables on stdout, notes on stderr; `verbose` adds columns. `width` is the terminal's,
    /// when stdout is one: long cells are shortened to fit it.
    Human {
        verbose: bool,
        width: Option<usize>,
    },
    Json,
    Quiet,
}

/// What a run tells its printer, in the order it happens.
pub(crate) trait Printer {
    /// Whether this printer shows process details (names, users), so that they are worth
    /// reading: in list mode (`listing`), or for a run that signals (`signalling`), whose
    /// reports name processes.
    fn wants_details(&self, listing: bool, signalling: bool) -> bool;
    /// Whether this printer shows every owner's context (parent chain, unit, supervisor),
    /// so that it is worth reading for all of them; a run that signals reads it for the
    /// owners it signals anyway, when details are wanted.
    fn wants_context(&self, listing: bool) -> bool;
    /// The owners of the requested ports.
    fn owners(&mut self, found: &Lookup, details: &Known);
    /// List mode: every listener and its owner.
    fn listeners(&mut self, found: &Lookup, details: &Known);
    /// Matching sockets whose owner could not be found, each with its reason.
    fn hidden(&mut self, found: &Lookup, privileged: bool, details: &Known);
    /// The status of every port asked about: once per run, after the lookup, or after
    /// the signals and the second lookup (`verdict.after_signal`).
    fn verdict(&mut self, verdict: &Verdict, details: &Known);
    /// An owner that will not be signalled (protected, rekt's caller, a client, already
    /// gone, declined).
    fn skipped(&mut self, report: &Report, details: &Known);
    /// An owner about to be signalled runs under a supervisor that may start it again.
    fn supervised(&mut self, pid: u32, details: &Known);
    /// A range would signal `count` processes and was not confirmed: declined on the
    /// terminal (`asked`), or refused for want of one.
    fn too_many(&mut self, count: usize, ports: &[PortSpec], asked: bool);
    /// Progress while signalling, as it happens.
    fn event(&mut self, event: Event<'_>, details: &Known);
    /// What became of a container that rekt set out to end through its engine, as it
    /// happens.
    fn container(&mut self, report: &Ending, details: &Known);
    /// What became of every owner, once signalling is over.
    fn outcomes(&mut self, reports: &[Report], details: &Known);
    /// The lookup itself failed (exit 4).
    fn lookup_failed(&mut self, error: &io::Error);
    /// The check after signalling failed (exit 4).
    fn recheck_failed(&mut self, error: &io::Error);
    /// The run is over with `code`; returns the code to exit with (4 when the output
    /// itself could not be written).
    fn finish(&mut self, code: ExitCode) -> ExitCode;
}

/// The printer for `format`.
pub(crate) fn printer(format: Format) -> Box<dyn Printer> {
    match format {
        Format::Human { verbose, width } => Box::new(HumanPrinter::new(verbose, width)),
        Format::Json => Box::new(JsonPrinter::default()),
        Format::Quiet => Box::new(QuietPrinter),
    }
}

/// `-q`: the exit code says it all.
pub(crate) struct QuietPrinter;

impl Printer for QuietPrinter {
    fn wants_details(&self, _: bool, _: bool) -> bool {
        false
    }
    fn wants_context(&self, _: bool) -> bool {
        false
    }
    fn supervised(&mut self, _: u32, _: &Known) {}
    fn too_many(&mut self, _: usize, _: &[PortSpec], _: bool) {}
    fn owners(&mut self, _: &Lookup, _: &Known) {}
    fn listeners(&mut self, _: &Lookup, _: &Known) {}
    fn hidden(&mut self, _: &Lookup, _: bool, _: &Known) {}
    fn verdict(&mut self, _: &Verdict, _: &Known) {}
    fn skipped(&mut self, _: &Report, _: &Known) {}
    fn event(&mut self, _: Event<'_>, _: &Known) {}
    fn outcomes(&mut self, _: &[Report], _: &Known) {}
    fn container(&mut self, _: &Ending, _: &Known) {}
    fn lookup_failed(&mut self, _: &io::Error) {}
    fn recheck_failed(&mut self, _: &io::Error) {}
    fn finish(&mut self, code: ExitCode) -> ExitCode {
        code
    }
}

/// Says a usage error in one line on stderr, or, when the command line asked for `--json`,
/// as a JSON document on stdout; returns its exit code.
pub(crate) fn usage_error(error: &UsageError, json: bool) -> ExitCode {
    if json {
        let mut printer = JsonPrinter::default();
        printer.usage_error(error);
        return printer.finish(ExitCode::Usage);
    }
    let mut err = Stream::new(Which::Stderr);
    err.line(&format!("rekt: {error}"));
    // As for every other run: a failed write (not a closed pipe) is exit 4.
    match err.failure() {
        Some(_) => ExitCode::Error,
        None => ExitCode::Usage,
    }
}

/// Says that the lookup failed, on stderr (exit 4).
pub(crate) fn lookup_failed(e: &io::Error) -> ExitCode {
    Stream::new(Which::Stderr).line(&format!("rekt: {}", words::lookup_failed(e)));
    ExitCode::Error
}

/// Writes `bytes` (`what`: the help, the man page) to stdout. A closed pipe is not a
/// failure; a full disk is (exit 4).
pub(crate) fn write_stdout(bytes: &[u8], what: &str) -> ExitCode {
    let mut out = Stream::new(Which::Stdout);
    out.write(bytes);
    match out.failure() {
        Some(e) => write_error(e, what),
        None => ExitCode::Success,
    }
}

/// Says that `what` could not be written (exit 4).
pub(crate) fn write_error(e: &io::Error, what: &str) -> ExitCode {
    Stream::new(Which::Stderr).line(&format!("rekt: {}", words::cannot_write(what, e)));
    ExitCode::Error
}

/// Asks whether to send `signal` to `pid`, on stderr or (`to_tty`, for `--json`, which
/// writes nothing to stderr) on the controlling terminal; anything but y or yes is no.
pub(crate) fn confirm(signal: Signal, pid: u32, details: &Known, to_tty: bool) -> bool {
    let question = format!("{} {}? [y/N] ", signal.verb(), words::who(pid, details));
    ask(&question, to_tty)
}

/// Asks `question` on stderr, or on the terminal itself (`to_tty`); reads the answer from
/// stdin, which is a terminal (`-i` needs one).
fn ask(question: &str, to_tty: bool) -> bool {
    if to_tty {
        let asked = std::fs::OpenOptions::new()
            .write(true)
            .open(TERMINAL)
            .and_then(|mut tty| io::Write::write_all(&mut tty, question.as_bytes()));
        if asked.is_err() {
            // A question nobody can see gets no answer.
            return false;
        }
    } else {
        Stream::new(Which::Stderr).write(question.as_bytes());
    }
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Asks whether to end `container` through its engine; anything but y or yes is no.
pub(crate) fn confirm_container(signal: Signal, container: &Container, to_tty: bool) -> bool {
    ask(
        &format!(
            "{} {}? [y/N] ",
            signal.engine_verb(),
            words::container(container)
        ),
        to_tty,
    )
}

/// Asks once whether to signal the `count` processes that a range of ports would hit;
/// anything but y or yes is no.
pub(crate) fn confirm_many(count: usize, ports: &[PortSpec], to_tty: bool) -> bool {
    ask(&format!("{}? [y/N] ", words::many(count, ports)), to_tty)
}

/// The controlling terminal.
#[cfg(unix)]
const TERMINAL: &str = "/dev/tty";
#[cfg(windows)]
const TERMINAL: &str = "CONOUT$";

/// ANSI styling, on only for a terminal and only when `NO_COLOR` is unset
/// (https://no-color.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    enabled: bool,
}

impl Style {
    #[cfg(test)]
    pub(crate) fn plain() -> Style {
        Style { enabled: false }
    }

    #[cfg(test)]
    pub(crate) fn colored() -> Style {
        Style { enabled: true }
    }

    /// Colour and bold for `stream` if it is a terminal that can show them and the user
    /// has not opted out: `NO_COLOR` (https://no-color.org) or `TERM=dumb`.
    pub(crate) fn for_stream(stream: &impl IsTerminal) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Style {
            enabled: !no_color && !dumb && stream.is_terminal(),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub(crate) fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub(crate) fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub(crate) fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    pub(crate) fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
}
