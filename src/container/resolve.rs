//! Which container an owner runs in or forwards for. A forwarder's container is asked of
//! the one engine the forwarder belongs to (`daemon`), else found in that engine's own
//! state files; a container found by its cgroup is looked up by its ID, which no two
//! engines share. Each engine is pinged at most once per run, and one that does not answer
//! is not asked again: a stuck engine costs its ping's timeout once.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use super::daemon::{self, Daemon};
use super::engine::{self, Endpoint, Engine, EngineError};
use super::{Container, ContainerId, Runtime};
use crate::model::{Protocol, Socket, Text};
use crate::platform::{Backend, Os};

/// What a forwarder's own process says of the engine and the container it carries a port
/// for (`judge::Forwarder::via`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Via {
    /// docker-proxy: a child of the dockerd that publishes the port, forwarding it to one
    /// container address.
    DockerProxy { container_ip: Option<IpAddr> },
    /// dockerd reserving a published port itself (`--userland-proxy=false`): it is the
    /// engine.
    Dockerd,
    /// conmon, the monitor of the Podman container it names (`-c ID`, `-n NAME`), with the
    /// storage its exit command shows (`--root`, `--runroot`).
    Conmon {
        id: String,
        name: Option<Text>,
        root: Option<Text>,
        runroot: Option<Text>,
    },
    /// Rootless Docker's port driver, rootlesskit: the user's dockerd runs below it.
    RootlessKit,
    /// Rootless Podman's port forwarder, or a user-mode network stack (slirp4netns, pasta)
    /// of rootless Podman or Docker: the engine of the user it runs as.
    Rootless,
    /// A desktop VM's forwarder (Docker Desktop, vpnkit, gvproxy): the one engine the
    /// machine's socket reaches.
    Desktop,
}

/// Asks the engines, each question at most once per run.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    /// The engines found from the environment and the well-known sockets (for containers
    /// found by their cgroup, and ports published with no socket); asked lazily.
    engines: Option<Vec<Engine>>,
    /// Each engine pinged in this run, and whether it could be talked to; a failure is
    /// kept for the whole run.
    reached: BTreeMap<Endpoint, Result<(), EngineError>>,
    /// Each answering engine's running containers, listed at most once until
    /// [`Resolver::forget_listing`].
    lists: BTreeMap<Endpoint, Vec<engine::Record>>,
}

impl Resolver {
    pub(crate) fn new() -> Resolver {
        Resolver::default()
    }

    fn engines(&mut self) -> Vec<Engine> {
        self.engines.get_or_insert_with(engine::discover).clone()
    }

    /// Whether any engine socket exists: the cheap test before a free port is worth an API
    /// call.
    pub(crate) fn any_engine(&mut self) -> bool {
        !self.engines().is_empty()
    }

    /// Forgets the engines' lists of running containers, so that the next question asks
    /// again (after rekt ended some). An engine that could not be talked to stays so.
    pub(crate) fn forget_listing(&mut self) {
        self.lists.clear();
    }

    /// Whether `engine` can be talked to: pinged once per run.
    fn reach(&mut self, engine: &Engine) -> Result<(), EngineError> {
        self.reached
            .entry(engine.endpoint.clone())
            .or_insert_with(|| engine.ping())
            .clone()
    }

    /// Asks `engine` through `question`, after its ping; an engine that stops answering
    /// midway is not asked again.
    fn ask<T>(
        &mut self,
        engine: &Engine,
        question: impl FnOnce(&Engine) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        self.reach(engine)?;
        let answer = question(engine);
        if let Err(e) = &answer
            && e.is_transport()
        {
            self.reached.insert(engine.endpoint.clone(), Err(e.clone()));
        }
        answer
    }

    /// `engine`'s running containers.
    fn list(&mut self, engine: &Engine) -> Result<Vec<engine::Record>, EngineError> {
        if let Some(list) = self.lists.get(&engine.endpoint) {
            return Ok(list.clone());
        }
        let list = self.ask(engine, Engine::containers)?;
        self.lists.insert(engine.endpoint.clone(), list.clone());
        Ok(list)
    }

