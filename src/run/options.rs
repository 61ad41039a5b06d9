//! What one run of rekt should do, free of command-line details: the command line (`cli`)
//! produces it, the run follows it.

use std::time::Duration;

use crate::judge::Include;
use crate::kill::Policy;
use crate::lookup::Scope;
use crate::output::Format;
use crate::query::Query;

/// What one run of rekt should do, free of command-line details.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) query: Query,
    pub(crate) format: Format,
    /// `None`: only show the owners.
    pub(crate) action: Option<Policy>,
    /// Ask before each signal; without an action, open the live view (`rekt -i`).
    pub(crate) interactive: bool,
    /// The roles signalled only on request (`--include-clients`, `--include-forwarders`).
    pub(crate) include: Include,
    /// Signal a range's many owners without asking (`--yes`).
    pub(crate) yes: bool,
    /// How long to watch a freed port for a newcomer; `None`: the default, which depends on
    /// the owners' supervisors.
    pub(crate) settle: Option<Duration>,
    /// Signal the holders rekt may signal even when another holder of the same port keeps
    /// it held (`--partial`).
    pub(crate) partial: bool,
    /// Which network namespaces to look in.
    pub(crate) scope: Scope,
}

impl Options {
    /// List mode: no port given, so show every listener.
    pub(crate) fn is_list(&self) -> bool {
        self.query.ports.is_empty()
    }

    /// `-i` with no action: the live view, on the ports asked about (all when none).
    pub(crate) fn is_view(&self) -> bool {
        self.interactive && self.action.is_none()
    }
}
