//! The test suite's own isolation (tests/it/support): as root, a test's processes and sockets
//! live in a network namespace of its own, invisible from the machine's; as a normal user,
//! the helpers refuse any run of rekt that could signal a process the test did not start;
//! fixtures that fail say why; and a skip for want of root can be made a failure.

use crate::support;

use crate::support::{
    Holder, REQUIRE_ROOT_ENV, Rerun, code, netns_inode, netns_of, private_netns, rekt,
    shared_netns, stderr, stdout, unused_port, v4,
};
use std::process::Command;

#[test]
fn a_private_namespace_hides_the_tests_sockets_from_the_machine() {
    require_root!();
    let machine = netns_inode();
    let _net = private_netns();
    let ours = netns_inode();
    assert_ne!(ours, machine, "the thread moved");
    let h = Holder::tcp(&v4());
    assert_eq!(netns_of(h.pid()), ours, "the holder is in it");
    // The main thread never moved: rekt run there is in the namespace the test began in,
    // where the port may be anyone's (CI's strangers hold it), but never the holder's.
    assert_eq!(netns_of("self"), machine);
    let from_the_machine = |args: &[&str]| {
        support::run(
            Command::new("nsenter")
                .arg(format!("--net=/proc/{}/ns/net", std::process::id()))
                .arg("--")
                .arg(support::rekt_bin(args))
                .args(args),
        )
    };
    let there = from_the_machine(&["--json", &h.spec()]);
    let doc = support::json_of(&there);
    let owners = doc["owners"].as_array().unwrap();
    assert!(!owners.iter().any(|o| o["pid"] == h.pid()), "{doc}");
    if owners.is_empty() {
        // Free there: the hint says where it is held, here, by the holder.
        let hint = format!(
            "port {}/tcp is free here, but held in network namespace {ours} by PID {}; \
             use --all-netns to see it",
            h.port,
            h.pid()
        );
        let hints = doc["hints"].as_array().cloned().unwrap_or_default();
        assert!(hints.contains(&hint.as_str().into()), "{doc}");
    }
    // Looking in every namespace from there finds the holder, in this one.
    let all = from_the_machine(&["--all-netns", "--json", &h.spec()]);
    let doc = support::json_of(&all);
    let holder = doc["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["pid"] == h.pid())
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(holder["sockets"][0]["netns"]["inode"], ours, "{doc}");
    // Here, rekt finds it, alone.
    assert_eq!(support::pids_in_table(&rekt(&[&h.spec()])), [h.pid()]);
}

#[test]
fn the_thread_goes_back_when_the_guard_is_dropped() {
    let before = netns_inode();
    let inside = {
        let _net = private_netns();
        assert_eq!(support::private(), support::is_root());
        netns_inode()
    };
    assert_eq!(netns_inode(), before);
    assert_eq!(support::isolation(), support::Isolation::Unset);
    if support::is_root() {
        assert_ne!(inside, before);
        // Another thread's namespace is another one again.
        let other = std::thread::spawn(|| {
            let _net = private_netns();
            netns_inode()
        })
        .join()
        .unwrap();
        assert_ne!(other, inside);
        assert_ne!(other, before);
    }
}

#[test]
#[should_panic(expected = "must be PORT/PROTO of a socket that this test's holder binds")]
fn in_the_shared_namespace_a_bare_port_is_never_signalled() {
    let _net = shared_netns();
    let h = Holder::tcp(&v4());
    let _ = rekt(&["-k", &h.port.to_string()]);
}

#[test]
#[should_panic(expected = "must be PORT/PROTO of a socket that this test's holder binds")]
fn in_the_shared_namespace_only_the_tests_own_ports_are_signalled() {
    let _net = shared_netns();
    let h = Holder::tcp(&v4());
    let _ = rekt(&["-t", &h.spec(), &format!("{}/udp", h.port)]);
}

#[test]
fn in_the_shared_namespace_the_tests_own_port_is_signalled() {
    let _net = shared_netns();
    let mut h = Holder::tcp(&v4());
    let out = rekt(&["-k", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    h.assert_exits_within(std::time::Duration::from_secs(5));
}

#[test]
#[should_panic(expected = "in the shared network namespace, bind a port from unused_port()")]
fn in_the_shared_namespace_holders_bind_unused_ports() {
    let _net = shared_netns();
    let _ = Holder::tcp("127.0.0.1:0");
}

#[test]
#[should_panic(expected = "call support::private_netns() first")]
fn a_test_that_signals_says_where_it_runs() {
    let _ = rekt(&["-k", "8000/tcp"]);
}

#[test]
#[should_panic(expected = "--all-netns")]
fn all_netns_with_a_signal_needs_a_pid_sandbox() {
    let _net = private_netns();
    let _ = rekt(&["--all-netns", "-k", &format!("{}/tcp", unused_port())]);
}

#[test]
fn a_pid_sandbox_shows_the_tests_processes_only() {
    require_root!();
    pid_sandbox!();
    assert_eq!(
        std::process::id(),
        1,
        "the test process is the sandbox's init"
    );
    let _net = private_netns();
    let h = Holder::udp(&v4());
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    assert!(pids.contains(&h.pid()) && pids.len() <= 3, "{pids:?}");
    let out = rekt(&["--all-netns", "--json"]);
    let doc = support::json_of(&out);
    let owners: Vec<&serde_json::Value> = doc["owners"].as_array().unwrap().iter().collect();
    assert_eq!(owners.len(), 1, "{doc}");
    assert_eq!(owners[0]["pid"], h.pid());
}

#[test]
#[should_panic(expected = "bind: Address already in use")]
fn a_fixture_that_cannot_bind_says_so() {
    let _net = private_netns();
    let a = Holder::tcp(&v4());
    let _b = Holder::tcp(&format!("127.0.0.1:{}", a.port));
}

#[test]
#[should_panic(
    expected = "closed its stdout before a READY line; it exited (exit status: 2); its stderr: \"sockhold: usage: "
)]
fn a_fixture_that_exits_early_says_how() {
    let _net = private_netns();
    // An odd number of words after the options: a usage error.
    let _ = Holder::spawn(&["tcp", &v4(), "udp"], 1);
}

/// Skips, when rerun by `a_skip_fails_when_root_tests_are_required` (and only then).
#[test]
fn skips_when_rerun() {
    if std::env::var_os("REKT_TEST_RERUN").is_some() {
        support::skip("on purpose");
    }
}

#[test]
fn a_skip_fails_when_root_tests_are_required() {
    let out = support::rerun(
        "isolation::skips_when_rerun",
        Rerun::Alone,
        &[(REQUIRE_ROOT_ENV, "1")],
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(
            "isolation::skips_when_rerun would skip (on purpose), and REKT_REQUIRE_ROOT_TESTS=1 forbids that"
        ),
        "{text}"
    );
    let out = support::rerun(
        "isolation::skips_when_rerun",
        Rerun::Alone,
        &[(REQUIRE_ROOT_ENV, "0")],
    );
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("skipped: isolation::skips_when_rerun: on purpose"),
        "{text}"
    );
}
