//! What rekt says about what it found and did, next to the types each sentence describes:
//! processes and their fates (`process`), ports and their verdicts (`port`), containers and
//! forwarders (`container`), supervisors (`supervisor`). The human printer and the JSON
//! messages share these sentences, so they never disagree. Nothing here reads the system:
//! what a sentence names (a user, an interface, the privilege hint) comes from [`Known`].
//! Usage errors are worded by the parser that rejects the input (`cli`, `query`,
//! `duration`), since they only quote the input back.

mod container;
mod port;
mod process;
mod supervisor;

pub(crate) use container::*;
pub(crate) use port::*;
pub(crate) use process::*;
pub(crate) use supervisor::*;

/// `a, b, c`.
pub(crate) fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// `300ms`, `5s`: a wait as the user would write it.
pub(crate) fn waited(d: std::time::Duration) -> String {
    crate::duration::format(d)
}

/// `cannot write the man page: No space left on device`: output that could not be written
/// (exit 4).
pub(crate) fn cannot_write(what: &str, error: &std::io::Error) -> String {
    format!("cannot write {what}: {error}")
}

/// The line for a lookup that failed (exit 4).
pub(crate) fn lookup_failed(error: &std::io::Error) -> String {
    format!("cannot look up sockets: {error}")
}

/// The line for a check after signalling that failed (exit 4).
pub(crate) fn recheck_failed(error: &std::io::Error) -> String {
    format!("cannot check the ports again: {error}")
}
