//! rekt's exit codes, one place for the numbers that scripts depend on.

/// How a run ended. The numbers are part of the interface; see `--help`. For a lookup,
/// each port argument (a range counts as one) gets a code from its ports' verdict
/// (`verdict::Verdict::exit_code`), and the run exits with the worst (highest) of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ExitCode {
    /// Something holds the port (list mode: always); after a signal, every port that was
    /// held is free, or blocked only by connections that no signal can end (TIME_WAIT).
    Success = 0,
    /// Nothing holds the port: free, held only in another network namespace, or blocked
    /// by lingering connections; after a signal, a port that nothing held to begin with.
    NothingFound = 1,
    /// The command line was wrong, or a range would signal many processes with neither a
    /// terminal to confirm it on nor `--yes`.
    Usage = 2,
    /// Partly done: an owner is hidden from us, a signal was refused or failed, an owner
    /// is still running after the wait, or a port is still held or was taken again.
    Partial = 3,
    /// The lookup itself failed (for example, /proc is not mounted), or the output could
    /// not be written (ENOSPC, EIO; not EPIPE), which is told after the work.
    Error = 4,
}

/// The exit-code table for `--help` and the README.
pub(crate) const HELP: &str = "\
Exit codes:
  each PORT argument gets one (a range too), and rekt exits with the highest
  0  something holds the port (list mode: always); after -t/-k, every port that was
     held is free (connections left in TIME_WAIT do not count: no signal ends them)
  1  nothing holds the port: free, held only in another network namespace, or blocked
     only by connections in TIME_WAIT; after -t/-k, nothing held it to begin with
  2  usage error; or a range that would signal more than 8 processes, with no
     terminal to confirm it on and no --yes
  3  partial: a matching socket's owner is hidden from you, a signal was refused or
     could not be delivered, a signalled process is still running after the wait, a
     port is still held, or it was taken again within the settle time (a restart)
  4  the lookup itself failed (for example, /proc or a socket table is not readable),
     or the output could not be written (a full disk; a closed pipe is no error): the
     work is still done in full";

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}
