//! The command line (clap), the entry point, and the `Options` it turns into (`run`). Kept
//! apart so that the rest of rekt never sees clap types, as in hyperfine.

use std::io::IsTerminal;
use std::time::Duration;

mod man;

use clap::{ArgGroup, Parser, Subcommand, ValueHint};

use crate::error::UsageError;
use crate::exit_codes::{self, ExitCode};
use crate::judge::Include;
use crate::kill::{Policy, Signal};
use crate::lookup::Scope;
use crate::output::{self, Format};
use crate::platform::{Backend, Os};
use crate::query::{BlockerSearch, PortSpec, Query};
use crate::run::{self, Options};
use crate::{debug, duration, view};

/// The `rekt` binary: parse the command line, run, and return the exit code.
pub(crate) fn main() -> std::process::ExitCode {
    debug::from_env();
    // Even a command line that does not parse gets its answer as JSON when it asked for it.
    let json = asks_for_json(std::env::args_os());
    if let Some(e) = signed_port(std::env::args_os()) {
        return output::usage_error(&e, json).into();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version go to stdout, through the stream that never panics.
        Err(err) if !err.use_stderr() => return help(&err).into(),
        Err(err) => {
            let error = needs_a_signal(&err, std::env::args_os())
                .or_else(|| misplaced_subcommand(&err, std::env::args_os()))
                .unwrap_or_else(|| one_line_error(&err));
            return output::usage_error(&error, json).into();
        }
    };
    if cli.debug {
        debug::enable();
    }
    match cli.command {
        Some(Command::Completions { shell }) => return completions(shell).into(),
        Some(Command::Man) => return man_page().into(),
        None => {}
    }
    match cli.into_options() {
        Ok(opts) if opts.is_view() => view::run(&opts).into(),
        Ok(opts) => run::run(&opts).into(),
        Err(e) => output::usage_error(&e, json).into(),
    }
}

/// Writes `--help` or `--version` (clap's answer) to stdout. A closed pipe is not a
/// failure; a full disk is (exit 4).
fn help(answer: &clap::Error) -> ExitCode {
    let what = match answer.kind() {
        clap::error::ErrorKind::DisplayVersion => "the version",
        _ => "the help",
    };
    output::write_stdout(answer.render().to_string().as_bytes(), what)
}

/// Writes the completion script for `shell` to stdout.
fn completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "rekt", &mut script);
    output::write_stdout(&script, "the completion script")
}

/// Writes the man page (roff) to stdout.
fn man_page() -> ExitCode {
    match man::page() {
        Ok(page) => output::write_stdout(&page, "the man page"),
        Err(e) => output::write_error(&e, "the man page"),
    }
}

pub(crate) const EXAMPLES: &str = "\
Examples:
  rekt                          list every listening TCP and bound UDP socket and its owner
  rekt 8000                     who owns port 8000 (TCP and UDP, IPv4 and IPv6)?
  rekt -v 8000-8010 5353/udp    several ports, with name, user, type, state and address
  rekt -t 8000                  ask the owners to exit, wait up to 5s, check the port
  rekt -t --timeout 2s --escalate 8000
                                ask, wait 2s, then force the ones still running
  rekt -k 8000                  force the owners to exit
  rekt -t --settle 3s 8000      ask them to exit, then watch 3s for a restart
  rekt --json 8000              the same answer as one JSON document
  sudo rekt --all-netns -v 8000 also look inside containers and other network namespaces";

