//! Processes that only carry a port for something else: a container engine's port
//! forwarders (docker-proxy; dockerd, containerd or Podman's conmon reserving a published
//! port; rootless networking: rootlesskit, rootlessport, slirp4netns, pasta), and on
//! Windows and macOS
//! the helpers of WSL and the desktop VMs. Ending one never frees the port for good and can
//! break every container on the machine, so rekt names them and what they forward to, and
//! signals them only when asked to (`--include-forwarders`).
//!
//! Recognised by the executable's file name (and for docker-proxy and conmon their
//! arguments): these are the runtimes' own binaries, not names a user picks by accident.
//! What a forwarder's arguments say of its engine and container ([`Forwarder::via`]) is
//! what the container room asks that one engine about.

use std::net::IpAddr;

use crate::container::Via;
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
    /// Podman's container monitor, which holds a rootful container's published ports.
    Conmon(Box<Conmon>),
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
            Forwarder::Conmon(_) => "conmon",
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

    /// What its own process says of the engine and container it carries the port for,
    /// when a Docker-compatible engine can be asked: the one engine that it belongs to.
    pub(crate) fn via(&self) -> Option<Via> {
        Some(match self {
            Forwarder::DockerProxy { container_ip, .. } => Via::DockerProxy {
                container_ip: *container_ip,
            },
            Forwarder::Dockerd => Via::Dockerd,
            Forwarder::Conmon(conmon) => Via::Conmon {
                id: conmon.id.clone()?,
                name: conmon.name.clone(),
                root: conmon.root.clone(),
                runroot: conmon.runroot.clone(),
            },
            Forwarder::RootlessKit => Via::RootlessKit,
            Forwarder::RootlessPort | Forwarder::Slirp4netns | Forwarder::Pasta => Via::Rootless,
            Forwarder::Gvproxy | Forwarder::DockerDesktop | Forwarder::Vpnkit => Via::Desktop,
            // containerd has no Docker API; the rest forward for VMs, not engines.
            Forwarder::Containerd
            | Forwarder::WslRelay
            | Forwarder::Lima
            | Forwarder::OrbStack
            | Forwarder::AirPlay => return None,
        })
    }
}

/// What conmon's arguments say: its container (`-c ID`, `-n NAME`) and its storage (the
/// exit command's `--root` and `--runroot`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conmon {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<Text>,
    pub(crate) root: Option<Text>,
    pub(crate) runroot: Option<Text>,
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
        "conmon" => conmon(&info.cmdline),
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

/// Whether a process named as `info` may be a forwarder: then its arguments (and its
/// uid, for its engine) are worth reading, and only then. A process of any other name is
/// none, whatever its arguments say.
pub(crate) fn may_be(info: &ProcessInfo) -> bool {
    let with_args = ProcessInfo {
        name: info.name.clone(),
        // limactl is a forwarder only as a host agent: the name alone says "maybe".
        cmdline: vec![Text::from("hostagent")],
        ..ProcessInfo::default()
    };
    classify(&with_args).is_some()
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

/// conmon's arguments: `-c ID -u ID -r /usr/bin/runc -b BUNDLE ... -n NAME ...
/// --exit-command /usr/bin/podman --exit-command-arg --root --exit-command-arg STORAGE
/// --exit-command-arg --runroot --exit-command-arg RUNROOT ... --exit-command-arg cleanup`.
fn conmon(cmdline: &[Text]) -> Forwarder {
    let value = |flags: &[&str]| {
        cmdline.iter().enumerate().find_map(|(i, a)| {
            let a = a.as_str()?;
            flags.iter().find_map(|f| {
                if a == *f {
                    cmdline.get(i + 1).cloned()
                } else {
                    a.strip_prefix(f)?.strip_prefix('=').map(Text::from)
                }
            })
        })
    };
    // The exit command is podman's own command line: its global options are the storage.
    let exit_args: Vec<&Text> = cmdline
        .windows(2)
        .filter(|w| w[0] == "--exit-command-arg")
        .map(|w| &w[1])
        .collect();
    let global = |flag: &str| {
        exit_args
            .windows(2)
            .find(|w| *w[0] == flag)
            .map(|w| w[1].clone())
    };
    Forwarder::Conmon(Box::new(Conmon {
        id: value(&["-c", "--cid"])
            .and_then(|t| t.as_str().map(str::to_owned))
            .filter(|id| !id.is_empty()),
        name: value(&["-n", "--name"]),
        root: global("--root"),
        runroot: global("--runroot"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::info;

    #[test]
    fn only_a_forwarders_name_makes_its_arguments_worth_reading() {
        for name in [
            "docker-proxy",
            "conmon",
            "limactl",
            "rootlesskit",
            "dockerd",
        ] {
            assert!(may_be(&info(name, &[])), "{name}");
        }
        for name in ["python3", "node", "sshd", "docker"] {
            assert!(!may_be(&info(name, &[])), "{name}");
        }
        assert!(!may_be(&ProcessInfo::default()));
    }

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
    fn conmon_names_its_container_and_storage() {
        // The command line of a conmon seen here (shortened), for `podman --root /tmp/p/root
        // --runroot /tmp/p/runroot run -d --name web -p 18800:80 ...`.
        let id = "1288dc9cccdc6d3d2ace3d766c6de5a002437abb9d2b0529308dfd3e7c3dff15";
        let line = format!(
            "/usr/bin/conmon --api-version 1 -c {id} -u {id} -r /usr/bin/runc -b /b -p /p \
             -n web --exit-dir /tmp/p/tmp/exits --full-attach -l k8s-file:/l --log-level \
             warning --exit-command /usr/bin/podman --exit-command-arg --root \
             --exit-command-arg /tmp/p/root --exit-command-arg --runroot --exit-command-arg \
             /tmp/p/runroot --exit-command-arg --log-level --exit-command-arg warning \
             --exit-command-arg container --exit-command-arg cleanup --exit-command-arg {id}"
        );
        let args: Vec<&str> = line.split_whitespace().collect();
        let conmon = classify(&info("conmon", &args)).unwrap();
        assert_eq!(
            conmon,
            Forwarder::Conmon(Box::new(Conmon {
                id: Some(id.to_owned()),
                name: Some(Text::from("web")),
                root: Some(Text::from("/tmp/p/root")),
                runroot: Some(Text::from("/tmp/p/runroot")),
            }))
        );
        assert_eq!(conmon.name(), "conmon");
        assert_eq!(
            conmon.via(),
            Some(Via::Conmon {
                id: id.to_owned(),
                name: Some(Text::from("web")),
                root: Some(Text::from("/tmp/p/root")),
                runroot: Some(Text::from("/tmp/p/runroot")),
            })
        );
        // `--cid=ID`, and no storage shown.
        let short = classify(&info("conmon", &["conmon", "--cid=abc", "--name=api"])).unwrap();
        assert_eq!(
            short,
            Forwarder::Conmon(Box::new(Conmon {
                id: Some("abc".into()),
                name: Some(Text::from("api")),
                root: None,
                runroot: None,
            }))
        );
        // A conmon that names no container has no engine to ask.
        let bare = classify(&info("conmon", &["conmon"])).unwrap();
        assert_eq!(bare.via(), None);
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
