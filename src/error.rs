//! The one error type for a command line that rekt will not run: a bad port spec, a bad
//! duration, flags that contradict each other. The message is one line and names the
//! offending text; the `rekt:` prefix is added where it is printed (`output`), nowhere else.

use std::fmt;

/// A usage error (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> UsageError {
        UsageError(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
