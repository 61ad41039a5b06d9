//! Issue 12, end to end with real processes: output that cannot be turned against the user,
//! and a run that never stops halfway.
//!
//! - Names a process chose (escape sequences, newlines, a carriage return, bidi and C1
//!   controls, DEL, invalid UTF-8, wide characters, a backslash) reach no terminal raw: not
//!   in the table, the `terminated …`/`killed …` lines or the `-i` prompt; they are shown
//!   escaped exactly as `src/text.rs` documents, JSON carries them exactly, and wide names
//!   keep the columns aligned by display width.
//! - A name that is not UTF-8 hides neither the process's user nor its uid.
//! - A closed stdout or stderr (EPIPE) stops the printing, never the work: every owner is
//!   still signalled, `--escalate` still escalates, and the exit code is the work's. Other
//!   write errors (`/dev/full`) exit 4, after the work.
//! - `rekt completions SHELL | head -1` and `rekt man | head -1` never panic.
//! - Usage errors under `--json` are a JSON document; the man page renders cleanly;
//!   `--timeout 0s` does not wait and says nothing is still running; list mode leaves
//!   connected UDP sockets out and says when it is empty; a link-local IPv6 address shows
//!   its scope.
//!
//! Each test runs in a private network namespace as root (see tests/it/support), and asserts
//! only on processes it started.

use crate::support;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::{
    Holder, RUN_BOUND, TempDir, code, is_root, json_of, on_terminal, private_netns, rekt,
    rekt_command, run, stderr, stdout, v4, wait_output_within, which,
};
use serde_json::Value;

const FIVE_S: Duration = Duration::from_secs(5);
const NOBODY: u32 = 65534;

// ---------------------------------------------------------------------------------------
// Helpers.

/// A name a process can give itself, and how rekt must show it.
struct Name {
    /// The executable's file name, as bytes.
    file: &'static [u8],
    /// How the human output shows it: the escaping table in src/text.rs.
    shown: &'static str,
    /// The value of its JSON string: the exact name, with `\xNN` for each byte that is not
    /// UTF-8 (no JSON string can hold one).
    json: &'static str,
}

/// One of each kind of hostile name, and a wide one.
const NAMES: &[Name] = &[
    Name {
        file: b"py\x1b[31mRED\x1b]0;TITLE\x07",
        shown: r"py\e[31mRED\e]0;TITLE\a",
        json: "py\x1b[31mRED\x1b]0;TITLE\x07",
    },
    Name {
        file: b"two\nlines",
        shown: r"two\nlines",
        json: "two\nlines",
    },
    Name {
        file: b"sshd\rpython",
        shown: r"sshd\rpython",
        json: "sshd\rpython",
    },
    Name {
        file: "サーバー".as_bytes(),
        shown: "サーバー",
        json: "サーバー",
    },
    Name {
        // RIGHT-TO-LEFT OVERRIDE: on a terminal that honours it, `evilexe.sh`.
        file: "evil\u{202e}hs.exe".as_bytes(),
        shown: r"evil\u{202e}hs.exe",
        json: "evil\u{202e}hs.exe",
    },
    Name {
        // U+009B, the 8-bit CSI.
        file: "csi\u{9b}31m".as_bytes(),
        shown: r"csi\u{9b}31m",
        json: "csi\u{9b}31m",
    },
    Name {
        file: b"rm\x7f",
        shown: r"rm\x7f",
        json: "rm\x7f",
    },
    Name {
        file: b"web\xffserver",
        shown: r"web\xffserver",
        json: r"web\xffserver",
    },
    Name {
        // A backslash is doubled, so that no name can pass for an escaped one.
        file: br"back\nslash",
        shown: r"back\\nslash",
        json: r"back\nslash",
    },
];

/// What a terminal acts on, or what hides text around it, as src/text.rs lists them: C0
/// controls, DEL, C1 controls, invisible format and bidi controls. Written out here rather
/// than taken from rekt, so that a change there cannot make this test pass.
fn acts_on_a_terminal(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// Fails unless `bytes` is UTF-8 whose only control characters end lines: `\n`, and on a
/// pseudo-terminal (`pty`), which writes `\r\n`, a `\r` before it.
fn assert_terminal_safe(what: &str, bytes: &[u8], pty: bool) {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| {
        panic!(
            "{what} is not UTF-8 ({e}): {:?}",
            String::from_utf8_lossy(bytes)
        )
    });
    let text = if pty {
        text.replace("\r\n", "\n")
    } else {
        text.to_owned()
    };
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && acts_on_a_terminal(c))
        .collect();
    assert!(bad.is_empty(), "{what} has {bad:?}: {text:?}");
    // rekt's own list agrees.
    assert!(
        !text
            .chars()
            .any(|c| c != '\n' && rekt::text::is_terminal_unsafe(c)),
        "{what}: {text:?}"
    );
}

/// Holders of a port each, one per name in [`NAMES`]: the sockhold fixture run as an
/// executable with that file name in `dir`.
fn hostile_holders(dir: &TempDir) -> Vec<(Holder, &'static Name)> {
    NAMES
        .iter()
        .map(|name| {
            let exe = support::fixture_named("sockhold", dir, OsStr::from_bytes(name.file));
            let mut cmd = Command::new(exe);
            cmd.args(["tcp", &v4()]);
            (Holder::spawn_command(cmd, 1), name)
        })
        .collect()
}

