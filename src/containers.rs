//! The containers behind the owners. Which container an owner runs in (its cgroup, which
//! needs no engine) or forwards a port for (a forwarder's arguments, or which running
//! container the engine says publishes the port), and what is known of it: its name, image
//! and restart policy, from the engine's API when it answers, else from the engine's state
//! files where root can read them, else just the runtime and ID from the cgroup. Also the
//! containers that publish a port with no socket here at all (NAT rules alone).
//!
//! Nothing here runs unless an owner is a forwarder or runs in a container, or a port is
//! free and an engine socket exists: a plain lookup on a machine without containers costs
//! what it did.

use std::path::PathBuf;

use crate::container::{ContainerId, Runtime};
use crate::engine::{self, Engine, EngineError};
use crate::forwarder::Forwarder;
use crate::kill::Policy;
use crate::model::{Protocol, Signal, Socket, Text};
use crate::platform::{Backend, Os};

/// A container, as much as rekt could learn of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub runtime: Runtime,
    /// The full ID, or the name for LXC.
    pub id: String,
    pub name: Option<Text>,
    pub image: Option<Text>,
    /// A restart policy that can bring it back (`always`, `unless-stopped`, `on-failure`).
    pub restart: Option<Text>,
    /// The Kubernetes pod's UID, when it runs in one.
    pub pod: Option<String>,
    /// The engine whose API answers for it; `None` when none does (no socket, permission
    /// denied, daemon down, or a runtime without the Docker API).
    pub engine: Option<Engine>,
}

impl Container {
    /// What a user types after `docker stop`: its name, else its short ID.
    pub fn handle(&self) -> Text {
        self.name
            .clone()
            .unwrap_or_else(|| Text::from(engine::short_id(&self.id)))
    }

    /// The command that ends it by hand: `docker stop web`, `docker kill web`, `podman
    /// stop web`, `crictl stop ID`, `nerdctl stop ID`, `lxc-stop -n NAME`.
    pub fn command(&self, kill: bool) -> String {
        let handle = crate::context::shell_word(&self.handle());
        let verb = if kill { "kill" } else { "stop" };
        match (self.runtime, &self.engine) {
            (_, Some(engine)) => format!("{} {verb} {handle}", engine.kind.command()),
            (Runtime::Docker, None) => format!("docker {verb} {handle}"),
            (Runtime::Podman, None) => format!("podman {verb} {handle}"),
            // Kubernetes restarts a pod's containers itself: the pod's owner decides.
            (Runtime::Containerd | Runtime::CriO, None) if self.pod.is_some() => {
                format!("crictl stop {}", engine::short_id(&self.id))
            }
            (Runtime::Containerd, None) => format!("nerdctl {verb} {handle}"),
            (Runtime::CriO, None) => format!("crictl stop {}", engine::short_id(&self.id)),
            (Runtime::Lxc, None) if kill => format!("lxc-stop -k -n {handle}"),
            (Runtime::Lxc, None) => format!("lxc-stop -n {handle}"),
        }
    }

    fn from_engine(engine: &Engine, c: &engine::Container) -> Container {
        Container {
            runtime: match engine.kind {
                engine::Kind::Docker => Runtime::Docker,
                engine::Kind::Podman => Runtime::Podman,
            },
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            restart: c.restart.clone(),
            pod: None,
            engine: Some(engine.clone()),
        }
    }
}

/// Asks the engines, each question at most once per run.
#[derive(Debug, Default)]
pub struct Resolver {
    /// The engines found (sockets that exist); asked lazily.
    engines: Option<Vec<Engine>>,
    /// Every running container of every engine that answered, with its engine.
    listed: Option<Vec<(Engine, engine::Container)>>,
    /// Engines that did not answer, and why: their containers lose their names.
    pub failures: Vec<(Engine, EngineError)>,
}

impl Resolver {
    pub fn new() -> Resolver {
        Resolver::default()
    }

    fn engines(&mut self) -> &[Engine] {
        self.engines.get_or_insert_with(engine::discover)
    }

    /// Whether any engine socket exists: the cheap test before a free port is worth an API
    /// call.
    pub fn any_engine(&mut self) -> bool {
        !self.engines().is_empty()
    }

    /// The running containers of every engine that answers.
    fn listed(&mut self) -> &[(Engine, engine::Container)] {
        if self.listed.is_none() {
            let mut all = Vec::new();
            for engine in self.engines().to_vec() {
                match engine.containers() {
                    Ok(found) => all.extend(found.into_iter().map(|c| (engine.clone(), c))),
                    Err(e) => self.failures.push((engine, e)),
                }
            }
            self.listed = Some(all);
        }
        self.listed.as_deref().unwrap_or_default()
    }

