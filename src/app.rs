//! One run of rekt: look up, print, optionally signal, and decide the exit code. Results go
//! to stdout; notes, warnings and per-process reports go to stderr.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::cli::Options;
use crate::exit_codes::ExitCode;
use crate::kill::{self, Event, Outcome, Signal};
use crate::model::ProcessInfo;
use crate::output;
use crate::platform;

pub fn run(opts: &Options) -> ExitCode {
    let found = match crate::lookup(&opts.query) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("rekt: cannot look up sockets: {e}");
            return ExitCode::Error;
        }
    };
    let owners = &found.ownership.owners;

    // Details are read only for owners, and only the ones this run will print.
    let need_details = opts.verbose || opts.action.is_some();
    let infos: HashMap<u32, ProcessInfo> = if need_details {
        owners
            .iter()
            .map(|o| (o.pid, platform::process_info(o.pid)))
            .collect()
    } else {
        HashMap::new()
    };
    let info = |pid: u32| infos.get(&pid).cloned();
    let name_of = |pid: u32| infos.get(&pid).and_then(|i| i.name.clone());

    let table = output::lookup_table(owners, opts.verbose, info);
    if !table.is_empty() {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        // A closed pipe (`rekt 80 | head -0`) is not worth an error.
        let _ = table.write(&mut out).and_then(|()| out.flush());
    }
    for note in output::hidden_notes(
        &found.ownership.hidden,
        found.ownership.incomplete,
        platform::is_privileged(),
        platform::PRIVILEGE_HINT,
        platform::user_name,
    ) {
        eprintln!("rekt: {note}");
    }

    let mut code = if !found.ownership.hidden.is_empty() {
        ExitCode::Partial
    } else if owners.is_empty() {
        ExitCode::NothingFound
    } else {
        ExitCode::Success
    };

    if let Some(policy) = opts.action {
        let (pinned, early) = kill::pin(owners, name_of);
        for report in &early {
            eprintln!("{}", describe_final(report));
        }
        let reports = kill::execute(&pinned, policy, name_of, |event| match event {
            Event::Sent(report, signal) => eprintln!("{} {}", signal.verb(), report.who()),
            Event::NotSent(report) => eprintln!("{}", describe_final(report)),
            Event::Escalating { report, waited } => eprintln!(
                "{} still running after {}; killing it",
                report.who(),
                humantime(waited)
            ),
            Event::StillRunning(report) if report.signal == Some(Signal::Terminate) => {
                eprintln!("{} is still running; use -k to kill it", report.who())
            }
            Event::StillRunning(report) => eprintln!("{} is still running", report.who()),
        });
        if early.iter().chain(&reports).any(|r| r.outcome.is_failure()) {
            code = ExitCode::Partial;
        }
    }
    code
}

/// The one line for an owner that was never signalled, or whose signal failed.
fn describe_final(report: &kill::Report) -> String {
    let who = report.who();
    match &report.outcome {
        Outcome::Refused(why) => format!("refusing to signal {who}: {why}"),
        Outcome::Denied(e) => format!("could not signal {who}: {e}; {}", platform::PRIVILEGE_HINT),
        Outcome::Failed(e) => format!("could not signal {who}: {e}"),
        Outcome::AlreadyGone => format!("{who} already exited or released the port; not signalled"),
        Outcome::Declined => format!("skipped {who}"),
        Outcome::Exited => format!("{who} exited"),
        Outcome::StillRunning => format!("{who} is still running"),
    }
}

/// `2s`, `500ms`.
fn humantime(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
