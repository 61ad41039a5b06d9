//! Ancestry: a process's parent chain, read with `stat` and guarded against cycles and
//! reused PIDs, and what each link of a chain is (a shell, a terminal, sudo, or something
//! else). rekt's own ancestry is its callers, which are never signalled.

use crate::model::{ProcessInfo, ProcessStat};
use crate::platform::{Backend, Os};

/// How far up a chain is followed at most: deeper than any real process tree, and a bound
/// on a chain that a race could make long.
const MAX_DEPTH: usize = 64;

/// rekt's own ancestors, nearest first, up to PID 1: none of them is ever signalled.
pub(crate) fn callers() -> Vec<u32> {
    ancestry(std::process::id(), Os::process_stat, |_| true)
}

/// rekt's own ancestors, nearest first, as far up as one of `owners` could be among them:
/// a parent starts before its child, so once the chain reaches a process that started
/// before the oldest owner, no owner is further up, and the rest is not read. What tells
/// whether an owner is rekt's caller (a plain lookup's ROLE) without a walk to PID 1. The
/// whole chain when no owner's start can be read.
pub(crate) fn callers_among(owners: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let oldest = owners
        .into_iter()
        .filter_map(|pid| Os::process_stat(pid)?.started)
        .min();
    ancestry_since(std::process::id(), Os::process_stat, oldest)
}

/// The ancestors of `pid`, up to the first that started before `since` (all of them when
/// `since` is unknown).
fn ancestry_since(
    pid: u32,
    stat: impl Fn(u32) -> Option<ProcessStat>,
    since: Option<u64>,
) -> Vec<u32> {
    let Some(since) = since else {
        return ancestry(pid, stat, |_| true);
    };
    // The start of the ancestor just added, which `ancestry` read just before asking.
    let last = std::cell::Cell::new(None);
    let stat = |p| {
        let s = stat(p);
        last.set(s.as_ref().and_then(|s: &ProcessStat| s.started));
        s
    };
    ancestry(pid, stat, |_| last.get().is_none_or(|t| t >= since))
}

/// The ancestors of `pid`, nearest first, read with `stat`, for as long as `more` says to
/// go on past the one just added. A chain stops at a process with no parent, at a parent
/// that cannot be read, at a cycle, and at a "parent" that started after its child: that
/// PID was given to a newcomer after the real parent exited (Windows keeps a dead parent's
/// PID in its records and reuses PIDs).
pub(crate) fn ancestry(
    pid: u32,
    stat: impl Fn(u32) -> Option<ProcessStat>,
    mut more: impl FnMut(u32) -> bool,
) -> Vec<u32> {
    let mut chain = Vec::new();
    let Some(mut child) = stat(pid) else {
        return chain;
    };
    while chain.len() < MAX_DEPTH {
        let Some(parent) = child.parent else { break };
        if parent == pid || chain.contains(&parent) {
            break;
        }
        let Some(up) = stat(parent) else { break };
        if let (Some(theirs), Some(ours)) = (up.started, child.started)
            && theirs > ours
        {
            break;
        }
        chain.push(parent);
        if !more(parent) {
            break;
        }
        child = up;
    }
    chain
}

/// What a process in a chain is, as far as a chain cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    Shell,
    /// A terminal or multiplexer: what runs a shell for a person.
    Terminal,
    /// sudo and its kin: run one command as another user.
    Sudo,
    Other,
}

/// The names a process goes by: its executable's file name and its argv[0]'s (a login
/// shell's `-bash`, busybox's applet), in lower case and without `.exe`.
pub(super) fn names(info: &ProcessInfo) -> Vec<String> {
    let argv0 = info.cmdline.first().map(|a| {
        basename(&a.to_str_lossless())
            .trim_start_matches('-')
            .to_owned()
    });
    let exe = info.name.as_ref().map(|n| n.to_str_lossless().into_owned());
    [exe, argv0]
        .into_iter()
        .flatten()
        .map(|n| {
            let n = n.to_ascii_lowercase();
            n.strip_suffix(".exe").map(str::to_owned).unwrap_or(n)
        })
        .collect()
}

pub(super) fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "fish",
    "ksh",
    "ksh93",
    "mksh",
    "pdksh",
    "oksh",
    "ash",
    "yash",
    "tcsh",
    "csh",
    "rbash",
    "nu",
    "elvish",
    "xonsh",
    "pwsh",
    "powershell",
    "cmd",
];
const TERMINALS: &[&str] = &[
    "tmux",
    "tmux: server",
    "screen",
    "script",
    "login",
    "agetty",
    "xterm",
    "uxterm",
    "urxvt",
    "rxvt",
    "st",
    "gnome-terminal-server",
    "konsole",
    "xfce4-terminal",
    "mate-terminal",
    "lxterminal",
    "terminator",
    "tilix",
    "alacritty",
    "kitty",
    "wezterm-gui",
    "foot",
    "ghostty",
    "terminal",
    "iterm2",
    "conhost",
    "openconsole",
    "windowsterminal",
];
const SUDOS: &[&str] = &[
    "sudo", "su", "doas", "runuser", "setpriv", "pkexec", "gsudo", "sudo-rs",
];

