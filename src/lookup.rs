//! The two-step join: the sockets that match a query, then the processes that hold them;
//! the other sockets that block a bind() on a port nothing else holds; and, for a port that
//! is free here, the other network namespaces where it is held.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::model::{BoundVisibility, Lingering, NetNs, Ownership, Protocol, Socket, SocketKey};
use crate::platform::{Backend, Os};
use crate::query::{Blockers, PortSpec, Query};

/// The sockets that match a query and the processes that hold them.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub sockets: Vec<Socket>,
    pub ownership: Ownership,
    /// The network namespace of each socket, by socket key; filled only when looking in
    /// every namespace ([`Scope::AllNetns`]).
    pub netns: BTreeMap<SocketKey, NetNs>,
    /// Sockets that no process holds but that still block a plain bind() (TIME_WAIT),
    /// found where blockers were looked for ([`Query::blockers`]).
    pub lingering: Vec<Lingering>,
    /// Whether bound-but-not-listening TCP sockets could be seen where they were looked
    /// for (`Unknown` when they were not looked for).
    pub bound: BoundVisibility,
}

/// Where to look for sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This network namespace: what fuser, lsof and ss see.
    Here,
    /// Every network namespace on the machine (containers, `ip netns`), Linux only.
    AllNetns,
}

/// Finds the sockets matching `query` in this network namespace, then their owners.
pub fn lookup(query: &Query) -> io::Result<Lookup> {
    lookup_in(query, Scope::Here)
}

/// Finds the sockets matching `query` in `scope`, then their owners. When no socket matches,
/// the process scan (the expensive part) is skipped.
pub fn lookup_in(query: &Query, scope: Scope) -> io::Result<Lookup> {
    lookup_then(query, scope, |_| {})
}

/// `lookup_in`, telling `all_held` whether every port asked about has a socket (see
/// [`every_port_held`]), before the process scan starts.
fn lookup_then(query: &Query, scope: Scope, all_held: impl FnOnce(bool)) -> io::Result<Lookup> {
    let (mut sockets, mut netns) = find_sockets(query, scope)?;
    let blockers = find_blockers(query, scope, &sockets)?;
    sockets.extend(blockers.sockets);
    netns.extend(blockers.netns);
    all_held(every_port_held(query, &sockets));
    let mut found = Lookup {
        netns,
        lingering: blockers.lingering,
        bound: blockers.bound,
        ..Lookup::default()
    };
    if sockets.is_empty() {
        return Ok(found);
    }
    // One order whatever the source's (dump order differs between netlink and /proc/net),
    // so that output is deterministic: port, then tcp before udp, IPv4 before IPv6.
    sockets.sort_by_key(|s| (s.port(), s.protocol, s.family, s.local, s.state, s.key));
    let mut ownership = Os::owners(&sockets)?;
    if !ownership.hidden.is_empty() {
        // A socket whose process exited during the scan is gone now, not hidden: ask the
        // kernel again and keep only the ones that still exist.
        let (mut now, _) = find_sockets(query, scope)?;
        now.extend(find_blockers(query, scope, &now)?.sockets);
        ownership.hidden.retain(|s| {
            now.iter()
                .any(|n| n.key == s.key && n.protocol == s.protocol)
        });
        let keys: BTreeSet<SocketKey> = ownership.hidden.iter().map(|s| s.key).collect();
        ownership.reasons.retain(|key, _| keys.contains(key));
    }
    found.sockets = sockets;
    found.ownership = ownership;
    Ok(found)
}

/// Whether every port that `query` names has at least one of `sockets`, in one of the
/// protocols its spec asks about: then no port needs the other namespaces' hint (a spec
/// without a protocol whose TCP port is held here is answered, whatever UDP does). List
/// mode names no port, so it never is.
fn every_port_held(query: &Query, sockets: &[Socket]) -> bool {
    if query.ports.is_empty() {
        return false;
    }
    let held: BTreeSet<(u16, Protocol)> = sockets.iter().map(|s| (s.port(), s.protocol)).collect();
    query.ports.iter().all(|spec| {
        (spec.first..=spec.last).all(|port| {
            [Protocol::Tcp, Protocol::Udp].into_iter().any(|p| {
                spec.protocol.is_none_or(|want| want == p)
                    && query.wants_protocol(p)
                    && held.contains(&(port, p))
            })
        })
    })
}

/// What [`find_blockers`] found.
#[derive(Debug, Default)]
struct FoundBlockers {
    sockets: Vec<Socket>,
    netns: BTreeMap<SocketKey, NetNs>,
    lingering: Vec<Lingering>,
    bound: BoundVisibility,
}

