//! What Linux and macOS share: the parallel walk over processes, the user database and the
//! terminal's width.

pub(crate) mod parallel;
pub(crate) mod terminal;
pub(crate) mod users;
