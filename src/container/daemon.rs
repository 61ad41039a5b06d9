//! The engine a forwarder belongs to, found from the forwarder's own processes, never from
//! another engine that happens to know a container at the same address: a docker-proxy's
//! parent dockerd, dockerd itself, the dockerd below a rootless Docker's rootlesskit, and
//! Podman's API sockets for a conmon's owner. A dockerd's command line (or its
//! `daemon.json`) says where its API answers (`-H`) and where its state files are
//! (`--data-root`).

use std::path::PathBuf;

use serde::Deserialize;

use super::engine::{DOCKER_SOCKET, Endpoint, Engine, Kind, PODMAN_SOCKET};
use crate::model::Text;
use crate::platform::{Backend, Os};

/// A Docker daemon: where to ask it, and where its state files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Daemon {
    /// Its PID.
    pub(crate) pid: u32,
    /// Its API, in the order to try: unix sockets first, then plain-HTTP TCP ports.
    pub(crate) engines: Vec<Engine>,
    /// Its data root, where `containers/ID/config.v2.json` are.
    pub(crate) data_root: PathBuf,
}

/// The dockerd that started `pid` (a docker-proxy): its parent.
pub(crate) fn parent_dockerd(pid: u32) -> Option<Daemon> {
    let parent = Os::process_stat(pid)?.parent?;
    let found = dockerd(parent);
    if found.is_none() {
        crate::debug!("engine: the parent {parent} of docker-proxy {pid} is no dockerd");
    }
    found
}

/// `pid` as a Docker daemon, if it is one.
pub(crate) fn dockerd(pid: u32) -> Option<Daemon> {
    let info = Os::process_info(pid);
    if info.name.as_ref().and_then(Text::as_str) != Some("dockerd") {
        return None;
    }
    let args: Vec<String> = info
        .cmdline
        .iter()
        .map(|a| a.to_str_lossless().into_owned())
        .collect();
    let rootless = info.uid.is_some_and(|uid| uid != 0);
    let env: Vec<(String, String)> = if rootless {
        Os::environment(
            pid,
            &[
                "XDG_RUNTIME_DIR",
                "XDG_DATA_HOME",
                "XDG_CONFIG_HOME",
                "HOME",
            ],
        )
        .into_iter()
        .map(|(k, v)| (k, v.to_str_lossless().into_owned()))
        .collect()
    } else {
        Vec::new()
    };
    let defaults = Defaults::new(rootless.then_some(info.uid).flatten(), &env);
    let parsed = DockerdArgs::parse(&args);
    // daemon.json says what the command line does not (`hosts`, `data-root`).
    let config = if parsed.hosts.is_empty() || parsed.data_root.is_none() {
        let path = parsed
            .config_file
            .clone()
            .map(PathBuf::from)
            .unwrap_or_else(|| defaults.config_file.clone());
        std::fs::read(&path)
            .ok()
            .and_then(|raw| serde_json::from_slice::<DaemonJson>(&raw).ok())
    } else {
        None
    };
    let settings = settings(parsed, config, &defaults);
    crate::debug!(
        "engine: dockerd {pid} answers at [{}], data root {}",
        settings
            .endpoints
            .iter()
            .map(|e| e.address().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        Text::from(settings.data_root.as_path())
    );
    Some(Daemon {
        pid,
        engines: settings
            .endpoints
            .into_iter()
            .map(|e| Engine::new(e, Kind::Docker))
            .collect(),
        data_root: settings.data_root,
    })
}

/// The dockerd that runs below `pid` (a rootless Docker's rootlesskit, or a user-mode
/// network stack it started): the one whose ancestors include `pid`.
pub(crate) fn dockerd_below(pid: u32) -> Option<Daemon> {
    Os::processes_named("dockerd")
        .into_iter()
        .find(|&d| descends_from(d, pid))
        .and_then(dockerd)
}

/// Whether `pid` has `ancestor` among its ancestors (a few generations up).
pub(crate) fn descends_from(pid: u32, ancestor: u32) -> bool {
    let mut at = pid;
    for _ in 0..8 {
        match Os::process_stat(at).and_then(|s| s.parent) {
            Some(parent) if parent == ancestor => return true,
            Some(parent) if parent > 1 => at = parent,
            _ => return false,
        }
    }
    false
}

/// The first ancestor of `pid` named `name` (a few generations up).
pub(crate) fn ancestor_named(pid: u32, name: &str) -> Option<u32> {
    let mut at = pid;
    for _ in 0..8 {
        let parent = Os::process_stat(at)?.parent.filter(|&p| p > 1)?;
        if Os::process_info(parent)
            .name
            .as_ref()
            .and_then(Text::as_str)
            == Some(name)
        {
            return Some(parent);
        }
        at = parent;
    }
    None
}

/// Podman's API sockets for a container whose processes run as `uid`, in the order to
/// try: the one `CONTAINER_HOST` names, then the owner's own (rootful
/// `/run/podman/podman.sock`, rootless `/run/user/UID/podman/podman.sock`). `flags` are the
/// global options `podman` needs to find the container by hand.
pub(crate) fn podman(uid: Option<u32>, flags: Vec<Text>) -> Vec<Engine> {
    let mut endpoints = Vec::new();
    if let Some(named) = std::env::var("CONTAINER_HOST")
        .ok()
        .and_then(|h| Endpoint::parse(&h))
    {
        endpoints.push(named);
    }
    let own = match uid {
        Some(0) | None => Endpoint::unix(PODMAN_SOCKET),
        Some(uid) => Endpoint::unix(format!("/run/user/{uid}/podman/podman.sock")),
    };
    if !endpoints.contains(&own) {
        endpoints.push(own);
    }
    endpoints
        .into_iter()
        .map(|endpoint| Engine {
            flags: flags.clone(),
            ..Engine::new(endpoint, Kind::Podman)
        })
        .collect()
}

/// The global options `podman` needs to reach a container whose conmon shows this storage
/// (its exit command's `--root` and `--runroot`): none for the default storage of its
/// owner, else both.
pub(crate) fn podman_flags(
    uid: Option<u32>,
    root: Option<&Text>,
    runroot: Option<&Text>,
) -> Vec<Text> {
    let is_default = |value: Option<&Text>, rootful: &str, rootless: &dyn Fn(&str) -> bool| {
        value.is_none_or(|v| {
            let v = v.to_str_lossless();
            match uid {
                Some(0) | None => v == rootful,
                Some(_) => rootless(&v),
            }
        })
    };
    let default_root = is_default(root, "/var/lib/containers/storage", &|v| {
        v.ends_with("/.local/share/containers/storage")
    });
    let default_runroot = is_default(runroot, "/run/containers/storage", &|v| {
        v.starts_with("/run/user/") && v.ends_with("/containers")
    });
    if default_root && default_runroot {
        return Vec::new();
    }
    let mut flags = Vec::new();
    for (flag, value) in [("--root", root), ("--runroot", runroot)] {
        if let Some(value) = value {
            flags.push(Text::from(flag));
            flags.push(value.clone());
        }
    }
    flags
}

/// Where a dockerd looks when its command line and `daemon.json` say nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Defaults {
    socket: PathBuf,
    data_root: PathBuf,
    config_file: PathBuf,
}

