//! The settle watch. A supervisor starts a program again within a few hundred milliseconds
//! of its exit (a `while true` loop, pm2, runsv, systemd's `Restart=` after its default
//! `RestartSec=100ms`), or about a second later (supervisord, s6-supervise). A port that is
//! free the moment the owners are gone may so be held again before the next command runs.
//! So after a signal, a freed port is watched for as long as something could take it
//! again: the caller decides that at each look (`supervision::restart` says who could, and
//! for how long). The kernel's socket table is asked for just those ports at each look
//! (with sock_diag's port filter that is about a millisecond, and no process is scanned),
//! and only when a socket shows up are its owners looked for, to name them.

use std::io;
use std::time::{Duration, Instant};

use crate::lookup::{self, Scope};
use crate::model::{Protocol, Socket, SocketKey};
use crate::query::{PortSpec, Query};

/// How often the socket table is asked, once the first [`QUICK`] of the watch is over.
pub(crate) const INTERVAL: Duration = Duration::from_millis(20);

/// How often it is asked at first: a parent that cannot restart anything (a shell taking
/// its terminal back) is seen to be so a few milliseconds after the signal.
const QUICK_INTERVAL: Duration = Duration::from_millis(5);
const QUICK: Duration = Duration::from_millis(100);

/// Something that took a watched port.
#[derive(Debug, Clone)]
pub(crate) struct Sighting {
    pub(crate) port: u16,
    pub(crate) protocol: Protocol,
    /// How long after the watch began it was seen.
    pub(crate) after: Duration,
    /// Its sockets on the port.
    pub(crate) sockets: Vec<Socket>,
}

/// What the watch saw, and why it ended.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    pub(crate) seen: Vec<Sighting>,
    /// How long it watched.
    pub(crate) lasted: Duration,
    pub(crate) ended: WatchEnd,
}

/// Why the watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchEnd {
    /// Every watched port was taken.
    AllTaken,
    /// Nothing that could take a port again is left (it exited, or came back to its
    /// prompt).
    NothingLeft,
    /// The time it was given (`--settle`, or how long the last one that could restart an
    /// owner may take) is over.
    TimeUp,
}

/// Watches `ports`, free now, for as long as `left` says at each look (given how long the
/// watch has run: `None` when nothing could take a port any more, else how much longer to
/// watch), and returns what took each one, as soon as it is seen: a port taken is no longer
/// watched, and the watch ends early once every port is taken.
///
/// A socket that the table gives no owning process (PID 0, the System Idle Process, on
/// Windows) is not a taker: it is the ended owner's socket on its way out (wine lists a
/// killed process's UDP socket so for a moment) or a closed connection's. It only counts
/// when it is still there at the last look, since the port is not free while it is.
pub(crate) fn settle(
    query: &Query,
    scope: Scope,
    ports: &[(u16, Protocol)],
    mut left: impl FnMut(Duration) -> Option<Duration>,
) -> io::Result<Watched> {
    let start = Instant::now();
    let mut watched: Vec<(u16, Protocol)> = ports.to_vec();
    let mut seen = Vec::new();
    loop {
        let elapsed = start.elapsed();
        let more = left(elapsed);
        let last_look = more.is_none_or(|d| d.is_zero());
        let sockets = lookup::sockets_on(query, scope, &watched)?;
        let after = start.elapsed();
        watched.retain(|&(port, protocol)| {
            let on = taken(&sockets, port, protocol, last_look);
            if on.is_empty() {
                return true;
            }
            seen.push(Sighting {
                port,
                protocol,
                after,
                sockets: on,
            });
            false
        });
        let ended = if watched.is_empty() {
            Some(WatchEnd::AllTaken)
        } else if more.is_none() {
            Some(WatchEnd::NothingLeft)
        } else if last_look {
            Some(WatchEnd::TimeUp)
        } else {
            None
        };
        if let Some(ended) = ended {
            return Ok(Watched {
                seen,
                lasted: start.elapsed(),
                ended,
            });
        }
        let tick = if elapsed < QUICK {
            QUICK_INTERVAL
        } else {
            INTERVAL
        };
        std::thread::sleep(tick.min(more.unwrap_or_default()));
    }
}

