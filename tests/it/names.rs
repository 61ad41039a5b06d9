//! Names people recognise (issue 20): NAME is the name a process goes by, as ps, ss and
//! `fuser -v` show it; `-v` and JSON add the executable's file name where it tells more,
//! and ` (deleted)` where the executable is gone. And `--debug` traces every lookup step.
//!
//! Every test runs in a private network namespace (as root; `support::private_netns`) on
//! processes it starts, and never signals.

use crate::support::{self, Holder, TempDir, code, json_of, stderr, stdout};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A Python program that listens on an ephemeral TCP port of 127.0.0.1 and says READY as
/// sockhold does.
const LISTEN: &str = "import os,socket,sys,time\n\
     s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
     print('READY', os.getpid(), s.getsockname()[1], flush=True)\n\
     time.sleep(120)\n";

fn python3() -> Option<std::path::PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!path.is_empty()).then(|| path.into())
}

/// The `-v` row of `holder`'s port, and the JSON owner.
fn verbose_row_and_owner(holder: &Holder) -> (String, Value) {
    let spec = holder.spec();
    let out = support::rekt(&["-v", &spec]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = stdout(&out);
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&holder.pid().to_string()))
        .unwrap_or_else(|| panic!("no row for {}: {table}", holder.pid()))
        .to_owned();
    let doc = json_of(&support::rekt(&["--json", &spec]));
    let owner = doc["owners"][0].clone();
    assert_eq!(owner["pid"], holder.pid(), "{doc}");
    (row, owner)
}

#[test]
fn a_shebang_script_is_shown_by_its_name_with_its_interpreter_in_verbose() {
    let _net = support::private_netns();
    let Some(python) = python3() else {
        support::skip("no python3");
        return;
    };
    let dir = TempDir::new("names");
    let script = dir.join("server");
    std::fs::write(&script, format!("#!{}\n{LISTEN}", python.display())).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let holder = Holder::spawn_command(Command::new(&script), 1);
    let (row, owner) = verbose_row_and_owner(&holder);
    // The interpreter's executable, as the kernel resolved the shebang's links.
    let exe = std::fs::canonicalize(&python).unwrap();
    let interpreter = exe.file_name().unwrap().to_str().unwrap();
    // ps says `server`; the interpreter is there too, but never instead.
    assert!(row.contains(&format!(" server [{interpreter}] ")), "{row}");
    assert_eq!(owner["name"], "server", "{owner}");
    assert_eq!(owner["exe"], exe.to_str().unwrap(), "{owner}");
    assert!(owner.get("deleted").is_none(), "{owner}");
}

#[test]
fn a_deleted_executable_is_marked_deleted() {
    let _net = support::private_netns();
    let Some(python) = python3() else {
        support::skip("no python3");
        return;
    };
    let dir = TempDir::new("names");
    let copy = dir.join("pycopy");
    std::fs::copy(&python, &copy).unwrap();
    let mut cmd = Command::new(&copy);
    cmd.args(["-c", LISTEN]);
    let holder = Holder::spawn_command(cmd, 1);
    std::fs::remove_file(&copy).unwrap();
    let (row, owner) = verbose_row_and_owner(&holder);
    assert!(row.contains(" pycopy (deleted) "), "{row}");
    assert_eq!(owner["name"], "pycopy", "{owner}");
    assert_eq!(owner["deleted"], true, "{owner}");
    assert_eq!(owner["exe"], copy.to_str().unwrap(), "{owner}");
}

#[test]
fn redis_server_is_redis_server_though_its_executable_is_redis_check_rdb() {
    let _net = support::private_netns();
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        support::skip("no redis-server (apt-get install redis-server)");
        return;
    }
    let port = support::unused_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let holder = Holder::adopt(child, "redis-server");
    let spec = format!("{port}/tcp");
    let deadline = Instant::now() + support::READY_BOUND;
    let owner = loop {
        let doc = json_of(&support::rekt(&["--json", &spec]));
        if doc["owners"][0]["pid"] == holder.pid() {
            break doc["owners"][0].clone();
        }
        assert!(Instant::now() < deadline, "redis-server never held {spec}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(owner["name"], "redis-server", "{owner}");
    // Debian's redis-server is a link to redis-check-rdb: the executable tells more.
    let exe = std::fs::canonicalize(format!("/proc/{}/exe", holder.pid())).unwrap();
    let exe_name = exe.file_name().unwrap().to_str().unwrap().to_owned();
    let out = support::rekt(&["-v", &spec]);
    let table = stdout(&out);
    if exe_name == "redis-server" {
        assert!(table.contains(" redis-server "), "{table}");
    } else {
        assert!(
            table.contains(&format!(" redis-server [{exe_name}] ")),
            "{table}"
        );
    }
}

#[test]
fn debug_traces_each_step_of_a_lookup() {
    let _net = support::private_netns();
    let holder = Holder::tcp(&support::v4());
    let out = support::rekt(&["--debug", &holder.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("rekt: debug: "))
        .collect();
    let step = |prefix: &str| {
        lines
            .iter()
            .find(|l| l["rekt: debug: ".len()..].starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{err}"))
            .to_string()
    };
    let sockets = step("sockets: ");
    assert!(sockets.contains("1 rows for ports"), "{sockets}");
    let scan = step("fd scan: ");
    assert!(
        scan.contains(" processes, ") && scan.contains(" fds, ") && scan.contains("unreadable"),
        "{scan}"
    );
    let owners = step("owners: ");
    assert!(
        owners.starts_with("rekt: debug: owners: 1 processes hold 1 of 1"),
        "{owners}"
    );
    // Every step is timed.
    for line in [&sockets, &scan, &owners] {
        assert!(line.ends_with("s)"), "{line}");
    }
    // Without --debug, none of it.
    let quiet = support::rekt(&[&holder.spec()]);
    assert!(!stderr(&quiet).contains("debug"), "{}", stderr(&quiet));
}