impl Defaults {
    /// Rootful, or rootless for `uid` (with its environment's `XDG_*` and `HOME`).
    fn new(rootless_uid: Option<u32>, env: &[(String, String)]) -> Defaults {
        let Some(uid) = rootless_uid else {
            return Defaults {
                socket: PathBuf::from(DOCKER_SOCKET),
                data_root: PathBuf::from("/var/lib/docker"),
                config_file: PathBuf::from("/etc/docker/daemon.json"),
            };
        };
        let var = |name: &str| {
            env.iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| PathBuf::from(v))
        };
        let home = var("HOME");
        let under_home = |rest: &str| home.as_ref().map(|h| h.join(rest));
        Defaults {
            socket: var("XDG_RUNTIME_DIR")
                .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")))
                .join("docker.sock"),
            data_root: var("XDG_DATA_HOME")
                .or_else(|| under_home(".local/share"))
                .unwrap_or_default()
                .join("docker"),
            config_file: var("XDG_CONFIG_HOME")
                .or_else(|| under_home(".config"))
                .unwrap_or_default()
                .join("docker/daemon.json"),
        }
    }
}

/// What a dockerd's command line says of its API and state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct DockerdArgs {
    /// Each `-H`/`--host`, in order.
    hosts: Vec<String>,
    data_root: Option<String>,
    config_file: Option<String>,
    /// `--tls` or `--tlsverify`: its TCP ports speak TLS, which rekt does not.
    tls: bool,
}

