//! Everything rekt shows, behind one `Printer` trait with three small implementations:
//! human tables and notes, one JSON document, or nothing. The run (`app`) tells the printer
//! what happened; the printer decides how (and whether) to show it.

mod human;
mod json;
mod table;

use std::collections::HashMap;
use std::io::IsTerminal;

use crate::Lookup;
use crate::cli::Format;
use crate::exit_codes::ExitCode;
use crate::kill::{Event, Report};
use crate::model::{PortStatus, ProcessInfo};

pub use human::HumanPrinter;
pub use json::JsonPrinter;
pub use table::{Table, lookup_table, owner_rows};

/// Process details by PID, read once per run for the owners that will be shown.
pub type Details = HashMap<u32, ProcessInfo>;

/// What a run tells its printer, in the order it happens.
pub trait Printer {
    /// The owners of the requested ports.
    fn owners(&mut self, found: &Lookup, details: &Details);
    /// List mode: every listener and its owner.
    fn listeners(&mut self, found: &Lookup, details: &Details);
    /// Matching sockets whose owner could not be found.
    fn hidden(&mut self, found: &Lookup, privileged: bool);
    /// Something the user probably wants to know (a port held in another namespace).
    fn hint(&mut self, text: &str);
    /// Nothing holds the ports asked about (`ports` as the user wrote them).
    fn free(&mut self, ports: &str);
    /// Progress while signalling, as it happens.
    fn event(&mut self, event: Event<'_>);
    /// What became of every owner, once signalling is over.
    fn outcomes(&mut self, reports: &[Report]);
    /// The ports checked again after signalling.
    fn ports(&mut self, statuses: &[PortStatus], details: &Details);
    /// A failure that ends the run (not a usage error).
    fn error(&mut self, message: &str);
    /// The run is over.
    fn finish(&mut self, code: ExitCode);
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
    fn owners(&mut self, _: &Lookup, _: &Details) {}
    fn listeners(&mut self, _: &Lookup, _: &Details) {}
    fn hidden(&mut self, _: &Lookup, _: bool) {}
    fn hint(&mut self, _: &str) {}
    fn free(&mut self, _: &str) {}
    fn event(&mut self, _: Event<'_>) {}
    fn outcomes(&mut self, _: &[Report]) {}
    fn ports(&mut self, _: &[PortStatus], _: &Details) {}
    fn error(&mut self, _: &str) {}
    fn finish(&mut self, _: ExitCode) {}
}

/// ANSI styling, on only for a terminal and only when `NO_COLOR` is unset
/// (https://no-color.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    enabled: bool,
}

impl Style {
    pub fn plain() -> Style {
        Style { enabled: false }
    }

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
