//! Processes that only carry a port for something else: a container engine's port
//! forwarders (docker-proxy; dockerd or containerd reserving a published port; rootless
//! networking: rootlesskit, rootlessport, slirp4netns, pasta), and on Windows and macOS
//! the helpers of WSL and the desktop VMs. Ending one never frees the port for good and can
//! break every container on the machine, so rekt names them and what they forward to, and
//! signals them only when asked to (`--include-forwarders`).
//!
//! Recognised by the executable's file name (and for docker-proxy its arguments): these
//! are the runtimes' own binaries, not names a user picks by accident.

use std::net::IpAddr;

use crate::model::{ProcessInfo, Text};

/// What kind of forwarder a process is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Forwarder {
    /// Docker's userland proxy, forwarding one published port to one container address.
    DockerProxy {
        container_ip: Option<IpAddr>,
        container_port: Option<u16>,
    },
    /// The Docker daemon, which binds published ports itself with `--userland-proxy=false`.
    Dockerd,
    /// containerd (or its shim), reserving a port for a container (CNI portmap).
    Containerd,
    /// Rootless Docker/Podman networking: the port driver and the user-mode network stacks.
    RootlessKit,
    RootlessPort,
    Slirp4netns,
    Pasta,
    /// Podman machine, Rancher Desktop, Lima: gvisor-tap-vsock's forwarder.
    Gvproxy,
    /// WSL2's localhost forwarding (Windows).
    WslRelay,
    /// Docker Desktop's backend and network helper (Windows, macOS).
    DockerDesktop,
    Vpnkit,
    /// OrbStack's helper (macOS).
    OrbStack,
    /// Lima's host agent, which Colima uses (macOS, Linux).
    Lima,
    /// ControlCenter, holding 5000 and 7000 for the AirPlay Receiver (macOS 12 and later);
    /// launchd starts it again.
    AirPlay,
}

impl Forwarder {
    /// What this forwarder is for: `docker-proxy`, `rootlesskit`...
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Forwarder::DockerProxy { .. } => "docker-proxy",
            Forwarder::Dockerd => "dockerd",
            Forwarder::Containerd => "containerd",
            Forwarder::RootlessKit => "rootlesskit",
            Forwarder::RootlessPort => "rootlessport",
            Forwarder::Slirp4netns => "slirp4netns",
            Forwarder::Pasta => "pasta",
            Forwarder::Gvproxy => "gvproxy",
            Forwarder::WslRelay => "wslrelay",
            Forwarder::DockerDesktop => "docker-desktop",
            Forwarder::Vpnkit => "vpnkit",
            Forwarder::OrbStack => "orbstack",
            Forwarder::Lima => "lima",
            Forwarder::AirPlay => "airplay",
        }
    }

    /// Whether it forwards to a container that a Docker-compatible engine knows, so that
    /// the engine can be asked which.
    pub(crate) fn has_engine(&self) -> bool {
        !matches!(
            self,
            Forwarder::WslRelay | Forwarder::Lima | Forwarder::OrbStack | Forwarder::AirPlay
        )
    }
}

impl Forwarder {
    /// The container address it forwards to, when its arguments name one (docker-proxy's
    /// `-container-ip`): the engine is asked which container has it.
    pub(crate) fn container_ip(&self) -> Option<IpAddr> {
        match self {
            Forwarder::DockerProxy { container_ip, .. } => *container_ip,
            _ => None,
        }
    }
}

/// The forwarder `info` describes, if it is one.
pub(crate) fn classify(info: &ProcessInfo) -> Option<Forwarder> {
    let name = info.name.as_ref()?.as_str()?;
    // Windows executables end in .exe; compare without it, and without case.
    let name = name
        .strip_suffix(".exe")
        .or_else(|| name.strip_suffix(".EXE"))
        .unwrap_or(name)
        .to_ascii_lowercase();
    Some(match name.as_str() {
        "docker-proxy" => docker_proxy(&info.cmdline),
        "dockerd" => Forwarder::Dockerd,
        "containerd" | "containerd-shim" | "containerd-shim-runc-v2" => Forwarder::Containerd,
        "rootlesskit" | "rootlesskit-docker-proxy" => Forwarder::RootlessKit,
        "rootlessport" | "rootlessport-child" => Forwarder::RootlessPort,
        "slirp4netns" => Forwarder::Slirp4netns,
        "pasta" | "pasta.avx2" | "passt" => Forwarder::Pasta,
        "gvproxy" => Forwarder::Gvproxy,
        "wslrelay" => Forwarder::WslRelay,
        "com.docker.backend" | "com.docker.vpnkit" | "docker desktop" => Forwarder::DockerDesktop,
        "vpnkit" | "vpnkit-bridge" => Forwarder::Vpnkit,
        "orbstack helper" => Forwarder::OrbStack,
        "limactl" if has_arg(&info.cmdline, "hostagent") => Forwarder::Lima,
        // Its own name on macOS only; a Linux process of that name is somebody's program.
        "controlcenter" if cfg!(target_os = "macos") => Forwarder::AirPlay,
        _ => return None,
    })
}

fn has_arg(cmdline: &[Text], arg: &str) -> bool {
    cmdline.iter().any(|a| *a == arg)
}

/// docker-proxy's arguments: `-proto tcp -host-ip 0.0.0.0 -host-port 18700 -container-ip
/// 172.17.0.2 -container-port 80`.
fn docker_proxy(cmdline: &[Text]) -> Forwarder {
    let value = |flag: &str| {
        cmdline
            .windows(2)
            .find(|w| w[0] == flag || w[0] == format!("-{flag}").as_str())
            .and_then(|w| w[1].as_str())
    };
    Forwarder::DockerProxy {
        container_ip: value("-container-ip").and_then(|v| v.parse().ok()),
        container_port: value("-container-port").and_then(|v| v.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::info;

    #[test]
    fn docker_proxy_names_its_container_address() {
        // The command line of a docker-proxy seen here.
        let proxy = info(
            "docker-proxy",
            &[
                "/usr/sbin/docker-proxy",
                "-proto",
                "tcp",
                "-host-ip",
                "0.0.0.0",
                "-host-port",
                "18700",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "80",
            ],
        );
        assert_eq!(
            classify(&proxy),
            Some(Forwarder::DockerProxy {
                container_ip: Some("172.17.0.2".parse().unwrap()),
                container_port: Some(80)
            })
        );
    }

    #[test]
    fn runtimes_and_desktop_helpers() {
        for (name, want) in [
            ("dockerd", "dockerd"),
            ("rootlesskit", "rootlesskit"),
            ("rootlessport", "rootlessport"),
            ("slirp4netns", "slirp4netns"),
            ("pasta.avx2", "pasta"),
            ("wslrelay.exe", "wslrelay"),
            ("com.docker.backend.exe", "docker-desktop"),
            ("vpnkit.exe", "vpnkit"),
            ("OrbStack Helper", "orbstack"),
        ] {
            assert_eq!(
                classify(&info(name, &[])).map(|f| f.name()),
                Some(want),
                "{name}"
            );
        }
        assert_eq!(
            classify(&info("limactl", &["limactl", "hostagent", "default"])).map(|f| f.name()),
            Some("lima")
        );
        for name in ["python3", "node", "limactl", "docker", "sshd", "nginx"] {
            assert_eq!(classify(&info(name, &[])), None, "{name}");
        }
        assert_eq!(classify(&ProcessInfo::default()), None);
    }
}
