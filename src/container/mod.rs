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
mod end;
pub(crate) mod engine;
mod resolve;

pub(crate) use cgroup::{ContainerId, Runtime, from_lines};
pub(crate) use end::{EndOutcome, Ending, Job, end};
pub(crate) use resolve::Resolver;

use crate::model::{Signal, Text};
use crate::text::shell_word;
use engine::Engine;

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
    /// The engine whose API answers for it; `None` when none does (no socket, permission
    /// denied, daemon down, or a runtime without the Docker API).
    pub(crate) engine: Option<Engine>,
}

impl Container {
    /// What a user types after `docker stop`: its name, else its short ID.
    pub(crate) fn handle(&self) -> Text {
        self.name
            .clone()
            .unwrap_or_else(|| Text::from(engine::short_id(&self.id)))
    }

    /// The command that ends it by hand: `docker stop web`, `docker kill web`, `podman
    /// stop web`, `crictl stop ID`, `nerdctl stop ID`, `lxc-stop -n NAME`.
    pub(crate) fn command(&self, signal: Signal) -> String {
        let handle = shell_word(&self.handle());
        let verb = signal.engine_verb();
        let kill = signal == Signal::Kill;
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
            engine: Some(engine.clone()),
        }
    }
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
        assert_eq!(web.command(Signal::Terminate), "docker stop web");
        assert_eq!(web.command(Signal::Kill), "docker kill web");
        let unnamed = container(Runtime::Docker, None, None);
        assert_eq!(
            unnamed.command(Signal::Terminate),
            "docker stop 6e29ed62a3f7"
        );
        let podman = container(Runtime::Podman, Some("api"), Some(engine::Kind::Podman));
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
}