fn specs(holders: &[(Holder, &Name)]) -> Vec<String> {
    holders.iter().map(|(h, _)| h.spec()).collect()
}

/// `args` followed by `more`, as `&str`s.
fn with<'a>(args: &[&'a str], more: &'a [String]) -> Vec<&'a str> {
    args.iter()
        .copied()
        .chain(more.iter().map(String::as_str))
        .collect()
}

/// The cells of a table line, each with the display column it starts at. Cells are two or
/// more spaces apart; within one there is at most one space in a row.
fn cells(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (byte, column)
    let (mut spaces, mut column) = (0, 0);
    for (i, c) in line.char_indices() {
        if c == ' ' {
            spaces += 1;
        } else {
            if start.is_none() || spaces >= 2 {
                if let Some((from, col)) = start {
                    out.push((col, line[from..i].trim_end()));
                }
                start = Some((i, column));
            }
            spaces = 0;
        }
        column += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
    }
    if let Some((from, col)) = start {
        out.push((col, line[from..].trim_end()));
    }
    out
}

/// This process's user name and uid, as rekt should show a process of this user.
fn me() -> (String, u32) {
    let name = stdout(&run(Command::new("id").arg("-un")))
        .trim()
        .to_owned();
    // SAFETY: getuid cannot fail.
    (name, unsafe { libc::getuid() })
}

/// The owner with `pid` in a JSON document.
fn owner(doc: &Value, pid: u32) -> &Value {
    doc["owners"]
        .as_array()
        .unwrap_or_else(|| panic!("no owners: {doc}"))
        .iter()
        .find(|o| o["pid"] == pid)
        .unwrap_or_else(|| panic!("{pid} is not an owner: {doc}"))
}

/// Fails unless rekt exited by itself with `expected`: never by a signal (a panic in the
/// release build, which aborts, is SIGABRT; SIGPIPE would kill a program that does not
/// ignore it) and never with a panic's 101.
fn assert_exit(out: &Output, expected: i32, what: &str) {
    assert_eq!(
        out.status.signal(),
        None,
        "{what}: killed by a signal; stderr: {:?}",
        stderr(out)
    );
    assert_eq!(
        out.status.code(),
        Some(expected),
        "{what}: stdout {:?}, stderr {:?}",
        stdout(out),
        stderr(out)
    );
}

/// A pipe whose read end is already closed: every write to it fails with EPIPE, as when the
/// reader (`head -1`, `2> >(true)`) is gone before rekt writes.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Stdio::from(writer)
}

/// `/dev/full`: every write fails with ENOSPC.
fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::File::options()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// Runs rekt with `args`, stdin empty, and the given stdout and stderr (what is piped is
/// returned in the output).
fn rekt_to(args: &[&str], out: Stdio, err: Stdio) -> Output {
    let child = support::spawn(
        rekt_command(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err),
    )
    .expect("spawn rekt");
    wait_output_within(child, RUN_BOUND, &format!("rekt {args:?}"))
}

// ---------------------------------------------------------------------------------------
// 2, 3 and 7: names from other processes, shown safely; users never hidden; display width.

