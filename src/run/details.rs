//! The per-PID cache of one run: each process's details are read at most once, and only
//! for the processes that will be shown or signalled. What it holds is the printers'
//! [`Known`]; this adds the reading.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::ops::Deref;

use crate::lookup::Lookup;
use crate::model::{ProcessInfo, Signal};
use crate::output::Known;
use crate::platform::{Backend, Os};
use crate::supervision::{self, Context, Supervisor, SupervisorKind};

/// What is known about processes in this run, and the reading of what is not yet.
#[derive(Debug, Default)]
pub(crate) struct Details {
    known: Known,
    /// The PIDs whose details hold only their name ([`Details::identify`]): read in full
    /// when asked for.
    partial: BTreeSet<u32>,
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
        if self.partial.remove(&pid) {
            self.known.set_info(pid, Os::process_info(pid));
        }
        self.known.info_or(pid, Os::process_info)
    }

    /// What a plain lookup reads of an owner: its name (which the lines about it may
    /// show, and which tells a forwarder), and nothing more unless the name is a
    /// forwarder's. Then the whole details, since its arguments name its container and its
    /// uid its engine.
    pub(crate) fn identify(&mut self, pid: u32) -> &ProcessInfo {
        if self.known.info(pid).is_none() {
            let info = Os::process_identity(pid);
            if crate::judge::may_forward(&info) {
                return self.read(pid);
            }
            self.known.set_info(pid, info);
            self.partial.insert(pid);
        }
        self.known.info(pid).expect("set above")
    }

    /// Forgets `pid`, which has exited (the live view, which outlives its processes).
    pub(crate) fn forget(&mut self, pid: u32) {
        self.known.forget(pid);
        self.partial.remove(&pid);
    }

    /// Reads the details of each of `pids` not read before.
    pub(crate) fn read_all(&mut self, pids: impl Iterator<Item = u32>) {
        for pid in pids {
            self.read(pid);
        }
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
                    stop: Some(c.command(Signal::Terminate)),
                });
            }
            self.known.set_context(pid, context);
        }
        self.known.context(pid).expect("described above")
    }
}

impl Details {
    /// Reads the names that the lines about `found` may need and no process gives: who
    /// rekt runs as, the users of the uids that sockets without a visible owner belong to
    /// (and, when the lookup was incomplete for want of privileges, of other users'
    /// sockets), and the interfaces of scoped IPv6 addresses. Nothing is read for a
    /// lookup that needs none of them.
    pub(crate) fn learn_names(&mut self, found: &Lookup, privileged: bool) {
        let me = Os::current_uid();
        self.known.set_caller(me, Os::privilege_hint());
        let mut uids: BTreeSet<u32> = found
            .ownership
            .hidden
            .iter()
            .filter_map(|s| s.uid)
            .collect();
        if found.ownership.incomplete && !privileged {
            let owned = found.ownership.owners.iter().flat_map(|o| &o.sockets);
            uids.extend(owned.filter_map(|s| s.uid).filter(|&uid| Some(uid) != me));
        }
        for uid in uids {
            self.known.set_user(uid, Os::user_name(uid));
        }
        if found.netns.is_empty() {
            for socket in &found.sockets {
                if let SocketAddr::V6(a) = socket.local
                    && a.scope_id() != 0
                    && a.ip().is_unicast_link_local()
                    && let Some(name) = Os::interface_name(a.scope_id())
                {
                    self.known.set_interface(a.scope_id(), name);
                }
            }
        }
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
