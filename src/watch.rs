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
use crate::model::{Protocol, Socket};
use crate::query::{PortSpec, Query};

/// The settle time when `--settle` is not given: longer than every restart measured for a
/// shell loop, a re-forking script, pm2, runsv, daemontools and (from its documentation)
/// systemd's default `RestartSec=`.
pub const DEFAULT: Duration = Duration::from_secs(1);

/// The settle time when `--settle` is not given and an owner runs under a supervisor that
/// waits about a second before it restarts (supervisord, s6-supervise).
pub const SLOW_SUPERVISOR: Duration = Duration::from_secs(2);

/// How often the socket table is asked during the watch.
pub const INTERVAL: Duration = Duration::from_millis(20);

/// Something that took a watched port.
#[derive(Debug, Clone)]
pub struct Sighting {
    pub port: u16,
    pub protocol: Protocol,
    /// How long after the watch began it was seen.
    pub after: Duration,
    /// Its sockets on the port.
    pub sockets: Vec<Socket>,
}

/// Watches `ports`, free now, for `window`, and returns what took each one, as soon as it
/// is seen: a port taken is no longer watched, and the watch ends early once every port is
/// taken. The last look is at the end of the window.
pub fn settle(
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
        watched.retain(|&(port, protocol)| {
            let on: Vec<Socket> = sockets
                .iter()
                .filter(|s| s.port() == port && s.protocol == protocol)
                .cloned()
                .collect();
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