#[test]
fn hostile_names_are_shown_escaped_in_aligned_columns_and_exact_in_json() {
    let _net = private_netns();
    let dir = TempDir::new("names");
    let holders = hostile_holders(&dir);
    let specs = specs(&holders);
    let (user, uid) = me();

    // The table: every name escaped as documented, every column where the header says.
    let out = rekt(&with(&["-v"], &specs));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_terminal_safe("rekt -v, stdout", &out.stdout, false);
    assert_terminal_safe("rekt -v, stderr", &out.stderr, false);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + NAMES.len(), "one row per holder:\n{text}");
    let header = cells(lines[0]);
    let columns: Vec<usize> = header.iter().map(|&(col, _)| col).collect();
    let at = |name: &str| header.iter().position(|&(_, h)| h == name).unwrap();
    let (pid_at, name_at, user_at) = (at("PID"), at("NAME"), at("USER"));
    for line in &lines[1..] {
        let row = cells(line);
        let starts: Vec<usize> = row.iter().map(|&(col, _)| col).collect();
        assert_eq!(
            starts, columns,
            "columns out of line (by display width) in {line:?}:\n{text}"
        );
        let pid: u32 = row[pid_at].1.parse().unwrap();
        let (_, name) = holders
            .iter()
            .find(|(h, _)| h.pid() == pid)
            .unwrap_or_else(|| panic!("{pid} is not the test's:\n{text}"));
        assert_eq!(row[name_at].1, name.shown, "{line:?}");
        assert_eq!(row[user_at].1, user, "{line:?}");
    }

    // JSON: the exact names, as valid JSON strings that a terminal cannot act on either.
    let out = rekt(&with(&["--json"], &specs));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "--json: nothing on stderr");
    assert_terminal_safe("rekt --json", &out.stdout, false);
    let raw = stdout(&out);
    for escaped in [
        r"\u001b[31mRED",
        r"TITLE\u0007",
        r"two\nlines",
        r"sshd\rpython",
        r"evil\u202ehs.exe",
        r"csi\u009b31m",
        r"rm\u007f",
        r"web\\xffserver",
        r"back\\nslash",
        "サーバー",
    ] {
        assert!(raw.contains(escaped), "{escaped} missing from {raw}");
    }
    let doc = json_of(&out);
    for (h, name) in &holders {
        let o = owner(&doc, h.pid());
        assert_eq!(o["name"], name.json, "{o}");
        let suffix = format!("/{}", name.json);
        for path in [&o["exe"], &o["cmdline"][0]] {
            let path = path.as_str().unwrap_or_else(|| panic!("{o}"));
            assert!(path.ends_with(&suffix), "{path:?} for {:?}", name.json);
        }
        assert_eq!(o["uid"], uid, "{o}");
        assert_eq!(o["user"], user.as_str(), "{o}");
    }

    // List mode: the same names, the same alignment.
    let out = rekt(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_terminal_safe("rekt (list), stdout", &out.stdout, false);
    assert_terminal_safe("rekt (list), stderr", &out.stderr, false);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let header = cells(lines[0]);
    let columns: Vec<usize> = header.iter().map(|&(col, _)| col).collect();
    let at = |name: &str| header.iter().position(|&(_, h)| h == name).unwrap();
    let (pid_at, name_at) = (at("PID"), at("NAME"));
    let mut seen = 0;
    for line in &lines[1..] {
        let row = cells(line);
        let starts: Vec<usize> = row.iter().map(|&(col, _)| col).collect();
        assert_eq!(starts, columns, "columns out of line in {line:?}:\n{text}");
        let pid = row[pid_at].1.parse::<u32>().ok();
        if let Some((_, name)) = holders.iter().find(|(h, _)| Some(h.pid()) == pid) {
            assert_eq!(row[name_at].1, name.shown, "{line:?}");
            seen += 1;
        }
    }
    assert_eq!(seen, holders.len(), "{text}");

    // The reports after a signal.
    let out = rekt(&with(&["-t", "--settle", "0s"], &specs));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_terminal_safe("rekt -t, stdout", &out.stdout, false);
    assert_terminal_safe("rekt -t, stderr", &out.stderr, false);
    let err = stderr(&out);
    for (h, name) in &holders {
        let line = format!("terminated {} ({})", h.pid(), name.shown);
        assert!(err.lines().any(|l| l == line), "{line:?} missing:\n{err}");
        h.assert_all_gone_within(FIVE_S);
    }
}

#[test]
fn hostile_names_are_shown_escaped_in_the_interactive_prompt() {
    let _net = private_netns();
    let dir = TempDir::new("prompt");
    let holders = hostile_holders(&dir);
    let specs = specs(&holders);
    let yes = "y\n".repeat(holders.len());
    let out = on_terminal(&with(&["-k", "-i", "--settle", "0s"], &specs), &yes, true);
    assert_terminal_safe("rekt -k -i, on a terminal", &out.stdout, true);
    let text = stdout(&out).replace("\r\n", "\n");
    for (h, name) in &holders {
        let who = format!("{} ({})", h.pid(), name.shown);
        assert!(
            text.contains(&format!("kill {who}? [y/N]")),
            "{who}:\n{text}"
        );
        assert!(text.contains(&format!("killed {who}\n")), "{who}:\n{text}");
        h.assert_all_gone_within(FIVE_S);
    }
    assert_eq!(code(&out), 0, "{text}");
}

#[test]
fn the_prompt_names_the_process_under_quiet() {
    let _net = private_netns();
    let dir = TempDir::new("prompt-q");
    let holders = hostile_holders(&dir);
    let specs = specs(&holders);
    let yes = "y\n".repeat(holders.len());
    let out = on_terminal(
        &with(&["-q", "-k", "-i", "--settle", "0s"], &specs),
        &yes,
        true,
    );
    assert_terminal_safe("rekt -q -k -i, on a terminal", &out.stdout, true);
    let text = stdout(&out).replace("\r\n", "\n");
    for (h, name) in &holders {
        let who = format!("{} ({})", h.pid(), name.shown);
        assert!(
            text.contains(&format!("kill {who}? [y/N]")),
            "{who}:\n{text}"
        );
        h.assert_all_gone_within(FIVE_S);
    }
    // -q: the question, the typed answers, and nothing else.
    assert!(!text.contains("killed"), "{text}");
    assert_eq!(code(&out), 0, "{text}");
}

