//! Other network namespaces: a server in a container's namespace holds a port that this
//! namespace's tables cannot see. `--all-netns` finds it; without the flag rekt hints at it.
//! Creating namespaces needs root; the tests skip otherwise.
//!
//! `--all-netns` and the hint look at every process's namespace, and `-k --all-netns`
//! would signal an owner in any of them: each test runs in a PID namespace of its own
//! (`pid_sandbox!`), with its own /proc, where rekt sees the test's processes only.

use crate::support;
use crate::support::{
    Holder, code, fixture, netns_inode, netns_of, pids_in_table, private_netns, rekt, run, stderr,
    stdout, unused_port,
};
use std::process::Command;
use std::time::Duration;

/// A sockhold in a fresh network namespace (`unshare -n` execs it, so the PID is the same).
fn contained(args: &[&str]) -> Holder {
    let mut cmd = Command::new("unshare");
    cmd.arg("-n").arg(fixture("sockhold")).args(args);
    let h = Holder::spawn_command(cmd, 1);
    assert_eq!(h.pids, [h.pid()], "unshare execs sockhold: {}", h.context());
    h
}

#[test]
fn a_listener_in_another_namespace_is_found_only_with_all_netns() {
    require_root!();
    pid_sandbox!();
    let _net = private_netns();
    let c = contained(&["tcp", &format!("0.0.0.0:{}", unused_port())]);
    let port = c.port.to_string();
    let spec = format!("{port}/tcp");

    let here = rekt(&[&spec]);
    assert_eq!(code(&here), 1, "invisible from this namespace");
    assert!(stdout(&here).is_empty());
    assert_eq!(
        stderr(&here),
        format!(
            "rekt: port {port}/tcp is free here, but held in network namespace {} by PID {}; \
             use --all-netns to see it\n",
            netns_of(c.pid()),
            c.pid()
        )
    );

    let all = rekt(&["--all-netns", "-v", &spec]);
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert_eq!(pids_in_table(&all), vec![c.pid()]);
    let table = stdout(&all);
    assert!(table.lines().next().unwrap().ends_with("NETNS"), "{table}");
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .ends_with(&netns_of(c.pid()).to_string()),
        "{table}"
    );
}