#[derive(Debug, Parser)]
#[command(
    name = "rekt",
    version,
    about = "Find every process that owns a port, and terminate or kill them on request.",
    long_about = None,
    after_help = help_footer(),
    args_conflicts_with_subcommands = true,
    // `-v -v` and `--json --json` are harmless, and aliases like `alias rekt='rekt -v'`
    // depend on it.
    args_override_self = true,
    group(ArgGroup::new("signal").args(["terminate", "kill"]).multiple(true)),
)]
pub(crate) struct Cli {
    /// Ports: 8000, :8000, 8000-8010, 8000/tcp, 8000/udp, 8000-8010/udp, and lists of them
    /// (3000,8000-8002). None: list every listener
    #[arg(
        value_name = "PORT",
        value_parser = parse_spec,
        value_delimiter = ',',
        value_hint = ValueHint::Other
    )]
    pub(crate) ports: Vec<PortSpec>,

    /// Ask every owner to exit (SIGTERM; on Windows, WM_CLOSE to its windows)
    #[arg(short = 't', long)]
    pub(crate) terminate: bool,

    /// Force every owner to exit (SIGKILL; TerminateProcess on Windows); wins over -t
    #[arg(short = 'k', long)]
    pub(crate) kill: bool,

    /// How long to wait for owners to exit after a signal: 500ms, 3s, 1m30s, 1.5s; 0s
    /// signals without waiting (the port check still tells)
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5s",
        requires = "signal",
        value_parser = duration::parse,
        value_hint = ValueHint::Other
    )]
    pub(crate) timeout: Duration,

    /// With -t: force the owners still running after --timeout (with -k: nothing more to do)
    #[arg(long, requires = "signal")]
    pub(crate) escalate: bool,

    /// With -t/-k: ask before signalling each owner. Alone: open the live view of every
    /// listener (or of the PORTs given), filtered as you type (needs a terminal)
    #[arg(short = 'i', long)]
    pub(crate) interactive: bool,

    /// Also signal clients: processes whose only sockets on the port are outgoing
    /// connections from ephemeral ports (a browser, ssh), which rekt otherwise shows and
    /// spares
    #[arg(long, requires = "signal")]
    pub(crate) include_clients: bool,

    /// Also signal forwarders: processes that only carry a published port for a container
    /// or a VM (docker-proxy, dockerd, rootlesskit, slirp4netns, pasta, wslrelay, Docker
    /// Desktop). Risky: it breaks the container's published port, and signalling dockerd
    /// stops every container; without it rekt ends the container through its engine
    #[arg(long, requires = "signal")]
    pub(crate) include_forwarders: bool,

    /// Signal the owners rekt may signal even when another owner of the same port keeps it
    /// held (rekt's caller, a protected PID, a forwarder whose container cannot be ended):
    /// without it, rekt signals nothing on such a port, since that would free nothing
    #[arg(long, requires = "signal")]
    pub(crate) partial: bool,

    /// Do not ask before a range of ports signals more than 8 processes (needed without a
    /// terminal)
    #[arg(short = 'y', long, requires = "signal")]
    pub(crate) yes: bool,

    /// After a signal, watch a port that is free for this long, and report a process that
    /// takes it again (a supervisor's restart; exit 3): 0s turns the watch off. Default 1s,
    /// 2s for an owner under supervisord or s6
    #[arg(
        long,
        value_name = "DURATION",
        requires = "signal",
        value_parser = duration::parse,
        value_hint = ValueHint::Other
    )]
    pub(crate) settle: Option<Duration>,

    /// Add NAME, USER, TYPE (tcp, tcp6, udp, udp6), STATE, local ADDRESS, ROLE, and who
    /// started each owner: PARENTS, systemd UNIT, SUPERVISOR (with how to stop it)
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,

    /// Only listeners (listening TCP, unconnected UDP): the fast path, which skips connections
    #[arg(short = 'l', long)]
    pub(crate) listen: bool,

    /// Only TCP sockets
    #[arg(long, conflicts_with = "udp")]
    pub(crate) tcp: bool,

    /// Only UDP sockets
    #[arg(long)]
    pub(crate) udp: bool,

    /// Only IPv4 sockets
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub(crate) ipv4: bool,

    /// Only IPv6 sockets
    #[arg(short = '6', long = "ipv6")]
    pub(crate) ipv6: bool,

    /// Look in every network namespace (containers, ip netns), not just this one (Linux, root)
    #[arg(long)]
    pub(crate) all_netns: bool,

    /// Print one JSON document on stdout instead of tables and notes
    #[arg(long, conflicts_with = "quiet")]
    pub(crate) json: bool,

    /// Print nothing; only the exit code tells
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,

    /// Trace each lookup step on stderr: socket queries, the fd scan, engines, the settle watch (also REKT_DEBUG=1)
    #[arg(long)]
    pub(crate) debug: bool,

    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
}

