//! Container engines, through the Docker Engine API over a unix socket or a local TCP port
//! (Podman serves the same API): which running containers publish a port, what a container
//! is called, and ending one. Blocking, without an async runtime: every call is bounded by
//! a short timeout, a missing socket costs one `stat`, and a slow or dead engine never
//! stalls a lookup; it only loses the names, and rekt says so. An engine is pinged first,
//! with a shorter bound, so that a stuck one costs that much once per run (the resolver
//! keeps the answer), not a query's timeout per question.
//!
//! rekt talks to an engine only when an owner is a forwarder or runs in a container, or
//! when a port is free and an engine socket exists (a port published with NAT rules alone
//! has no socket to find).

mod endpoint;
mod http;
mod state_files;

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::model::{Protocol, Text};

pub(crate) use endpoint::{DOCKER_SOCKET, Endpoint, PODMAN_SOCKET};
pub(crate) use state_files::from_state_files;

/// How long an engine may take to answer a ping. It answers from memory in a millisecond
/// or two; a stopped daemon (SIGSTOP, a debugger, a full disk), or a socket that nobody
/// accepts on, never does: rekt gives up on it after this, once per run.
pub(crate) const PING_TIMEOUT: Duration = Duration::from_millis(300);

/// How long a query may take once the engine answered its ping: a busy engine may take a
/// while to list hundreds of containers.
const QUERY_TIMEOUT: Duration = Duration::from_millis(1500);

/// How much longer than the grace period a stop may take before rekt stops waiting.
const STOP_MARGIN: Duration = Duration::from_secs(5);

/// Which engine serves a socket: it decides the command rekt suggests (`docker stop web`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Docker,
    Podman,
}

impl Kind {
    /// The engine's command-line tool.
    pub(crate) fn command(self) -> &'static str {
        match self {
            Kind::Docker => "docker",
            Kind::Podman => "podman",
        }
    }
}

/// One engine's API, and how its command-line tool reaches it by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Engine {
    pub(crate) endpoint: Endpoint,
    pub(crate) kind: Kind,
    /// Global options the tool needs to find this engine's containers, after the tool's
    /// name: Podman with a storage of its own (`--root R --runroot RR`).
    pub(crate) flags: Vec<Text>,
    /// Whether `docker` reaches it with no `DOCKER_HOST=` before it: it is the engine that
    /// `DOCKER_HOST` names in rekt's environment, or the default socket when none is set.
    /// (Podman's tool works on its storage, not a socket.)
    pub(crate) implicit: bool,
}

impl Engine {
    /// The engine at `endpoint`; whether `docker` reaches it by default is decided from
    /// rekt's environment, now.
    pub(crate) fn new(endpoint: Endpoint, kind: Kind) -> Engine {
        let implicit = match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.is_empty() => Endpoint::parse(&host).as_ref() == Some(&endpoint),
            _ => endpoint.is_docker_default(),
        };
        Engine {
            endpoint,
            kind,
            flags: Vec::new(),
            implicit,
        }
    }
}

/// Why an engine call did not work. Said by `output::words`, with the engine's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EngineError {
    /// No engine answers there: no socket, or nothing listening on it (the OS's words).
    Unreachable(String),
    /// The socket is not ours to use (not root, not in the docker group).
    Denied,
    /// It did not answer within this long.
    Timeout(Duration),
    /// It answered with an error status (404: no such container).
    Api { status: u16, message: String },
    /// It answered something we could not read.
    Malformed(String),
}

impl EngineError {
    /// Whether the engine could not be talked to at all (rather than saying no): a stuck
    /// or absent engine is not asked again in this run.
    pub(crate) fn is_transport(&self) -> bool {
        matches!(
            self,
            EngineError::Unreachable(_) | EngineError::Denied | EngineError::Timeout(_)
        )
    }
}

