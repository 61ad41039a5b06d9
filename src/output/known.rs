//! What the printers know of each process in a run, by PID: its details (name, user,
//! command line), its role, its context (parents, unit, supervisor) and its container.
//! It also holds the other names a sentence may need (a uid's user, an interface's name)
//! and the privilege hint. The run fills it, reading the system only for what will be
//! shown (`run::Details`); the printers only read it.

use std::collections::HashMap;

use crate::container::Container;
use crate::judge::Role;
use crate::model::{ProcessInfo, Text};
use crate::supervision::Context;

/// What is known of each process in this run.
#[derive(Debug, Default)]
pub(crate) struct Known {
    info: HashMap<u32, ProcessInfo>,
    roles: HashMap<u32, Role>,
    contexts: HashMap<u32, Context>,
    /// The container each owner runs in, when it runs in one.
    containers: HashMap<u32, Container>,
    /// The names of the uids that sockets shown without an owner belong to.
    users: HashMap<u32, Text>,
    /// The names of the interfaces that scoped IPv6 addresses name, by index.
    interfaces: HashMap<u32, Text>,
    /// rekt's own uid, where sockets carry uids.
    me: Option<u32>,
    /// What to suggest when something is hidden or denied for lack of privileges, when
    /// following it can help.
    privilege_hint: Option<&'static str>,
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

    /// Replaces what is known of `pid`'s details (a whole read after a partial one).
    pub(crate) fn set_info(&mut self, pid: u32, info: ProcessInfo) {
        self.info.insert(pid, info);
    }

    /// Forgets all that is known of `pid`, which has exited: a process that gets the PID
    /// next is read afresh.
    pub(crate) fn forget(&mut self, pid: u32) {
        self.info.remove(&pid);
        self.roles.remove(&pid);
        self.contexts.remove(&pid);
        self.containers.remove(&pid);
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

    /// The user that `uid` names, or the number when it names none.
    pub(crate) fn user(&self, uid: u32) -> Text {
        self.users
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| Text::from(uid.to_string()))
    }

    pub(crate) fn set_user(&mut self, uid: u32, name: Text) {
        self.users.insert(uid, name);
    }

    /// The name of the interface with this index, if known.
    pub(crate) fn interface(&self, index: u32) -> Option<Text> {
        self.interfaces.get(&index).cloned()
    }

    pub(crate) fn set_interface(&mut self, index: u32, name: Text) {
        self.interfaces.insert(index, name);
    }

    /// rekt's own uid, where sockets carry uids.
    pub(crate) fn me(&self) -> Option<u32> {
        self.me
    }

    /// `; try sudo`: what to suggest when something is hidden or denied for lack of
    /// privileges, after a sentence; nothing when no privilege rekt could be given would
    /// help (on Windows, once it runs elevated).
    pub(crate) fn privilege_hint(&self) -> String {
        self.privilege_hint
            .map_or_else(String::new, |hint| format!("; {hint}"))
    }

    /// Records who rekt runs as and what would give it more privileges.
    pub(crate) fn set_caller(&mut self, me: Option<u32>, privilege_hint: Option<&'static str>) {
        self.me = me;
        self.privilege_hint = privilege_hint;
    }

    #[cfg(test)]
    pub(crate) fn insert(&mut self, pid: u32, info: ProcessInfo) {
        self.info.insert(pid, info);
    }
}