fn help_footer() -> String {
    format!("{EXAMPLES}\n\n{SIGNAL_ONLY}\n\n{}", exit_codes::HELP)
}

/// The options that act on a signal, and so mean nothing without -t or -k.
const SIGNAL_OPTIONS: &[&str] = &[
    "--timeout",
    "--escalate",
    "--settle",
    "--include-clients",
    "--include-forwarders",
    "--partial",
    "--yes",
    "-y",
];

const SIGNAL_ONLY: &str = "\
Options that act on a signal (--timeout, --escalate, --settle, --include-clients,
--include-forwarders, --partial, -y) need -t or -k: without one, rekt signals nothing and
says so rather than ignore them.";

/// The one-line error for `rekt --json completions bash`: a subcommand after an option
/// is read as a port, which clap reports as `invalid port 'completions'`.
fn misplaced_subcommand(
    err: &clap::Error,
    args: impl Iterator<Item = std::ffi::OsString>,
) -> Option<UsageError> {
    let args: Vec<String> = args.skip(1).filter_map(|a| a.into_string().ok()).collect();
    let at = args
        .iter()
        .position(|a| a == "completions" || a == "man")
        .filter(|&at| at > 0)?;
    if !err.to_string().contains(&format!("'{}'", args[at])) {
        return None;
    }
    let example = if args[at] == "man" {
        "rekt man".to_owned()
    } else {
        format!(
            "rekt completions {}",
            args.get(at + 1).map_or("bash", String::as_str)
        )
    };
    Some(UsageError::new(format!(
        "{} is a subcommand and takes no options: run `{example}` alone",
        args[at]
    )))
}

/// The one-line error for an option that acts on a signal given without -t or -k: clap
/// says only that `<--terminate|--kill>` is missing.
fn needs_a_signal(
    err: &clap::Error,
    args: impl Iterator<Item = std::ffi::OsString>,
) -> Option<UsageError> {
    if err.kind() != clap::error::ErrorKind::MissingRequiredArgument
        || !err.to_string().contains("--terminate|--kill")
    {
        return None;
    }
    let given = args.skip(1).find_map(|a| {
        let a = a.to_str()?;
        let flag = a.split('=').next()?;
        SIGNAL_OPTIONS.contains(&flag).then(|| flag.to_owned())
    })?;
    Some(UsageError::new(format!(
        "{given} acts on a signal: give -t (SIGTERM) or -k (SIGKILL) with it"
    )))
}

fn parse_spec(text: &str) -> Result<PortSpec, UsageError> {
    text.parse::<PortSpec>()
}

