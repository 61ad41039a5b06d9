//! Containers and the forwarders that carry their ports.

use super::super::Known;
use super::{list, waited, who};
use crate::container::engine::EngineError;
use crate::container::{Container, EndOutcome, Ending};
use crate::judge::{Forwarder, Forwarding};
use crate::model::{Signal, Text};

/// What a forwarder carries the port for, and what frees it instead of signalling it:
/// `it is docker-proxy, which forwards the port to container web (docker); rekt ends the
/// container instead`.
pub(crate) fn forwarding(f: &Forwarding) -> String {
    let opt_in = "--include-forwarders signals it too, which breaks what it forwards";
    if let Some(c) = &f.container {
        let through = if c.answers() {
            "rekt ends the container through its engine instead".to_owned()
        } else {
            let why = match &c.unanswered {
                Some(why) if c.engine.is_some() => engine_failed(c, why),
                _ => "no engine answers".to_owned(),
            };
            format!(
                "{why}, so end the container with: {}",
                c.command(Signal::Terminate)
            )
        };
        return format!(
            "it is {}, which forwards the port to {}; {through}",
            forwarder_name(&f.kind),
            container(c)
        );
    }
    let what = match &f.kind {
        // dockerd also holds its own API port (tcp://...:2375) and containerd its
        // endpoints: signalling either stops every container on the machine.
        Forwarder::Dockerd | Forwarder::Containerd => format!(
            "it is {}, and no running container that an engine or its state files know of \
             publishes this port (it may be the daemon's own, such as its API port): \
             signalling it would stop every container on the machine",
            if f.kind == Forwarder::Dockerd {
                "dockerd"
            } else {
                "containerd"
            }
        ),
        Forwarder::Conmon(_) => "it is conmon, Podman's monitor of a container that it \
                                     does not name: `podman ps` shows which, and `podman stop \
                                     NAME` frees the port"
            .to_owned(),
        Forwarder::DockerProxy { .. }
        | Forwarder::RootlessKit
        | Forwarder::RootlessPort
        | Forwarder::Slirp4netns
        | Forwarder::Pasta
        | Forwarder::Gvproxy => format!(
            "it is {}, which carries a published port for a container that no engine could \
             name (none answers, or none is running); `docker ps` or `podman ps` shows which, \
             and `docker stop NAME` frees the port",
            forwarder_name(&f.kind)
        ),
        Forwarder::WslRelay => "it is wslrelay, which forwards the port from a WSL 2 \
                                distribution (localhost forwarding): the server runs inside \
                                WSL; stop it there (`wsl rekt -k PORT`), or `wsl --shutdown`"
            .into(),
        Forwarder::DockerDesktop | Forwarder::Vpnkit => format!(
            "it is {}, which carries a port that a Docker Desktop container publishes: \
             `docker ps` shows which, and `docker stop NAME` frees the port",
            forwarder_name(&f.kind)
        ),
        Forwarder::OrbStack => "it is OrbStack's helper, which carries a port for an OrbStack \
                                container or machine: `docker ps` (or `orb list`) shows which, \
                                and `docker stop NAME` (or `orb stop NAME`) frees it"
            .into(),
        Forwarder::Lima => "it is Lima's host agent (Colima), which forwards the port from a \
                            VM: stop the server inside it (`colima ssh`, `limactl shell`), or \
                            `colima stop`"
            .into(),
        Forwarder::AirPlay => "it is ControlCenter, which holds the port for the AirPlay \
                               Receiver, and launchd starts it again: turn it off in System \
                               Settings > General > AirDrop & Handoff > AirPlay Receiver"
            .into(),
    };
    format!("{what}; {opt_in}")
}

