//! Which container an owner runs in or forwards for, asking the engines (each question at
//! most once per run), else Docker's state files, else what the cgroup names.

use std::net::IpAddr;
use std::path::PathBuf;

use super::engine::{self, Engine, EngineError};
use super::{Container, ContainerId, Runtime};
use crate::model::{Protocol, Socket, Text};
use crate::platform::{Backend, Os};

/// Asks the engines, each question at most once per run.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    /// The engines found (sockets that exist); asked lazily.
    engines: Option<Vec<Engine>>,
    /// Every running container of every engine that answered, with its engine.
    listed: Option<Vec<(Engine, engine::Record)>>,
    /// Engines that did not answer, and why: their containers lose their names.
    pub(crate) failures: Vec<(Engine, EngineError)>,
}

impl Resolver {
    pub(crate) fn new() -> Resolver {
        Resolver::default()
    }

    fn engines(&mut self) -> &[Engine] {
        self.engines.get_or_insert_with(engine::discover)
    }

    /// Whether any engine socket exists: the cheap test before a free port is worth an API
    /// call.
    pub(crate) fn any_engine(&mut self) -> bool {
        !self.engines().is_empty()
    }

    /// The running containers of every engine that answers.
    fn listed(&mut self) -> &[(Engine, engine::Record)] {
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
    pub(crate) fn forget_listing(&mut self) {
        self.listed = None;
        self.failures.clear();
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

    /// The container a forwarder carries a port for: the one at `by_address` (docker-proxy's
    /// `-container-ip`) when given, else the running container that publishes the port of
    /// one of its `sockets`. `None` when no engine (nor the state files) can say.
    pub(crate) fn forwarded(
        &mut self,
        by_address: Option<IpAddr>,
        sockets: &[Socket],
    ) -> Option<Container> {
        let matches = |c: &engine::Record| match by_address {
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
    pub(crate) fn publishing(&mut self, port: u16, protocol: Protocol) -> Vec<Container> {
        let found: Vec<(Engine, engine::Record)> = self
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

/// A container in Docker's state files, found by its ID.
fn from_state_files(id: &str) -> Option<engine::Record> {
    state_containers().into_iter().find(|c| c.id == id)
}

/// The running containers in the state files of every Docker data root that can be
/// found: each running dockerd's `--data-root` (or `-g`), and the default one.
fn state_containers() -> Vec<engine::Record> {
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