/// The sockets that hold `port` in this look; those without an owning process (see
/// [`settle`]) only at the last look.
fn taken(sockets: &[Socket], port: u16, protocol: Protocol, last_look: bool) -> Vec<Socket> {
    let on = sockets
        .iter()
        .filter(|s| s.port() == port && s.protocol == protocol);
    let owned: Vec<Socket> = on
        .clone()
        .filter(|s| s.key != SocketKey::Pid(0))
        .cloned()
        .collect();
    if owned.is_empty() && last_look {
        on.cloned().collect()
    } else {
        owned
    }
}

/// `query` for just these (port, protocol)s, with its filters (family, listeners only).
pub(crate) fn narrowed(query: &Query, ports: &[(u16, Protocol)]) -> Query {
    Query {
        ports: ports
            .iter()
            .map(|&(port, protocol)| PortSpec {
                first: port,
                last: port,
                protocol: Some(protocol),
            })
            .collect(),
        ..query.clone()
    }
}

#[cfg(test)]
mod rules {
    use super::*;
    use crate::model::State;
    use crate::model::testing::socket;

    fn keyed(port: u16, key: SocketKey) -> Socket {
        Socket {
            key,
            ..socket(Protocol::Udp, port, State::Unconnected, 0)
        }
    }

    #[test]
    fn a_socket_without_an_owning_process_counts_only_at_the_last_look() {
        let orphan = keyed(8000, SocketKey::Pid(0));
        let newcomer = keyed(8000, SocketKey::Pid(4242));
        let elsewhere = keyed(8001, SocketKey::Pid(4243));
        let udp = Protocol::Udp;
        let alone = std::slice::from_ref(&orphan);
        assert!(taken(alone, 8000, udp, false).is_empty());
        assert_eq!(taken(alone, 8000, udp, true), alone);
        let both = [orphan.clone(), newcomer.clone(), elsewhere];
        let taker = std::slice::from_ref(&newcomer);
        assert_eq!(taken(&both, 8000, udp, false), taker);
        assert_eq!(taken(&both, 8000, udp, true), taker);
        assert!(taken(&[orphan], 8000, Protocol::Tcp, true).is_empty());
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_port_taken_during_the_window_is_seen_and_the_watch_ends() {
        crate::testing::private_netns();
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let query = Query::ports(vec![port.to_string().parse().unwrap()]);
        let taker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let l = TcpListener::bind(("127.0.0.1", port));
            std::thread::sleep(Duration::from_millis(2000));
            drop(l);
        });
        let start = Instant::now();
        let window = Duration::from_secs(5);
        let watched = settle(&query, Scope::Here, &[(port, Protocol::Tcp)], |e| {
            Some(window.saturating_sub(e))
        })
        .unwrap();
        assert!(start.elapsed() < Duration::from_secs(2), "ended early");
        assert_eq!(watched.ended, WatchEnd::AllTaken);
        let seen = watched.seen;
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].after >= Duration::from_millis(90), "{seen:?}");
        taker.join().unwrap();
    }

    #[test]
    fn a_port_left_free_is_watched_for_the_whole_window() {
        crate::testing::private_netns();
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let query = Query::ports(vec![format!("{port}/tcp").parse().unwrap()]);
        let start = Instant::now();
        let window = Duration::from_millis(200);
        let watched = settle(&query, Scope::Here, &[(port, Protocol::Tcp)], |e| {
            Some(window.saturating_sub(e))
        })
        .unwrap();
        assert!(watched.seen.is_empty());
        assert_eq!(watched.ended, WatchEnd::TimeUp);
        assert!(start.elapsed() >= window);
        assert!(start.elapsed() < window + Duration::from_millis(500));
    }

    #[test]
    fn a_watch_with_nothing_left_to_restart_ends_at_its_first_look() {
        crate::testing::private_netns();
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let query = Query::ports(vec![format!("{port}/tcp").parse().unwrap()]);
        let mut looks = 0;
        let watched = settle(&query, Scope::Here, &[(port, Protocol::Tcp)], |_| {
            looks += 1;
            None
        })
        .unwrap();
        assert_eq!(watched.ended, WatchEnd::NothingLeft);
        assert_eq!(looks, 1);
    }
}
