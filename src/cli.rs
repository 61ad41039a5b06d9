//! The command line (clap) and the `Options` it turns into. Kept apart so that the rest of
//! rekt never sees clap types, as in hyperfine.

use std::time::Duration;

use clap::Parser;

use crate::exit_codes;
use crate::kill::{Policy, Signal};
use crate::query::{PortSpec, Query};

#[derive(Debug, Parser)]
#[command(
    name = "rekt",
    version,
    about = "Find every process that owns a port, and terminate or kill them on request.",
    long_about = None,
    after_help = exit_codes::HELP,
)]
pub struct Cli {
    /// Ports to look up: 8000, 8000-8010, 8000/tcp, 8000/udp, 8000-8010/udp
    #[arg(value_name = "PORT", required = true, value_parser = parse_spec)]
    pub ports: Vec<PortSpec>,

    /// Ask every owner to exit (SIGTERM; on Windows WM_CLOSE to its windows)
    #[arg(short = 't', long)]
    pub terminate: bool,

    /// Force every owner to exit (SIGKILL); wins over --terminate
    #[arg(short = 'k', long)]
    pub kill: bool,

    /// Add NAME, USER, TYPE (tcp, tcp6, udp, udp6), STATE and local ADDRESS
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Only TCP sockets
    #[arg(long, conflicts_with = "udp")]
    pub tcp: bool,

    /// Only UDP sockets
    #[arg(long)]
    pub udp: bool,

    /// Only IPv4 sockets
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Only IPv6 sockets
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
}

fn parse_spec(text: &str) -> Result<PortSpec, crate::query::SpecError> {
    text.parse::<PortSpec>()
}

/// What one run of rekt should do, free of command-line details.
#[derive(Debug, Clone)]
pub struct Options {
    pub query: Query,
    pub verbose: bool,
    /// `None`: only list the owners.
    pub action: Option<Policy>,
}

/// How long to wait for signalled owners to exit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

impl Cli {
    pub fn into_options(self) -> Options {
        let mut query = Query::ports(self.ports);
        // Neither flag (or, impossibly, both) means both protocols and both families.
        if self.tcp != self.udp {
            query.tcp = self.tcp;
            query.udp = self.udp;
        }
        if self.ipv4 != self.ipv6 {
            query.ipv4 = self.ipv4;
            query.ipv6 = self.ipv6;
        }
        let signal = if self.kill {
            Some(Signal::Kill)
        } else if self.terminate {
            Some(Signal::Terminate)
        } else {
            None
        };
        Options {
            query,
            verbose: self.verbose,
            action: signal.map(|signal| Policy {
                signal,
                timeout: DEFAULT_TIMEOUT,
                escalate: false,
            }),
        }
    }
}

/// A clap error as one line: the first line of its message, with a pointer to `--help`.
/// clap's own rendering spans several lines (usage, tips), which scripts and users scan
/// poorly.
pub fn one_line_error(err: &clap::Error) -> String {
    // A bad port spec: our own message already names the argument and what was expected.
    if err.kind() == clap::error::ErrorKind::ValueValidation
        && let Some(source) = std::error::Error::source(err)
    {
        return format!("rekt: {source}");
    }
    let text = err.render().to_string();
    let mut parts = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"));
    let first = parts.next().unwrap_or("invalid arguments");
    let rest: Vec<&str> = parts.collect();
    let message = if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first} {}", rest.join(", "))
    };
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    format!("rekt: {message} (see rekt --help)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Cli::try_parse_from(std::iter::once("rekt").chain(args.iter().copied()))
            .map(Cli::into_options)
            .map_err(|e| one_line_error(&e))
    }

    #[test]
    fn kill_wins_over_terminate() {
        let opts = parse(&["-t", "-k", "8000"]).unwrap();
        assert_eq!(opts.action.unwrap().signal, Signal::Kill);
        assert_eq!(
            parse(&["-t", "8000"]).unwrap().action.unwrap().signal,
            Signal::Terminate
        );
        assert!(parse(&["8000"]).unwrap().action.is_none());
    }

    #[test]
    fn filters_narrow_the_query() {
        let q = parse(&["--udp", "-6", "53"]).unwrap().query;
        assert!(!q.tcp && q.udp && !q.ipv4 && q.ipv6);
        let q = parse(&["53"]).unwrap().query;
        assert!(q.tcp && q.udp && q.ipv4 && q.ipv6);
    }

    #[test]
    fn usage_errors_are_one_line() {
        for args in [
            &["0"][..],
            &["70000"],
            &["abc"],
            &["9000-8000"],
            &["8000/sctp"],
            &[""],
            &[],
            &["--bogus", "80"],
            &["--tcp", "--udp", "80"],
        ] {
            let err = parse(args).expect_err(&format!("{args:?}"));
            assert!(!err.contains('\n'), "{args:?}: {err}");
            assert!(err.starts_with("rekt: "), "{err}");
        }
        assert!(parse(&[]).unwrap_err().contains("<PORT>"));
    }
}
