//! The `rekt` binary. Everything it does is in the library (`rekt::main`), where the
//! command line, the run and the output are private modules.

fn main() -> std::process::ExitCode {
    rekt::main()
}
