//! `rekt -i`: the live view of every listener, filtered as you type, that acts on a port
//! through the same path as `rekt -t/-k PORT` (`run`). The state machine is `state.rs`,
//! the drawing `render.rs`, the cheap refresh `refresh.rs`, and the terminal's setup and
//! its restoring on every way out `terminal.rs`. ratatui and crossterm are touched only
//! from here, so a plain `rekt PORT` never pays for them.

mod refresh;
mod render;
mod state;
mod terminal;

use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::exit_codes::ExitCode;
use crate::kill::Policy;
use crate::model::Protocol;
use crate::output::Format;
use crate::query::{BlockerSearch, PortSpec, Query};
use crate::run::{self, Options};
use refresh::Survey;
use state::{Command, Key, State};

/// How often the socket table is looked at: a new or gone listener shows within this.
const REFRESH: Duration = Duration::from_millis(500);

/// How long to wait for owners to exit after a signal, as `rekt -t` does by default.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the view on the listeners that `opts.query` asks about, until the user quits.
pub(crate) fn run(opts: &Options) -> ExitCode {
    let mut survey = Survey::new(opts.query.clone());
    if let Err(e) = survey.refresh() {
        return crate::output::lookup_failed(&e);
    }
    let mut screen = match terminal::Screen::open() {
        Ok(screen) => screen,
        Err(e) => return crate::output::write_error(&e, "the view"),
    };
    let mut state = State::new(survey.header());
    state.merge(survey.rows());
    let code = event_loop(&mut screen, &mut state, &mut survey, opts);
    drop(screen);
    code
}

fn event_loop(
    screen: &mut terminal::Screen,
    state: &mut State,
    survey: &mut Survey,
    opts: &Options,
) -> ExitCode {
    let mut next = Instant::now() + REFRESH;
    let mut dirty = true;
    loop {
        if terminal::interrupted() {
            return ExitCode::Success;
        }
        if terminal::hung_up() {
            return ExitCode::Error;
        }
        if dirty {
            if screen.draw(state).is_err() {
                return ExitCode::Error;
            }
            dirty = false;
        }
        let wait = next.saturating_duration_since(Instant::now());
        // Short waits, so that SIGTERM and SIGHUP are noticed soon.
        match terminal::wait(wait.min(Duration::from_millis(200))) {
            Ok(true) => {
                let Some(key) = read_key() else {
                    dirty = true;
                    continue;
                };
                let Ok(key) = key else {
                    // The terminal is gone (its window closed, its tmux killed): nothing
                    // more can be read or shown.
                    return ExitCode::Error;
                };
                dirty = true;
                panic_for_tests(key);
                match state.key(key) {
                    Command::Quit => return ExitCode::Success,
                    Command::Act {
                        port,
                        protocol,
                        signal,
                    } => {
                        let (_, notes) = act(screen, state, opts, port, protocol, signal);
                        if terminal::interrupted() || notes.is_none() {
                            return ExitCode::Success;
                        }
                        state.set_status(notes.unwrap_or_default());
                        next = Instant::now();
                    }
                    Command::Describe {
                        port,
                        protocol,
                        pid,
                    } => state.set_pane(survey.describe(port, protocol, pid)),
                    Command::Nothing | Command::Answer(_) => {}
                }
            }
            Ok(false) => {}
            Err(_) => return ExitCode::Error,
        }
        if Instant::now() >= next {
            next = Instant::now() + REFRESH;
            match survey.refresh() {
                Ok(true) => {
                    state.header = survey.header();
                    state.merge(survey.rows());
                    dirty = true;
                }
                Ok(false) => {}
                Err(e) => {
                    state.set_status(vec![crate::output::words::lookup_failed(&e)]);
                    dirty = true;
                }
            }
        }
    }
}

/// Ends the owners of `port`/`protocol` the way `rekt -t/-k PORT/PROTO` does, asking on
/// the footer once they are pinned. Returns the exit code and the lines a plain run
/// would write to stderr; `None` for the lines when the user quit at the question.
fn act(
    screen: &mut terminal::Screen,
    state: &mut State,
    opts: &Options,
    port: u16,
    protocol: Protocol,
    signal: crate::kill::Signal,
) -> (ExitCode, Option<Vec<String>>) {
    let mut query = Query::ports(vec![PortSpec {
        first: port,
        last: port,
        protocol: Some(protocol),
    }]);
    query.blockers = BlockerSearch::Everywhere;
    let opts = Options {
        query,
        format: Format::Human {
            verbose: false,
            width: None,
        },
        action: Some(Policy {
            signal,
            timeout: TIMEOUT,
            escalate: false,
        }),
        interactive: false,
        include: opts.include,
        yes: true,
        settle: opts.settle,
        partial: opts.partial,
        scope: crate::lookup::Scope::Here,
    };
    let mut quit = false;
    let mut answer = |question: &str| {
        state.ask(question.to_owned());
        loop {
            if terminal::interrupted() || terminal::hung_up() || screen.draw(state).is_err() {
                quit = true;
                return false;
            }
            match terminal::wait(Duration::from_millis(200)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => {
                    quit = true;
                    return false;
                }
            }
            let Some(key) = read_key() else { continue };
            let Ok(key) = key else {
                quit = true;
                return false;
            };
            match state.key(key) {
                Command::Answer(yes) => {
                    if yes {
                        state.set_status(vec![format!("{question}: working…")]);
                        let _ = screen.draw(state);
                    }
                    return yes;
                }
                Command::Quit => {
                    quit = true;
                    return false;
                }
                _ => {}
            }
        }
    };
    let (code, notes) = run::run_answering(&opts, &mut answer);
    (code, (!quit).then_some(notes))
}

/// The next key press, as the view understands it; `None` for anything else (a resize,
/// a key release); `Some(Err)` when the terminal cannot be read any more.
fn read_key() -> Option<Result<Key, std::io::Error>> {
    if terminal::hung_up() {
        // crossterm would read its end-of-file for ever.
        return Some(Err(std::io::ErrorKind::UnexpectedEof.into()));
    }
    let event = match event::read() {
        Ok(event) => event,
        Err(e) => return Some(Err(e)),
    };
    let Event::Key(KeyEvent {
        code,
        modifiers,
        kind,
        ..
    }) = event
    else {
        return None;
    };
    if kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = modifiers.contains(KeyModifiers::CONTROL);
    Some(Ok(match code {
        KeyCode::Char('c') if ctrl => Key::Quit,
        KeyCode::Char('k') if ctrl => Key::Kill,
        KeyCode::Char(_) if ctrl => return None,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Tab => Key::Tab,
        KeyCode::Esc => Key::Esc,
        _ => return None,
    }))
}

/// A test hook, compiled only into debug builds (what `cargo test` runs), never into a
/// release: with `REKT_TEST_VIEW_PANIC` set, the key `!` panics in a function that cannot
/// unwind, so that the process aborts after the panic hook, as a release build (`panic =
/// "abort"`) does; no destructor runs, and only the hook can restore the terminal.
#[cfg(debug_assertions)]
fn panic_for_tests(key: Key) {
    extern "C" fn abort_with_a_panic() {
        panic!("REKT_TEST_VIEW_PANIC: a panic in the view, for the tests");
    }
    if key == Key::Char('!') && std::env::var_os("REKT_TEST_VIEW_PANIC").is_some() {
        abort_with_a_panic();
    }
}

#[cfg(not(debug_assertions))]
fn panic_for_tests(_: Key) {}
