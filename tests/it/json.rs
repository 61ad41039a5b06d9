//! `--json`: one document on stdout, parsed here with serde_json. Every test runs in a
//! private network namespace as root (see tests/it/support), and binds ports from
//! `unused_port()` otherwise.

use crate::support;

use crate::support::{Holder, code, json_of, private_netns, rekt, stderr, stdout, unused_port, v4};
use serde_json::Value;

fn json(args: &[&str]) -> (Value, i32) {
    let out = rekt(args);
    assert!(
        stderr(&out).is_empty(),
        "JSON mode writes nothing else: {}",
        stderr(&out)
    );
    (support::json_here(json_of(&out)), code(&out))
}

#[test]
fn lookup_has_the_owner_and_its_sockets() {
    let _net = private_netns();
    let h = Holder::spawn(&["tcp", &v4(), "udp", "[::1]:0"], 1);
    let (doc, code) = json(&["--json", &h.spec(), &format!("{}/udp", h.port)]);
    assert_eq!(code, 0);
    assert_eq!(doc["mode"], "lookup");
    assert_eq!(doc["exit_code"], 0);
    let owners = doc["owners"].as_array().unwrap();
    assert_eq!(owners.len(), 1);
    let o = &owners[0];
    assert_eq!(o["pid"], h.pid());
    assert_eq!(o["name"], "sockhold");
    assert!(o["exe"].as_str().unwrap().ends_with("/sockhold"));
    assert_eq!(o["cmdline"][1], "tcp");
    assert!(o["user"].is_string() && o["uid"].is_u64());
    let sockets = o["sockets"].as_array().unwrap();
    assert_eq!(sockets.len(), 2);
    assert_eq!(sockets[0]["protocol"], "tcp");
    assert_eq!(sockets[0]["family"], "ipv4");
    assert_eq!(sockets[0]["address"], "127.0.0.1");
    assert_eq!(sockets[0]["port"], h.port);
    assert_eq!(sockets[0]["state"], "LISTEN");
    assert_eq!(sockets[1]["type"], "udp6");
    assert_eq!(sockets[1]["address"], "::1");
    assert!(o.get("outcome").is_none(), "nothing was signalled");
}

#[test]
fn a_free_port_is_an_empty_document_with_exit_1() {
    let _net = private_netns();
    let port = unused_port();
    let (doc, code) = json(&["--json", &port.to_string()]);
    assert_eq!(code, 1);
    assert_eq!(doc["owners"], Value::Array(vec![]));
    assert_eq!(doc["exit_code"], 1);
}

#[test]
fn kill_reports_outcomes_and_the_port_check() {
    let _net = private_netns();
    let mut h = Holder::tcp(&v4());
    let (doc, code) = json(&["--json", "-k", &h.spec()]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["owners"][0]["pid"], h.pid());
    assert_eq!(doc["owners"][0]["outcome"], "exited");
    assert_eq!(doc["owners"][0]["signal"], "kill");
    assert_eq!(
        doc["ports"],
        serde_json::json!([{"port": h.port, "protocol": "tcp", "status": "free", "free": true,
            "held_by": [], "hidden": false, "was_held": true}])
    );
    h.assert_exits_within(std::time::Duration::from_secs(2));
}

#[test]
fn a_survivor_is_still_running_and_exits_3() {
    let _net = private_netns();
    let h = Holder::spawn(&["--ignore-term", "tcp", &v4()], 1);
    let (doc, code) = json(&["--json", "-t", "--timeout", "300ms", &h.spec()]);
    assert_eq!(code, 3, "{doc}");
    assert_eq!(doc["exit_code"], 3);
    assert_eq!(doc["owners"][0]["outcome"], "still_running");
    assert_eq!(doc["owners"][0]["signal"], "terminate");
    assert_eq!(doc["ports"][0]["free"], false);
    assert_eq!(doc["ports"][0]["held_by"], serde_json::json!([h.pid()]));
    assert_eq!(doc["owners"][0]["pid"], h.pid());
    assert_eq!(doc["owners"].as_array().unwrap().len(), 1, "{doc}");
}

#[test]
fn list_mode_is_json_too() {
    let _net = private_netns();
    let h = Holder::udp(&v4());
    let (doc, code) = json(&["--json"]);
    assert_eq!(code, 0);
    assert_eq!(doc["mode"], "list");
    let owners = doc["owners"].as_array().unwrap();
    if support::private() {
        // Alone in its namespace: the test's socket is the whole list.
        assert_eq!(owners.len(), 1, "{doc}");
    }
    let owner = owners
        .iter()
        .find(|o| o["pid"] == h.pid())
        .expect("the test's socket is listed");
    assert_eq!(owner["sockets"][0]["port"], h.port);
    assert_eq!(owner["sockets"][0]["state"], "UNCONN");
}

#[test]
fn quiet_prints_nothing_and_keeps_the_exit_code() {
    let _net = private_netns();
    let h = Holder::tcp(&v4());
    let out = rekt(&["-q", &h.spec()]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).is_empty() && stderr(&out).is_empty());
    let out = rekt(&["-q", "-k", &h.spec()]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).is_empty() && stderr(&out).is_empty());
    assert_eq!(code(&rekt(&["-q", &h.spec()])), 1, "killed, so free");
}
