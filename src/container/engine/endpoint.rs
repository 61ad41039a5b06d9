//! Where an engine's API answers: a unix socket, or plain HTTP on a local TCP port, as
//! `DOCKER_HOST`, `CONTAINER_HOST` and dockerd's `-H` spell it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::model::Text;

/// Docker's socket when nothing else is said (`-H` absent, `fd://` under systemd).
pub(crate) const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Rootful Podman's API socket (`podman.socket`, `podman system service`).
pub(crate) const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

/// Docker's plain-HTTP port, when a `tcp://` host names none.
const DOCKER_PORT: u16 = 2375;

/// An engine's API address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Endpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// Plain HTTP on a TCP port of this machine (`-H tcp://127.0.0.1:2375`).
    Tcp(SocketAddr),
}

impl Endpoint {
    /// A unix socket at `path`.
    pub(crate) fn unix(path: impl Into<PathBuf>) -> Endpoint {
        Endpoint::Unix(path.into())
    }

    /// `unix:///path` or `tcp://HOST:PORT`, as `DOCKER_HOST` and `-H` spell it, when rekt
    /// can speak to it here: `ssh://` and `npipe://` it cannot, `fd://` (systemd's socket
    /// activation) names no address (the caller knows the default), and a TCP host must be
    /// this machine (a loopback or unspecified address, or `localhost`): an engine
    /// elsewhere publishes its ports elsewhere. Port 2375 when none is given.
    pub(crate) fn parse(host: &str) -> Option<Endpoint> {
        if let Some(path) = host.strip_prefix("unix://") {
            return (!path.is_empty()).then(|| Endpoint::unix(path));
        }
        let rest = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))?;
        // `tcp://127.0.0.1:2375/path` may carry a path prefix; rekt's requests need none.
        let rest = rest.split('/').next().unwrap_or(rest);
        let (name, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            // `[::1]:2375`, `[::1]`
            let (name, after) = bracketed.split_once(']')?;
            match after.strip_prefix(':') {
                Some(port) => (name, port.parse().ok()?),
                None if after.is_empty() => (name, DOCKER_PORT),
                None => return None,
            }
        } else {
            match rest.split_once(':') {
                Some((name, port)) if !port.contains(':') => (name, port.parse().ok()?),
                // A bare IPv6 address.
                Some(_) => (rest, DOCKER_PORT),
                None => (rest, DOCKER_PORT),
            }
        };
        let ip = match name {
            // `tcp://:2375` listens on every address.
            "" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            name => name.parse::<IpAddr>().ok()?,
        };
        let ip = match ip {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip if ip.is_loopback() => ip,
            _ => return None,
        };
        Some(Endpoint::Tcp(SocketAddr::new(ip, port)))
    }

    /// The address as `DOCKER_HOST` takes it: `unix:///run/docker.sock`,
    /// `tcp://127.0.0.1:2375`. A path came from another process's command line: it is
    /// [`Text`], printed only escaped.
    pub(crate) fn address(&self) -> Text {
        match self {
            Endpoint::Unix(path) => {
                let mut bytes = b"unix://".to_vec();
                bytes.extend_from_slice(Text::from(path.as_path()).as_bytes());
                Text::from_bytes(bytes)
            }
            Endpoint::Tcp(addr) => Text::from(format!("tcp://{addr}").as_str()),
        }
    }

    /// Whether it is Docker's default socket (`/var/run/docker.sock`, which is
    /// `/run/docker.sock`).
    pub(crate) fn is_docker_default(&self) -> bool {
        matches!(self, Endpoint::Unix(p)
            if p == Path::new(DOCKER_SOCKET) || p == Path::new("/run/docker.sock"))
    }

    /// Whether a file is there to connect to (a TCP endpoint always may be): the one
    /// `stat` that a machine without the engine pays.
    pub(crate) fn may_exist(&self) -> bool {
        match self {
            Endpoint::Unix(path) => path.exists(),
            Endpoint::Tcp(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(s: &str) -> Option<Endpoint> {
        Some(Endpoint::Tcp(s.parse().unwrap()))
    }

    #[test]
    fn hosts_as_docker_spells_them() {
        assert_eq!(
            Endpoint::parse("unix:///run/x.sock"),
            Some(Endpoint::unix("/run/x.sock"))
        );
        assert_eq!(Endpoint::parse("unix://"), None);
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2375"),
            tcp("127.0.0.1:2375")
        );
        assert_eq!(Endpoint::parse("tcp://0.0.0.0:2375"), tcp("127.0.0.1:2375"));
        assert_eq!(Endpoint::parse("tcp://:4243"), tcp("127.0.0.1:4243"));
        assert_eq!(Endpoint::parse("tcp://localhost"), tcp("127.0.0.1:2375"));
        assert_eq!(Endpoint::parse("tcp://[::1]:2375"), tcp("[::1]:2375"));
        assert_eq!(Endpoint::parse("tcp://[::]:2375"), tcp("[::1]:2375"));
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2375/v1.41"),
            tcp("127.0.0.1:2375")
        );
        // Elsewhere, or nothing rekt speaks.
        assert_eq!(Endpoint::parse("tcp://192.0.2.7:2375"), None);
        assert_eq!(Endpoint::parse("tcp://docker.example:2375"), None);
        assert_eq!(Endpoint::parse("ssh://me@host"), None);
        assert_eq!(Endpoint::parse("fd://"), None);
        assert_eq!(Endpoint::parse("npipe:////./pipe/docker_engine"), None);
        assert_eq!(Endpoint::parse("tcp://127.0.0.1:http"), None);
    }

    #[test]
    fn the_address_is_what_docker_host_takes() {
        assert_eq!(
            Endpoint::unix("/run/x.sock").address().to_string(),
            "unix:///run/x.sock"
        );
        assert_eq!(
            tcp("127.0.0.1:2375").unwrap().address().to_string(),
            "tcp://127.0.0.1:2375"
        );
        // A path from a command line is escaped when shown.
        assert_eq!(
            Endpoint::unix("/run/a\x1b[31m.sock").address().to_string(),
            r"unix:///run/a\e[31m.sock"
        );
        assert!(Endpoint::unix("/run/docker.sock").is_docker_default());
        assert!(!Endpoint::unix("/run/user/1000/docker.sock").is_docker_default());
    }
}
