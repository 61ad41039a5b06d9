//! Rootful Podman (from apt), with storage and configuration of each test's own
//! (`scripts/private-podman.sh`), in a network namespace of its own where rekt runs too.
//! Podman reserves a rootful container's published ports in conmon, the container's
//! monitor: conmon is a forwarder, and the container is what rekt ends, through Podman's
//! API socket. Nothing of the machine's (its storage, its sockets, its ports) is touched.
//!
//! Covered: with the API socket (`podman system service`), the lookup names the container,
//! and `-t`/`-k` end it through the socket without signalling conmon; without one, rekt
//! refuses (exit 3), signals nothing, and says the `podman` command that ends the container,
//! with the storage options it needs, which the test then runs as printed.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{TempDir, alive, code, json_of, output_within, rekt_bin, stderr, stdout};
use serde_json::Value;

/// Every run of podman or rekt here is bounded by this.
const BOUND: Duration = Duration::from_secs(120);

/// Podman of the test's own, its containers removed (and its API stopped) when dropped.
struct Podman {
    dir: TempDir,
    /// A process in the network namespace: `nsenter -t PID -n` enters it.
    netns_pid: u32,
    /// The test's thread in a network namespace of its own while Podman runs: rekt runs in
    /// Podman's, and the signal-argument guard holds a run to a private one.
    _net: support::NetnsGuard,
}

impl Podman {
    /// Sets one up, with its API socket when `service`; or says why it cannot (the test
    /// then skips, or fails under `REKT_REQUIRE_ROOT_TESTS=1`).
    fn start(service: bool) -> Option<Podman> {
        if !support::is_root() {
            support::skip("this test needs root (it runs rootful Podman)");
            return None;
        }
        if !Path::new("/usr/bin/podman").exists() || !Path::new("/bin/busybox").exists() {
            support::skip("this test needs podman and busybox-static");
            return None;
        }
        let net = support::private_netns();
        let dir = TempDir::new("podman");
        let out = output_within(
            Command::new("bash")
                .arg(script())
                .arg(&dir.0)
                .env("SERVICE", if service { "1" } else { "0" }),
            BOUND,
        );
        let netns_pid = std::fs::read_to_string(dir.join("holder.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok());
        let podman = netns_pid.map(|netns_pid| Podman {
            dir,
            netns_pid,
            _net: net,
        });
        assert!(
            out.status.success() && podman.is_some(),
            "private-podman.sh failed: {}{}",
            stdout(&out),
            stderr(&out)
        );
        podman
    }

    /// A command in the namespace, with the test's Podman configuration.
    fn in_netns(&self, program: &str) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg("-t")
            .arg(self.netns_pid.to_string())
            .args(["-n", "--", program])
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env_remove("CONTAINER_HOST");
        command
    }

    /// `podman ARGS` with the test's storage.
    fn podman(&self, args: &[&str]) -> Output {
        let mut command = self.in_netns("podman");
        command
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("runroot"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        output_within(&mut command, BOUND)
    }

    /// `podman ARGS`, which must succeed; its stdout, trimmed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.podman(args);
        assert!(
            out.status.success(),
            "podman {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out).trim().to_owned()
    }

    /// Starts a busybox httpd container publishing `port` (TCP, to its port 80).
    fn web(&self, name: &str, port: u16) -> String {
        let publish = format!("{port}:80");
        self.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "-p",
            &publish,
            // Podman's defaults are above this machine's hard limits.
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "rekt-test/busybox",
            "/bin/httpd",
            "-f",
            "-p",
            "80",
        ])
    }

    /// Whether the container is running.
    fn running(&self, name: &str) -> bool {
        self.ok(&["inspect", "-f", "{{.State.Running}}", name]) == "true"
    }

    /// The API socket's address, as `CONTAINER_HOST` takes it.
    fn host(&self) -> String {
        format!("unix://{}", self.dir.join("podman.sock").display())
    }

    /// rekt `args` in the namespace, with `CONTAINER_HOST` set to `host` when given.
    fn rekt(&self, args: &[&str], host: Option<&str>) -> Output {
        let mut command = self.in_netns(rekt_bin(args));
        command.args(args).env("NO_COLOR", "1");
        if let Some(host) = host {
            command.env("CONTAINER_HOST", host);
        }
        output_within(&mut command, BOUND)
    }

    /// Whether a fresh bind() on `port` (0.0.0.0, TCP) succeeds in the namespace.
    fn binds(&self, port: u16) -> bool {
        let script =
            format!("import socket; s=socket.socket(); s.bind(('0.0.0.0',{port})); s.listen()");
        let out = output_within(self.in_netns("python3").args(["-c", &script]), BOUND);
        out.status.success()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = output_within(
            Command::new("bash")
                .arg(script())
                .arg(&self.dir.0)
                .arg("stop"),
            BOUND,
        );
    }
}

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/private-podman.sh")
}