impl Cli {
    pub(crate) fn into_options(self) -> Result<Options, UsageError> {
        let signal = if self.kill {
            Some(Signal::Kill)
        } else if self.terminate {
            Some(Signal::Terminate)
        } else {
            None
        };
        if signal.is_some() && self.ports.is_empty() {
            return Err(UsageError::new(
                "-t/-k need a port; rekt will not signal every listener on the machine",
            ));
        }
        if self.all_netns && !Os::HAS_NETNS {
            return Err(UsageError::new(
                "--all-netns: this system has no network namespaces",
            ));
        }
        let view = self.interactive && signal.is_none();
        if view && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
            return Err(UsageError::new(
                "-i without -t or -k opens the live view, which needs a terminal; use rekt \
                 alone to list the listeners",
            ));
        }
        if view && (self.json || self.quiet || self.all_netns) {
            return Err(UsageError::new(
                "-i without -t or -k opens the live view, which has no --json, -q or \
                 --all-netns",
            ));
        }
        if self.interactive && !std::io::stdin().is_terminal() {
            return Err(UsageError::new(
                "-i/--interactive needs a terminal on stdin to ask; use -t or -k without -i",
            ));
        }
        let mut query = Query::ports(self.ports);
        // List mode shows listeners: listening TCP and bound UDP.
        query.listen_only = self.listen || query.ports.is_empty() || view;
        query.blockers = if query.listen_only || view {
            BlockerSearch::Nowhere
        } else if self.verbose || signal.is_some() {
            BlockerSearch::Everywhere
        } else {
            BlockerSearch::WhereFree
        };
        // Neither flag (or, impossibly, both) means both protocols and both families.
        if self.tcp != self.udp {
            query.tcp = self.tcp;
            query.udp = self.udp;
        }
        if let Some(spec) = query.excluded_spec() {
            let (flag, only) = if query.tcp {
                ("--tcp", "TCP")
            } else {
                ("--udp", "UDP")
            };
            return Err(UsageError::new(format!(
                "port {spec} contradicts {flag}, which looks at {only} sockets only; drop one \
                 of them"
            )));
        }
        if self.ipv4 != self.ipv6 {
            query.ipv4 = self.ipv4;
            query.ipv6 = self.ipv6;
        }
        let format = if self.quiet {
            Format::Quiet
        } else if self.json {
            Format::Json
        } else {
            Format::Human {
                verbose: self.verbose,
                width: terminal_width(),
            }
        };
        Ok(Options {
            query,
            format,
            action: signal.map(|signal| Policy {
                signal,
                timeout: self.timeout,
                escalate: self.escalate,
            }),
            interactive: self.interactive,
            include: Include {
                clients: self.include_clients,
                forwarders: self.include_forwarders,
            },
            yes: self.yes,
            partial: self.partial,
            settle: self.settle,
            scope: if self.all_netns {
                Scope::AllNetns
            } else {
                Scope::Here
            },
        })
    }
}

/// Whether the raw command line has `--json` (before any `--`), for answering a command
/// line that does not parse in the format it asked for.
pub(crate) fn asks_for_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// `rekt -8000` (a habit from `kill -9`, or a typo) would otherwise be read as the flags
/// `-8`, `-0`...: a usage error that says what was probably meant. `-4` and `-6` are flags.
pub(crate) fn signed_port(args: impl Iterator<Item = std::ffi::OsString>) -> Option<UsageError> {
    let mut after_duration: Option<String> = None;
    for arg in args.skip(1) {
        let arg = arg.to_str()?;
        if arg == "--" {
            return None;
        }
        // `--timeout -1s`: a negative duration, said as `--timeout=-1s` is.
        if let Some(flag) = after_duration.take()
            && arg.starts_with('-')
        {
            return duration::parse(arg)
                .err()
                .map(|e| UsageError::new(format!("{flag}: {e}")));
        }
        if matches!(arg, "--timeout" | "--settle") {
            after_duration = Some(arg.to_owned());
            continue;
        }
        if let Some(rest) = arg.strip_prefix('-')
            && rest.starts_with(|c: char| c.is_ascii_digit())
            && !rest.bytes().all(|b| b == b'4' || b == b'6')
        {
            return Some(match rest {
                // The `kill -9` and `kill -15` habits.
                "9" => UsageError::new(
                    "-9: rekt takes no signal numbers; use -k to force (SIGKILL), or -t to ask \
                     (SIGTERM)",
                ),
                "15" => UsageError::new(
                    "-15: rekt takes no signal numbers; use -t to ask (SIGTERM), or -k to \
                     force (SIGKILL)",
                ),
                _ => match rest.parse::<PortSpec>() {
                    Ok(_) => UsageError(format!(
                        "invalid port '{arg}': a port has no sign; did you mean {rest}?"
                    )),
                    Err(e) => e,
                },
            });
        }
    }
    None
}

