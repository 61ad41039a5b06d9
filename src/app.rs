//! One run of rekt: look up, show, optionally signal and check the ports again, and decide
//! the exit code. How things are shown is the printer's business (`output`).

use std::collections::BTreeSet;
use std::io::{self, BufRead, Write};
use std::time::{Duration, Instant};

use crate::cli::{Format, Options};
use crate::exit_codes::ExitCode;
use crate::kill::{self, Event, Outcome, Report};
use crate::model::{Owner, PortStatus, Protocol};
use crate::output::{self, Details, Printer};
use crate::{Elsewhere, Lookup, Scope, Search, lookup_in, lookup_with_hints, platform};

pub fn run(opts: &Options) -> ExitCode {
    let mut printer = output::printer(opts.format);
    let code = run_with(opts, printer.as_mut());
    printer.finish(code);
    code
}

fn run_with(opts: &Options, printer: &mut dyn Printer) -> ExitCode {
    // A port that is free here may be held in a container's namespace: every other tool
    // would just say "free", so look there too (on the side) and say so.
    let hinting = opts.scope == Scope::Here && !opts.is_list() && opts.format != Format::Quiet;
    let result = if hinting {
        // Signalling comes next: let no search thread run on (and hold /proc) meanwhile.
        let search = match opts.action {
            Some(_) => Search::Finish,
            None => Search::Abandon,
        };
        lookup_with_hints(&opts.query, search)
    } else {
        lookup_in(&opts.query, opts.scope).map(|found| (found, Vec::new()))
    };
    let (found, elsewhere) = match result {
        Ok(found) => found,
        Err(e) => {
            printer.error(&format!("cannot look up sockets: {e}"));
            return ExitCode::Error;
        }
    };
    let owners = &found.ownership.owners;
    let wants_details = match opts.format {
        Format::Human { verbose } => verbose || opts.is_list() || opts.action.is_some(),
        Format::Json => true,
        Format::Quiet => false,
    };
    let mut details = Details::new();
    if wants_details {
        add_details(&mut details, owners.iter().map(|o| o.pid));
    }
    let privileged = platform::is_privileged();

    if opts.is_list() {
        printer.listeners(&found, &details);
        printer.hidden(&found, privileged);
        return ExitCode::Success;
    }
    printer.owners(&found, &details);
    printer.hidden(&found, privileged);
    let code = if !found.ownership.hidden.is_empty() {
        ExitCode::Partial
    } else if owners.is_empty() {
        ExitCode::NothingFound
    } else {
        ExitCode::Success
    };
    if code == ExitCode::NothingFound && elsewhere.is_empty() {
        let specs: Vec<String> = opts.query.ports.iter().map(|p| p.to_string()).collect();
        let s = if specs.len() == 1 && !specs[0].contains('-') {
            ""
        } else {
            "s"
        };
        printer.free(&format!("port{s} {}", specs.join(" ")));
    }
    hint_elsewhere(&elsewhere, printer);
    let Some(policy) = opts.action else {
        return code;
    };
    if owners.is_empty() {
        return code;
    }

    pause_for_tests();
    let name_of = |pid: u32| details.get(&pid).and_then(|i| i.name.clone());
    // Pin first, then ask and signal: a PID recycled meanwhile can never be hit.
    let (mut pinned, mut early) = kill::pin(owners, name_of);
    if opts.interactive {
        let verb = match policy.signal {
            kill::Signal::Terminate => "terminate",
            kill::Signal::Kill => "kill",
        };
        pinned.retain(|p| {
            let who = kill::who(p.owner.pid, name_of(p.owner.pid).as_deref());
            let yes = ask(&format!("{verb} {who}?"));
            if !yes {
                early.push(Report {
                    pid: p.owner.pid,
                    name: name_of(p.owner.pid),
                    signal: None,
                    outcome: Outcome::Declined,
                });
            }
            yes
        });
    }
    for report in &early {
        printer.event(Event::Skipped(report));
    }
    let reports = kill::execute(&pinned, policy, name_of, |event| printer.event(event));
    let mut all: Vec<Report> = early.into_iter().chain(reports).collect();
    all.sort_by_key(|r| r.pid);
    printer.outcomes(&all);

    let statuses = match recheck(opts, &found) {
        Ok(statuses) => statuses,
        Err(e) => {
            printer.error(&format!("cannot check the ports again: {e}"));
            return ExitCode::Error;
        }
    };
    if wants_details {
        add_details(
            &mut details,
            statuses.iter().flat_map(|s| s.holders.clone()),
        );
    }
    printer.ports(&statuses, &details);
    let failed = all.iter().any(|r| r.outcome.is_failure());
    if failed || statuses.iter().any(|s| !s.is_free()) {
        ExitCode::Partial
    } else {
        ExitCode::Success
    }
}

/// Names the other namespaces where a port that is free here is held.
fn hint_elsewhere(found: &[Elsewhere], printer: &mut dyn Printer) {
    for e in found {
        // Sorted before dedup: a dump interleaves families, so equal ports need not be
        // adjacent.
        let mut ports: Vec<(u16, Protocol)> =
            e.sockets.iter().map(|s| (s.port(), s.protocol)).collect();
        ports.sort_unstable();
        ports.dedup();
        let ports: Vec<String> = ports
            .into_iter()
            .map(|(port, protocol)| format!("{port}/{protocol}"))
            .collect();
        let by = match e.pids.as_slice() {
            [] => String::new(),
            [pid] => format!(" by PID {pid}"),
            pids => format!(
                " by PIDs {}",
                pids.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        printer.hint(&format!(
            "port {} is free here, but held in network namespace {}{by}; use --all-netns to \
             see it",
            ports.join(", "),
            e.netns.label()
        ));
    }
}

/// Reads details for the PIDs not already known.
fn add_details(details: &mut Details, pids: impl Iterator<Item = u32>) {
    for pid in pids {
        details
            .entry(pid)
            .or_insert_with(|| platform::process_info(pid));
    }
}

/// Looks again at every (port, protocol) that was held, and says who holds it now: the
/// survivors, and any newcomer that took the port meanwhile.
fn recheck(opts: &Options, before: &Lookup) -> io::Result<Vec<PortStatus>> {
    let held: BTreeSet<(u16, Protocol)> = before
        .ownership
        .owners
        .iter()
        .flat_map(|o| o.sockets.iter())
        .chain(&before.ownership.hidden)
        .map(|s| (s.port(), s.protocol))
        .collect();
    let now = lookup_in(&opts.query, opts.scope)?;
    Ok(held
        .into_iter()
        .map(|(port, protocol)| {
            let on_port = |s: &crate::model::Socket| s.port() == port && s.protocol == protocol;
            PortStatus {
                port,
                protocol,
                holders: now
                    .ownership
                    .owners
                    .iter()
                    .filter(|o: &&Owner| o.sockets.iter().any(on_port))
                    .map(|o| o.pid)
                    .collect(),
                hidden: now.ownership.hidden.iter().any(on_port),
            }
        })
        .collect())
}

/// Asks a yes/no question on the terminal; anything but y or yes is no.
fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    if io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// A test hook: with `REKT_TEST_PAUSE_DIR` set, rekt stops between the lookup and pinning
/// the owners (creating `paused` in that directory) until `resume` appears there, so that a
/// test can swap the owner for a newcomer with the same PID. Inert otherwise.
fn pause_for_tests() {
    let Some(dir) = std::env::var_os("REKT_TEST_PAUSE_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    if std::fs::write(dir.join("paused"), b"").is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("resume").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}
