//! What the printers know of each process in a run, by PID: its details (name, user,
//! command line), its role, its context (parents, unit, supervisor) and its container.
//! The run fills it, reading the system only for the processes that will be shown
//! (`run::Details`); the printers only read it.

use std::collections::HashMap;

use crate::container::Container;
use crate::judge::Role;
use crate::model::ProcessInfo;
use crate::supervision::Context;

/// What is known of each process in this run.
#[derive(Debug, Default)]
pub(crate) struct Known {
    info: HashMap<u32, ProcessInfo>,
    roles: HashMap<u32, Role>,
    contexts: HashMap<u32, Context>,
    /// The container each owner runs in, when it runs in one.
    containers: HashMap<u32, Container>,
}

impl Known {
    /// `pid`'s details, if they were read.
    pub(crate) fn info(&self, pid: u32) -> Option<&ProcessInfo> {
        self.info.get(&pid)
    }

    /// `pid`'s details, read with `read` unless they were read before.
    pub(crate) fn info_or(
        &mut self,
        pid: u32,
        read: impl FnOnce(u32) -> ProcessInfo,
    ) -> &ProcessInfo {
        self.info.entry(pid).or_insert_with(|| read(pid))
    }

    /// `pid`'s role, if it was decided.
    pub(crate) fn role(&self, pid: u32) -> Option<&Role> {
        self.roles.get(&pid)
    }

    pub(crate) fn set_role(&mut self, pid: u32, role: Role) {
        self.roles.insert(pid, role);
    }

    /// The container `pid` runs in, if it runs in one.
    pub(crate) fn container(&self, pid: u32) -> Option<&Container> {
        self.containers.get(&pid)
    }

    pub(crate) fn set_container(&mut self, pid: u32, container: Container) {
        self.containers.insert(pid, container);
    }

    /// `pid`'s context, if it was described.
    pub(crate) fn context(&self, pid: u32) -> Option<&Context> {
        self.contexts.get(&pid)
    }

    pub(crate) fn set_context(&mut self, pid: u32, context: Context) {
        self.contexts.insert(pid, context);
    }

    #[cfg(test)]
    pub(crate) fn insert(&mut self, pid: u32, info: ProcessInfo) {
        self.info.insert(pid, info);
    }
}