    /// Forgets the engines' lists of running containers, so that the next question asks
    /// again (after rekt ended some).
    pub fn forget_listing(&mut self) {
        self.listed = None;
        self.failures.clear();
    }

    /// The container named by a process's cgroup, with what the engine (or the state
    /// files) say of it.
    pub fn inside(&mut self, id: &ContainerId) -> Container {
        let mut found = Container {
            runtime: id.runtime,
            id: id.id.clone(),
            name: None,
            image: None,
            restart: None,
            pod: id.pod.clone(),
            engine: None,
        };
        if id.runtime == Runtime::Lxc {
            // LXC names its cgroups by the container's name, and has no Docker API.
            found.name = Some(Text::from(id.id.as_str()));
            return found;
        }
        if !matches!(id.runtime, Runtime::Docker | Runtime::Podman) {
            return found;
        }
        let wanted = match id.runtime {
            Runtime::Podman => engine::Kind::Podman,
            _ => engine::Kind::Docker,
        };
        let listed = self
            .listed()
            .iter()
            .find(|(e, c)| e.kind == wanted && c.id == id.id)
            .map(|(e, c)| (e.clone(), c.clone()));
        if let Some((engine, c)) = listed {
            let mut found = Container::from_engine(&engine, &c);
            // The list leaves the restart policy out; inspect has it.
            if let Ok(full) = engine.inspect(&c.id) {
                found.restart = full.restart;
            }
            return found;
        }
        if id.runtime == Runtime::Docker
            && let Some(c) = from_state_files(&id.id)
        {
            found.name = c.name;
            found.image = c.image;
            found.restart = c.restart;
        }
        found
    }

    /// The container a forwarder carries a port for: for docker-proxy the one at its
    /// `-container-ip`, for the others the running container that publishes the port of
    /// one of its `sockets`. `None` when no engine (nor the state files) can say.
    pub fn forwarded(&mut self, forwarder: &Forwarder, sockets: &[Socket]) -> Option<Container> {
        if !forwarder.has_engine() {
            return None;
        }
        let by_address = match forwarder {
            Forwarder::DockerProxy {
                container_ip: Some(ip),
                ..
            } => Some(*ip),
            _ => None,
        };
        let matches = |c: &engine::Container| match by_address {
            Some(ip) => c.addresses.contains(&ip),
            None => sockets.iter().any(|s| c.publishes(s.port(), s.protocol)),
        };
        let listed = self
            .listed()
            .iter()
            .find(|(_, c)| matches(c))
            .map(|(e, c)| (e.clone(), c.clone()));
        if let Some((engine, c)) = listed {
            let mut found = Container::from_engine(&engine, &c);
            if let Ok(full) = engine.inspect(&c.id) {
                found.restart = full.restart;
            }
            return Some(found);
        }
        // No engine answered: Docker's state files, where root may read them.
        state_containers()
            .into_iter()
            .find(|c| matches(c))
            .map(|c| Container {
                runtime: Runtime::Docker,
                id: c.id,
                name: c.name,
                image: c.image,
                restart: c.restart,
                pod: None,
                engine: None,
            })
    }

    /// The running containers that publish `port` for `protocol`, by every engine that
    /// answers.
    pub fn publishing(&mut self, port: u16, protocol: Protocol) -> Vec<Container> {
        let found: Vec<(Engine, engine::Container)> = self
            .listed()
            .iter()
            .filter(|(_, c)| c.publishes(port, protocol))
            .cloned()
            .collect();
        found
            .iter()
            .map(|(engine, c)| {
                let mut found = Container::from_engine(engine, c);
                if let Ok(full) = engine.inspect(&c.id) {
                    found.restart = full.restart;
                }
                found
            })
            .collect()
    }
}

/// A container to end through its engine, and the owners it stands for (its processes,
/// the forwarders that carry its ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub container: Container,
    pub owners: Vec<u32>,
}

/// What became of a container rekt set out to end.
#[derive(Debug)]
pub enum Ended {
    /// `docker stop`: it exited (SIGTERM, or SIGKILL after the grace period).
    Stopped,
    /// `docker kill`.
    Killed,
    /// It was not running any more.
    NotRunning,
    /// The user said no (`-i`).
    Declined,
    /// No engine answers for it (no socket, permission denied, daemon down, or a runtime
    /// without the Docker API): rekt refuses, and says the command that would do it.
    Unreachable(String),
    /// The engine refused or failed.
    Failed(String),
}

impl Ended {
    /// Whether it leaves the job undone (exit 3).
    pub fn is_failure(&self) -> bool {
        matches!(self, Ended::Unreachable(_) | Ended::Failed(_))
    }
}