impl DockerdArgs {
    /// Reads Go-style flags: `-H X`, `-H=X`, `-HX`, `--host X`, `--host=X`, and the same
    /// for `--data-root` (`-g`, `--graph` of old) and `--config-file`.
    fn parse(args: &[String]) -> DockerdArgs {
        let mut parsed = DockerdArgs::default();
        let mut i = 1;
        while i < args.len() {
            let arg = args[i].as_str();
            i += 1;
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with('-') => (name, Some(value.to_owned())),
                _ => (arg, None),
            };
            // `-Hunix:///x.sock`: pflag's shorthand with the value attached.
            let (name, inline) = match (name, inline) {
                (n, None) if n.starts_with("-H") && n.len() > 2 && !n.starts_with("--") => {
                    ("-H", Some(n[2..].to_owned()))
                }
                (n, v) => (n, v),
            };
            match name {
                "--tls" | "--tlsverify" => {
                    parsed.tls = inline.as_deref().is_none_or(|v| v != "false");
                    continue;
                }
                "-H" | "--host" | "--data-root" | "-g" | "--graph" | "--config-file" => {}
                _ => continue,
            }
            let value = match inline {
                Some(v) => v,
                None => {
                    let Some(v) = args.get(i) else { break };
                    i += 1;
                    v.clone()
                }
            };
            match name {
                "-H" | "--host" => parsed.hosts.push(value),
                "--config-file" => parsed.config_file = Some(value),
                _ => parsed.data_root = Some(value),
            }
        }
        parsed
    }
}

/// The parts of `daemon.json` that say where the API and the state are.
#[derive(Debug, Default, Deserialize)]
struct DaemonJson {
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(rename = "data-root", default)]
    data_root: Option<String>,
    #[serde(default)]
    graph: Option<String>,
    #[serde(default)]
    tls: Option<bool>,
    #[serde(default)]
    tlsverify: Option<bool>,
}

/// Where a dockerd answers and keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    endpoints: Vec<Endpoint>,
    data_root: PathBuf,
}