/// The sockets that block a bind() on the query's TCP ports besides `found` (bound-only
/// and closing ones), on the ports [`Query::blockers`] says: all of them, or those where
/// `found` has no TCP socket.
fn find_blockers(query: &Query, scope: Scope, found: &[Socket]) -> io::Result<FoundBlockers> {
    let mut result = FoundBlockers::default();
    let ports = match query.blockers {
        Blockers::Nowhere => return Ok(result),
        Blockers::Everywhere => query.port_ranges(Protocol::Tcp),
        Blockers::WhereFree => {
            let held: BTreeSet<u16> = found
                .iter()
                .filter(|s| s.protocol == Protocol::Tcp)
                .map(Socket::port)
                .collect();
            without(&query.port_ranges(Protocol::Tcp), &held)
        }
    };
    if query.ports.is_empty() || !query.wants_protocol(Protocol::Tcp) || ports.is_empty() {
        return Ok(result);
    }
    let mut tcp = query.clone();
    tcp.ports = ports
        .into_iter()
        .map(|(first, last)| PortSpec {
            first,
            last,
            protocol: Some(Protocol::Tcp),
        })
        .collect();
    let here = Os::blockers(&tcp)?;
    (result.sockets, result.lingering, result.bound) = (here.sockets, here.lingering, here.bound);
    if scope == Scope::AllNetns {
        let ns = Os::current_netns()?;
        result
            .netns
            .extend(result.sockets.iter().map(|s| (s.key, ns.clone())));
        for ns in Os::other_netns(&AtomicBool::new(false))? {
            let Ok(there) = Os::blockers_in_netns(&ns, &tcp) else {
                // Gone since it was listed, or unreadable: its sockets proper were read
                // (or the lookup failed) in `find_sockets`.
                continue;
            };
            result
                .netns
                .extend(there.sockets.iter().map(|s| (s.key, ns.clone())));
            result.sockets.extend(there.sockets);
            result.lingering.extend(there.lingering);
        }
    }
    Ok(result)
}

/// `ranges` (sorted, merged) without the ports in `held`.
fn without(ranges: &[(u16, u16)], held: &BTreeSet<u16>) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    for &(first, last) in ranges {
        let mut start = u32::from(first);
        for &port in held.range(first..=last) {
            if u32::from(port) > start {
                out.push((start as u16, port - 1));
            }
            start = u32::from(port) + 1;
        }
        if start <= u32::from(last) {
            out.push((start as u16, last));
        }
    }
    out
}

/// Looks up `query` in this namespace like [`lookup`] and, at the same time on another
/// thread, searches the other network namespaces for it, so that a free port can come with
/// a hint ("held in a container") at almost no extra wall time: the search runs while the
/// kernel dumps the socket tables, and stops the moment every port asked about turns out
/// to be held here.
///
/// With [`Search::Finish`], the search thread is always waited for, so that no thread of
/// rekt's still reads /proc or enters namespaces once this returns (before signalling, say).
/// With [`Search::Abandon`], a lookup where every port is held here returns at once and
/// the search is left to end with the process: for a run that only prints, where waiting
/// would only cost time.
pub fn lookup_with_hints(query: &Query, search: Search) -> io::Result<(Lookup, Vec<Elsewhere>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let searching = {
        let (query, stop) = (query.clone(), Arc::clone(&stop));
        std::thread::spawn(move || search_elsewhere(&query, &stop))
    };
    let mut held_everywhere = false;
    let found = lookup_then(query, Scope::Here, |all| {
        held_everywhere = all;
        stop.store(all, Ordering::Relaxed)
    });
    let all_held = held_everywhere || found.is_err();
    if all_held {
        // Held here (or failed): no hint needed, and the search stops at its next check.
        stop.store(true, Ordering::Relaxed);
        if search == Search::Abandon {
            return found.map(|found| (found, Vec::new()));
        }
    }
    let elsewhere = searching
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let found = found?;
    if all_held {
        return Ok((found, Vec::new()));
    }
    let mut elsewhere = elsewhere.unwrap_or_default();
    if !elsewhere.is_empty() {
        let all: Vec<Socket> = elsewhere.iter().flat_map(|e| e.sockets.clone()).collect();
        let ownership = Os::owners(&all)?;
        for e in &mut elsewhere {
            e.pids = ownership
                .owners
                .iter()
                .filter(|o| o.sockets.iter().any(|s| e.sockets.contains(s)))
                .map(|o| o.pid)
                .collect();
        }
    }
    Ok((found, elsewhere))
}

/// Whether [`lookup_with_hints`] waits for its search when the port is held here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    Finish,
    Abandon,
}

/// Another network namespace where the query matches, and the PIDs holding the sockets.
#[derive(Debug, Clone)]
pub struct Elsewhere {
    pub netns: NetNs,
    pub sockets: Vec<Socket>,
    pub pids: Vec<u32>,
}

/// The other network namespaces where `query` matches (without owners), unless `stop` is
/// raised first.
fn search_elsewhere(query: &Query, stop: &AtomicBool) -> io::Result<Vec<Elsewhere>> {
    let mut found = Vec::new();
    for ns in Os::other_netns(stop)? {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Ok(sockets) = Os::sockets_in_netns(&ns, query)
            && !sockets.is_empty()
        {
            found.push(Elsewhere {
                netns: ns,
                sockets,
                pids: Vec::new(),
            });
        }
    }
    Ok(found)
}

