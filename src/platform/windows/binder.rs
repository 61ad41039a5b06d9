//! Is the PID a table row names the process that holds the socket?
//!
//! The row's PID is the process that *bound* the socket. A child started after the bind
//! inherits the socket's handle (handles are inherited at CreateProcess), and it keeps the
//! socket open when the binder exits; the table goes on naming the dead binder, and
//! Windows may give that PID to a new process. So a row's PID is trusted as the holder
//! only while it is a live process that was created no later than the bind
//! (`liCreateTimestamp`). Otherwise the socket is hidden, with the binder's surviving
//! children as its likely holders: the processes whose recorded parent is the binder,
//! started after the bind, and, when the PID was reused, before the newcomer (which
//! started only after the binder had exited).
//!
//! Pure rules over a process list and the processes' times, so that each case is tested
//! with made-up processes. Wine 8.0 names the process that holds the socket (and leaves the
//! bind time 0), so these cases never arise there.

use crate::model::Heir;

/// A process as the Toolhelp snapshot lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) pid: u32,
    /// The parent the system recorded at its creation: it may have exited since.
    pub(crate) parent: u32,
    pub(crate) name: crate::model::Text,
}

/// When a process was created and whether it has exited, as GetProcessTimes says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times {
    /// FILETIME ticks.
    pub(crate) created: u64,
    pub(crate) exited: bool,
}

/// What a row's PID is to its socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Binder {
    /// A live process that bound the socket (or whose age cannot be told): the owner.
    Holder,
    /// The binder is gone: it has exited, or its PID now names a process created after the
    /// bind. Its children that may have inherited the socket.
    Gone { heirs: Vec<Heir> },
}

/// Judges row PID `pid`, bound at `bound_at` (when the table says), against the process
/// list `list` and the processes' times (`times`; `None` where they cannot be read).
pub(crate) fn judge(
    pid: u32,
    bound_at: Option<u64>,
    list: &[Entry],
    times: impl Fn(u32) -> Option<Times>,
) -> Binder {
    let listed = list.iter().any(|e| e.pid == pid);
    let now = if listed { times(pid) } else { None };
    let newcomer = match (now, bound_at) {
        // Listed but exited: a process whose handle someone still holds.
        (Some(t), _) if t.exited => None,
        (Some(t), Some(bound)) if t.created > bound => Some(t.created),
        _ if listed => return Binder::Holder,
        _ => None,
    };
    let heirs = list
        .iter()
        .filter(|e| e.parent == pid && e.pid != pid)
        .filter(|e| {
            let t = times(e.pid);
            let after_bind = match (bound_at, t) {
                (Some(bound), Some(t)) => t.created >= bound,
                _ => true,
            };
            // A newcomer's own children also name it as their parent: those started after
            // it are not the binder's.
            let before_newcomer = match (newcomer, t) {
                (Some(started), Some(t)) => t.created < started,
                (Some(_), None) => false,
                (None, _) => true,
            };
            after_bind && before_newcomer && !t.is_some_and(|t| t.exited)
        })
        .map(|e| Heir {
            pid: e.pid,
            name: Some(e.name.clone()),
        })
        .collect();
    Binder::Gone { heirs }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Text;
    use std::collections::BTreeMap;

    fn entry(pid: u32, parent: u32, name: &str) -> Entry {
        Entry {
            pid,
            parent,
            name: Text::from(name),
        }
    }

    fn times(known: &[(u32, u64, bool)]) -> impl Fn(u32) -> Option<Times> {
        let map: BTreeMap<u32, Times> = known
            .iter()
            .map(|&(pid, created, exited)| (pid, Times { created, exited }))
            .collect();
        move |pid| map.get(&pid).copied()
    }

    fn heirs(b: &Binder) -> Vec<u32> {
        match b {
            Binder::Gone { heirs } => heirs.iter().map(|h| h.pid).collect(),
            Binder::Holder => panic!("judged the holder"),
        }
    }

    #[test]
    fn a_live_binder_created_before_the_bind_holds_it() {
        let list = [entry(100, 4, "node.exe"), entry(200, 100, "child.exe")];
        let t = times(&[(100, 10, false), (200, 30, false)]);
        assert_eq!(judge(100, Some(20), &list, &t), Binder::Holder);
        // Created at the very tick of the bind: the binder too.
        assert_eq!(judge(100, Some(10), &list, &t), Binder::Holder);
        // Without a bind time (wine), or without the process's times (denied), the row
        // is trusted as before.
        assert_eq!(judge(100, None, &list, &t), Binder::Holder);
        assert_eq!(judge(100, Some(20), &list, times(&[])), Binder::Holder);
    }

    #[test]
    fn a_dead_binder_names_its_children_started_after_the_bind() {
        // 100 bound at 20 and exited; 200 and 300 started after the bind (they may have
        // inherited it), 150 before it (it cannot have), 400 is someone else's child.
        let list = [
            entry(150, 100, "early.exe"),
            entry(200, 100, "node.exe"),
            entry(300, 100, "worker.exe"),
            entry(400, 8, "other.exe"),
        ];
        let t = times(&[(150, 15, false), (200, 25, false), (300, 40, false)]);
        let b = judge(100, Some(20), &list, &t);
        assert_eq!(heirs(&b), [200, 300]);
        let Binder::Gone { heirs } = b else {
            unreachable!()
        };
        assert_eq!(heirs[0].name, Some(Text::from("node.exe")));
        // No bind time: every surviving child may hold it.
        assert_eq!(heirs_of(judge(100, None, &list, &t)), [150, 200, 300]);
        // No child left.
        assert_eq!(heirs_of(judge(999, Some(20), &list, &t)), Vec::<u32>::new());
    }

    fn heirs_of(b: Binder) -> Vec<u32> {
        heirs(&b)
    }

    #[test]
    fn a_reused_pid_is_not_the_binder_and_its_children_are_not_heirs() {
        // The binder (PID 100) bound at 20 and exited; a newcomer got PID 100 at 50. 200
        // is the binder's child (started at 30); 300 is the newcomer's (started at 60).
        let list = [
            entry(100, 8, "newcomer.exe"),
            entry(200, 100, "node.exe"),
            entry(300, 100, "newchild.exe"),
            entry(350, 100, "unknown.exe"),
        ];
        let t = times(&[(100, 50, false), (200, 30, false), (300, 60, false)]);
        assert_eq!(heirs_of(judge(100, Some(20), &list, &t)), [200]);
    }

    #[test]
    fn a_listed_process_that_has_exited_is_gone() {
        // Someone holds a handle to the exited binder, so it is still listed.
        let list = [entry(100, 8, "node.exe"), entry(200, 100, "worker.exe")];
        let t = times(&[(100, 10, true), (200, 30, false)]);
        assert_eq!(heirs_of(judge(100, Some(20), &list, &t)), [200]);
        // An exited child holds nothing.
        let t = times(&[(100, 10, true), (200, 30, true)]);
        assert_eq!(heirs_of(judge(100, Some(20), &list, &t)), Vec::<u32>::new());
    }
}
