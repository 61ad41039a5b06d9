//! What Linux and macOS share: the parallel walk over processes and the user database.

pub(crate) mod parallel;
pub(crate) mod users;
