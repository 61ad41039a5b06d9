//! Describe: who started an owner, and what would start it again. For each owner shown
//! (never for every process): its parent chain up to the first process that is not a
//! shell, terminal or sudo; its systemd unit, from its cgroup lines; and its supervisor,
//! when the chain or the unit shows one. Also rekt's own ancestry, whose members are never
//! signalled (`roles`).
//!
//! The facts come through the platform seam (`Backend::process_stat`, `cgroup_lines`,
//! `working_dir`, `environment`); reading them is this module's business, deciding from
//! them is done by pure functions below, which the unit tests feed with real lines.

mod ancestry;
mod restart;
mod supervisor;
mod unit;

pub(crate) use ancestry::{Link, ancestry, callers, callers_among, kind_of};
pub(crate) use restart::{BUSY, Look, Restarter, RestarterKind, restarters, see, until};
pub(crate) use supervisor::{
    Supervisor, SupervisorKind, restarter, service_supervisor, systemd_supervisor,
};
pub(crate) use unit::{Unit, unit_of};

use crate::model::ProcessInfo;
use crate::platform::{Backend, Os};
use supervisor::{recognise, supervisor_in_chain};

/// Who started a process and what would start it again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Context {
    /// Its parent, grandparent, ... nearest first, up to and including the first that is
    /// not a shell, terminal or sudo (or PID 1).
    pub(crate) parents: Vec<u32>,
    /// The systemd unit it runs in, from its cgroup.
    pub(crate) unit: Option<Unit>,
    /// What restarts it, when the chain or the unit shows it.
    pub(crate) supervisor: Option<Supervisor>,
}

/// Where a description reads the details of the processes it names: the run's per-PID
/// cache, so that each is read once and can be shown.
pub(crate) trait ReadInfo {
    fn read(&mut self, pid: u32) -> &ProcessInfo;
}

/// Describes `pid`: its parent chain, unit and supervisor, reading the ancestors' details
/// through `details` (their names are shown).
pub(crate) fn describe(pid: u32, details: &mut impl ReadInfo) -> Context {
    let parents = ancestry(pid, Os::process_stat, |p| {
        p != 1 && kind_of(details.read(p)) != Link::Other
    });
    let unit = unit_of(&Os::cgroup_lines(pid));
    let supervisor = parents
        .iter()
        .find_map(|&p| supervisor_in_chain(pid, p, details.read(p)))
        .or_else(|| unit.as_ref().and_then(systemd_supervisor))
        .or_else(|| Os::service(pid).map(|name| service_supervisor(&name)));
    Context {
        parents,
        unit,
        supervisor,
    }
}