/// A clap error as one line: the first line of its message, with a pointer to `--help`.
/// clap's own rendering spans several lines (usage, tips), which scripts and users scan
/// poorly.
pub(crate) fn one_line_error(err: &clap::Error) -> UsageError {
    // A bad port spec or duration: our own message already names the argument.
    if err.kind() == clap::error::ErrorKind::ValueValidation
        && let Some(source) = std::error::Error::source(err)
    {
        return UsageError::new(source.to_string());
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
    UsageError::new(format!("{message} (see rekt --help)"))
}

/// The width to fit tables to: `COLUMNS` when set to a number (as `ls` honours it), else
/// the terminal's, when standard output is a terminal. Piped output keeps every byte.
fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or_else(|| Os::terminal_columns().map(usize::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        let cli = Cli::try_parse_from(std::iter::once("rekt").chain(args.iter().copied()))
            .map_err(|e| one_line_error(&e).0)?;
        cli.into_options().map_err(|e| e.0)
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
    fn timeout_and_escalate() {
        let policy = parse(&["-t", "--timeout", "300ms", "--escalate", "80"])
            .unwrap()
            .action
            .unwrap();
        assert_eq!(policy.timeout, Duration::from_millis(300));
        assert!(policy.escalate);
        let policy = parse(&["-t", "80"]).unwrap().action.unwrap();
        assert_eq!(policy.timeout, Duration::from_secs(5));
        assert!(!policy.escalate);
        assert!(
            parse(&["--escalate", "80"]).is_err(),
            "--escalate needs -t or -k"
        );
        assert!(
            parse(&["-t", "--timeout", "5", "80"])
                .unwrap_err()
                .contains("missing unit")
        );
    }

    #[test]
    fn filters_narrow_the_query() {
        let q = parse(&["--udp", "-6", "53"]).unwrap().query;
        assert!(!q.tcp && q.udp && !q.ipv4 && q.ipv6);
        let q = parse(&["53"]).unwrap().query;
        assert!(q.tcp && q.udp && q.ipv4 && q.ipv6 && !q.listen_only);
    }

    #[test]
    fn a_spec_the_protocol_filter_excludes_is_a_usage_error() {
        let err = parse(&["--udp", "8000/tcp"]).unwrap_err();
        assert_eq!(
            err,
            "port 8000/tcp contradicts --udp, which looks at UDP sockets only; drop one of them"
        );
        let err = parse(&["--tcp", "80", "53/udp"]).unwrap_err();
        assert!(err.starts_with("port 53/udp contradicts --tcp"), "{err}");
        // Agreeing or narrowing filters are fine.
        assert!(parse(&["--tcp", "8000/tcp"]).is_ok());
        assert!(parse(&["--udp", "8000"]).is_ok());
    }

    #[test]
    fn no_port_means_list_mode_of_listeners() {
        let opts = parse(&[]).unwrap();
        assert!(opts.is_list() && opts.query.listen_only && opts.action.is_none());
        assert!(parse(&["--udp"]).unwrap().is_list());
        assert!(parse(&["-k"]).unwrap_err().contains("need a port"));
    }

    #[test]
    fn output_formats() {
        assert_eq!(parse(&["--json", "80"]).unwrap().format, Format::Json);
        assert_eq!(parse(&["-q", "80"]).unwrap().format, Format::Quiet);
        assert_eq!(
            parse(&["-v", "80"]).unwrap().format,
            Format::Human {
                verbose: true,
                width: terminal_width()
            }
        );
        assert!(parse(&["--json", "-q", "80"]).is_err());
    }

    #[test]
    fn all_netns_sets_the_scope() {
        assert_eq!(parse(&["80"]).unwrap().scope, Scope::Here);
        let all = parse(&["--all-netns", "80"]);
        if cfg!(target_os = "linux") {
            assert_eq!(all.unwrap().scope, Scope::AllNetns);
        } else {
            assert!(all.unwrap_err().contains("no network namespaces"));
        }
    }

    #[test]
    fn settle_clients_and_yes() {
        let opts = parse(&["-k", "--settle", "0s", "--include-clients", "-y", "80"]).unwrap();
        assert_eq!(opts.settle, Some(Duration::ZERO));
        assert!(opts.include.clients && opts.yes);
        let opts = parse(&["-k", "80"]).unwrap();
        assert_eq!(opts.settle, None);
        assert!(!opts.include.clients && !opts.yes);
        assert!(parse(&["-k", "--settle", "soon", "80"]).is_err());
        // The help text names the threshold that the code uses.
        use crate::judge::MANY;
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains(&format!("more than {MANY} processes")),
            "{help}"
        );
    }

    #[test]
    fn interactive_without_a_signal_is_the_view() {
        // The tests have no terminal: the view says it needs one, in one line.
        for args in [&["-i"][..], &["-i", "3000-3999"], &["-i", "--udp"]] {
            let err = parse(args).unwrap_err();
            assert!(
                err.contains("opens the live view, which needs a terminal"),
                "{err}"
            );
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn subcommands_do_not_clash_with_ports() {
        let cli = Cli::try_parse_from(["rekt", "completions", "bash"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Completions { .. })));
        let cli = Cli::try_parse_from(["rekt", "man"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Man)));
        assert!(Cli::try_parse_from(["rekt", "8000", "man"]).is_err());
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
            &["--bogus", "80"],
            &["--tcp", "--udp", "80"],
            &["-t", "--timeout", "soon", "80"],
            &["--udp", "8000/tcp"],
        ] {
            let err = parse(args).expect_err(&format!("{args:?}"));
            assert!(!err.contains('\n'), "{args:?}: {err}");
            assert!(
                !err.starts_with("rekt: "),
                "the printer adds the prefix: {err}"
            );
        }
    }

    #[test]
    fn a_signed_port_says_what_was_meant() {
        let signed = |args: &[&str]| {
            signed_port(
                std::iter::once("rekt")
                    .chain(args.iter().copied())
                    .map(Into::into),
            )
            .map(|e| e.0)
        };
        assert_eq!(
            signed(&["-8000"]).unwrap(),
            "invalid port '-8000': a port has no sign; did you mean 8000?"
        );
        assert!(
            signed(&["-k", "-80-90/udp"])
                .unwrap()
                .contains("did you mean 80-90/udp?")
        );
        assert!(signed(&["-70000"]).unwrap().contains("from 1 to 65535"));
        assert_eq!(signed(&["-4", "-6", "-46", "8000"]), None);
        assert_eq!(signed(&["--", "-8000"]), None);
    }

    #[test]
    fn repeated_flags_are_harmless() {
        let opts = parse(&["-v", "-v", "8000"]).unwrap();
        assert_eq!(
            opts.format,
            Format::Human {
                verbose: true,
                width: terminal_width()
            }
        );
        assert!(parse(&["-q", "-q", "8000"]).is_ok());
        // --escalate with -k has nothing more to do, but it is no error.
        let policy = parse(&["--escalate", "-k", "8000"])
            .unwrap()
            .action
            .unwrap();
        assert_eq!(policy.signal, Signal::Kill);
    }

    #[test]
    fn durations_complete_to_no_file_names() {
        use clap::CommandFactory;
        use clap_complete::Shell;
        let script = |shell| {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rekt", &mut out);
            String::from_utf8(out).unwrap()
        };
        let bash = script(Shell::Bash);
        let zsh = script(Shell::Zsh);
        let fish = script(Shell::Fish);
        for option in ["--timeout", "--settle"] {
            // bash: the option's case offers what was typed, never `compgen -f` (files).
            let case = bash
                .split(&format!("{option})"))
                .nth(1)
                .unwrap_or_else(|| panic!("{option}: {bash}"));
            let case = &case[..case.find(";;").unwrap()];
            assert!(case.contains(r#"COMPREPLY=("${cur}")"#), "{case}");
            assert!(!case.contains("compgen"), "{option}: {case}");
            // zsh: a value with no action (`_files` would offer files).
            let line = zsh
                .lines()
                .find(|l| l.starts_with(&format!("'{option}=")))
                .unwrap_or_else(|| panic!("{option}: {zsh}"));
            assert!(line.ends_with(":DURATION:' \\"), "{line}");
            // fish: a value (-r) that is no file (-f).
            let line = fish
                .lines()
                .find(|l| l.contains(&format!(" -l {} ", &option[2..])))
                .unwrap_or_else(|| panic!("{option}: {fish}"));
            assert!(line.ends_with(" -r -f"), "{line}");
        }
        assert!(!zsh.contains("_files"), "{zsh}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
