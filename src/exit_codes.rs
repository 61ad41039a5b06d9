//! rekt's exit codes, one place for the numbers that scripts depend on.

/// How a run ended. The numbers are part of the interface; see `--help`. For a lookup,
/// each port argument (a range counts as one) gets a code from its ports' verdict
/// (`judge::verdict::Verdict::exit_code`), and the run exits with the worst (highest) of them.
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

/// The exit-code table: the one source for `--help` (printed as is), the man page's EXIT
/// STATUS and the README's table (both rendered from it). A unit test below fails when the
/// README's copy differs.
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

/// Each code with its meaning as one line: [`HELP`]'s entries with their wrapped lines joined.
/// An entry starts with `  CODE  `; the deeper-indented lines under it continue it. Only the
/// README test needs it today (the binary prints HELP as is, and man.rs splits it itself).
#[cfg(test)]
fn meanings() -> Vec<(u8, String)> {
    let mut entries: Vec<(u8, String)> = Vec::new();
    for line in HELP.lines().skip(1) {
        let line = line.trim();
        let entry = line
            .split_once("  ")
            .and_then(|(code, text)| Some((code.parse::<u8>().ok()?, text.trim().to_owned())));
        if let Some(entry) = entry {
            entries.push(entry);
        } else if let Some((_, text)) = entries.last_mut() {
            text.push(' ');
            text.push_str(line);
        }
        // Else: the sentence before the first code, the table's preamble.
    }
    entries
}

/// [`meanings`] as a markdown table, the README's exit-code table.
#[cfg(test)]
fn markdown_table() -> String {
    let mut table = String::from("| code | meaning |\n|--|--|\n");
    for (code, text) in meanings() {
        table.push_str(&markdown_row(code, &text));
    }
    table
}

/// One table row; a `|` or `\` in the text would end the cell or escape what follows.
#[cfg(test)]
fn markdown_row(code: u8, text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('|', "\\|");
    format!("| {code} | {text} |\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant, by an exhaustive match: a new variant does not compile until it is
    /// added here, and then the test below asks for its line in [`HELP`].
    fn number(code: ExitCode) -> u8 {
        match code {
            ExitCode::Success => 0,
            ExitCode::NothingFound => 1,
            ExitCode::Usage => 2,
            ExitCode::Partial => 3,
            ExitCode::Error => 4,
        }
    }

    #[test]
    fn help_describes_every_code_once_in_order() {
        let all = [
            ExitCode::Success,
            ExitCode::NothingFound,
            ExitCode::Usage,
            ExitCode::Partial,
            ExitCode::Error,
        ];
        for code in all {
            assert_eq!(number(code), code as u8);
        }
        let described: Vec<u8> = meanings().iter().map(|(code, _)| *code).collect();
        assert_eq!(described, all.map(|code| code as u8));
        for (code, text) in meanings() {
            assert!(!text.is_empty() && !text.contains("  "), "{code}: {text:?}");
        }
    }

    #[test]
    fn wrapped_lines_are_joined() {
        let (_, four) = &meanings()[4];
        assert!(
            four.starts_with("the lookup itself failed (for example, /proc"),
            "{four}"
        );
        assert!(four.ends_with("the work is still done in full"), "{four}");
    }

    #[test]
    fn the_readme_table_is_the_rendered_one() {
        let readme = include_str!("../README.md");
        let start = readme
            .find("| code | meaning |")
            .expect("README.md has no exit-code table (a line `| code | meaning |`)");
        let shown: String = readme[start..]
            .lines()
            .take_while(|line| line.starts_with('|'))
            .map(|line| format!("{line}\n"))
            .collect();
        assert!(
            shown == markdown_table(),
            "README.md's exit-code table differs from src/exit_codes.rs (HELP); \
             replace it with:\n\n{}",
            markdown_table()
        );
    }

    #[test]
    fn a_row_escapes_what_would_end_its_cell() {
        assert_eq!(markdown_row(9, r"a|b\c"), "| 9 | a\\|b\\\\c |\n");
    }
}
