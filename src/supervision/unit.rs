//! The systemd unit a process runs in, from its control-group lines. A service is started,
//! and maybe restarted, by systemd; a scope only groups processes that something else
//! started (a login session, a container).

use crate::model::Text;

/// A systemd unit, named as in the cgroup path (`app.service`, `session-3.scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    pub(crate) name: Text,
    /// For a unit of a user's own service manager (`user@1000.service/.../app.service`):
    /// that user's uid.
    pub(crate) user: Option<u32>,
}

impl Unit {
    /// A service is started, and maybe restarted, by systemd; a scope only groups
    /// processes that something else started (a login session, a container).
    pub(crate) fn is_service(&self) -> bool {
        self.name.as_bytes().ends_with(b".service")
    }
}

/// The systemd unit named by cgroup lines. The name=systemd hierarchy (cgroup v1 and the
/// hybrid layout) is the one systemd tracks units in; a system with only cgroup v2 has
/// only the `0::` line.
pub(crate) fn unit_of(lines: &[Text]) -> Option<Unit> {
    let path_of = |line: &Text| -> Option<(bool, Vec<u8>)> {
        let line = line.as_bytes();
        let mut parts = line.splitn(3, |&b| b == b':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let systemd = controllers == b"name=systemd";
        let unified = controllers.is_empty();
        (systemd || unified).then(|| (systemd, path.to_vec()))
    };
    let mut paths: Vec<(bool, Vec<u8>)> = lines.iter().filter_map(path_of).collect();
    // name=systemd first; the unified line when that one names no unit (a process moved
    // in the v2 hierarchy alone).
    paths.sort_by_key(|(systemd, _)| !systemd);
    paths.iter().find_map(|(_, path)| unit_in_path(path))
}

/// The unit in a cgroup path: its last component that names a service or a scope, and
/// whether it lies under a user's service manager (`user@UID.service`).
fn unit_in_path(path: &[u8]) -> Option<Unit> {
    let components: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let at = components
        .iter()
        .rposition(|c| c.ends_with(b".service") || c.ends_with(b".scope"))?;
    let user = components[..at].iter().find_map(|c| {
        let uid = c.strip_prefix(b"user@")?.strip_suffix(b".service")?;
        std::str::from_utf8(uid).ok()?.parse::<u32>().ok()
    });
    Some(Unit {
        name: Text::from_bytes(components[at]),
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervision::systemd_supervisor;

    fn lines(text: &str) -> Vec<Text> {
        text.lines().map(Text::from).collect()
    }

    fn unit(name: &str, user: Option<u32>) -> Option<Unit> {
        Some(Unit {
            name: Text::from(name),
            user,
        })
    }

    #[test]
    fn system_units_from_cgroup_v2() {
        assert_eq!(
            unit_of(&lines("0::/system.slice/nginx.service")),
            unit("nginx.service", None)
        );
        // A service that delegates subgroups of its own.
        assert_eq!(
            unit_of(&lines("0::/system.slice/containerd.service/payload")),
            unit("containerd.service", None)
        );
        assert_eq!(
            unit_of(&lines(
                "0::/system.slice/system-getty.slice/getty@tty1.service"
            )),
            unit("getty@tty1.service", None)
        );
    }

    #[test]
    fn user_units_and_sessions() {
        assert_eq!(
            unit_of(&lines(
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app.service"
            )),
            unit("app.service", Some(1000))
        );
        // The user's service manager itself is a system unit.
        assert_eq!(
            unit_of(&lines(
                "0::/user.slice/user-1000.slice/user@1000.service/init.scope"
            )),
            unit("init.scope", Some(1000))
        );
        assert_eq!(
            unit_of(&lines("0::/user.slice/user-1000.slice/user@1000.service")),
            unit("user@1000.service", None)
        );
        let session = unit_of(&lines("0::/user.slice/user-1000.slice/session-3.scope")).unwrap();
        assert_eq!(session, unit("session-3.scope", None).unwrap());
        assert!(!session.is_service());
        assert_eq!(systemd_supervisor(&session), None);
    }

    #[test]
    fn cgroup_v1_and_hybrid_use_the_name_systemd_hierarchy() {
        let v1 = "12:pids:/system.slice/app.service\n\
                  11:memory:/system.slice/app.service\n\
                  1:name=systemd:/system.slice/app.service";
        assert_eq!(unit_of(&lines(v1)), unit("app.service", None));
        // Hybrid: the unified line may be empty or a plain `/` while name=systemd tracks.
        let hybrid = "9:name=systemd:/user.slice/user-1000.slice/user@1000.service/app.slice/web.service\n\
                      4:memory:/process_api/3f94\n\
                      0::/";
        assert_eq!(unit_of(&lines(hybrid)), unit("web.service", Some(1000)));
        // Moved in the unified hierarchy alone: that line names the unit.
        let unified = "9:name=systemd:/\n0::/system.slice/app.service";
        assert_eq!(unit_of(&lines(unified)), unit("app.service", None));
    }

    #[test]
    fn paths_without_a_unit() {
        for text in [
            "0::/",
            "9:name=systemd:/\n0::/",
            "4:memory:/process_api/3f94a5f3f4004b19acef9246dd86d27f\n0::/",
            "0::/docker/0123456789abcdef",
            "0::/lxc.payload.c1",
            "",
            "garbage",
        ] {
            assert_eq!(unit_of(&lines(text)), None, "{text:?}");
        }
        // A container under systemd shows its scope: a unit, not a supervisor.
        let docker = unit_of(&lines("0::/system.slice/docker-0123abcd.scope")).unwrap();
        assert!(!docker.is_service());
    }
}
