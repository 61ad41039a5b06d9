//! Containers, with a Docker daemon of each test's own (`scripts/private-dockerd.sh`): its
//! own data root, exec root, pidfile, socket and bridge, in a network namespace of its own
//! where rekt runs too, so that nothing of the machine's (its daemon, if it has one, or its
//! ports) is ever touched. Each test stops its daemon, and with it its containers.
//!
//! Covered, with the userland proxy on (docker-proxy carries the published port) and off
//! (dockerd reserves it itself): the lookup names the container; `-t` stops it through the
//! engine and leaves dockerd and the other containers alone, and the port can be published
//! again; `-k` kills it; a restart policy does not bring it back; the refusal when the API
//! cannot be reached (no socket; a stopped daemon, which costs one ping); a port published
//! with no socket here; the daemon's own API port, which is named and never signalled.
//! Two daemons whose first containers share an address, with `DOCKER_HOST` naming the
//! wrong one: only the daemon that started the docker-proxy is asked. `DOCKER_HOST=tcp://`.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{
    TempDir, alive, code, json_of, output_within, pids_in_table, rekt_bin, stderr, stdout, which,
};

/// Every run of docker or rekt here is bounded by this.
const BOUND: Duration = Duration::from_secs(120);

/// A Docker daemon of the test's own, stopped (with its containers) when dropped.
struct Daemon {
    dir: TempDir,
    /// A process in the daemon's network namespace: `nsenter -t PID -n` enters it.
    netns_pid: u32,
    host: String,
    /// The test's thread in a network namespace of its own while the daemon runs: rekt runs
    /// in the daemon's, and the signal-argument guard holds a run to a private one.
    _net: support::NetnsGuard,
}

impl Daemon {
    /// Starts one, or says why it cannot (the test then skips, or fails under
    /// `REKT_REQUIRE_ROOT_TESTS=1`).
    fn start(userland_proxy: bool) -> Option<Daemon> {
        Daemon::start_with(userland_proxy, None)
    }

    /// As `start`, also serving the API on `tcp://127.0.0.1:PORT` when `api_port` is given.
    fn start_with(userland_proxy: bool, api_port: Option<u16>) -> Option<Daemon> {
        Daemon::start_on(userland_proxy, api_port, "rekt-br0")
    }

    /// As `start_with`, with its bridge named `bridge` (always on 172.31.7.0/24).
    fn start_on(userland_proxy: bool, api_port: Option<u16>, bridge: &str) -> Option<Daemon> {
        if !support::is_root() {
            support::skip("this test needs root (it runs a Docker daemon of its own)");
            return None;
        }
        if !Path::new("/usr/sbin/dockerd").exists() && which("dockerd").is_none() {
            support::skip("this test needs docker.io (dockerd) and busybox-static");
            return None;
        }
        let net = support::private_netns();
        let dir = TempDir::new("docker");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/private-dockerd.sh");
        let mut command = Command::new("bash");
        command
            .arg(&script)
            .arg(&dir.0)
            .env("USERLAND_PROXY", userland_proxy.to_string())
            .env("BRIDGE", bridge);
        if let Some(port) = api_port {
            command.env("API_PORT", port.to_string());
        }
        let out = output_within(&mut command, BOUND);
        assert!(
            out.status.success(),
            "private-dockerd.sh failed: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let netns_pid = std::fs::read_to_string(dir.join("holder.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let host = format!("unix://{}", dir.join("docker.sock").display());
        Some(Daemon {
            dir,
            netns_pid,
            host,
            _net: net,
        })
    }

    /// `docker ARGS` against this daemon.
    fn docker(&self, args: &[&str]) -> Output {
        output_within(
            Command::new(which("docker").expect("the docker client"))
                .args(args)
                .env("DOCKER_HOST", &self.host),
            BOUND,
        )
    }

    /// `docker ARGS`, which must succeed; its stdout, trimmed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out).trim().to_owned()
    }

