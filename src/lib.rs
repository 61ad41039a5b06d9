//! rekt: which processes own this port? Then, on request, end them.
//!
//! The work is a two-step join (the README's "How it works"): the platform finds the
//! sockets that match a [`Query`], then the processes that hold them. [`lookup`] does both;
//! [`kill`] is the termination policy (pin, signal, wait, escalate). The `rekt` binary's
//! command line, run and output live in private modules behind [`main`].

// Every item is `pub(crate)` unless it is part of the small library API below.
#![warn(unreachable_pub)]

// The rooms, top to bottom: each uses only the rooms below it (docs/ARCHITECTURE.md).
mod cli;
mod container;
mod judge;
pub mod kill;
mod lookup;
mod output;
mod platform;
mod run;
mod supervision;
mod view;

// The vocabulary every room shares.
mod debug;
mod duration;
mod error;
mod exit_codes;
pub mod model;
mod query;
#[cfg(test)]
mod testing;
pub mod text;

pub use error::UsageError;
pub use lookup::{Lookup, Scope, lookup, lookup_in};
pub use query::{BlockerSearch, PortSpec, Query};

/// The `rekt` binary: parses the command line, runs, and returns the exit code.
#[doc(hidden)]
pub fn main() -> std::process::ExitCode {
    cli::main()
}

/// The parsers, for the fuzz targets in `fuzz/`, and the platform seam, for the tests that
/// call it directly. Not an API: only built with the `internals` feature, which the tests
/// (a dev-dependency of rekt on itself) and the fuzzers turn on, and a release never has.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::duration::{
        MAX as MAX_DURATION, format as format_duration, parse as parse_duration,
    };
    pub use crate::model::{Family, Protocol, Socket, SocketKey, State};
    #[cfg(target_os = "linux")]
    pub use crate::platform::proc_net::{parse_line, read_table, sockets as proc_net_sockets};
    #[cfg(target_os = "linux")]
    pub use crate::platform::sock_diag::sockets as sock_diag_sockets;
    #[cfg(target_os = "linux")]
    pub use crate::platform::sock_diag::{
        Progress, parse_reply, port_filter, request, request_tcp_both,
    };
    #[cfg(target_os = "linux")]
    pub use crate::platform::state_codes::{code as state_code, from_code as state_from_code};
    pub use crate::platform::{Backend, Handle, Os};
}