#[test]
fn the_prompt_goes_to_the_terminal_under_json_and_stderr_stays_empty() {
    let _net = private_netns();
    let dir = TempDir::new("prompt-json");
    let holders = hostile_holders(&dir);
    let specs = specs(&holders);
    let yes = "y\n".repeat(holders.len());
    let err = dir.join("stderr");
    let out = support::on_terminal_with(
        &with(&["--json", "-k", "-i", "--settle", "0s"], &specs),
        &yes,
        true,
        Some(&err),
    );
    let stderr_bytes = std::fs::read(&err).unwrap();
    assert!(
        stderr_bytes.is_empty(),
        "--json writes nothing to stderr, not even the question: {:?}",
        String::from_utf8_lossy(&stderr_bytes)
    );
    assert_terminal_safe("rekt --json -k -i, on a terminal", &out.stdout, true);
    let text = stdout(&out).replace("\r\n", "\n");
    for (h, name) in &holders {
        let who = format!("{} ({})", h.pid(), name.shown);
        assert!(
            text.contains(&format!("kill {who}? [y/N]")),
            "{who}:\n{text}"
        );
        h.assert_all_gone_within(FIVE_S);
    }
    // The document follows the questions on the terminal.
    let start = text
        .find("{\n  \"mode\"")
        .unwrap_or_else(|| panic!("no JSON document: {text:?}"));
    let doc: Value = serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("{e}: {text}"));
    for (h, name) in &holders {
        let o = owner(&doc, h.pid());
        assert_eq!(o["name"], name.json, "{o}");
        assert_eq!(o["outcome"], "exited", "{o}");
    }
    assert_eq!(doc["exit_code"], 0, "{doc}");
}

