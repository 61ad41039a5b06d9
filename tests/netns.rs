//! Other network namespaces: a server in a container's namespace holds a port that this
//! namespace's tables cannot see. `--all-netns` finds it; without the flag rekt hints at it.
//! Creating namespaces needs root; the tests skip otherwise.
#![cfg(target_os = "linux")]

mod common;
use common::{Holder, code, example, pids_in_table, rekt, stderr, stdout};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A sockhold in a fresh network namespace (`unshare -n` execs it, so the PID is the same).
struct Contained {
    child: Child,
    port: u16,
}

impl Contained {
    fn spawn(args: &[&str]) -> Contained {
        let mut child = Command::new("unshare")
            .arg("-n")
            .arg(example("sockhold"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare -n");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "READY", "{line}");
        assert_eq!(words[1], child.id().to_string(), "unshare execs sockhold");
        Contained {
            port: words[2].parse().unwrap(),
            child,
        }
    }

    fn netns_inode(&self) -> u64 {
        std::fs::metadata(format!("/proc/{}/ns/net", self.child.id()))
            .unwrap()
            .ino()
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_listener_in_another_namespace_is_found_only_with_all_netns() {
    require_root!();
    let c = Contained::spawn(&["tcp", "0.0.0.0:0"]);
    let port = c.port.to_string();
    let spec = format!("{port}/tcp");

    let here = rekt(&[&spec]);
    assert_eq!(code(&here), 1, "invisible from this namespace");
    assert!(stdout(&here).is_empty());
    assert_eq!(
        stderr(&here).trim(),
        format!(
            "rekt: port {port}/tcp is free here, but held in network namespace {} by PID {}; \
             use --all-netns to see it",
            c.netns_inode(),
            c.child.id()
        )
    );

    let all = rekt(&["--all-netns", "-v", &spec]);
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert_eq!(pids_in_table(&all), vec![c.child.id()]);
    let table = stdout(&all);
    assert!(table.lines().next().unwrap().ends_with("NETNS"), "{table}");
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .ends_with(&c.netns_inode().to_string()),
        "{table}"
    );
}

#[test]
fn kill_with_all_netns_ends_it_and_the_port_is_free() {
    require_root!();
    let mut c = Contained::spawn(&["udp", "0.0.0.0:0"]);
    let port = c.port.to_string();
    let out = rekt(&["--all-netns", "-k", &format!("{port}/udp")]);
    let err = stderr(&out);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains(&format!("killed {} (sockhold)", c.child.id())),
        "{err}"
    );
    assert!(err.contains(&format!("port {port}/udp is free")), "{err}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while c.child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sockets_here_and_elsewhere_are_listed_together_and_labelled() {
    require_root!();
    let c = Contained::spawn(&["tcp", "0.0.0.0:0"]);
    let h = Holder::tcp(&format!("127.0.0.1:{}", c.port));
    let out = rekt(&["--all-netns", "--json", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let owners = doc["owners"].as_array().unwrap();
    let mut pids: Vec<u64> = owners.iter().map(|o| o["pid"].as_u64().unwrap()).collect();
    pids.sort_unstable();
    let mut want = vec![u64::from(c.child.id()), u64::from(h.pid())];
    want.sort_unstable();
    assert_eq!(pids, want);
    let ns_of = |pid: u32| {
        owners.iter().find(|o| o["pid"] == pid).unwrap()["sockets"][0]["netns"]["inode"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(ns_of(c.child.id()), c.netns_inode());
    let ours = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
    assert_eq!(ns_of(h.pid()), ours);
}

#[test]
fn a_named_namespace_is_named() {
    require_root!();
    let name = format!("rekt-test-{}", std::process::id());
    let ok = Command::new("ip").args(["netns", "add", &name]).status();
    assert!(ok.is_ok_and(|s| s.success()), "ip netns add (iproute2)");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &name])
        .arg(example("sockhold"))
        .args(["udp", "0.0.0.0:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.split_whitespace().nth(2).unwrap().to_owned();
    let out = rekt(&["--all-netns", "--json", &format!("{port}/udp")]);
    let _ = child.kill();
    let _ = child.wait();
    let _ = Command::new("ip").args(["netns", "del", &name]).status();
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        doc["owners"][0]["sockets"][0]["netns"]["name"],
        name.as_str()
    );
}

#[test]
fn a_name_without_a_namespace_behind_it_is_skipped() {
    require_root!();
    // What `ip netns add` leaves for a moment before its bind mount, and `ip netns del`
    // after its unmount: a plain file under /var/run/netns. Entering it would fail.
    std::fs::create_dir_all("/var/run/netns").unwrap();
    let path = format!("/var/run/netns/rekt-test-plain-{}", std::process::id());
    std::fs::write(&path, b"").unwrap();
    let h = Holder::tcp("127.0.0.1:0");
    let all = rekt(&["--all-netns", &h.spec()]);
    let free = rekt(&["--all-netns", "1/udp"]);
    let hint = rekt(&["1/udp"]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert_eq!(pids_in_table(&all), vec![h.pid()]);
    assert!(
        !stdout(&all).contains("rekt-test-plain"),
        "{}",
        stdout(&all)
    );
    for out in [&free, &hint] {
        assert_eq!(code(out), 1, "{}", stderr(out));
        assert!(!stderr(out).contains("rekt-test-plain"), "{}", stderr(out));
    }
}
