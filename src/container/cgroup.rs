//! Which container a process runs in, from its cgroup path (`/proc/PID/cgroup`): every
//! runtime puts a container's processes in a cgroup named after it, in both cgroup v1 and
//! v2 and with either cgroup driver (cgroupfs or systemd). No engine is asked, so this works
//! even when no daemon answers.

use std::fmt;

use crate::model::Text;

/// The runtime that made a container, as its cgroup names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    Docker,
    Podman,
    /// containerd: nerdctl, or Kubernetes through the CRI plugin.
    Containerd,
    /// CRI-O (Kubernetes).
    CriO,
    Lxc,
}

impl Runtime {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Lxc => "lxc",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container, as its cgroup names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerId {
    pub(crate) runtime: Runtime,
    /// The container ID (64 hex digits), or the name for LXC, whose cgroups are named by it.
    pub(crate) id: String,
    /// The Kubernetes pod's UID, when it runs in one.
    pub(crate) pod: Option<String>,
}

/// The container named by the cgroup lines of a process (`/proc/PID/cgroup`: v1 lines
/// `N:controllers:/path`, the v2 line `0::/path`), or `None` for a process that runs in
/// none.
pub(crate) fn from_cgroup(lines: &[u8]) -> Option<ContainerId> {
    lines
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            // The path is everything after the second colon; it may itself hold colons.
            let mut fields = line.splitn(3, |&b| b == b':');
            let (_, _, path) = (fields.next()?, fields.next()?, fields.next()?);
            std::str::from_utf8(path).ok()
        })
        .find_map(from_path)
}

/// [`from_cgroup`] over lines already split (`Backend::cgroup_lines`).
pub(crate) fn from_lines(lines: &[Text]) -> Option<ContainerId> {
    lines.iter().find_map(|line| from_cgroup(line.as_bytes()))
}

/// The container a cgroup path names.
pub(crate) fn from_path(path: &str) -> Option<ContainerId> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let pod = parts.iter().find_map(|p| pod_uid(p));
    let found = |runtime, id: &str| {
        Some(ContainerId {
            runtime,
            id: id.to_owned(),
            pod: pod.clone(),
        })
    };
    for (i, part) in parts.iter().enumerate().rev() {
        // The systemd driver: a scope per container, `<runtime>-<id>.scope`.
        if let Some(unit) = part.strip_suffix(".scope") {
            for (prefix, runtime) in [
                ("docker-", Runtime::Docker),
                ("libpod-", Runtime::Podman),
                ("cri-containerd-", Runtime::Containerd),
                ("crio-", Runtime::CriO),
                ("nerdctl-", Runtime::Containerd),
            ] {
                if let Some(id) = unit.strip_prefix(prefix)
                    && is_id(id)
                {
                    return found(runtime, id);
                }
            }
        }
        // The cgroupfs driver: `/docker/<id>`, `/libpod_parent/libpod-<id>`,
        // `/kubepods/.../pod<uid>/<id>`, `/<containerd namespace>/<id>`.
        if is_id(part) {
            let parent = i.checked_sub(1).map(|p| parts[p]);
            let runtime = match parent {
                Some("docker") => Runtime::Docker,
                _ if pod.is_some() => Runtime::Containerd,
                Some(_) => Runtime::Containerd,
                None => continue,
            };
            return found(runtime, part);
        }
        if let Some(id) = part.strip_prefix("libpod-")
            && is_id(id)
        {
            return found(Runtime::Podman, id);
        }
        // LXC names its cgroups after the container: `/lxc/NAME`, `/lxc.payload/NAME`
        // (LXC 4+ with cgroup v1) or `/lxc.payload.NAME` (cgroup v2).
        if let Some(name) = part.strip_prefix("lxc.payload.")
            && !name.is_empty()
        {
            return found(Runtime::Lxc, name);
        }
        if matches!(parts.get(i.wrapping_sub(1)), Some(&"lxc" | &"lxc.payload")) && i > 0 {
            return found(Runtime::Lxc, part);
        }
    }
    None
}

