//! Bad input: a clear one-line error on stderr, exit 2, never a panic. Runs on every
//! platform.

use crate::support::{Holder, code, rekt, stderr, stdout, unused_port};

fn assert_usage_error(args: &[&str], needle: &str) {
    let out = rekt(args);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line, got {err:?}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(stdout(&out).is_empty(), "{args:?}: nothing on stdout");
}

#[test]
fn out_of_range_ports() {
    assert_usage_error(&["0"], "invalid port '0': ports range from 1 to 65535");
    assert_usage_error(
        &["65536"],
        "invalid port '65536': ports range from 1 to 65535",
    );
    assert_usage_error(&["70000"], "ports range from 1 to 65535");
    assert_usage_error(&["8000-70000"], "ports range from 1 to 65535");
}

#[test]
fn malformed_ports() {
    assert_usage_error(&["abc"], "invalid port 'abc'");
    assert_usage_error(&["9000-8000"], "9000 is greater than 8000");
    assert_usage_error(&["8000/sctp"], "invalid protocol 'sctp'");
    assert_usage_error(&[""], "empty port argument");
    assert_usage_error(&["80", "x"], "invalid port 'x'");
}

#[test]
fn unknown_flags_and_conflicts() {
    assert_usage_error(&["--bogus", "80"], "unexpected argument '--bogus'");
    assert_usage_error(&["--tcp", "--udp", "80"], "cannot be used with");
    assert_usage_error(&["-4", "-6", "80"], "cannot be used with");
}

#[test]
fn a_port_whose_protocol_a_flag_excludes_is_a_usage_error() {
    // `-k` below: only ever run where a mistake could not reach another process.
    #[cfg(target_os = "linux")]
    let _net = crate::support::private_netns();
    // Not "nothing holds port 8000/tcp": the question contradicts itself.
    assert_usage_error(&["--udp", "8000/tcp"], "port 8000/tcp contradicts --udp");
    assert_usage_error(&["--tcp", "53/udp"], "port 53/udp contradicts --tcp");
    // With a signal too; the ports are the test's own, as a signalling run's must be.
    let port = unused_port();
    let addr = format!("127.0.0.1:{port}");
    let _h = Holder::spawn(&["tcp", &addr, "udp", &addr], 1);
    let (tcp, udp) = (format!("{port}/tcp"), format!("{port}/udp"));
    assert_usage_error(
        &["-k", "--tcp", &tcp, &udp],
        &format!("port {udp} contradicts --tcp"),
    );
}

#[test]
fn help_and_version_succeed_on_stdout() {
    let out = rekt(&["--help"]);
    assert_eq!(code(&out), 0);
    let help = stdout(&out);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("--terminate"), "{help}");
    let out = rekt(&["--version"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).starts_with("rekt "));
}

#[test]
fn help_shows_examples_for_every_mode() {
    let help = stdout(&rekt(&["--help"]));
    for example in [
        "rekt                ",
        "rekt 8000 ",
        "rekt -t --timeout 2s --escalate 8000",
        "rekt --json 8000",
    ] {
        assert!(help.contains(example), "{example:?} missing from --help");
    }
}

#[test]
fn completions_and_man_page() {
    for (shell, needle) in [
        ("bash", "complete -F _rekt"),
        ("zsh", "#compdef rekt"),
        ("fish", "complete -c rekt"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = rekt(&["completions", shell]);
        assert_eq!(code(&out), 0, "{shell}");
        assert!(stdout(&out).contains(needle), "{shell}: {needle:?}");
        assert!(stdout(&out).contains("escalate"), "{shell}");
    }
    let out = rekt(&["man"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).starts_with(".ie"), "roff");
    assert!(stdout(&out).contains(".TH rekt"), "roff");
    assert_usage_error(&["completions", "tcsh"], "invalid value 'tcsh'");
}

#[test]
fn signals_need_a_port_and_bad_durations_are_usage_errors() {
    // These runs must stop at the arguments; were one taken, it would signal by the port
    // given, so that is a port of the test's own, in its own namespace (see tests/it/support).
    #[cfg(target_os = "linux")]
    let _net = crate::support::private_netns();
    let mut h = Holder::udp(&format!("127.0.0.1:{}", unused_port()));
    let spec = h.spec();
    assert_usage_error(&["-k"], "-t/-k need a port");
    assert_usage_error(
        &["-t", "--timeout", "5", &spec],
        "invalid duration '5': missing unit",
    );
    assert_usage_error(&["-t", "--timeout", "1d", &spec], "unknown unit 'd'");
    // Every option that acts on a signal says so without -t or -k.
    for flag in [
        "--escalate",
        "--settle=1s",
        "--timeout=1s",
        "--include-clients",
        "--include-forwarders",
        "--partial",
        "-y",
    ] {
        let name = flag.split('=').next().unwrap();
        assert_usage_error(
            &[flag, &spec],
            &format!("{name} acts on a signal: give -t (SIGTERM) or -k (SIGKILL) with it"),
        );
    }
    assert!(h.alive(), "{}", h.context());
}

#[test]
fn ports_as_people_type_them() {
    // `:8000` and lists are ports; an address is refused with the form that works.
    #[cfg(target_os = "linux")]
    let _net = crate::support::private_netns();
    let free = unused_port();
    for arg in [
        format!(":{free}"),
        format!("{free},{free}"),
        format!("{free}/tcp,{free}"),
    ] {
        let out = rekt(&[&arg]);
        assert_eq!(code(&out), 1, "{arg}: {}", stderr(&out));
    }
    for arg in ["localhost:8000", "127.0.0.1:8000", "[::1]:8000"] {
        assert_usage_error(&[arg], "rekt takes a port, not an address");
        assert_usage_error(&[arg], "use `rekt -v 8000`");
    }
    assert_usage_error(&["-9", "8000"], "use -k to force (SIGKILL)");
    assert_usage_error(&["-15", "8000"], "use -t to ask (SIGTERM)");
    // A negative duration is said the same both ways.
    assert_usage_error(
        &["--timeout", "-1s", "-k", "8000"],
        "invalid duration '-1s': a duration cannot be negative",
    );
    assert_usage_error(
        &["--timeout=-1s", "-k", "8000"],
        "invalid duration '-1s': a duration cannot be negative",
    );
}