#[test]
fn kill_with_all_netns_ends_it_and_the_port_is_free() {
    require_root!();
    pid_sandbox!();
    let _net = private_netns();
    let mut c = contained(&["udp", &format!("0.0.0.0:{}", unused_port())]);
    let port = c.port.to_string();
    let out = rekt(&["--all-netns", "-k", &format!("{port}/udp")]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert_eq!(pids_in_table(&out), [c.pid()], "{}", stdout(&out));
    assert_eq!(
        err,
        format!("killed {} (sockhold)\nport {port}/udp is free\n", c.pid())
    );
    c.assert_exits_within(Duration::from_secs(5));
}

#[test]
fn sockets_here_and_elsewhere_are_listed_together_and_labelled() {
    require_root!();
    pid_sandbox!();
    let _net = private_netns();
    let c = contained(&["tcp", &format!("0.0.0.0:{}", unused_port())]);
    let h = Holder::tcp(&format!("127.0.0.1:{}", c.port));
    let out = rekt(&["--all-netns", "--json", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let doc = support::json_of(&out);
    let owners = doc["owners"].as_array().unwrap();
    let mut pids: Vec<u64> = owners.iter().map(|o| o["pid"].as_u64().unwrap()).collect();
    pids.sort_unstable();
    let mut want = vec![u64::from(c.pid()), u64::from(h.pid())];
    want.sort_unstable();
    assert_eq!(pids, want);
    let ns_of = |pid: u32| {
        owners.iter().find(|o| o["pid"] == pid).unwrap()["sockets"][0]["netns"]["inode"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(ns_of(c.pid()), netns_of(c.pid()));
    assert_eq!(ns_of(h.pid()), netns_inode());
    assert_ne!(netns_of(c.pid()), netns_inode());
}

/// `ip netns add NAME`, deleted when dropped.
struct Named(String);

impl Named {
    fn add() -> Named {
        // Unique: in a PID sandbox every test process is PID 1, but namespaces differ.
        let name = format!("rekt-test-{}", netns_inode());
        let out = run(Command::new("ip").args(["netns", "add", &name]));
        assert!(out.status.success(), "ip netns add: {}", stderr(&out));
        Named(name)
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = run(Command::new("ip").args(["netns", "del", &self.0]));
    }
}

#[test]
fn a_named_namespace_is_named() {
    require_root!();
    pid_sandbox!();
    let _net = private_netns();
    let named = Named::add();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &named.0])
        .arg(fixture("sockhold"))
        .args(["udp", &format!("0.0.0.0:{}", unused_port())]);
    let h = Holder::spawn_command(cmd, 1);
    let out = rekt(&["--all-netns", "--json", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let doc = support::json_of(&out);
    assert_eq!(doc["owners"][0]["pid"], h.pid(), "{doc}");
    assert_eq!(
        doc["owners"][0]["sockets"][0]["netns"]["name"],
        named.0.as_str()
    );
}

#[test]
fn a_name_without_a_namespace_behind_it_is_skipped() {
    require_root!();
    pid_sandbox!();
    let _net = private_netns();
    // What `ip netns add` leaves for a moment before its bind mount, and `ip netns del`
    // after its unmount: a plain file under /var/run/netns. Entering it would fail.
    std::fs::create_dir_all("/var/run/netns").unwrap();
    let h = Holder::tcp(&format!("127.0.0.1:{}", unused_port()));
    let name = format!("rekt-test-plain-{}", netns_inode());
    let path = format!("/var/run/netns/{name}");
    std::fs::write(&path, b"").unwrap();
    let all = rekt(&["--all-netns", &h.spec()]);
    let free = rekt(&["--all-netns", "1/udp"]);
    let hint = rekt(&["1/udp"]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert_eq!(pids_in_table(&all), vec![h.pid()]);
    assert!(!stdout(&all).contains(&name), "{}", stdout(&all));
    for out in [&free, &hint] {
        assert_eq!(code(out), 1, "{}", stderr(out));
        assert_eq!(stderr(out), "rekt: nothing holds port 1/udp\n");
    }
}

#[test]
fn each_port_held_in_another_namespace_names_only_its_own_holder() {
    require_root!();
    pid_sandbox!();
    let _net = private_netns();
    // Two holders of two ports, in one other namespace.
    let a = contained(&["tcp", &format!("0.0.0.0:{}", unused_port())]);
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/proc/{}/ns/net", a.pid()))
        .arg("--")
        .arg(fixture("sockhold"))
        .args(["tcp", &format!("0.0.0.0:{}", unused_port())]);
    let b = Holder::spawn_command(cmd, 1);
    assert_eq!(netns_of(a.pid()), netns_of(b.pid()));
    let ns = netns_of(a.pid());
    let (pa, pb) = (format!("{}/tcp", a.port), format!("{}/tcp", b.port));
    let out = rekt(&[&pa, &pb]);
    assert_eq!(
        stderr(&out),
        format!(
            "rekt: port {} is free here, but held in network namespace {ns} by PID {}; use \
             --all-netns to see it\nrekt: port {} is free here, but held in network namespace \
             {ns} by PID {}; use --all-netns to see it\n",
            pa,
            a.pid(),
            pb,
            b.pid()
        )
    );
    let doc = support::json_of(&rekt(&["--json", &pa, &pb]));
    assert_eq!(
        doc["ports"][0]["netns"][0]["pids"],
        serde_json::json!([a.pid()]),
        "{doc}"
    );
    assert_eq!(
        doc["ports"][1]["netns"][0]["pids"],
        serde_json::json!([b.pid()]),
        "{doc}"
    );
}