    /// Starts a busybox httpd container publishing `port` (TCP, to its port 80).
    fn web(&self, name: &str, port: u16, extra: &[&str]) -> String {
        let publish = format!("{port}:80");
        let mut args = vec!["run", "-d", "--name", name, "-p", &publish];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["rekt-test/busybox", "/bin/httpd", "-f", "-p", "80"]);
        self.ok(&args)
    }

    /// Whether the container is running.
    fn running(&self, name: &str) -> bool {
        self.ok(&["inspect", "-f", "{{.State.Running}}", name]) == "true"
    }

    /// The container's address on the daemon's bridge.
    fn address(&self, name: &str) -> String {
        self.ok(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            name,
        ])
    }

    /// The API socket's path.
    fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// Stops the daemon (SIGSTOP) until the guard is dropped: an engine that accepts
    /// nothing and answers nothing.
    fn freeze(&self) -> Frozen {
        let pid = self.dockerd_pid();
        // SAFETY: kill(2) on the test's own daemon.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
        Frozen(pid)
    }

    /// Moves the API socket away until the guard is dropped: nothing answers there.
    fn hide_socket(&self) -> Hidden {
        let away = self.dir.join("docker.sock.away");
        std::fs::rename(self.socket(), &away).unwrap();
        Hidden {
            from: away,
            to: self.socket(),
        }
    }

    /// The daemon's PID.
    fn dockerd_pid(&self) -> u32 {
        std::fs::read_to_string(self.dir.join("dockerd.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// rekt `args`, in the daemon's network namespace, with `DOCKER_HOST` naming it (or
    /// `host` instead).
    fn rekt_with_host(&self, args: &[&str], host: &str) -> Output {
        output_within(
            Command::new("nsenter")
                .arg("-t")
                .arg(self.netns_pid.to_string())
                .arg("-n")
                .arg("--")
                .arg(rekt_bin(args))
                .args(args)
                .env("NO_COLOR", "1")
                .env("DOCKER_HOST", host),
            BOUND,
        )
    }

    fn rekt(&self, args: &[&str]) -> Output {
        self.rekt_with_host(args, &self.host)
    }

    /// Whether a fresh bind() on `port` (0.0.0.0, TCP) succeeds in the daemon's namespace.
    fn binds(&self, port: u16) -> bool {
        let script =
            format!("import socket; s=socket.socket(); s.bind(('0.0.0.0',{port})); s.listen()");
        let out = output_within(
            Command::new("nsenter")
                .arg("-t")
                .arg(self.netns_pid.to_string())
                .args(["-n", "--", "python3", "-c", &script]),
            BOUND,
        );
        out.status.success()
    }
}

/// A stopped daemon, continued when dropped.
struct Frozen(u32);

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the test's own daemon.
        unsafe { libc::kill(self.0 as libc::pid_t, libc::SIGCONT) };
    }
}

/// A daemon's socket moved away, put back when dropped.
struct Hidden {
    from: PathBuf,
    to: PathBuf,
}

impl Drop for Hidden {
    fn drop(&mut self) {
        let _ = std::fs::rename(&self.from, &self.to);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/private-dockerd.sh");
        let _ = output_within(
            Command::new("bash")
                .arg(&script)
                .arg(&self.dir.0)
                .arg("stop"),
            BOUND,
        );
    }
}