/// The matching sockets in `scope`, and (for every namespace) which namespace each is in.
fn find_sockets(
    query: &Query,
    scope: Scope,
) -> io::Result<(Vec<Socket>, BTreeMap<SocketKey, NetNs>)> {
    let mut sockets = Os::sockets(query)?;
    let mut netns = BTreeMap::new();
    if scope == Scope::AllNetns {
        let here = Os::current_netns()?;
        netns.extend(sockets.iter().map(|s| (s.key, here.clone())));
        for ns in Os::other_netns(&AtomicBool::new(false))? {
            let found = match Os::sockets_in_netns(&ns, query) {
                Ok(found) => found,
                // Its last process exited since we listed it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("network namespace {}: {e}", ns.label()),
                    ));
                }
            };
            netns.extend(found.iter().map(|s| (s.key, ns.clone())));
            sockets.extend(found);
        }
    }
    Ok((sockets, netns))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::kill::{self, Outcome, Policy, Signal};
    use crate::platform::Backend;
    use std::net::{TcpListener, UdpSocket};
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    const CHILD: &str = "REKT_LEAK_TEST_CHILD";
    const ROUNDS: usize = 20;

    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    /// A `sleep` that holds `socket` as its fd 3, as a forked worker would.
    fn holder(socket: BorrowedFd<'_>) -> Child {
        let fd = socket.as_raw_fd();
        let mut cmd = Command::new("sleep");
        cmd.arg("60")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: dup2 and fcntl are async-signal-safe; the closure touches nothing else.
        unsafe {
            cmd.pre_exec(move || {
                // dup2 onto itself would keep FD_CLOEXEC, so clear it in that case.
                let rc = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, 3)
                };
                if rc < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.spawn().expect("spawn sleep")
    }

    /// Looks up, lists, reads details, and pins, signals and waits, in this process, round
    /// after round: the fd count must not move, so a leak of one fd per round fails. Runs
    /// alone in a fresh process (the other tests' sockets come and go in this one) and, as
    /// root, in a network namespace of its own.
    #[test]
    fn library_calls_leak_no_fds() {
        if std::env::var_os(CHILD).is_none() {
            let out = Command::new(std::env::current_exe().unwrap())
                .args([
                    "lookup::tests::library_calls_leak_no_fds",
                    "--exact",
                    "--test-threads=1",
                    "--nocapture",
                ])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
            assert!(out.status.success(), "{text}");
            assert!(
                text.contains("1 passed"),
                "the leak check did not run: {text}"
            );
            return;
        }
        if Os::is_privileged() {
            // Only this test's sockets in the tables; changes this thread only.
            // SAFETY: NEWNET shares nothing that Rust code relies on (unlike CLONE_FILES).
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
                .expect("unshare(CLONE_NEWNET)");
        }
        let tcp = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        let udp = UdpSocket::bind(("::", port)).unwrap();
        let mut workers = [holder(tcp.as_fd()), holder(tcp.as_fd())];
        let spec = |p: u16| Query::ports(vec![p.to_string().parse().unwrap()]);
        let query = spec(port);
        let free = spec(if port == 65535 { 1 } else { port + 1 });
        let mut listen = Query::ports(vec![]);
        listen.listen_only = true;
        let me = std::process::id();
        let mut want: Vec<u32> = workers.iter().map(Child::id).chain([me]).collect();
        want.sort_unstable();
        let round = || {
            let found = lookup(&query).unwrap();
            let pids: Vec<u32> = found.ownership.owners.iter().map(|o| o.pid).collect();
            assert_eq!(pids, want);
            assert_eq!(found.sockets.len(), 2, "{:?}", found.sockets);
            assert_eq!(Os::owners(&found.sockets).unwrap().owners.len(), 3);
            for owner in &found.ownership.owners {
                let info = Os::process_info(owner.pid);
                assert!(info.name.is_some());
                let _ = Os::user_name(info.uid.unwrap());
            }
            assert!(lookup(&free).unwrap().ownership.owners.is_empty());
            assert!(!lookup(&listen).unwrap().sockets.is_empty());
            assert_eq!(
                lookup_with_hints(&query, Search::Finish).unwrap().1.len(),
                0
            );
        };
        round();
        let before = open_fds();
        for _ in 0..ROUNDS {
            round();
        }
        assert_eq!(open_fds(), before, "fds leaked over {ROUNDS} lookups");

        // The signal path: pin (a pidfd each), signal, wait.
        let found = lookup(&query).unwrap();
        let before = open_fds();
        let (pinned, early) = kill::pin(&found.ownership.owners);
        // This process holds the sockets too, and rekt never signals itself.
        assert_eq!(early.len(), 1, "{early:?}");
        let policy = Policy {
            signal: Signal::Kill,
            timeout: Duration::from_secs(2),
            escalate: false,
        };
        let reports = kill::execute(&pinned, policy, |_| {});
        assert!(
            reports.iter().all(|r| matches!(r.outcome, Outcome::Exited)),
            "{reports:?}"
        );
        drop(pinned);
        assert_eq!(open_fds(), before, "fds leaked by a kill");
        for worker in &mut workers {
            worker.wait().unwrap();
        }
        drop((tcp, udp));
    }
}