/// 64 lowercase hex digits: a Docker, Podman, containerd or CRI-O container ID.
fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The pod UID in `pod<uid>` (cgroupfs) or `kubepods-burstable-pod<uid>.slice` (systemd,
/// with `_` for `-`).
fn pod_uid(part: &str) -> Option<String> {
    let part = part.strip_suffix(".slice").unwrap_or(part);
    let uid = part
        .rsplit_once("pod")
        .map(|(before, uid)| (before.is_empty() || before.ends_with('-')).then_some(uid))??;
    (uid.len() >= 32
        && uid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_'))
    .then(|| uid.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6e29ed62a3f759cd47691d838c64b0705de4a2b2587ee50d28db0a8c9c1c4b48";

    fn at(path: &str) -> Option<(Runtime, String, Option<String>)> {
        from_path(path).map(|c| (c.runtime, c.id, c.pod))
    }

    #[test]
    fn docker_with_either_driver_and_cgroup_version() {
        // What a container here showed, in v1 and v2 lines (cgroupfs driver).
        let lines =
            format!("9:name=systemd:/docker/{ID}\n4:memory:/docker/{ID}\n0::/docker/{ID}\n");
        let c = from_cgroup(lines.as_bytes()).unwrap();
        assert_eq!((c.runtime, c.id.as_str()), (Runtime::Docker, ID));
        assert_eq!(
            at(&format!("/system.slice/docker-{ID}.scope")),
            Some((Runtime::Docker, ID.into(), None))
        );
    }

    #[test]
    fn podman_containerd_crio_and_kubernetes() {
        assert_eq!(
            at(&format!("/machine.slice/libpod-{ID}.scope/container")),
            Some((Runtime::Podman, ID.into(), None))
        );
        assert_eq!(
            at(&format!(
                "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"
            )),
            Some((Runtime::Podman, ID.into(), None))
        );
        assert_eq!(
            at(&format!("/libpod_parent/libpod-{ID}")),
            Some((Runtime::Podman, ID.into(), None))
        );
        let pod = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
        let pod_ = pod.replace('-', "_");
        assert_eq!(
            at(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_}.slice/cri-containerd-{ID}.scope"
            )),
            Some((Runtime::Containerd, ID.into(), Some(pod.into())))
        );
        assert_eq!(
            at(&format!("/kubepods/besteffort/pod{pod}/{ID}")),
            Some((Runtime::Containerd, ID.into(), Some(pod.into())))
        );
        assert_eq!(
            at(&format!(
                "/kubepods.slice/kubepods-pod{pod_}.slice/crio-{ID}.scope"
            )),
            Some((Runtime::CriO, ID.into(), Some(pod.into())))
        );
        assert_eq!(
            at(&format!("/default/{ID}")),
            Some((Runtime::Containerd, ID.into(), None))
        );
    }

    #[test]
    fn lxc_by_name() {
        assert_eq!(at("/lxc/web1"), Some((Runtime::Lxc, "web1".into(), None)));
        assert_eq!(
            at("/lxc.payload/web1/init.scope"),
            Some((Runtime::Lxc, "web1".into(), None))
        );
        assert_eq!(
            at("/lxc.payload.web1"),
            Some((Runtime::Lxc, "web1".into(), None))
        );
    }

    #[test]
    fn hosts_and_units_are_no_container() {
        for path in [
            "/",
            "/user.slice/user-1000.slice/session-2.scope",
            "/system.slice/docker.service",
            "/system.slice/containerd.service",
            "/process_api/a08689781287bc5fdcbfd1cbea890fb9",
            "/docker/not-an-id",
            "/lxc",
        ] {
            assert_eq!(at(path), None, "{path}");
        }
        assert_eq!(from_cgroup(b"0::/\n"), None);
        assert_eq!(from_cgroup(b"garbage"), None);
    }
}