/// The whole story with one daemon: lookup, `-t`, publish again, `-k`, a restart policy.
fn published_port_ends_the_container(userland_proxy: bool) {
    let Some(d) = Daemon::start(userland_proxy) else {
        return;
    };
    let port = 18700;
    let id = d.web("web", port, &[]);
    // A bystander container, which must survive everything below.
    d.web("other", 18701, &[]);
    let dockerd = d.dockerd_pid();

    // The lookup names the container, in the table and in JSON.
    let out = d.rekt(&["-v", &format!("{port}/tcp")]);
    let table = stdout(&out);
    assert_eq!(code(&out), 0, "{table}{}", stderr(&out));
    assert!(table.contains("CONTAINER"), "{table}");
    assert!(table.contains("docker:web"), "{table}");
    assert!(table.contains("forwarder"), "{table}");
    // Without -v, the forwarder's row names the container all the same.
    let out = d.rekt(&[&format!("{port}/tcp")]);
    let table = stdout(&out);
    assert!(table.contains("forwarder (docker:web)"), "{table}");
    let doc = json_of(&d.rekt(&["--json", &format!("{port}/tcp")]));
    let owners = doc["owners"].as_array().unwrap();
    assert!(!owners.is_empty(), "{doc}");
    for o in owners {
        assert_eq!(o["role"], "forwarder", "{doc}");
        assert_eq!(o["container"]["name"], "web", "{doc}");
        assert_eq!(o["container"]["id"], id.as_str(), "{doc}");
        assert_eq!(o["container"]["image"], "rekt-test/busybox", "{doc}");
        let kind = if userland_proxy {
            "docker-proxy"
        } else {
            "dockerd"
        };
        assert_eq!(o["forwarder"], kind, "{doc}");
    }
    if !userland_proxy {
        // dockerd itself holds the port: it is listed, and never signalled.
        assert_eq!(pids_in_table(&out), vec![dockerd], "{table}");
    }

    // -t stops the container through the engine; dockerd and the other container live on,
    // and the port can be published again.
    let out = d.rekt(&["-t", "--timeout", "1s", &format!("{port}/tcp")]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("stopped container web (docker"), "{err}");
    assert!(
        !err.contains("terminated"),
        "no process is signalled: {err}"
    );
    assert!(err.contains(&format!("port {port}/tcp is free")), "{err}");
    assert!(!d.running("web"));
    assert!(d.running("other"));
    assert!(alive(dockerd), "dockerd survived");
    assert!(d.binds(port), "a fresh bind() on {port} succeeds");
    d.ok(&["rm", "web"]);
    d.web("web2", port, &[]);

    // -k kills it, with the same care.
    let doc = json_of(&d.rekt(&["--json", "-k", &format!("{port}/tcp")]));
    assert_eq!(doc["exit_code"], 0, "{doc}");
    assert_eq!(doc["containers"][0]["name"], "web2", "{doc}");
    assert_eq!(doc["containers"][0]["action"], "kill", "{doc}");
    assert_eq!(doc["containers"][0]["outcome"], "killed", "{doc}");
    assert!(!d.running("web2"));
    assert!(d.running("other"));
    assert!(alive(dockerd));
    d.ok(&["rm", "web2"]);

    // A restart policy: ended through the engine, it stays stopped.
    for (name, flag) in [("always", "-t"), ("always-k", "-k")] {
        d.web(name, port, &["--restart", "always"]);
        let out = d.rekt(&[flag, "--timeout", "1s", &format!("{port}/tcp")]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        std::thread::sleep(Duration::from_secs(2));
        assert!(!d.running(name), "{name} was brought back");
        assert!(d.binds(port));
        d.ok(&["rm", name]);
    }
    assert!(d.running("other"));
}

#[test]
fn with_the_userland_proxy_the_container_is_ended_not_docker_proxy() {
    published_port_ends_the_container(true);
}

#[test]
fn without_the_userland_proxy_the_container_is_ended_not_dockerd() {
    published_port_ends_the_container(false);
}

#[test]
fn when_the_engine_cannot_be_reached_rekt_refuses_and_says_the_command() {
    let Some(d) = Daemon::start(true) else {
        return;
    };
    let port = 18710;
    d.web("web", port, &[]);
    let proxies: Vec<u32> = json_of(&d.rekt(&["--json", &format!("{port}/tcp")]))["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["pid"].as_u64().unwrap() as u32)
        .collect();
    assert!(!proxies.is_empty());
    // The command names the daemon that started the docker-proxy, which `docker` would not
    // reach by itself: DOCKER_HOST names another socket here.
    let nowhere = format!("unix://{}", d.dir.join("no-such.sock").display());
    let engine = format!("DOCKER_HOST=unix://{}", d.socket().display());

    // No socket: nothing answers there.
    {
        let _hidden = d.hide_socket();
        let out = d.rekt_with_host(&["-k", &format!("{port}/tcp")], &nowhere);
        let err = stderr(&out);
        assert_eq!(code(&out), 3, "{err}");
        // The name still comes from the daemon's own state files (rekt runs as root).
        assert!(err.contains("refusing to end container web"), "{err}");
        assert!(
            err.contains(&format!(
                "its engine at unix://{} cannot be reached (no such socket)",
                d.socket().display()
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!("run: {engine} docker kill web")),
            "{err}"
        );
        assert!(!err.contains("killed"), "{err}");
    }
    assert!(d.running("web"), "nothing was ended");

    // A stopped daemon: the socket accepts, nobody answers. One ping, bounded, once per run;
    // the message names the socket and says it timed out.
    {
        let _frozen = d.freeze();
        let out = d.rekt_with_host(&["--debug", "-t", &format!("{port}/tcp")], &nowhere);
        let err = stderr(&out);
        assert_eq!(code(&out), 3, "{err}");
        assert!(
            err.contains(&format!(
                "its engine at unix://{} did not answer within 300ms (timed out)",
                d.socket().display()
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!("run: {engine} docker stop web")),
            "{err}"
        );
        let asked: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("engine: GET") || l.contains("engine: POST"))
            .filter(|l| l.contains(&d.socket().display().to_string()))
            .collect();
        assert_eq!(asked.len(), 1, "asked more than once: {err}");
        assert!(asked[0].contains("GET /_ping"), "{err}");
        for &pid in &proxies {
            assert!(alive(pid), "docker-proxy {pid} was signalled: {err}");
        }
    }
    assert!(d.running("web"), "nothing was ended");
}

#[test]
fn two_daemons_at_the_same_address_only_the_proxys_own_daemon_is_asked() {
    // Each daemon in a namespace of its own, both on 172.31.7.0/24 (bridges rekt-br1 and
    // rekt-br2): their first containers are both 172.31.7.2.
    let Some(right) = Daemon::start_on(true, None, "rekt-br1") else {
        return;
    };
    let Some(wrong) = Daemon::start_on(true, None, "rekt-br2") else {
        return;
    };
    let port = 18740;
    right.web("mine", port, &[]);
    wrong.web("theirs", port, &[]);
    assert_eq!(right.address("mine"), "172.31.7.2");
    assert_eq!(wrong.address("theirs"), "172.31.7.2");
    let dockerds = [right.dockerd_pid(), wrong.dockerd_pid()];

    // DOCKER_HOST names the other daemon: rekt asks the docker-proxy's own.
    let doc = json_of(&right.rekt_with_host(&["--json", &format!("{port}/tcp")], &wrong.host));
    for o in doc["owners"].as_array().unwrap() {
        assert_eq!(o["container"]["name"], "mine", "{doc}");
        assert_eq!(o["container"]["engine_host"], right.host.as_str(), "{doc}");
    }
    let out = right.rekt_with_host(
        &["-t", "--timeout", "1s", &format!("{port}/tcp")],
        &wrong.host,
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("stopped container mine (docker"), "{err}");
    assert!(!right.running("mine"));
    assert!(
        wrong.running("theirs"),
        "the other daemon's container was ended: {err}"
    );
    assert!(right.binds(port));

    // The right daemon stopped: its own state files name the container, never the other
    // daemon's; rekt refuses, and names the daemon to ask.
    right.web("mine2", port, &[]);
    {
        let _frozen = right.freeze();
        let out = right.rekt_with_host(&["-k", &format!("{port}/tcp")], &wrong.host);
        let err = stderr(&out);
        assert_eq!(code(&out), 3, "{err}");
        assert!(
            err.contains("refusing to end container mine2 (docker"),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "run: DOCKER_HOST=unix://{} docker kill mine2",
                right.socket().display()
            )),
            "{err}"
        );
        assert!(!err.contains("theirs"), "{err}");
    }
    assert!(right.running("mine2"));
    assert!(
        wrong.running("theirs"),
        "the other daemon's container was ended"
    );
    assert!(dockerds.iter().all(|&pid| alive(pid)));
}

#[test]
fn docker_host_over_tcp_and_a_daemon_that_answers_only_there() {
    let api = 18750;
    let Some(d) = Daemon::start_with(true, Some(api)) else {
        return;
    };
    let tcp = format!("tcp://127.0.0.1:{api}");
    // A container on the host network: its httpd holds the port itself, and its cgroup
    // names the container, which DOCKER_HOST=tcp://... is asked about.
    let port = 18751;
    d.ok(&[
        "run",
        "-d",
        "--name",
        "hostweb",
        "--network",
        "host",
        "rekt-test/busybox",
        "/bin/httpd",
        "-f",
        "-p",
        &port.to_string(),
    ]);
    let doc = json_of(&d.rekt_with_host(&["--json", &format!("{port}/tcp")], &tcp));
    let owner = &doc["owners"][0];
    assert_eq!(owner["container"]["name"], "hostweb", "{doc}");
    assert_eq!(owner["container"]["engine"], true, "{doc}");
    assert_eq!(owner["container"]["engine_host"], tcp.as_str(), "{doc}");
    let out = d.rekt_with_host(&["-t", "--timeout", "1s", &format!("{port}/tcp")], &tcp);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("stopped container hostweb (docker"), "{err}");
    assert!(!d.running("hostweb"));

    // A docker-proxy whose daemon's unix socket is gone: its other -H, TCP, answers.
    let port = 18752;
    d.web("web", port, &[]);
    {
        let _hidden = d.hide_socket();
        let nowhere = format!("unix://{}", d.dir.join("no-such.sock").display());
        let out = d.rekt_with_host(&["-t", "--timeout", "1s", &format!("{port}/tcp")], &nowhere);
        let err = stderr(&out);
        assert_eq!(code(&out), 0, "{err}");
        assert!(err.contains("stopped container web (docker"), "{err}");
    }
    assert!(!d.running("web"));
    assert!(d.binds(port));
}

