//! The per-PID cache of one run: each process's details are read at most once, and only
//! for the processes that will be shown or signalled. What it holds is the printers'
//! [`Known`]; this adds the reading.

use std::ops::Deref;

use crate::model::ProcessInfo;
use crate::output::Known;
use crate::platform::{Backend, Os};
use crate::supervision::{self, Context, Supervisor, SupervisorKind};

/// What is known about processes in this run, and the reading of what is not yet.
#[derive(Debug, Default)]
pub(crate) struct Details {
    known: Known,
}

impl Details {
    pub(crate) fn new() -> Details {
        Details::default()
    }

    /// What the printers may know.
    pub(crate) fn known(&self) -> &Known {
        &self.known
    }

    /// Reads `pid`'s details unless they were read before; returns them.
    pub(crate) fn read(&mut self, pid: u32) -> &ProcessInfo {
        self.known.info_or(pid, Os::process_info)
    }

    pub(crate) fn set_role(&mut self, pid: u32, role: crate::judge::Role) {
        self.known.set_role(pid, role);
    }

    pub(crate) fn set_container(&mut self, pid: u32, container: crate::container::Container) {
        self.known.set_container(pid, container);
    }

    /// Records a context found otherwise (a newcomer's supervisor inferred by the watch).
    pub(crate) fn set_context(&mut self, pid: u32, context: Context) {
        self.known.set_context(pid, context);
    }

    /// Describes `pid` (parent chain, unit, supervisor) unless it was described before. A
    /// process in a container with a restart policy has the engine as its supervisor.
    pub(crate) fn describe(&mut self, pid: u32) -> &Context {
        if self.known.context(pid).is_none() {
            let mut context = supervision::describe(pid, self);
            if let Some(c) = self.known.container(pid)
                && c.restart.is_some()
            {
                context.supervisor = Some(Supervisor {
                    kind: SupervisorKind::Engine,
                    pid: None,
                    name: Some(c.handle()),
                    stop: Some(c.command(false)),
                });
            }
            self.known.set_context(pid, context);
        }
        self.known.context(pid).expect("described above")
    }
}

/// Reading what is known needs no reading.
impl Deref for Details {
    type Target = Known;

    fn deref(&self) -> &Known {
        &self.known
    }
}

impl supervision::ReadInfo for Details {
    fn read(&mut self, pid: u32) -> &ProcessInfo {
        Details::read(self, pid)
    }
}
