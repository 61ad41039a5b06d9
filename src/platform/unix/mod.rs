//! What Linux and macOS share: the parallel walk over processes and the user database.

pub mod parallel;
pub mod users;
