//! Process details from `/proc/PID`, read only for owners. Every read may fail because the
//! process exited or is not ours; each field is then simply unknown. Everything is read as
//! bytes: a process chooses its own name and arguments, and a name that is not UTF-8 must
//! neither hide the rest (the uid) nor be mangled.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::fd_scan::decimal;
use crate::model::{Clock, ProcessInfo, ProcessStat, Text, completed_comm};
use crate::platform::unix::users::user_name;

pub(crate) fn process_info(pid: u32) -> ProcessInfo {
    let identity = identity(pid);
    let cmdline = command_line(pid);
    // comm is what ps shows and what the user typed (`redis-server`, a shebang script's
    // name); the executable's file name (in `identity`) is what rekt recognises programs
    // by.
    let command = read_comm(pid).map(|comm| {
        let argv0 = cmdline.first().map(Text::as_bytes);
        Text::from_bytes(completed_comm(&comm, argv0, COMM_CUT))
    });
    let uid = real_uid(pid);
    ProcessInfo {
        command,
        cmdline,
        uid,
        user: uid.map(user_name),
        ..identity
    }
}

/// The name and executable alone, for a lookup that prints no details: `exe` shows the
/// real program even when the main thread is renamed (Node does this); `comm` is the
/// fallback for kernel threads and other users' processes.
pub(crate) fn identity(pid: u32) -> ProcessInfo {
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
    let exe = exe.as_ref().map(|p| p.as_os_str().as_bytes());
    // An executable replaced on disk (a rebuilt server) keeps its path, marked.
    let deleted = exe.is_some_and(|p| p.ends_with(DELETED));
    let exe = exe.map(|p| p.strip_suffix(DELETED).unwrap_or(p).to_vec());
    let name = exe
        .as_deref()
        .and_then(|p| Path::new(std::ffi::OsStr::from_bytes(p)).file_name())
        .map(|n| Text::from_bytes(n.as_bytes()))
        .or_else(|| command_name(pid));
    ProcessInfo {
        name,
        exe: exe.map(Text::from_bytes),
        deleted,
        ..ProcessInfo::default()
    }
}

/// What the kernel appends to `/proc/PID/exe` when the file is gone.
const DELETED: &[u8] = b" (deleted)";

/// The kernel keeps 15 bytes of a command name (`TASK_COMM_LEN` less the NUL).
const COMM_CUT: usize = 15;

fn read_comm(pid: u32) -> Option<Vec<u8>> {
    let mut comm = fs::read(format!("/proc/{pid}/comm")).ok()?;
    if comm.last() == Some(&b'\n') {
        comm.pop();
    }
    (!comm.is_empty()).then_some(comm)
}

/// The short command name (`/proc/PID/comm`), which any user may read.
pub(crate) fn command_name(pid: u32) -> Option<Text> {
    read_comm(pid).map(Text::from_bytes)
}

fn command_line(pid: u32) -> Vec<Text> {
    let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return Vec::new();
    };
    raw.split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(Text::from_bytes)
        .collect()
}

/// The parent, start time and state from `/proc/PID/stat`.
pub(crate) fn stat(pid: u32) -> Option<ProcessStat> {
    parse_stat(&fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses `/proc/PID/stat`. The command name in parentheses is the process's own choice
/// and may hold spaces and parentheses, so the fields are counted from after the *last*
/// `)`: state (field 3), ppid (4), pgrp (5), session (6), tty_nr (7), tpgid (8), ...
/// starttime (22).
fn parse_stat(stat: &[u8]) -> Option<ProcessStat> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let state = fields.next()?;
    let ppid = fields.next().and_then(decimal)?;
    let group = fields.next().and_then(decimal);
    let _session = fields.next();
    let tty = fields.next().and_then(decimal);
    // -1 (no controlling terminal) does not parse as a number.
    let terminal_group = fields.next().and_then(decimal);
    // Fields 9 to 21 lie between tpgid and starttime.
    let started = fields.nth(13).and_then(decimal);
    Some(ProcessStat {
        parent: u32::try_from(ppid).ok().filter(|&p| p != 0),
        started,
        // `T`: stopped by a signal. `t` (stopped by a tracer) is not resumed by SIGCONT.
        stopped: state == b"T",
        zombie: state == b"Z",
        group: group.and_then(|g| u32::try_from(g).ok()),
        terminal_group: terminal_group
            .filter(|_| tty.is_some_and(|t| t != 0))
            .and_then(|g| u32::try_from(g).ok()),
    })
}

/// The port below which this process may not bind: `None` as root or with
/// CAP_NET_BIND_SERVICE (bit 10 of CapEff), else `net.ipv4.ip_unprivileged_port_start`
/// (1024 when it cannot be read: the kernel's default).
pub(crate) fn privileged_ports_below() -> Option<u16> {
    if rustix::process::geteuid().is_root() {
        return None;
    }
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    const CAP_NET_BIND_SERVICE: u32 = 10;
    if caps & (1 << CAP_NET_BIND_SERVICE) != 0 {
        return None;
    }
    let start = fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1024);
    u16::try_from(start).ok().filter(|&p| p > 1)
}

