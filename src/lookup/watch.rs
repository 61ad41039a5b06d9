//! The settle watch. A supervisor starts a program again within a few hundred milliseconds
//! of its exit (a `while true` loop, pm2, runsv, systemd's `Restart=` after its default
//! `RestartSec=100ms`), or about a second later (supervisord, s6-supervise). A port that is
//! free the moment the owners are gone may so be held again before the next command runs.
//! So after a signal, a port that looks free is watched for a short settle time: the
//! kernel's socket table is asked for just those ports every [`INTERVAL`] (with sock_diag's
//! port filter that is about a millisecond, and no process is scanned), and only when a
//! socket shows up are its owners looked for, to name them. See the README ("Signals") for
//! the measurements behind the defaults.

use std::io;
use std::time::{Duration, Instant};

use crate::lookup::{self, Scope};
use crate::model::{Protocol, Socket, SocketKey};
use crate::query::{PortSpec, Query};

/// The settle time when `--settle` is not given: longer than every restart measured for a
/// shell loop, a re-forking script, pm2, runsv, daemontools and (from its documentation)
/// systemd's default `RestartSec=`.
pub(crate) const DEFAULT: Duration = Duration::from_secs(1);

/// The settle time when `--settle` is not given and an owner runs under a supervisor that
/// waits about a second before it restarts (supervisord, s6-supervise).
pub(crate) const SLOW_SUPERVISOR: Duration = Duration::from_secs(2);

/// How often the socket table is asked during the watch.
pub(crate) const INTERVAL: Duration = Duration::from_millis(20);

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

/// Watches `ports`, free now, for `window`, and returns what took each one, as soon as it
/// is seen: a port taken is no longer watched, and the watch ends early once every port is
/// taken. The last look is at the end of the window.
///
/// A socket that the table gives no owning process (PID 0, the System Idle Process, on
/// Windows) is not a taker: it is the ended owner's socket on its way out (wine lists a
/// killed process's UDP socket so for a moment) or a closed connection's. It only counts
/// when it is still there at the last look, since the port is not free while it is.
pub(crate) fn settle(
    query: &Query,
    scope: Scope,
    ports: &[(u16, Protocol)],
    window: Duration,
) -> io::Result<Vec<Sighting>> {
    let start = Instant::now();
    let mut watched: Vec<(u16, Protocol)> = ports.to_vec();
    let mut seen = Vec::new();
    loop {
        let elapsed = start.elapsed();
        if watched.is_empty() || elapsed >= window {
            return Ok(seen);
        }
        std::thread::sleep(INTERVAL.min(window - elapsed));
        let sockets = lookup::sockets_in(&narrowed(query, &watched), scope)?;
        let after = start.elapsed();
        let last_look = after >= window;
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
fn narrowed(query: &Query, ports: &[(u16, Protocol)]) -> Query {
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
        let seen = settle(
            &query,
            Scope::Here,
            &[(port, Protocol::Tcp)],
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(start.elapsed() < Duration::from_secs(2), "ended early");
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
        let seen = settle(&query, Scope::Here, &[(port, Protocol::Tcp)], window).unwrap();
        assert!(seen.is_empty());
        assert!(start.elapsed() >= window);
        assert!(start.elapsed() < window + Duration::from_millis(500));
    }
}