/// The command line first, then `daemon.json`, then the defaults. `fd://` is systemd's
/// socket activation, whose socket is the default one; a bare `unix://` is the default too.
fn settings(args: DockerdArgs, config: Option<DaemonJson>, defaults: &Defaults) -> Settings {
    let config = config.unwrap_or_default();
    let tls = args.tls || config.tls == Some(true) || config.tlsverify == Some(true);
    let hosts = if args.hosts.is_empty() {
        config.hosts
    } else {
        args.hosts
    };
    let mut unix = Vec::new();
    let mut tcp = Vec::new();
    for host in &hosts {
        if host.starts_with("fd://") || host == "unix://" {
            unix.push(Endpoint::unix(&defaults.socket));
            continue;
        }
        match Endpoint::parse(host) {
            Some(e @ Endpoint::Unix(_)) => unix.push(e),
            Some(e @ Endpoint::Tcp(_)) if !tls => tcp.push(e),
            _ => {}
        }
    }
    if hosts.is_empty() {
        unix.push(Endpoint::unix(&defaults.socket));
    }
    let mut endpoints = unix;
    endpoints.extend(tcp);
    endpoints.dedup();
    let data_root = args
        .data_root
        .or(config.data_root)
        .or(config.graph)
        .map(PathBuf::from)
        .unwrap_or_else(|| defaults.data_root.clone());
    Settings {
        endpoints,
        data_root,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> DockerdArgs {
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        DockerdArgs::parse(&words)
    }

    fn rootful() -> Defaults {
        Defaults::new(None, &[])
    }

    fn unix(path: &str) -> Endpoint {
        Endpoint::unix(path)
    }

    #[test]
    fn the_command_line_names_the_sockets_and_the_data_root() {
        // As the tests' private daemons run.
        let a = args(
            "dockerd --data-root /tmp/d/data --exec-root /tmp/d/exec --pidfile /tmp/d/pid \
             -H unix:///tmp/d/docker.sock --bridge rekt-br0 -H tcp://127.0.0.1:18730",
        );
        let s = settings(a, None, &rootful());
        assert_eq!(
            s.endpoints,
            vec![
                unix("/tmp/d/docker.sock"),
                Endpoint::parse("tcp://127.0.0.1:18730").unwrap()
            ]
        );
        assert_eq!(s.data_root, PathBuf::from("/tmp/d/data"));
        // Every spelling of the flags.
        let a = args("dockerd -Hunix:///a.sock --host=unix:///b.sock --host unix:///c.sock -g /g");
        assert_eq!(
            a.hosts,
            ["unix:///a.sock", "unix:///b.sock", "unix:///c.sock"]
        );
        assert_eq!(a.data_root.as_deref(), Some("/g"));
        assert_eq!(
            args("dockerd --data-root=/x").data_root.as_deref(),
            Some("/x")
        );
        assert_eq!(
            args("dockerd -H=tcp://127.0.0.1:1 --config-file /etc/d.json").config_file,
            Some("/etc/d.json".to_owned())
        );
        // Other flags and their values are passed over.
        assert_eq!(
            args("dockerd --log-level debug -H unix:///x.sock --iptables=false").hosts,
            ["unix:///x.sock"]
        );
        assert_eq!(args("dockerd -H").hosts, Vec::<String>::new());
    }

    #[test]
    fn systemd_and_no_host_mean_the_default_socket() {
        for line in [
            "dockerd -H fd:// --containerd=/run/containerd/containerd.sock",
            "dockerd",
        ] {
            let s = settings(args(line), None, &rootful());
            assert_eq!(s.endpoints, vec![unix("/var/run/docker.sock")], "{line}");
            assert_eq!(s.data_root, PathBuf::from("/var/lib/docker"));
        }
    }

    #[test]
    fn tls_ports_and_remote_hosts_are_not_asked() {
        let s = settings(
            args("dockerd --tlsverify -H tcp://0.0.0.0:2376 -H unix:///run/d.sock"),
            None,
            &rootful(),
        );
        assert_eq!(s.endpoints, vec![unix("/run/d.sock")]);
        let s = settings(args("dockerd -H tcp://192.0.2.1:2375"), None, &rootful());
        assert_eq!(s.endpoints, Vec::<Endpoint>::new());
    }

    #[test]
    fn daemon_json_fills_in_what_the_command_line_leaves_out() {
        let json: DaemonJson = serde_json::from_str(
            r#"{"hosts": ["unix:///run/j.sock", "tcp://127.0.0.1:2375"], "data-root": "/srv/docker", "log-level": "warn"}"#,
        )
        .unwrap();
        let s = settings(args("dockerd"), Some(json), &rootful());
        assert_eq!(
            s.endpoints,
            vec![
                unix("/run/j.sock"),
                Endpoint::parse("tcp://127.0.0.1:2375").unwrap()
            ]
        );
        assert_eq!(s.data_root, PathBuf::from("/srv/docker"));
        // The command line wins.
        let json: DaemonJson = serde_json::from_str(r#"{"data-root": "/srv/docker"}"#).unwrap();
        let s = settings(args("dockerd --data-root /d"), Some(json), &rootful());
        assert_eq!(s.data_root, PathBuf::from("/d"));
    }

    #[test]
    fn rootless_docker_lives_under_the_users_directories() {
        let env = vec![
            ("XDG_RUNTIME_DIR".to_owned(), "/run/user/1000".to_owned()),
            ("HOME".to_owned(), "/home/ann".to_owned()),
        ];
        let d = Defaults::new(Some(1000), &env);
        let s = settings(args("dockerd"), None, &d);
        assert_eq!(s.endpoints, vec![unix("/run/user/1000/docker.sock")]);
        assert_eq!(s.data_root, PathBuf::from("/home/ann/.local/share/docker"));
        assert_eq!(
            d.config_file,
            PathBuf::from("/home/ann/.config/docker/daemon.json")
        );
        // Without its environment (not ours to read): the standard runtime directory.
        let d = Defaults::new(Some(1001), &[]);
        assert_eq!(d.socket, PathBuf::from("/run/user/1001/docker.sock"));
    }

    #[test]
    fn podman_needs_flags_only_for_a_storage_of_its_own() {
        let t = |s: &str| Text::from(s);
        assert!(
            podman_flags(
                Some(0),
                Some(&t("/var/lib/containers/storage")),
                Some(&t("/run/containers/storage"))
            )
            .is_empty()
        );
        assert!(podman_flags(Some(0), None, None).is_empty());
        assert!(
            podman_flags(
                Some(1000),
                Some(&t("/home/ann/.local/share/containers/storage")),
                Some(&t("/run/user/1000/containers"))
            )
            .is_empty()
        );
        let flags = podman_flags(Some(0), Some(&t("/tmp/p/root")), Some(&t("/tmp/p/run")));
        assert_eq!(
            flags,
            vec![
                t("--root"),
                t("/tmp/p/root"),
                t("--runroot"),
                t("/tmp/p/run")
            ]
        );
    }

    #[test]
    fn podmans_sockets_are_its_owners() {
        // CONTAINER_HOST is read from the environment; the tests leave it unset.
        if std::env::var_os("CONTAINER_HOST").is_some() {
            return;
        }
        let root = podman(Some(0), Vec::new());
        assert_eq!(
            root.iter().map(|e| &e.endpoint).collect::<Vec<_>>(),
            vec![&unix("/run/podman/podman.sock")]
        );
        let user = podman(Some(1000), Vec::new());
        assert_eq!(user[0].endpoint, unix("/run/user/1000/podman/podman.sock"));
        assert!(user.iter().all(|e| e.kind == Kind::Podman));
    }
}