/// A running container, as much as the engine (or its state files) tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Record {
    /// The full ID (64 hex digits for Docker and Podman).
    pub(crate) id: String,
    /// Its name, without Docker's leading `/`.
    pub(crate) name: Option<Text>,
    pub(crate) image: Option<Text>,
    /// The ports it publishes on the host.
    pub(crate) published: Vec<Published>,
    /// Its addresses on the engine's networks (what docker-proxy forwards to).
    pub(crate) addresses: Vec<IpAddr>,
    /// Its restart policy (`always`, `unless-stopped`, `on-failure`), when it has one.
    pub(crate) restart: Option<Text>,
}

/// A port a container publishes on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Published {
    /// The host address it is published on; `None` for every address.
    pub(crate) host_ip: Option<IpAddr>,
    pub(crate) host_port: u16,
    pub(crate) container_port: u16,
    pub(crate) protocol: Protocol,
}

impl Record {
    /// Whether it publishes `port` for `protocol` on the host.
    pub(crate) fn publishes(&self, port: u16, protocol: Protocol) -> bool {
        self.published
            .iter()
            .any(|p| p.host_port == port && p.protocol == protocol)
    }
}

/// The first 12 digits of an ID, as `docker ps` shows it.
pub(crate) fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The engines to ask about a container found by its cgroup, or a port published with no
/// socket: the one `DOCKER_HOST` names (a `unix://` socket, or a `tcp://` port of this
/// machine) and the one `CONTAINER_HOST` names (Podman's), or else every well-known socket
/// that exists. Costs one `stat` per candidate; nothing is connected to. A forwarder's
/// engine is not found here but from the forwarder's own processes (`container::daemon`).
pub(crate) fn discover() -> Vec<Engine> {
    let named = |var: &str| {
        std::env::var(var)
            .ok()
            .filter(|h| !h.is_empty())
            .map(|h| Endpoint::parse(&h))
    };
    let docker_host = named("DOCKER_HOST");
    let container_host = named("CONTAINER_HOST");
    if docker_host.is_some() || container_host.is_some() {
        // Only what is named: ssh:// and remote engines publish their ports elsewhere.
        let mut engines: Vec<Engine> = Vec::new();
        if let Some(Some(endpoint)) = docker_host {
            let kind = kind_of(&endpoint);
            engines.push(Engine::new(endpoint, kind));
        }
        if let Some(Some(endpoint)) = container_host
            && !engines.iter().any(|e| e.endpoint == endpoint)
        {
            engines.push(Engine::new(endpoint, Kind::Podman));
        }
        return engines;
    }
    let mut candidates = vec![PathBuf::from(DOCKER_SOCKET), PathBuf::from(PODMAN_SOCKET)];
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
        let runtime = PathBuf::from(runtime);
        candidates.push(runtime.join("docker.sock"));
        candidates.push(runtime.join("podman/podman.sock"));
    }
    candidates
        .into_iter()
        .map(Endpoint::unix)
        .filter(Endpoint::may_exist)
        .map(|endpoint| {
            let kind = kind_of(&endpoint);
            Engine::new(endpoint, kind)
        })
        .collect()
}

/// Podman's sockets have `podman` in their path; the rest are taken for Docker's.
fn kind_of(endpoint: &Endpoint) -> Kind {
    match endpoint {
        Endpoint::Unix(socket) if socket.to_string_lossy().contains("podman") => Kind::Podman,
        _ => Kind::Docker,
    }
}

impl Engine {
    /// Whether it answers at all, within [`PING_TIMEOUT`].
    pub(crate) fn ping(&self) -> Result<(), EngineError> {
        self.call("GET", "/_ping", PING_TIMEOUT, &[200]).map(drop)
    }

    /// Every running container, with the ports it publishes and its addresses.
    pub(crate) fn containers(&self) -> Result<Vec<Record>, EngineError> {
        let body = self.call("GET", "/containers/json", QUERY_TIMEOUT, &[200])?;
        let list: Vec<ListEntry> =
            serde_json::from_slice(&body).map_err(|e| EngineError::Malformed(e.to_string()))?;
        Ok(list.into_iter().map(ListEntry::into_container).collect())
    }