/// The owners of `port` in rekt's JSON, which must all be conmon, forwarding for `name`.
fn conmons(doc: &Value, name: &str) -> Vec<u32> {
    let owners = doc["owners"].as_array().expect("owners");
    assert!(!owners.is_empty(), "{doc}");
    owners
        .iter()
        .map(|o| {
            assert_eq!(o["name"], "conmon", "{doc}");
            assert_eq!(o["role"], "forwarder", "{doc}");
            assert_eq!(o["forwarder"], "conmon", "{doc}");
            assert_eq!(o["container"]["runtime"], "podman", "{doc}");
            assert_eq!(o["container"]["name"], name, "{doc}");
            o["pid"].as_u64().unwrap() as u32
        })
        .collect()
}

#[test]
fn with_its_api_socket_the_container_is_ended_and_conmon_is_not_signalled() {
    let Some(p) = Podman::start(true) else {
        return;
    };
    let host = p.host();
    let port = 18800;
    let id = p.web("web", port);
    p.web("other", 18801);

    // The lookup names conmon a forwarder, and its container.
    let doc = json_of(&p.rekt(&["--json", &format!("{port}/tcp")], Some(&host)));
    conmons(&doc, "web");
    assert_eq!(doc["owners"][0]["container"]["id"], id.as_str(), "{doc}");
    assert_eq!(doc["owners"][0]["container"]["engine"], true, "{doc}");
    assert_eq!(
        doc["owners"][0]["container"]["engine_host"],
        host.as_str(),
        "{doc}"
    );

    // -t stops it through the socket; conmon is not signalled (it goes with its container).
    let out = p.rekt(
        &["-t", "--timeout", "1s", &format!("{port}/tcp")],
        Some(&host),
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("stopped container web (podman"), "{err}");
    assert!(err.contains("not signalling"), "{err}");
    assert!(!err.contains("terminated"), "{err}");
    assert!(err.contains(&format!("port {port}/tcp is free")), "{err}");
    assert!(!p.running("web"));
    assert!(p.running("other"), "the other container was ended");
    assert!(p.binds(port));

    // -k kills it, in JSON: conmon is skipped, never signalled.
    p.ok(&["rm", "web"]);
    p.web("web2", port);
    let doc = json_of(&p.rekt(&["--json", "-k", &format!("{port}/tcp")], Some(&host)));
    assert_eq!(doc["exit_code"], 0, "{doc}");
    let monitors = conmons(&doc, "web2");
    for o in doc["owners"].as_array().unwrap() {
        assert_eq!(o["outcome"], "skipped", "{doc}");
        assert!(o.get("signal").is_none_or(Value::is_null), "{doc}");
    }
    assert_eq!(doc["containers"][0]["name"], "web2", "{doc}");
    assert_eq!(doc["containers"][0]["outcome"], "killed", "{doc}");
    assert_eq!(doc["containers"][0]["owners"], serde_json::json!(monitors));
    assert!(!p.running("web2"));
    assert!(p.running("other"));
    assert!(p.binds(port));
}

#[test]
fn without_an_api_socket_rekt_refuses_and_names_podman_stop() {
    let Some(p) = Podman::start(false) else {
        return;
    };
    let port = 18810;
    p.web("web", port);
    let doc = json_of(&p.rekt(&["--json", &format!("{port}/tcp")], None));
    let monitors = conmons(&doc, "web");
    assert_eq!(doc["owners"][0]["container"]["engine"], false, "{doc}");

    let storage = format!(
        "podman --root {} --runroot {}",
        p.dir.join("root").display(),
        p.dir.join("runroot").display()
    );
    for (flag, verb) in [("-t", "stop"), ("-k", "kill")] {
        let out = p.rekt(&[flag, &format!("{port}/tcp")], None);
        let err = stderr(&out);
        assert_eq!(code(&out), 3, "{err}");
        assert!(
            err.contains("refusing to end container web (podman"),
            "{err}"
        );
        assert!(err.contains(&format!("run: {storage} {verb} web")), "{err}");
        assert!(
            !err.contains("terminated") && !err.contains("killed"),
            "{err}"
        );
        for &pid in &monitors {
            assert!(alive(pid), "conmon {pid} was signalled: {err}");
        }
        assert!(p.running("web"), "the container was ended: {err}");
    }

    // The command rekt prints is one that works, as printed.
    let doc = json_of(&p.rekt(&["--json", "-t", &format!("{port}/tcp")], None));
    assert_eq!(doc["exit_code"], 3, "{doc}");
    assert_eq!(doc["containers"][0]["outcome"], "refused", "{doc}");
    let command = doc["containers"][0]["command"].as_str().unwrap().to_owned();
    assert_eq!(command, format!("{storage} stop web"));
    let out = output_within(p.in_netns("sh").args(["-c", &command]), BOUND);
    assert!(out.status.success(), "{command}: {}", stderr(&out));
    assert!(!p.running("web"));
    assert!(p.binds(port));
}