    /// `record` of `engine`, with its restart policy (which the list leaves out).
    fn described(&mut self, engine: &Engine, record: &engine::Record) -> Container {
        let mut found = Container::from_engine(engine, record);
        if let Ok(full) = self.ask(engine, |e| e.inspect(&record.id)) {
            found.restart = full.restart;
        }
        found
    }

    /// The container named by a process's cgroup, with what the engine (or the state
    /// files) say of it.
    pub(crate) fn inside(&mut self, id: &ContainerId) -> Container {
        let mut found = Container {
            runtime: id.runtime,
            id: id.id.clone(),
            name: None,
            image: None,
            restart: None,
            pod: id.pod.clone(),
            engine: None,
            unanswered: None,
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
        for engine in self.engines() {
            if engine.kind != wanted {
                continue;
            }
            let Ok(list) = self.list(&engine) else {
                continue;
            };
            if let Some(c) = list.iter().find(|c| c.id == id.id) {
                return self.described(&engine, c);
            }
        }
        if id.runtime == Runtime::Docker {
            // The daemon whose state files know the ID is its engine.
            for daemon in running_dockerds() {
                let Some(c) = engine::from_state_files(&daemon.data_root)
                    .into_iter()
                    .find(|c| c.id == id.id)
                else {
                    continue;
                };
                let pod = found.pod.clone();
                return self
                    .in_daemon(&daemon, |r| r.id == c.id)
                    .map(|c| Container { pod, ..c })
                    .unwrap_or(found);
            }
        }
        found
    }

    /// The container a forwarder carries a port for, asked of the forwarder's own engine:
    /// the one at docker-proxy's `-container-ip`, the one conmon names, or the one that
    /// publishes the port of one of its `sockets`. `None` when its engine cannot be found,
    /// or neither it nor its state files know such a container.
    pub(crate) fn forwarded(
        &mut self,
        pid: u32,
        uid: Option<u32>,
        via: &Via,
        sockets: &[Socket],
    ) -> Option<Container> {
        let publishes =
            |c: &engine::Record| sockets.iter().any(|s| c.publishes(s.port(), s.protocol));
        match via {
            Via::DockerProxy { container_ip } => {
                let daemon = daemon::parent_dockerd(pid)?;
                match container_ip {
                    // One daemon gives each container its own address.
                    Some(ip) => self.in_daemon(&daemon, |c| c.addresses.contains(ip)),
                    None => self.in_daemon(&daemon, publishes),
                }
            }
            Via::Dockerd => {
                let daemon = daemon::dockerd(pid)?;
                self.in_daemon(&daemon, publishes)
            }
            Via::RootlessKit => {
                let daemon = daemon::dockerd_below(pid)?;
                self.in_daemon(&daemon, publishes)
            }
            Via::Rootless => {
                if let Some(kit) = daemon::ancestor_named(pid, "rootlesskit") {
                    let daemon = daemon::dockerd_below(kit)?;
                    return self.in_daemon(&daemon, publishes);
                }
                let engines = daemon::podman(uid, Vec::new());
                self.in_engines(&engines, publishes)
            }
            Via::Conmon {
                id,
                name,
                root,
                runroot,
            } => {
                let flags = daemon::podman_flags(uid, root.as_ref(), runroot.as_ref());
                let engines = daemon::podman(uid, flags);
                Some(self.podman(&engines, id, name.clone()))
            }
            Via::Desktop => {
                let engines = self.engines();
                self.in_engines(&engines, publishes)
            }
        }
    }

    /// The container of `daemon` that `wanted` picks, from the first of its sockets that
    /// answers; when none does, from its state files, with the engine that did not answer
    /// and why.
    fn in_daemon(
        &mut self,
        daemon: &Daemon,
        wanted: impl Fn(&engine::Record) -> bool,
    ) -> Option<Container> {
        let mut failure: Option<(Engine, EngineError)> = None;
        for engine in &daemon.engines {
            match self.list(engine) {
                // Every socket of one daemon answers the same: the first one decides.
                Ok(list) => {
                    let found = list.iter().find(|c| wanted(c)).cloned()?;
                    return Some(self.described(engine, &found));
                }
                Err(e) => {
                    failure.get_or_insert((engine.clone(), e));
                }
            }
        }
        let record = engine::from_state_files(&daemon.data_root)
            .into_iter()
            .find(|c| wanted(c))?;
        crate::debug!(
            "engine: dockerd {} does not answer; its state files know {}",
            daemon.pid,
            Text::from(record.id.as_str())
        );
        let mut found = self.state_container(daemon, &record);
        if let Some((engine, error)) = failure {
            found.engine = Some(Box::new(engine));
            found.unanswered = Some(error);
        }
        Some(found)
    }

    /// A container known only from `daemon`'s state files: the daemon's first socket is
    /// its engine, which did not answer.
    fn state_container(&mut self, daemon: &Daemon, record: &engine::Record) -> Container {
        let engine = daemon.engines.first().cloned();
        let unanswered = engine.as_ref().and_then(|e| self.reach(e).err());
        let engine = engine.map(Box::new);
        Container {
            runtime: Runtime::Docker,
            id: record.id.clone(),
            name: record.name.clone(),
            image: record.image.clone(),
            restart: record.restart.clone(),
            pod: None,
            engine,
            unanswered,
        }
    }

    /// The first container that `wanted` picks among the engines that answer, asked in
    /// order (each is the same engine's socket, or the same user's).
    fn in_engines(
        &mut self,
        engines: &[Engine],
        wanted: impl Fn(&engine::Record) -> bool,
    ) -> Option<Container> {
        for engine in engines {
            let Ok(list) = self.list(engine) else {
                continue;
            };
            if let Some(found) = list.iter().find(|c| wanted(c)).cloned() {
                return Some(self.described(engine, &found));
            }
        }
        None
    }

    /// The Podman container `id`, from the first of `engines` that knows it. IDs are
    /// random and 64 digits long: an engine with another storage does not know it (404).
    /// When none answers for it, what conmon's command line says (its ID and name), with
    /// the first engine and why it did not answer.
    fn podman(&mut self, engines: &[Engine], id: &str, name: Option<Text>) -> Container {
        let mut failure: Option<(Engine, EngineError)> = None;
        for engine in engines {
            match self.ask(engine, |e| e.inspect(id)) {
                Ok(record) => return Container::from_engine(engine, &record),
                Err(e) => {
                    failure.get_or_insert((engine.clone(), e));
                }
            }
        }
        let (engine, unanswered) = failure.unzip();
        let engine = engine.map(Box::new);
        Container {
            runtime: Runtime::Podman,
            id: id.to_owned(),
            name,
            image: None,
            restart: None,
            pod: None,
            engine,
            unanswered,
        }
    }

    /// The running containers that publish `port` for `protocol`, by every engine that
    /// answers.
    pub(crate) fn publishing(&mut self, port: u16, protocol: Protocol) -> Vec<Container> {
        let mut found = Vec::new();
        for engine in self.engines() {
            let Ok(list) = self.list(&engine) else {
                continue;
            };
            for c in list.iter().filter(|c| c.publishes(port, protocol)) {
                found.push(self.described(&engine, c));
            }
        }
        found
    }
}

/// Every running Docker daemon, with its sockets and data root: a walk over every
/// process, only for a container that no engine found from the environment knows.
fn running_dockerds() -> Vec<Daemon> {
    let mut daemons: Vec<Daemon> = Os::processes_named("dockerd")
        .into_iter()
        .filter_map(daemon::dockerd)
        .collect();
    if daemons.is_empty() {
        // A daemon that is down leaves its state where it always is.
        daemons.push(Daemon {
            pid: 0,
            engines: vec![Engine::new(
                Endpoint::unix(engine::DOCKER_SOCKET),
                engine::Kind::Docker,
            )],
            data_root: PathBuf::from("/var/lib/docker"),
        });
    }
    daemons
}
