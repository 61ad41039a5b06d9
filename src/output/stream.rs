//! stdout and stderr that can never stop the work. std's print macros panic when a stream is
//! closed, and rekt's release build aborts on panic, which once left owners unsignalled
//! halfway through `-k`. Here a closed pipe (EPIPE) only stops the printing on that stream;
//! any other write error (ENOSPC on `>/dev/full`, EIO) is remembered, printing to that
//! stream stops, and the run ends with exit code 4 once the work is done.

use std::io::{self, Write};

/// Which standard stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Stdout,
    Stderr,
}

/// One standard stream, written whole lines at a time.
#[derive(Debug)]
pub(crate) struct Stream {
    which: Which,
    /// Set once a write failed: nothing more is written there.
    stopped: bool,
    /// The first write error other than a closed pipe.
    failure: Option<io::Error>,
    /// Kept in memory instead (the live view shows the lines in its status line).
    memory: Option<Vec<u8>>,
}

impl Stream {
    pub(crate) fn new(which: Which) -> Stream {
        Stream {
            which,
            stopped: false,
            failure: None,
            memory: None,
        }
    }

    /// A stream that keeps what is written, for [`Stream::take`].
    pub(crate) fn memory() -> Stream {
        Stream {
            memory: Some(Vec::new()),
            ..Stream::new(Which::Stderr)
        }
    }

    /// What was written to a memory stream since the last take.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.memory.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Writes `bytes` (whole lines) and flushes, unless the stream has failed before.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        if let Some(memory) = &mut self.memory {
            memory.extend_from_slice(bytes);
            return;
        }
        let result = match self.which {
            Which::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Which::Stderr => io::stderr().lock().write_all(bytes),
        };
        if let Err(e) = result {
            self.stopped = true;
            if e.kind() != io::ErrorKind::BrokenPipe {
                self.failure = Some(e);
            }
        }
    }

    /// Writes one line.
    pub(crate) fn line(&mut self, text: &str) {
        let mut line = String::with_capacity(text.len() + 1);
        line.push_str(text);
        line.push('\n');
        self.write(line.as_bytes());
    }

    /// The first write error that was not a closed pipe.
    pub(crate) fn failure(&self) -> Option<&io::Error> {
        self.failure.as_ref()
    }
}
