use clap::Parser;

use rekt::cli::{self, Cli};
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
    rekt::app::run(&cli.into_options()).into()
}