    /// One container by ID (or name), with its restart policy.
    pub(crate) fn inspect(&self, id: &str) -> Result<Record, EngineError> {
        let path = format!("/containers/{}/json", encode(id));
        let body = self.call("GET", &path, QUERY_TIMEOUT, &[200])?;
        let entry: InspectEntry =
            serde_json::from_slice(&body).map_err(|e| EngineError::Malformed(e.to_string()))?;
        Ok(entry.into_container())
    }

    /// `docker stop`: SIGTERM (or the image's stop signal), then SIGKILL after `grace`.
    /// Stopping through the engine is also what keeps a restart policy from bringing the
    /// container back.
    pub(crate) fn stop(&self, id: &str, grace: Duration) -> Result<(), EngineError> {
        let path = format!("/containers/{}/stop?t={}", encode(id), grace.as_secs());
        // 304: it was not running, which is what was wanted.
        self.call("POST", &path, grace + STOP_MARGIN, &[204, 304])
            .map(drop)
    }

    /// `docker kill`: SIGKILL now.
    pub(crate) fn kill(&self, id: &str) -> Result<(), EngineError> {
        let path = format!("/containers/{}/kill", encode(id));
        self.call("POST", &path, QUERY_TIMEOUT + STOP_MARGIN, &[204])
            .map(drop)
    }

    /// Waits until the container is not running, at most `timeout`.
    pub(crate) fn wait_not_running(&self, id: &str, timeout: Duration) -> Result<(), EngineError> {
        let path = format!("/containers/{}/wait?condition=not-running", encode(id));
        self.call("POST", &path, timeout, &[200]).map(drop)
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        timeout: Duration,
        ok: &[u16],
    ) -> Result<Vec<u8>, EngineError> {
        let started = std::time::Instant::now();
        let response = http::request(&self.endpoint, method, path, timeout).map_err(|e| {
            let error = match e.kind() {
                io::ErrorKind::PermissionDenied => EngineError::Denied,
                io::ErrorKind::TimedOut => EngineError::Timeout(timeout),
                io::ErrorKind::InvalidData => EngineError::Malformed(e.to_string()),
                io::ErrorKind::NotFound => EngineError::Unreachable("no such socket".into()),
                io::ErrorKind::ConnectionRefused => {
                    EngineError::Unreachable("connection refused".into())
                }
                _ => EngineError::Unreachable(e.to_string()),
            };
            crate::debug!(
                "engine: {method} {path} on {}: {error:?} ({:.1?})",
                self.endpoint.address(),
                started.elapsed()
            );
            error
        })?;
        crate::debug!(
            "engine: {method} {path} on {}: HTTP {} ({:.1?})",
            self.endpoint.address(),
            response.status,
            started.elapsed()
        );
        if ok.contains(&response.status) {
            return Ok(response.body);
        }
        // Errors come as {"message": "..."}.
        let message = serde_json::from_slice::<ErrorBody>(&response.body)
            .map(|e| e.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&response.body).trim().to_owned());
        Err(EngineError::Api {
            status: response.status,
            message,
        })
    }
}

/// A container ID or name in a URL path: IDs and names are `[a-zA-Z0-9][a-zA-Z0-9_.-]*`,
/// but what we pass on came from the system, so anything else is percent-encoded.
fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