/// Whether `info` is a shell, a terminal, sudo or something else.
pub(crate) fn kind_of(info: &ProcessInfo) -> Link {
    let names = names(info);
    let is = |list: &[&str]| names.iter().any(|n| list.contains(&n.as_str()));
    if is(SHELLS) {
        Link::Shell
    } else if is(SUDOS) {
        Link::Sudo
    } else if is(TERMINALS) {
        Link::Terminal
    } else {
        Link::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::info;

    #[test]
    fn shells_terminals_and_sudo_are_passed_through() {
        assert_eq!(kind_of(&info("bash", &["-bash"])), Link::Shell);
        assert_eq!(kind_of(&info("busybox", &["sh", "-c", "x"])), Link::Shell);
        assert_eq!(
            kind_of(&info("dash", &["/bin/sh", "-c", "rekt"])),
            Link::Shell
        );
        assert_eq!(kind_of(&info("pwsh.exe", &[])), Link::Shell);
        assert_eq!(kind_of(&info("sudo", &["sudo", "rekt"])), Link::Sudo);
        assert_eq!(kind_of(&info("tmux", &["tmux"])), Link::Terminal);
        assert_eq!(kind_of(&info("sshd", &["sshd: dev@pts/0"])), Link::Other);
        assert_eq!(
            kind_of(&info("python3.11", &["python3", "sup.py"])),
            Link::Other
        );
    }

    /// A process table for `ancestry`: pid -> (parent, started).
    fn table(rows: &[(u32, u32, u64)]) -> impl Fn(u32) -> Option<ProcessStat> + '_ {
        move |pid| {
            rows.iter()
                .find(|r| r.0 == pid)
                .map(|&(_, parent, started)| ProcessStat {
                    parent: (parent != 0).then_some(parent),
                    started: Some(started),
                    ..ProcessStat::default()
                })
        }
    }

    #[test]
    fn callers_are_read_back_to_the_oldest_owner_only() {
        let rows = [(1, 0, 1), (100, 1, 10), (200, 100, 20), (300, 200, 30)];
        // An owner that started at 25 cannot be 200 or above: 200 is the last one read.
        assert_eq!(ancestry_since(300, table(&rows), Some(25)), vec![200]);
        assert_eq!(ancestry_since(300, table(&rows), Some(15)), vec![200, 100]);
        // One that started with 100 (the same tick) may be 100 itself: 1 is read too.
        assert_eq!(
            ancestry_since(300, table(&rows), Some(10)),
            vec![200, 100, 1]
        );
        assert_eq!(
            ancestry_since(300, table(&rows), Some(1)),
            vec![200, 100, 1]
        );
        assert_eq!(ancestry_since(300, table(&rows), None), vec![200, 100, 1]);
    }

    #[test]
    fn ancestry_goes_up_to_init() {
        let rows = [(1, 0, 1), (100, 1, 10), (200, 100, 20), (300, 200, 30)];
        assert_eq!(ancestry(300, table(&rows), |_| true), vec![200, 100, 1]);
        assert_eq!(ancestry(300, table(&rows), |p| p != 200), vec![200]);
        assert_eq!(ancestry(1, table(&rows), |_| true), Vec::<u32>::new());
        assert_eq!(ancestry(999, table(&rows), |_| true), Vec::<u32>::new());
    }

    #[test]
    fn ancestry_stops_at_a_reused_pid_and_a_cycle() {
        // 100 exited; its PID now names a process that started after 300.
        let reused = [(1, 0, 1), (100, 1, 50), (200, 100, 20), (300, 200, 30)];
        assert_eq!(ancestry(300, table(&reused), |_| true), vec![200]);
        // Records that loop (only PID reuse can make them).
        let cycle = [(100, 200, 10), (200, 100, 10), (300, 200, 10)];
        assert_eq!(ancestry(300, table(&cycle), |_| true), vec![200, 100]);
        let selfish = [(5, 5, 1)];
        assert_eq!(ancestry(5, table(&selfish), |_| true), Vec::<u32>::new());
        // A parent that cannot be read ends the chain.
        let gone = [(300, 200, 30)];
        assert_eq!(ancestry(300, table(&gone), |_| true), Vec::<u32>::new());
    }

    #[test]
    fn rekt_s_callers_end_at_init() {
        let callers = callers();
        #[cfg(unix)]
        assert_eq!(callers.first(), Some(&std::os::unix::process::parent_id()));
        assert!(!callers.contains(&std::process::id()));
    }
}
