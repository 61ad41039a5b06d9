//! Docker's state files: where the names, images, published ports and restart policies of
//! containers are when the API does not answer (the daemon is down or stuck) but root can
//! read the data root. `containers/ID/config.v2.json` holds the name, image, state and
//! network settings; `containers/ID/hostconfig.json` the restart policy.

use std::path::Path;

use serde::Deserialize;

use super::{InspectConfig, InspectEntry, InspectHostConfig, InspectNetworkSettings, Record};

/// `config.v2.json`, the fields rekt reads.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigV2 {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    config: Option<InspectConfig>,
    #[serde(default)]
    state: Option<State>,
    #[serde(default)]
    network_settings: Option<InspectNetworkSettings>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    #[serde(default)]
    running: bool,
}

/// The running containers recorded under a Docker data root (`/var/lib/docker`, or what
/// the daemon's `--data-root` says). Unreadable or half-written files are skipped: this is
/// the fallback, and it only loses names.
pub(crate) fn from_state_files(data_root: &Path) -> Vec<Record> {
    let Ok(dir) = std::fs::read_dir(data_root.join("containers")) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|entry| read_container(&entry.path()))
        .collect()
}

fn read_container(dir: &Path) -> Option<Record> {
    let config: ConfigV2 =
        serde_json::from_slice(&std::fs::read(dir.join("config.v2.json")).ok()?).ok()?;
    if !config.state.is_some_and(|s| s.running) {
        return None;
    }
    // hostconfig.json is the API's HostConfig; together they are what inspect answers.
    let host_config = std::fs::read(dir.join("hostconfig.json"))
        .ok()
        .and_then(|raw| serde_json::from_slice::<InspectHostConfig>(&raw).ok());
    let entry = InspectEntry {
        id: config.id,
        name: config.name,
        config: config.config,
        host_config,
        network_settings: config.network_settings,
    };
    Some(entry.into_container())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Protocol, Text};

    #[test]
    fn running_containers_are_read_from_the_data_root() {
        let root = std::env::temp_dir().join(format!("rekt-state-{}", std::process::id()));
        let web = root.join("containers/6e29ed62a3f7");
        let gone = root.join("containers/0123456789ab");
        std::fs::create_dir_all(&web).unwrap();
        std::fs::create_dir_all(&gone).unwrap();
        std::fs::write(
            web.join("config.v2.json"),
            r#"{"ID":"6e29ed62a3f7","Name":"/web","Config":{"Image":"rekt-test/busybox"},
                "State":{"Running":true,"Pid":24202},
                "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.2"}},
                  "Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"18700"},
                                     {"HostIp":"::","HostPort":"18700"}]}}}"#,
        )
        .unwrap();
        std::fs::write(
            web.join("hostconfig.json"),
            r#"{"RestartPolicy":{"Name":"unless-stopped","MaximumRetryCount":0}}"#,
        )
        .unwrap();
        std::fs::write(
            gone.join("config.v2.json"),
            r#"{"ID":"0123456789ab","Name":"/old","State":{"Running":false}}"#,
        )
        .unwrap();
        let found = from_state_files(&root);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let c = &found[0];
        assert_eq!(c.name, Some(Text::from("web")));
        assert_eq!(c.restart, Some(Text::from("unless-stopped")));
        assert!(c.publishes(18700, Protocol::Tcp));
        assert_eq!(
            c.addresses,
            vec!["172.17.0.2".parse::<std::net::IpAddr>().unwrap()]
        );
    }
}