#[test]
fn a_hostile_parent_is_shown_escaped_among_the_parents() {
    let _net = private_netns();
    let dir = TempDir::new("parents");
    for name in [&NAMES[0], &NAMES[7]] {
        // The hostile program holds a port of its own and starts a plain sockhold, which
        // holds another: the holder's parent chain names the hostile one.
        let exe = support::fixture_named("sockhold", &dir, OsStr::from_bytes(name.file));
        let sockhold = support::fixture("sockhold");
        let mut cmd = Command::new(exe);
        cmd.args(["tcp", &v4(), "--then-run"])
            .arg(&sockhold)
            .args(["tcp", &v4()]);
        let h = Holder::spawn_command(cmd, 2);
        let parent = h.pid();
        let child = *h.pids.iter().find(|&&p| p != parent).unwrap();
        let out = rekt(&["-v", &h.spec()]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_terminal_safe("rekt -v, stdout", &out.stdout, false);
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        let header = cells(lines[0]);
        let row = cells(lines[1]);
        let at = |name: &str| header.iter().position(|&(_, h)| h == name).unwrap();
        assert_eq!(row[at("PID")].1, child.to_string(), "{text}");
        assert_eq!(row[at("NAME")].1, "sockhold", "{text}");
        assert_eq!(
            row[at("PARENTS")].1,
            format!("{parent} ({})", name.shown),
            "{text}"
        );
        let doc = json_of(&rekt(&["--json", &h.spec()]));
        let parents = &owner(&doc, child)["parents"];
        assert_eq!(parents[0]["pid"], parent, "{doc}");
        assert_eq!(parents[0]["name"], name.json, "{doc}");
    }
}

#[test]
fn a_name_that_is_not_utf8_hides_neither_the_process_nor_its_user() {
    let _net = private_netns();
    // web\xffserver, as prctl(PR_SET_NAME) takes it: /proc/PID/status's Name line is then
    // not UTF-8, and the Uid line below it must still be read.
    let comm = "776562ff736572766572";
    let (user, uid) = if is_root() {
        // Another user, so that the uid shown is the holder's and not rekt's.
        ("nobody".to_owned(), NOBODY)
    } else {
        me()
    };
    let spawn = |extra: &[&str]| {
        let addr = v4();
        let mut args = vec!["--comm", comm];
        args.extend_from_slice(extra);
        args.extend(["tcp", addr.as_str()]);
        if is_root() {
            Holder::spawn_as(NOBODY, &args, 1)
        } else {
            Holder::spawn(&args, 1)
        }
    };
    // The executable is readable: -v shows its file name too.
    let plain = spawn(&[]);
    // The main thread has ended: /proc/PID/exe cannot be read, so NAME is comm alone.
    let bare = spawn(&["--exit-main-thread"]);
    for h in [&plain, &bare] {
        let pid = h.pid();
        let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap();
        assert_eq!(comm, b"web\xffserver\n", "setup: comm of {pid}");
        let status = std::fs::read(format!("/proc/{pid}/status")).unwrap();
        assert!(
            status.starts_with(b"Name:\tweb\xffserver\n"),
            "setup: {:?}",
            String::from_utf8_lossy(&status)
        );
    }
    assert!(
        std::fs::read_link(format!("/proc/{}/exe", bare.pid())).is_err(),
        "setup: the exe of {} can be read",
        bare.pid()
    );
    // NAME is the name it goes by (comm), escaped; with -v the executable's file name
    // follows where it can be read, since it tells more than a name the process chose.
    let shown = |_: &Holder| r"web\xffserver";
    let verbose = |h: &Holder| {
        if h.pid() == bare.pid() {
            r"web\xffserver"
        } else {
            r"web\xffserver [sockhold]"
        }
    };

    let out = rekt(&["-v", &plain.spec(), &bare.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_terminal_safe("rekt -v, stdout", &out.stdout, false);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let header = cells(lines[0]);
    let at = |name: &str| header.iter().position(|&(_, h)| h == name).unwrap();
    let rows: Vec<Vec<(usize, &str)>> = lines[1..].iter().map(|l| cells(l)).collect();
    assert_eq!(rows.len(), 2, "{text}");
    for h in [&plain, &bare] {
        let row = rows
            .iter()
            .find(|r| r[at("PID")].1 == h.pid().to_string())
            .unwrap_or_else(|| panic!("{} missing:\n{text}", h.pid()));
        assert_eq!(row[at("NAME")].1, verbose(h), "{text}");
        assert_eq!(row[at("USER")].1, user, "{text}");
    }

    let doc = json_of(&rekt(&["--json", &plain.spec(), &bare.spec()]));
    let o = owner(&doc, plain.pid());
    assert_eq!(o["name"], r"web\xffserver", "{o}");
    assert_eq!(
        (&o["uid"], &o["user"]),
        (&uid.into(), &user.as_str().into())
    );
    let o = owner(&doc, bare.pid());
    assert_eq!(o["name"], r"web\xffserver", "{o}");
    assert_eq!(o["exe"], Value::Null, "{o}");
    assert_eq!(
        (&o["uid"], &o["user"]),
        (&uid.into(), &user.as_str().into())
    );

    let out = rekt(&["-k", "--settle", "0s", &plain.spec(), &bare.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_terminal_safe("rekt -k, stderr", &out.stderr, false);
    let err = stderr(&out);
    for h in [&plain, &bare] {
        let line = format!("killed {} ({})", h.pid(), shown(h));
        assert!(err.lines().any(|l| l == line), "{line:?} missing:\n{err}");
        h.assert_all_gone_within(FIVE_S);
    }
}

// ---------------------------------------------------------------------------------------
// 1 and 4: a closed stream stops the printing, not the work; other write errors exit 4.

#[test]
fn a_closed_stderr_during_kill_of_two_ports_still_kills_both() {
    let _net = private_netns();
    let a = Holder::tcp(&v4());
    let b = Holder::tcp(&v4());
    // `rekt -k A B 2> >(true)`: the first `killed` line meets a closed pipe.
    let out = rekt_to(&["-k", &a.spec(), &b.spec()], Stdio::piped(), closed_pipe());
    assert_exit(&out, 0, "rekt -k A B, stderr closed");
    a.assert_all_gone_within(FIVE_S);
    b.assert_all_gone_within(FIVE_S);
    assert_eq!(support::pids_in_table(&out), [a.pid(), b.pid()]);

    // The same with --debug, whose trace goes to stderr too, and stdout closed as well.
    let c = Holder::tcp(&v4());
    let d = Holder::tcp(&v4());
    let out = rekt_to(
        &["--debug", "-k", &c.spec(), &d.spec()],
        closed_pipe(),
        closed_pipe(),
    );
    assert_exit(&out, 0, "rekt --debug -k C D, stdout and stderr closed");
    c.assert_all_gone_within(FIVE_S);
    d.assert_all_gone_within(FIVE_S);
}

#[test]
fn a_closed_stdout_still_kills_and_says_so_on_stderr() {
    let _net = private_netns();
    let a = Holder::tcp(&v4());
    let b = Holder::udp(&v4());
    // `rekt -k A B | head -0`: the table meets a closed pipe.
    let out = rekt_to(&["-k", &a.spec(), &b.spec()], closed_pipe(), Stdio::piped());
    assert_exit(&out, 0, "rekt -k A B, stdout closed");
    let err = stderr(&out);
    for h in [&a, &b] {
        assert!(
            err.contains(&format!("killed {} (sockhold)", h.pid())),
            "{err}"
        );
        h.assert_all_gone_within(FIVE_S);
    }
    assert!(
        !err.contains("cannot write"),
        "a closed pipe is no error: {err}"
    );
}

#[test]
fn escalate_still_runs_with_stdout_and_stderr_closed() {
    let _net = private_netns();
    let mut h = Holder::spawn(&["--ignore-term", "tcp", &v4()], 1);
    // `rekt -t --timeout 300ms --escalate P 2>&1 | head -1`, with nothing read at all.
    let out = rekt_to(
        &["-t", "--timeout", "300ms", "--escalate", &h.spec()],
        closed_pipe(),
        closed_pipe(),
    );
    assert_exit(&out, 0, "rekt -t --escalate, stdout and stderr closed");
    h.assert_exits_within(FIVE_S);
    // Not vacuous: SIGTERM alone leaves this holder running.
    let mut h = Holder::spawn(&["--ignore-term", "tcp", &v4()], 1);
    let out = rekt_to(
        &["-t", "--timeout", "300ms", &h.spec()],
        closed_pipe(),
        closed_pipe(),
    );
    assert_exit(&out, 3, "rekt -t without --escalate");
    assert!(h.alive(), "{}", h.context());
}

#[test]
fn a_full_disk_is_exit_4_after_the_work() {
    let _net = private_netns();
    let mut h = Holder::tcp(&v4());
    let spec = h.spec();
    // `rekt --json P >/dev/full`: a lookup whose answer cannot be written.
    let out = rekt_to(&["--json", &spec], dev_full(), Stdio::piped());
    assert_exit(&out, 4, "rekt --json P >/dev/full");
    assert_eq!(
        stderr(&out),
        "rekt: cannot write the JSON document: No space left on device (os error 28)\n",
        "--json says on stderr why it exits 4"
    );
    // --version names what it could not write.
    let out = rekt_to(&["--version"], dev_full(), Stdio::piped());
    assert_exit(&out, 4, "rekt --version >/dev/full");
    assert!(
        stderr(&out).starts_with("rekt: cannot write the version: No space left on device"),
        "{}",
        stderr(&out)
    );
    // The human table: exit 4, and stderr says why.
    let out = rekt_to(&[&spec], dev_full(), Stdio::piped());
    assert_exit(&out, 4, "rekt P >/dev/full");
    assert!(
        stderr(&out).contains("rekt: cannot write to stdout: No space left on device"),
        "{}",
        stderr(&out)
    );
    // A full stderr, with a free port to say something about there.
    let free = format!("{}/tcp", support::unused_port());
    let out = rekt_to(&[&spec, &free], Stdio::piped(), dev_full());
    assert_exit(&out, 4, "rekt P FREE 2>/dev/full");
    assert_eq!(support::pids_in_table(&out), [h.pid()]);
    // Not vacuous: with nothing to say on stderr, a full one fails nothing.
    let out = rekt_to(&[&spec], Stdio::piped(), dev_full());
    assert_exit(&out, 0, "rekt P 2>/dev/full");
    assert!(h.alive(), "{}", h.context());

    // After a signal: the owner is dead first, then the exit code says the output failed.
    let out = rekt_to(&["--json", "-k", &spec], dev_full(), Stdio::piped());
    assert_exit(&out, 4, "rekt --json -k P >/dev/full");
    h.assert_exits_within(FIVE_S);
    let mut h = Holder::tcp(&v4());
    let out = rekt_to(&["-k", &h.spec()], Stdio::piped(), dev_full());
    assert_exit(&out, 4, "rekt -k P 2>/dev/full");
    assert_eq!(support::pids_in_table(&out), [h.pid()]);
    h.assert_exits_within(FIVE_S);
    let mut h = Holder::tcp(&v4());
    let out = rekt_to(&["-k", &h.spec()], dev_full(), dev_full());
    assert_exit(&out, 4, "rekt -k P >/dev/full 2>&1");
    h.assert_exits_within(FIVE_S);
}

// ---------------------------------------------------------------------------------------
// 5: completions and the man page into a pipe that closes.

/// `rekt completions SHELL` for every shell clap_complete supports, and `rekt man`.
const SCRIPTS: &[&[&str]] = &[
    &["completions", "bash"],
    &["completions", "zsh"],
    &["completions", "fish"],
    &["completions", "powershell"],
    &["completions", "elvish"],
    &["man"],
];

#[test]
fn a_subcommand_after_an_option_is_named_as_one() {
    let out = rekt(&["--json", "completions", "bash"]);
    assert_exit(&out, 2, "rekt --json completions bash");
    let doc = support::json_of(&out);
    assert_eq!(
        doc["error"],
        "completions is a subcommand and takes no options: run `rekt completions bash` alone"
    );
    let out = rekt(&["-v", "man"]);
    assert_exit(&out, 2, "rekt -v man");
    assert!(
        stderr(&out).contains("man is a subcommand"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn completions_and_man_into_head_never_panic() {
    for args in SCRIPTS {
        let full = rekt(args);
        assert_exit(&full, 0, &format!("rekt {args:?}"));
        let first = stdout(&full).lines().next().unwrap().to_owned();
        for _ in 0..20 {
            // `rekt ARGS | head -1`, as a shell runs it.
            let out = run(Command::new("bash")
                .args(["-c", r#"set -o pipefail; "$0" "$@" | head -1"#])
                .arg(support::rekt_bin(args))
                .args(*args));
            assert_exit(&out, 0, &format!("rekt {args:?} | head -1"));
            assert_eq!(stdout(&out), format!("{first}\n"), "{args:?}");
            assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));

            // The same, reading one line and closing the pipe at once.
            let mut child = support::spawn(
                rekt_command(args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
            )
            .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let out = wait_output_within(child, RUN_BOUND, &format!("rekt {args:?}"));
            assert_exit(&out, 0, &format!("rekt {args:?}, one line read"));
            assert_eq!(line, format!("{first}\n"), "{args:?}");
            assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
        }
        // A pipe closed before the first write: EPIPE for certain.
        let out = rekt_to(args, closed_pipe(), Stdio::piped());
        assert_exit(&out, 0, &format!("rekt {args:?}, stdout closed"));
        assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
        // A full disk is an error.
        let out = rekt_to(args, dev_full(), Stdio::piped());
        assert_exit(&out, 4, &format!("rekt {args:?} >/dev/full"));
        assert!(
            stderr(&out).starts_with("rekt: cannot write the "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn help_and_version_into_a_closed_pipe_never_panic() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["--version"],
        &["help"],
        &["help", "man"],
    ] {
        let out = rekt_to(args, closed_pipe(), Stdio::piped());
        assert_exit(&out, 0, &format!("rekt {args:?}, stdout closed"));
        assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn the_completion_scripts_parse_in_their_shells() {
    for (shell, check) in [
        ("bash", &["-n"][..]),
        ("zsh", &["-n"][..]),
        ("fish", &["--no-execute"][..]),
    ] {
        if which(shell).is_none() {
            support::skip(&format!(
                "{shell} is not installed; its completion script is not checked"
            ));
            continue;
        }
        let dir = TempDir::new("completion");
        let script = dir.join("rekt.completion");
        std::fs::write(&script, rekt(&["completions", shell]).stdout).unwrap();
        let out = run(Command::new(shell).args(check).arg(&script));
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
    }
}

#[test]
fn bash_completes_no_file_names_after_a_duration() {
    let dir = TempDir::new("bash-completion");
    std::fs::write(dir.join("a-file-here"), b"").unwrap();
    let script = dir.join("rekt.bash");
    std::fs::write(&script, rekt(&["completions", "bash"]).stdout).unwrap();
    // COMPREPLY after `rekt -t OPTION <TAB>`, from the script's own function; bash's
    // `-o default` falls back to file names only when it is empty.
    let complete = |option: &str, cur: &str| {
        let out = run(Command::new("bash")
            .current_dir(&dir.0)
            .args([
                "-c",
                r#"source "$0"
                   COMP_WORDS=(rekt -t "$1" "$2"); COMP_CWORD=3
                   COMP_LINE="rekt -t $1 $2"; COMP_POINT=${#COMP_LINE}
                   _rekt rekt "$2" "$1" 2>/dev/null
                   printf '<%s>\n' "${COMPREPLY[@]}""#,
            ])
            .arg(&script)
            .args([option, cur]));
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        stdout(&out)
    };
    for option in ["--timeout", "--settle"] {
        assert_eq!(complete(option, ""), "<>\n", "{option}");
        assert_eq!(complete(option, "5"), "<5>\n", "{option}");
    }
    // Not vacuous: an option name is completed.
    assert_eq!(complete("--verbose", "--tim"), "<--timeout>\n");
}

// ---------------------------------------------------------------------------------------
// 4: usage errors under --json.

#[test]
fn usage_errors_under_json_are_a_json_document() {
    let _net = private_netns();
    let mut h = Holder::udp(&v4());
    let spec = h.spec();
    let hostile = "\x1b[31m\u{9b}";
    for args in [
        &["0"][..],
        &["--bogus", "80"],
        &["-8000"],
        &["-k"],
        &["-q", "80"],
        &["--tcp", "--udp", "80"],
        &["--udp", "8000/tcp"],
        &["-t", "--timeout", "5", &spec],
        &["-t", "--timeout", "1d", &spec],
        &["--escalate", &spec],
        &["-k", "-i", &spec],
        &[hostile],
    ] {
        let args: Vec<&str> = std::iter::once("--json")
            .chain(args.iter().copied())
            .collect();
        let out = rekt(&args);
        assert_exit(&out, 2, &format!("{args:?}"));
        assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
        assert_terminal_safe("a usage error as JSON", &out.stdout, false);
        let doc = json_of(&out);
        assert_eq!(doc["mode"], "usage", "{args:?}: {doc}");
        assert_eq!(doc["exit_code"], 2, "{args:?}: {doc}");
        let error = doc["error"].as_str().unwrap_or_else(|| panic!("{doc}"));
        assert!(
            !error.is_empty() && !error.contains('\n'),
            "{args:?}: {error:?}"
        );
        assert!(!error.starts_with("rekt: "), "{args:?}: {error:?}");
        assert_eq!(doc["owners"], Value::Array(vec![]), "{doc}");
    }
    let doc = json_of(&rekt(&["--json", hostile]));
    assert_eq!(
        doc["error"].as_str().unwrap().split(':').next().unwrap(),
        r"invalid port '\e[31m\u{9b}'"
    );
    // The same errors without --json: one line on stderr.
    let out = rekt(&["-8000"]);
    assert_exit(&out, 2, "-8000");
    assert_eq!(
        stderr(&out),
        "rekt: invalid port '-8000': a port has no sign; did you mean 8000?\n"
    );
    // A usage error that cannot be written is a write error like any other.
    let out = rekt_to(&["--json", "0"], dev_full(), Stdio::piped());
    assert_exit(&out, 4, "--json 0 >/dev/full");
    let out = rekt_to(&["0"], Stdio::piped(), dev_full());
    assert_exit(&out, 4, "0 2>/dev/full");
    assert!(h.alive(), "{}", h.context());
}

// ---------------------------------------------------------------------------------------
// 6: the man page.

#[test]
fn the_man_page_renders_cleanly() {
    if which("groff").is_none() || which("man").is_none() {
        support::skip("this test needs groff and man");
        return;
    }
    let dir = TempDir::new("man");
    let page = dir.join("rekt.1");
    std::fs::write(&page, rekt(&["man"]).stdout).unwrap();
    let out = run(Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .arg(&page)
        .env("LC_ALL", "C"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "groff warns: {}", stderr(&out));

    let out = run(Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "200")
        .env("LC_ALL", "C")
        .env_remove("MANPAGER")
        .env_remove("PAGER"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "man -l: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert!(lines.contains(&"rekt [OPTIONS] [PORT]..."), "{text}");
    assert!(lines.contains(&"rekt completions SHELL"), "{text}");
    // No page that does not exist is named (clap_mangen's rekt-completions(1) and the like).
    for (i, _) in text.match_indices("rekt-") {
        let name: String = text[i + 5..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        assert!(
            !text[i + 5 + name.len()..].starts_with("(1)"),
            "refers to rekt-{name}(1):\n{text}"
        );
    }
    // Each line of --help's examples is one line of the page: nothing is refilled.
    let help = stdout(&rekt(&["--help"]));
    let examples = help
        .split("Examples:\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    assert!(examples.lines().count() >= 9, "{examples}");
    for example in examples.lines() {
        assert!(
            lines.contains(&example.trim()),
            "{example:?} is not a line of the page:\n{text}"
        );
    }
    // Each exit code is an entry of its own.
    let status = text.split("EXIT STATUS").nth(1).expect("EXIT STATUS");
    for code in 0..=4 {
        assert!(
            status
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{code}      "))),
            "exit code {code}:\n{status}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 9: --timeout 0s.

#[test]
fn timeout_0s_signals_without_waiting_and_says_nothing_is_still_running() {
    let _net = private_netns();
    // It ignores SIGTERM, so the port is still held when rekt checks it, every time.
    let mut h = Holder::spawn(&["--ignore-term", "tcp", &v4()], 1);
    let spec = h.spec();
    let out = rekt(&["-t", "--timeout", "0s", &spec]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("terminated {} (sockhold)", h.pid())),
        "{err}"
    );
    assert!(
        !err.contains("still running"),
        "nothing was waited for: {err}"
    );
    assert!(
        err.contains(&format!(
            "port {spec} is still held by PID {} (sockhold)",
            h.pid()
        )),
        "{err}"
    );
    assert_eq!(code(&out), 3, "the port is still held: {err}");

    let out = rekt(&["--json", "-t", "--timeout", "0s", &spec]);
    let doc = json_of(&out);
    let o = owner(&doc, h.pid());
    assert_eq!(o["signal"], "terminate", "{o}");
    assert_eq!(o["outcome"], "not_waited", "{o}");
    assert_eq!(o.get("message"), None, "{o}");
    assert_eq!(doc["ports"][0]["status"], "held", "{doc}");
    assert_eq!((code(&out), &doc["exit_code"]), (3, &3.into()), "{doc}");
    assert!(h.alive(), "{}", h.context());
}

// ---------------------------------------------------------------------------------------
// 7: list mode and addresses.

#[test]
fn list_mode_leaves_connected_udp_sockets_out() {
    let _net = private_netns();
    let server = Holder::udp(&v4());
    let client = Holder::spawn(
        &["--connect", "udp", &format!("127.0.0.1:{}", server.port)],
        1,
    );
    let out = rekt(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let ports: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(ports.contains(&server.port.to_string().as_str()), "{text}");
    assert!(
        !ports.contains(&client.port.to_string().as_str()),
        "a connected UDP socket is no listener:\n{text}"
    );
    // Not vacuous: the lookup of its port finds it, connected.
    let out = rekt(&["-v", &client.spec()]);
    assert_eq!(
        support::pids_in_table(&out),
        [client.pid()],
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains(" ESTABLISHED "), "{}", stdout(&out));
}

#[test]
fn an_empty_list_says_so_on_stderr() {
    require_root!();
    let _net = private_netns();
    assert!(support::private(), "needs a private network namespace");
    let out = rekt(&[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert_eq!(stderr(&out), "rekt: nothing is listening\n");
    // --json says it with an empty list.
    let doc = json_of(&rekt(&["--json"]));
    assert_eq!(
        (&doc["mode"], &doc["owners"]),
        (&"list".into(), &Value::Array(vec![]))
    );
}

#[test]
fn a_link_local_address_shows_its_interface_as_ss_does() {
    require_root!();
    let _net = private_netns();
    let ip = |args: &[&str]| {
        let out = run(Command::new("ip").args(args));
        assert_eq!(code(&out), 0, "ip {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    // On lo, which every network namespace has: no module is needed.
    ip(&["addr", "add", "fe80::1/64", "dev", "lo", "nodad"]);
    let index: u32 = ip(&["-o", "link", "show", "lo"])
        .split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let h = Holder::tcp(&format!("[fe80::1%{index}]:{}", support::unused_port()));
    let out = rekt(&["-v", &h.spec()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(" [fe80::1]%lo:{} ", h.port)),
        "{}",
        stdout(&out)
    );
    // A global address has no scope to show.
    let g = Holder::tcp(&format!("[::1]:{}", support::unused_port()));
    let out = rekt(&["-v", &g.spec()]);
    assert!(
        stdout(&out).contains(&format!(" [::1]:{} ", g.port)),
        "{}",
        stdout(&out)
    );
}

// ---------------------------------------------------------------------------------------
// 1: no code path prints with a macro that panics.

/// `println!` and friends panic when the stream is closed (and the release build aborts on
/// a panic): outside tests, everything rekt prints goes through `src/output/stream.rs`, or
/// ignores the error (`src/debug.rs`).
#[test]
fn nothing_in_src_prints_with_a_macro_that_panics() {
    fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
                continue;
            }
            if path.extension() != Some(OsStr::new("rs")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // The unit tests at the end of a file may print.
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            for (n, line) in code.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                for mac in ["println!", "eprintln!", "print!", "eprint!", "dbg!"] {
                    if line.contains(mac) {
                        found.push(format!("{}:{}: {line}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}