/// One entry of `GET /containers/json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListEntry {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    ports: Option<Vec<ListPort>>,
    #[serde(default)]
    network_settings: Option<NetworkSettings>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPort {
    #[serde(rename = "IP", default)]
    ip: Option<String>,
    private_port: u16,
    #[serde(default)]
    public_port: Option<u16>,
    #[serde(rename = "Type", default)]
    kind: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct NetworkSettings {
    #[serde(default)]
    networks: Option<std::collections::BTreeMap<String, Network>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Network {
    #[serde(rename = "IPAddress", default)]
    ip_address: Option<String>,
    #[serde(rename = "GlobalIPv6Address", default)]
    global_ipv6_address: Option<String>,
}

/// The container's addresses on its networks.
pub(crate) fn addresses(
    networks: Option<&std::collections::BTreeMap<String, Network>>,
) -> Vec<IpAddr> {
    networks
        .into_iter()
        .flatten()
        .flat_map(|(_, n)| [&n.ip_address, &n.global_ipv6_address])
        .filter_map(|a| a.as_deref()?.parse().ok())
        .collect()
}

fn protocol(kind: Option<&str>) -> Option<Protocol> {
    match kind.unwrap_or("tcp") {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        // sctp: rekt does not look at SCTP sockets.
        _ => None,
    }
}

/// `0.0.0.0` and `::` mean every address.
fn host_ip(ip: Option<&str>) -> Option<IpAddr> {
    ip.and_then(|ip| ip.parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_unspecified())
}

/// Docker names start with `/`.
pub(crate) fn container_name(name: &str) -> Text {
    Text::from(name.strip_prefix('/').unwrap_or(name))
}

impl ListEntry {
    fn into_container(self) -> Record {
        let published = self
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                Some(Published {
                    host_ip: host_ip(p.ip.as_deref()),
                    host_port: p.public_port.filter(|&port| port != 0)?,
                    container_port: p.private_port,
                    protocol: protocol(p.kind.as_deref())?,
                })
            })
            .collect();
        Record {
            id: self.id,
            name: self.names.first().map(|n| container_name(n)),
            image: self.image.map(Text::from),
            published,
            addresses: addresses(self.network_settings.unwrap_or_default().networks.as_ref()),
            restart: None,
        }
    }
}