/// One container's fate.
#[derive(Debug)]
pub struct Report {
    pub target: Target,
    pub signal: Signal,
    pub ended: Ended,
}

/// Ends `target` through its engine: `-t` is a stop with `--timeout` as the grace period
/// (the engine kills after it), `-k` a kill; with `--escalate`, a stop that fails is
/// followed by a kill. Stopping or killing through the engine is also what keeps a restart
/// policy from bringing the container back.
pub fn end(target: Target, policy: Policy) -> Report {
    let report = |ended| Report {
        target: target.clone(),
        signal: policy.signal,
        ended,
    };
    let Some(engine) = target.container.engine.clone() else {
        return report(Ended::Unreachable("no engine answers for it".into()));
    };
    let id = target.container.id.clone();
    let result = match policy.signal {
        Signal::Terminate => match engine.stop(&id, policy.timeout) {
            Err(e) if policy.escalate && !unreachable(&e) => {
                engine.kill(&id).map(|()| Ended::Killed)
            }
            other => other.map(|()| Ended::Stopped),
        },
        Signal::Kill => engine.kill(&id).map(|()| Ended::Killed),
    };
    let ended = match result {
        Ok(ended) => {
            // A kill returns once the signal is sent: wait (bounded) for the container to
            // be gone, so that the ports are looked at after it let go of them.
            let _ = engine.wait_not_running(&id, KILL_WAIT);
            ended
        }
        // 409 on a kill, 304 on a stop (taken as success by the client): not running.
        Err(EngineError::Api { status: 409, .. }) => Ended::NotRunning,
        Err(e) if unreachable(&e) => Ended::Unreachable(e.to_string()),
        Err(e) => Ended::Failed(e.to_string()),
    };
    report(ended)
}

/// How long to wait for a killed container to be gone.
const KILL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether the engine could not be talked to at all.
fn unreachable(e: &EngineError) -> bool {
    matches!(e, EngineError::Unreachable(_) | EngineError::Denied(_))
}

/// A container in Docker's state files, found by its ID.
fn from_state_files(id: &str) -> Option<engine::Container> {
    state_containers().into_iter().find(|c| c.id == id)
}

/// The running containers in the state files of every Docker data root that can be
/// found: each running dockerd's `--data-root` (or `-g`), and the default one.
fn state_containers() -> Vec<engine::Container> {
    data_roots()
        .iter()
        .flat_map(|root| engine::from_state_files(root))
        .collect()
}

/// Docker's data roots: each dockerd's `--data-root`, and `/var/lib/docker`.
fn data_roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Os::processes_named("dockerd")
        .into_iter()
        .map(Os::process_info)
        .filter_map(|info| {
            let args: Vec<String> = info
                .cmdline
                .iter()
                .map(|a| a.to_str_lossless().into_owned())
                .collect();
            args.iter().enumerate().find_map(|(i, a)| {
                a.strip_prefix("--data-root=")
                    .map(str::to_owned)
                    .or_else(|| {
                        (a == "--data-root" || a == "-g")
                            .then(|| args.get(i + 1).cloned())
                            .flatten()
                    })
                    .map(PathBuf::from)
            })
        })
        .collect();
    roots.push(PathBuf::from("/var/lib/docker"));
    roots.dedup();
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(runtime: Runtime, name: Option<&str>, engine: Option<engine::Kind>) -> Container {
        Container {
            runtime,
            id: "6e29ed62a3f759cd47691d838c64b0705de4a2b2587ee50d28db0a8c9c1c4b48".into(),
            name: name.map(Text::from),
            image: None,
            restart: None,
            pod: None,
            engine: engine.map(|kind| Engine {
                socket: "/run/x.sock".into(),
                kind,
            }),
        }
    }

    #[test]
    fn the_command_that_ends_it_by_hand() {
        let web = container(Runtime::Docker, Some("web"), Some(engine::Kind::Docker));
        assert_eq!(web.command(false), "docker stop web");
        assert_eq!(web.command(true), "docker kill web");
        let unnamed = container(Runtime::Docker, None, None);
        assert_eq!(unnamed.command(false), "docker stop 6e29ed62a3f7");
        let podman = container(Runtime::Podman, Some("api"), Some(engine::Kind::Podman));
        assert_eq!(podman.command(false), "podman stop api");
        let lxc = container(Runtime::Lxc, Some("web1"), None);
        assert_eq!(lxc.command(false), "lxc-stop -n web1");
        assert_eq!(lxc.command(true), "lxc-stop -k -n web1");
        let hostile = container(Runtime::Docker, Some("a;rm -rf ~"), None);
        assert_eq!(hostile.command(false), "docker stop 'a;rm -rf ~'");
    }
}