#[test]
fn a_port_published_with_no_socket_is_named_and_ended() {
    let Some(d) = Daemon::start(true) else {
        return;
    };
    let port = 18720;
    d.web("web", port, &[]);
    // Kill the container's docker-proxy processes (the test's own daemon's): the port has
    // no socket here any more, but the container still publishes it (NAT rules), and a new
    // `docker run -p` on it fails.
    let out = d.rekt(&["--json", &format!("{port}/tcp")]);
    let doc = json_of(&out);
    for o in doc["owners"].as_array().unwrap() {
        kill_pid(o["pid"].as_u64().unwrap() as u32);
    }
    std::thread::sleep(Duration::from_millis(300));
    let out = d.rekt(&[&format!("{port}/tcp")]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "something holds it: {err}");
    assert!(stdout(&out).is_empty(), "no process holds it");
    assert!(
        err.contains(&format!(
            "port {port}/tcp has no socket here, but container web (docker"
        )),
        "{err}"
    );
    let out = d.rekt(&["-k", &format!("{port}/tcp")]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("killed container web (docker"), "{err}");
    assert!(!d.running("web"));
    d.web("again", port, &[]);
}

#[test]
fn the_daemons_own_api_port_is_named_and_dockerd_is_never_signalled() {
    let port = 18730;
    let Some(d) = Daemon::start_with(true, Some(port)) else {
        return;
    };
    d.web("web", 18731, &[]);
    let out = d.rekt(&["--json", &format!("{port}/tcp")]);
    let doc = json_of(&out);
    assert_eq!(doc["owners"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["owners"][0]["pid"], d.dockerd_pid(), "{doc}");
    assert_eq!(doc["owners"][0]["forwarder"], "dockerd", "{doc}");
    assert!(doc["owners"][0].get("container").is_none(), "{doc}");
    for flag in ["-t", "-k"] {
        let out = d.rekt(&[flag, &format!("{port}/tcp")]);
        let err = stderr(&out);
        assert_eq!(code(&out), 3, "{err}");
        assert!(
            err.contains("it is dockerd, and no running container")
                && err.contains("stop every container on the machine"),
            "{err}"
        );
        assert!(alive(d.dockerd_pid()), "dockerd was signalled: {err}");
        assert!(d.running("web"), "the bystander container was ended: {err}");
    }
}

/// SIGKILL to a process of this test's own daemon.
fn kill_pid(pid: u32) {
    // SAFETY: kill(2) on a PID the test's own daemon started, in its own namespace.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
}