/// `GET /containers/{id}/json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectEntry {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    config: Option<InspectConfig>,
    #[serde(default)]
    host_config: Option<InspectHostConfig>,
    #[serde(default)]
    network_settings: Option<InspectNetworkSettings>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InspectConfig {
    #[serde(default)]
    pub(crate) image: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InspectHostConfig {
    #[serde(default)]
    pub(crate) restart_policy: Option<RestartPolicy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RestartPolicy {
    #[serde(default)]
    pub(crate) name: Option<String>,
}

impl RestartPolicy {
    /// The policy, unless it is `no` (or empty): one that can bring a container back.
    pub(crate) fn restarts(&self) -> Option<Text> {
        self.name
            .as_deref()
            .filter(|n| !n.is_empty() && *n != "no")
            .map(Text::from)
    }
}

/// Inspect's network settings: the networks as in the list, and the published ports as a
/// map `"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "18700"}]`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InspectNetworkSettings {
    #[serde(default)]
    pub(crate) networks: Option<std::collections::BTreeMap<String, Network>>,
    #[serde(default)]
    pub(crate) ports: Option<std::collections::BTreeMap<String, Option<Vec<Binding>>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Binding {
    #[serde(default)]
    host_ip: Option<String>,
    #[serde(default)]
    host_port: Option<String>,
}

/// The published ports of a `"80/tcp": [{HostIp, HostPort}]` map (inspect, state files).
pub(crate) fn bindings(
    ports: &std::collections::BTreeMap<String, Option<Vec<Binding>>>,
) -> Vec<Published> {
    let mut out = Vec::new();
    for (key, bindings) in ports {
        let (port, kind) = key.split_once('/').unwrap_or((key, "tcp"));
        let (Ok(container_port), Some(protocol)) = (port.parse(), protocol(Some(kind))) else {
            continue;
        };
        for b in bindings.iter().flatten() {
            let Some(host_port) = b.host_port.as_deref().and_then(|p| p.parse().ok()) else {
                continue;
            };
            out.push(Published {
                host_ip: host_ip(b.host_ip.as_deref()),
                host_port,
                container_port,
                protocol,
            });
        }
    }
    out
}

impl InspectEntry {
    fn into_container(self) -> Record {
        let settings = self.network_settings;
        Record {
            id: self.id,
            name: self.name.as_deref().map(container_name),
            image: self.config.and_then(|c| c.image).map(Text::from),
            addresses: settings
                .as_ref()
                .map(|s| addresses(s.networks.as_ref()))
                .unwrap_or_default(),
            published: settings
                .and_then(|s| s.ports)
                .map(|p| bindings(&p))
                .unwrap_or_default(),
            restart: self
                .host_config
                .and_then(|h| h.restart_policy)
                .and_then(|r| r.restarts()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Docker 20.10 answered here for `docker run -d --name web -p 18700:80 IMG`.
    const LIST: &str = r#"[{"Id":"6e29ed62a3f759cd47691d838c64b0705de4a2b2587ee50d28db0a8c9c1c4b48","Names":["/web"],"Image":"rekt-test/busybox","ImageID":"sha256:e2a6","Command":"/bin/httpd -f -p 80","Created":1795838655,"Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":18700,"Type":"tcp"},{"IP":"::","PrivatePort":80,"PublicPort":18700,"Type":"tcp"},{"PrivatePort":9000,"Type":"tcp"}],"Labels":{},"State":"running","Status":"Up 1 second","HostConfig":{"NetworkMode":"default"},"NetworkSettings":{"Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":"4a0a","EndpointID":"1d2c","Gateway":"172.17.0.1","IPAddress":"172.17.0.2","IPPrefixLen":16,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"02:42:ac:11:00:02","DriverOpts":null}}},"Mounts":[]}]"#;

    #[test]
    fn the_list_gives_names_ports_and_addresses() {
        let list: Vec<ListEntry> = serde_json::from_str(LIST).unwrap();
        let c = list.into_iter().next().unwrap().into_container();
        assert_eq!(c.name, Some(Text::from("web")));
        assert_eq!(c.image, Some(Text::from("rekt-test/busybox")));
        assert!(c.publishes(18700, Protocol::Tcp));
        assert!(!c.publishes(18700, Protocol::Udp));
        assert!(!c.publishes(9000, Protocol::Tcp), "exposed, not published");
        assert_eq!(c.published.len(), 2);
        assert!(c.published.iter().all(|p| p.host_ip.is_none()));
        assert_eq!(c.addresses, vec!["172.17.0.2".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn inspect_gives_the_restart_policy() {
        let body = r#"{"Id":"abc","Name":"/api","Config":{"Image":"img"},"HostConfig":{"RestartPolicy":{"Name":"always","MaximumRetryCount":0}},"NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.3"}},"Ports":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}],"53/udp":null}}}"#;
        let entry: InspectEntry = serde_json::from_str(body).unwrap();
        let c = entry.into_container();
        assert_eq!(c.restart, Some(Text::from("always")));
        assert_eq!(c.name, Some(Text::from("api")));
        assert_eq!(
            c.published,
            vec![Published {
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp
            }]
        );
        let no: RestartPolicy = serde_json::from_str(r#"{"Name":"no"}"#).unwrap();
        assert_eq!(no.restarts(), None);
    }

    #[test]
    fn ids_are_encoded_for_the_path() {
        assert_eq!(encode("web-1_a.b"), "web-1_a.b");
        assert_eq!(encode("a/../b?c"), "a%2F..%2Fb%3Fc");
        assert_eq!(short_id("6e29ed62a3f759cd47691d83"), "6e29ed62a3f7");
    }

    #[test]
    fn docker_host_names_the_engine() {
        // discover() reads the environment; only the parsing is checked here.
        assert_eq!(
            kind_of(&Endpoint::unix("/run/user/1000/podman/podman.sock")),
            Kind::Podman
        );
        assert_eq!(
            kind_of(&Endpoint::unix("/var/run/docker.sock")),
            Kind::Docker
        );
        assert_eq!(
            kind_of(&Endpoint::parse("tcp://127.0.0.1:2375").unwrap()),
            Kind::Docker
        );
    }
}