/// A forwarder's program, as the user knows it.
fn forwarder_name(f: &Forwarder) -> &'static str {
    match f {
        Forwarder::DockerProxy { .. } => "docker-proxy",
        Forwarder::Dockerd => "dockerd (reserving the published port)",
        Forwarder::Containerd => "containerd (reserving a container's port)",
        Forwarder::Conmon(_) => "conmon (Podman's container monitor)",
        Forwarder::RootlessKit => "rootlesskit (rootless networking)",
        Forwarder::RootlessPort => "rootlessport (rootless Podman networking)",
        Forwarder::Slirp4netns => "slirp4netns (rootless networking)",
        Forwarder::Pasta => "pasta (rootless networking)",
        Forwarder::Gvproxy => "gvproxy (a container VM's networking)",
        Forwarder::WslRelay => "wslrelay",
        Forwarder::DockerDesktop => "Docker Desktop's backend",
        Forwarder::Vpnkit => "vpnkit (Docker Desktop's networking)",
        Forwarder::OrbStack => "OrbStack's helper",
        Forwarder::Lima => "Lima's host agent",
        Forwarder::AirPlay => "ControlCenter (AirPlay Receiver)",
    }
}

/// `container web (docker)`, `container 6e29ed62a3f7 (docker)`, with the image when known:
/// `container web (docker, image nginx)`.
pub(crate) fn container(c: &Container) -> String {
    match &c.image {
        Some(image) => format!("container {} ({}, image {image})", c.handle(), c.runtime),
        None => format!("container {} ({})", c.handle(), c.runtime),
    }
}

/// A container in a table cell: `docker:web`.
pub(crate) fn container_cell(c: &Container) -> String {
    format!("{}:{}", c.runtime, c.handle())
}

/// The line for a container rekt set out to end through its engine: `stopped container web
/// (docker, image nginx) through its engine (for 4123, 4130)`, or why not, with the command
/// that would do it.
pub(crate) fn container_ended(report: &Ending, details: &Known) -> String {
    let c = container(&report.job.container);
    let via = if report.job.owners.is_empty() {
        String::new()
    } else {
        format!(
            " (it holds the port through {})",
            list(report.job.owners.iter().map(|&p| who(p, details)))
        )
    };
    let command = report.job.container.command(report.signal);
    match &report.outcome {
        EndOutcome::Stopped => format!("stopped {c} through its engine{via}"),
        EndOutcome::Killed => format!("killed {c} through its engine{via}"),
        EndOutcome::NotRunning => format!("{c} was not running any more{via}"),
        EndOutcome::Declined => format!("skipped {c}"),
        EndOutcome::Unreachable(why) => {
            let why = match why {
                Some(why) => engine_failed(&report.job.container, why),
                None => "no engine answers for it".to_owned(),
            };
            format!(
                "refusing to end {c}{via} by signalling its processes: {why}, and only its \
                 engine can end it for good (a restart policy would bring it back); run: \
                 {command}"
            )
        }
        EndOutcome::Failed(why) => format!(
            "could not end {c}: {}; run: {command}",
            engine_failed(&report.job.container, why)
        ),
    }
}

/// Why the engine of `c` did not do what was asked, naming it: `its engine at
/// unix:///run/x.sock did not answer within 300ms (timed out)`.
pub(crate) fn engine_failed(c: &Container, why: &EngineError) -> String {
    let at = match &c.engine {
        Some(engine) => format!("its engine at {}", engine.endpoint.address()),
        None => "its engine".to_owned(),
    };
    match why {
        EngineError::Timeout(after) => {
            format!("{at} did not answer within {} (timed out)", waited(*after))
        }
        EngineError::Unreachable(os) => format!("{at} cannot be reached ({os})"),
        EngineError::Denied => format!(
            "{at} is not yours to use (permission denied: run rekt as root, or as a member of \
             the engine's group)"
        ),
        // The engine's message may quote a container's name: shown escaped.
        EngineError::Api { status, message } => {
            format!("{at} said {status}: {}", Text::from(message.as_str()))
        }
        EngineError::Malformed(what) => {
            format!(
                "{at} gave an answer rekt cannot read ({})",
                Text::from(what.as_str())
            )
        }
    }
}