/// The children of `pid` (`/proc/PID/task/PID/children`: those of its main thread, which
/// for a shell are all of them).
pub(crate) fn children(pid: u32) -> Vec<u32> {
    fs::read(format!("/proc/{pid}/task/{pid}/children"))
        .map(|raw| {
            raw.split(|b| b.is_ascii_whitespace())
                .filter_map(decimal)
                .filter_map(|c| u32::try_from(c).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Now, in the unit of a process's start time in `/proc/PID/stat`: clock ticks since boot
/// (the boot-time clock, which counts suspend, as the kernel's start times do).
pub(crate) fn clock() -> Option<Clock> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let hz = rustix::param::clock_ticks_per_second();
    let ticks =
        now.tv_sec as u128 * u128::from(hz) + now.tv_nsec as u128 * u128::from(hz) / 1_000_000_000;
    Some(Clock {
        now: u64::try_from(ticks).ok()?,
        per_second: hz,
    })
}

/// The lines of `/proc/PID/cgroup`, as read.
pub(crate) fn cgroup_lines(pid: u32) -> Vec<Text> {
    let Ok(raw) = fs::read(format!("/proc/{pid}/cgroup")) else {
        return Vec::new();
    };
    raw.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(Text::from_bytes)
        .collect()
}

/// The working directory (`/proc/PID/cwd`), where we may read it.
pub(crate) fn working_dir(pid: u32) -> Option<Text> {
    let dir = fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    Some(Text::from_bytes(dir.as_os_str().as_bytes()))
}

/// The values of the variables `names` in `/proc/PID/environ` (readable by root and the
/// process's own user). Nothing else from it is kept.
pub(crate) fn environment(pid: u32, names: &[&str]) -> Vec<(String, Text)> {
    let Ok(raw) = fs::read(format!("/proc/{pid}/environ")) else {
        return Vec::new();
    };
    parse_environment(&raw, names)
}

fn parse_environment(raw: &[u8], names: &[&str]) -> Vec<(String, Text)> {
    let mut found = Vec::new();
    for entry in raw.split(|&b| b == 0) {
        let Some(eq) = entry.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (&entry[..eq], &entry[eq + 1..]);
        if let Some(&n) = names.iter().find(|n| n.as_bytes() == name)
            && !found.iter().any(|(k, _): &(String, Text)| k == n)
        {
            found.push((n.to_owned(), Text::from_bytes(value)));
        }
    }
    found
}

/// The ephemeral port range, `net.ipv4.ip_local_port_range` (which IPv6 uses too), of
/// rekt's network namespace.
pub(crate) fn ephemeral_ports() -> Option<std::ops::RangeInclusive<u16>> {
    parse_port_range(&fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?)
}

fn parse_port_range(text: &str) -> Option<std::ops::RangeInclusive<u16>> {
    let mut numbers = text.split_whitespace().map(|n| n.parse::<u16>().ok());
    let (low, high) = (numbers.next()??, numbers.next()??);
    (low <= high).then_some(low..=high)
}

/// The real uid: the first number on the `Uid:` line of `/proc/PID/status`.
fn real_uid(pid: u32) -> Option<u32> {
    parse_real_uid(&fs::read(format!("/proc/{pid}/status")).ok()?)
}

/// Works on bytes: the `Name:` line above it is the process's own choice and need not be
/// UTF-8 (the kernel escapes only some bytes there).
fn parse_real_uid(status: &[u8]) -> Option<u32> {
    let line = status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"Uid:"))?;
    let first = line
        .split(|b| b.is_ascii_whitespace())
        .find(|f| !f.is_empty())?;
    decimal(first).and_then(|uid| u32::try_from(uid).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_uid_not_the_effective_one() {
        let status = b"Name:\tsudo\nUid:\t1000\t0\t0\t0\nGid:\t1000\t0\t0\t0\n";
        assert_eq!(parse_real_uid(status), Some(1000));
        assert_eq!(parse_real_uid(b"Name:\tx\n"), None);
        assert_eq!(parse_real_uid(b"Uid:\tnope\n"), None);
        // A name that is not UTF-8 does not hide the uid.
        assert_eq!(
            parse_real_uid(b"Name:\tweb\xffserver\nUid:\t33\t33\t33\t33\n"),
            Some(33)
        );
    }

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // A command name with spaces and a `)` of its own, as a renamed thread may have.
        let line = b"4242 (node ) x (y) T 4100 4242 4100 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 \
                     7 0 98765 1000000 200 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.parent, Some(4100));
        assert_eq!(stat.started, Some(98765));
        assert!(stat.stopped);
        // No controlling terminal (tty_nr 0, tpgid -1).
        assert_eq!((stat.group, stat.terminal_group), (Some(4242), None));
        let shell = b"300 (bash) S 200 300 300 34816 300 4194304 1 0 0 0 0 0 0 0 20 0 1 0 77 1 1 1";
        let shell = parse_stat(shell).unwrap();
        assert_eq!((shell.group, shell.terminal_group), (Some(300), Some(300)));
        let zombie = b"9 (x) Z 8 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 1 1 1";
        assert!(parse_stat(zombie).unwrap().zombie);
        let init = b"1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 5 1 1 1";
        let init = parse_stat(init).unwrap();
        assert_eq!(
            (init.parent, init.started, init.stopped),
            (None, Some(5), false)
        );
        // Stopped by a tracer is not stopped by a signal.
        let traced = b"7 (gdb) t 6 7 6 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 1 1 1";
        assert!(!parse_stat(traced).unwrap().stopped);
        assert_eq!(parse_stat(b"7 (truncated"), None);
        assert_eq!(parse_stat(b"7 (x) S"), None);
    }

    #[test]
    fn this_process_has_a_parent_that_started_before_it() {
        let me = stat(std::process::id()).unwrap();
        assert_eq!(me.parent, Some(std::os::unix::process::parent_id()));
        let parent = stat(me.parent.unwrap()).unwrap();
        assert!(parent.started <= me.started);
        assert!(!me.stopped);
    }

    #[test]
    fn environment_keeps_only_the_names_asked_for() {
        let raw = b"SECRET=hunter2\0name=app\0pm_id=3\0name=second\0broken\0";
        let found = parse_environment(raw, &["name", "pm_id", "absent"]);
        assert_eq!(
            found,
            vec![
                ("name".to_owned(), Text::from("app")),
                ("pm_id".to_owned(), Text::from("3"))
            ]
        );
    }

    #[test]
    fn port_ranges_parse_as_the_kernel_writes_them() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some(32768..=60999));
        assert_eq!(parse_port_range("1024 1024"), Some(1024..=1024));
        assert_eq!(parse_port_range("60999 32768"), None);
        assert_eq!(parse_port_range("x"), None);
        assert!(ephemeral_ports().is_some());
    }

    #[test]
    fn describes_this_process() {
        let info = process_info(std::process::id());
        let exe = std::env::current_exe().unwrap();
        assert_eq!(
            info.exe.as_ref().map(Text::as_bytes),
            Some(exe.as_os_str().as_bytes())
        );
        assert_eq!(
            info.name.as_ref().and_then(Text::as_str),
            exe.file_name().and_then(|n| n.to_str())
        );
        assert_eq!(info.uid, Some(rustix::process::getuid().as_raw()));
        assert!(!info.cmdline.is_empty());
    }
}
