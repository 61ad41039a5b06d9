use clap::Parser;

use rekt::cli::{self, Cli, Command};
use rekt::exit_codes::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version: clap prints them to stdout.
            let _ = err.print();
            return ExitCode::Success.into();
        }
        Err(err) => {
            eprintln!("{}", cli::one_line_error(&err));
            return ExitCode::Usage.into();
        }
    };
    match cli.command {
        Some(Command::Completions { shell }) => {
            cli::print_completions(shell);
            return ExitCode::Success.into();
        }
        Some(Command::Man) => {
            return match cli::print_man_page() {
                Ok(()) => ExitCode::Success.into(),
                // `rekt man | head` closing the pipe is not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::Success.into(),
                Err(e) => {
                    eprintln!("rekt: cannot write the man page: {e}");
                    ExitCode::Error.into()
                }
            };
        }
        None => {}
    }
    match cli.into_options() {
        Ok(opts) => rekt::app::run(&opts).into(),
        Err(e) => {
            eprintln!("{}", e.0);
            ExitCode::Usage.into()
        }
    }
}
