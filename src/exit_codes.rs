//! rekt's exit codes, one place for the numbers that scripts depend on.

/// How a run ended. The numbers are part of the interface; see `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// Owners found (list mode: always); after a signal, every owner exited and every port
    /// is free.
    Success = 0,
    /// Nothing holds the port(s).
    NothingFound = 1,
    /// The command line was wrong, or a range would signal many processes with neither a
    /// terminal to confirm it on nor `--yes`.
    Usage = 2,
    /// Partly done: an owner is hidden from us, a signal was refused or failed, an owner
    /// is still running after the wait, or a port is still held or was taken again.
    Partial = 3,
    /// The lookup itself failed (for example, /proc is not mounted).
    Error = 4,
}

/// The exit-code table for `--help` and the README.
pub const HELP: &str = "\
Exit codes:
  0  owners found (list mode: always); after a signal, every owner exited and every
     port is free
  1  nothing holds the port(s)
  2  usage error; or a range that would signal more than 8 processes, with no
     terminal to confirm it on and no --yes
  3  partial: a matching socket's owner is hidden from you, a signal was refused or
     could not be delivered, a signalled process is still running after the wait, a
     port is still held, or it was taken again within the settle time (a restart)
  4  the lookup itself failed (for example, /proc is not readable)";

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}
