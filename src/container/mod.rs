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

mod cgroup;
mod daemon;
mod end;
pub(crate) mod engine;
mod resolve;

pub(crate) use cgroup::{ContainerId, Runtime, from_lines};
pub(crate) use end::{EndOutcome, Ending, Job, end};
pub(crate) use resolve::{Resolver, Via};

use crate::model::{Signal, Text};
use crate::text::shell_word;
use engine::{Engine, EngineError, Kind};

/// A container, as much as rekt could learn of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Container {
    pub(crate) runtime: Runtime,
    /// The full ID, or the name for LXC.
    pub(crate) id: String,
    pub(crate) name: Option<Text>,
    pub(crate) image: Option<Text>,
    /// A restart policy that can bring it back (`always`, `unless-stopped`, `on-failure`).
    pub(crate) restart: Option<Text>,
    /// The Kubernetes pod's UID, when it runs in one.
    pub(crate) pod: Option<String>,
    /// The engine it belongs to, when known: the one that answered for it, or the one its
    /// forwarder belongs to (which rekt then does not ask another engine in place of).
    /// `None` when no engine is known (no socket, or a runtime without the Docker API).
    /// (Boxed: a container travels in every forwarder's role, which stays small.)
    pub(crate) engine: Option<Box<Engine>>,
    /// Why its engine could not be asked (no socket, refused, denied, timed out); `None`
    /// when it answered.
    pub(crate) unanswered: Option<EngineError>,
}

impl Container {
    /// Whether its engine answers, so that rekt can end it.
    pub(crate) fn answers(&self) -> bool {
        self.engine.is_some() && self.unanswered.is_none()
    }

    /// What a user types after `docker stop`: its name, else its short ID.
    pub(crate) fn handle(&self) -> Text {
        self.name
            .clone()
            .unwrap_or_else(|| Text::from(engine::short_id(&self.id)))
    }

    /// The command that ends it by hand: `docker stop web`, `docker kill web`, `podman
    /// stop web`, `crictl stop ID`, `nerdctl stop ID`, `lxc-stop -n NAME`. With the engine
    /// it belongs to when `docker` would not reach that one by itself
    /// (`DOCKER_HOST=unix:///run/x.sock docker stop web`), and the storage Podman needs
    /// (`podman --root R --runroot RR stop web`).
    pub(crate) fn command(&self, signal: Signal) -> String {
        let handle = shell_word(&self.handle());
        let verb = signal.engine_verb();
        let kill = signal == Signal::Kill;
        match (self.runtime, &self.engine) {
            (_, Some(engine)) => match engine.kind {
                Kind::Docker if !engine.implicit => format!(
                    "DOCKER_HOST={} docker {verb} {handle}",
                    shell_word(&engine.endpoint.address())
                ),
                kind => {
                    let mut words = vec![kind.command().to_owned()];
                    words.extend(engine.flags.iter().map(shell_word));
                    words.push(format!("{verb} {handle}"));
                    words.join(" ")
                }
            },
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

    fn from_engine(engine: &Engine, c: &engine::Record) -> Container {
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
            engine: Some(Box::new(engine.clone())),
            unanswered: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(runtime: Runtime, name: Option<&str>, engine: Option<Kind>) -> Container {
        Container {
            runtime,
            id: "6e29ed62a3f759cd47691d838c64b0705de4a2b2587ee50d28db0a8c9c1c4b48".into(),
            name: name.map(Text::from),
            image: None,
            restart: None,
            pod: None,
            engine: engine.map(|kind| {
                Box::new(Engine {
                    endpoint: engine::Endpoint::unix("/run/x.sock"),
                    kind,
                    flags: Vec::new(),
                    implicit: true,
                })
            }),
            unanswered: None,
        }
    }

    #[test]
    fn the_command_that_ends_it_by_hand() {
        let web = container(Runtime::Docker, Some("web"), Some(Kind::Docker));
        assert_eq!(web.command(Signal::Terminate), "docker stop web");
        assert_eq!(web.command(Signal::Kill), "docker kill web");
        let unnamed = container(Runtime::Docker, None, None);
        assert_eq!(
            unnamed.command(Signal::Terminate),
            "docker stop 6e29ed62a3f7"
        );
        let podman = container(Runtime::Podman, Some("api"), Some(Kind::Podman));
        assert_eq!(podman.command(Signal::Terminate), "podman stop api");
        let lxc = container(Runtime::Lxc, Some("web1"), None);
        assert_eq!(lxc.command(Signal::Terminate), "lxc-stop -n web1");
        assert_eq!(lxc.command(Signal::Kill), "lxc-stop -k -n web1");
        let hostile = container(Runtime::Docker, Some("a;rm -rf ~"), None);
        assert_eq!(
            hostile.command(Signal::Terminate),
            "docker stop 'a;rm -rf ~'"
        );
    }

    #[test]
    fn the_command_names_an_engine_the_tool_would_not_reach_by_itself() {
        let mut web = container(Runtime::Docker, Some("web"), Some(Kind::Docker));
        web.engine.as_mut().unwrap().implicit = false;
        assert_eq!(
            web.command(Signal::Terminate),
            "DOCKER_HOST=unix:///run/x.sock docker stop web"
        );
        web.name = None;
        assert_eq!(
            web.command(Signal::Kill),
            "DOCKER_HOST=unix:///run/x.sock docker kill 6e29ed62a3f7"
        );
        web.engine.as_mut().unwrap().endpoint = engine::Endpoint::unix("/tmp/my dir/d.sock");
        assert_eq!(
            web.command(Signal::Terminate),
            "DOCKER_HOST='unix:///tmp/my dir/d.sock' docker stop 6e29ed62a3f7"
        );
        let mut api = container(Runtime::Podman, Some("api"), Some(Kind::Podman));
        api.engine.as_mut().unwrap().flags = ["--root", "/srv/p root", "--runroot", "/run/p"]
            .map(Text::from)
            .to_vec();
        assert_eq!(
            api.command(Signal::Terminate),
            "podman --root '/srv/p root' --runroot /run/p stop api"
        );
    }
}
