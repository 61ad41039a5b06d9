//! The live view's state machine, free of any terminal: the rows, the filter, the
//! selection, the details pane, the pending question and the status line. Keys go in,
//! commands for the loop (`mod.rs`) come out, so every rule here is tested without a
//! terminal.

use crate::kill::Signal;
use crate::model::Protocol;

/// One row: a listening socket's port and one of its owners (or none that can be seen).
/// Every text field is already escaped (`Text`'s `Display`, through `text.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) port: u16,
    pub(crate) protocol: Protocol,
    /// `None`: a socket whose owner cannot be seen (`reason` says why).
    pub(crate) pid: Option<u32>,
    pub(crate) name: String,
    pub(crate) user: String,
    /// `holder`, `client`, `caller`, `protected`, `forwarder`, or `hidden`.
    pub(crate) role: &'static str,
    /// The container it runs in or forwards for (`docker:web`), else its systemd unit.
    pub(crate) place: String,
    /// Why rekt spares it (forwarder, caller, client, protected) or cannot see it.
    pub(crate) reason: Option<String>,
}

impl Row {
    /// What identifies a row across refreshes, so that the selection stays on it.
    pub(crate) fn key(&self) -> (u16, Protocol, Option<u32>) {
        (self.port, self.protocol, self.pid)
    }

    /// Whether the filter (lower case) matches its port, name, user, container or unit.
    fn matches(&self, filter: &str) -> bool {
        if filter.is_empty() {
            return true;
        }
        let pid = self.pid.map(|p| p.to_string()).unwrap_or_default();
        [
            self.port.to_string().as_str(),
            pid.as_str(),
            self.name.as_str(),
            self.user.as_str(),
            self.place.as_str(),
        ]
        .iter()
        .any(|field| field.to_lowercase().contains(filter))
    }
}

/// A key, as the view understands it (mapped from the terminal's events in `mod.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Char(char),
    Backspace,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    /// Ctrl-K: kill.
    Kill,
    Tab,
    Esc,
    /// Ctrl-C: quit from anywhere.
    Quit,
}

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Nothing,
    Quit,
    /// End the owners of this port the way `rekt -t/-k PORT/PROTO` does.
    Act {
        port: u16,
        protocol: Protocol,
        signal: Signal,
    },
    /// Read the details of this row for the pane.
    Describe {
        port: u16,
        protocol: Protocol,
        pid: Option<u32>,
    },
    /// The answer to the pending question.
    Answer(bool),
}

/// The whole state of the view.
#[derive(Debug, Default)]
pub(crate) struct State {
    rows: Vec<Row>,
    filter: String,
    /// The selected row's index among the filtered rows.
    selected: usize,
    /// The details pane's lines, when it is open.
    pane: Option<Vec<String>>,
    /// The question on the footer, waiting for y/N.
    question: Option<String>,
    /// The outcome of the last action, in the command line's words.
    status: Vec<String>,
    /// What is shown, and what is hidden and why.
    pub(crate) header: String,
    /// How many rows fit on a page (set by the renderer).
    pub(crate) page: usize,
}

impl State {
    pub(crate) fn new(header: String) -> State {
        State {
            header,
            page: 10,
            ..State::default()
        }
    }

    /// The rows that pass the filter.
    pub(crate) fn visible(&self) -> Vec<&Row> {
        let filter = self.filter.to_lowercase();
        self.rows.iter().filter(|r| r.matches(&filter)).collect()
    }

    pub(crate) fn filter(&self) -> &str {
        &self.filter
    }

    /// The selected row's index among the visible ones, if any is visible.
    pub(crate) fn selected(&self) -> Option<usize> {
        let n = self.visible().len();
        (n > 0).then(|| self.selected.min(n - 1))
    }

    pub(crate) fn selected_row(&self) -> Option<&Row> {
        let i = self.selected()?;
        self.visible().get(i).copied()
    }

    pub(crate) fn pane(&self) -> Option<&[String]> {
        self.pane.as_deref()
    }

    pub(crate) fn question(&self) -> Option<&str> {
        self.question.as_deref()
    }

    pub(crate) fn status(&self) -> &[String] {
        &self.status
    }

    pub(crate) fn set_status(&mut self, lines: Vec<String>) {
        self.status = lines;
    }

    pub(crate) fn set_pane(&mut self, lines: Vec<String>) {
        self.pane = Some(lines);
    }

    /// Puts a question on the footer; the next key answers it.
    pub(crate) fn ask(&mut self, question: String) {
        self.question = Some(question);
    }

    /// Replaces the rows after a refresh, keeping the selection on the same row when it
    /// is still there (else at the same place, within bounds).
    pub(crate) fn merge(&mut self, rows: Vec<Row>) {
        let kept = self.selected_row().map(Row::key);
        self.rows = rows;
        if let Some(key) = kept
            && let Some(i) = self.visible().iter().position(|r| r.key() == key)
        {
            self.selected = i;
        }
        self.clamp();
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    /// Handles one key.
    pub(crate) fn key(&mut self, key: Key) -> Command {
        if self.question.is_some() {
            // A pending question: y answers yes, Ctrl-C quits (saying no), anything else
            // is no. Nothing else happens until it is answered.
            self.question = None;
            return match key {
                Key::Char('y' | 'Y') => Command::Answer(true),
                Key::Quit => Command::Quit,
                _ => Command::Answer(false),
            };
        }
        let page = self.page.max(1);
        match key {
            Key::Quit => return Command::Quit,
            Key::Esc if self.pane.is_some() => self.pane = None,
            Key::Esc if !self.filter.is_empty() => {
                self.filter.clear();
                self.clamp();
            }
            Key::Esc => return Command::Quit,
            Key::Char(c) if !c.is_control() => {
                self.filter.push(c);
                self.selected = 0;
            }
            Key::Char(_) => {}
            Key::Backspace => {
                self.filter.pop();
                self.clamp();
            }
            Key::Up => self.selected = self.selected.saturating_sub(1),
            Key::Down => self.selected += 1,
            Key::PageUp => self.selected = self.selected.saturating_sub(page),
            Key::PageDown => self.selected += page,
            Key::Home => self.selected = 0,
            Key::End => self.selected = usize::MAX,
            Key::Tab if self.pane.is_some() => self.pane = None,
            Key::Tab => {
                if let Some(row) = self.selected_row() {
                    return Command::Describe {
                        port: row.port,
                        protocol: row.protocol,
                        pid: row.pid,
                    };
                }
            }
            Key::Enter | Key::Kill => {
                if let Some(row) = self.selected_row() {
                    let signal = match key {
                        Key::Kill => Signal::Kill,
                        _ => Signal::Terminate,
                    };
                    return Command::Act {
                        port: row.port,
                        protocol: row.protocol,
                        signal,
                    };
                }
            }
        }
        self.clamp();
        Command::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(port: u16, pid: u32, name: &str) -> Row {
        Row {
            port,
            protocol: Protocol::Tcp,
            pid: Some(pid),
            name: name.into(),
            user: "alice".into(),
            role: "holder",
            place: String::new(),
            reason: None,
        }
    }

    fn state() -> State {
        let mut s = State::new("3 listeners".into());
        s.merge(vec![
            row(3000, 10, "node"),
            row(5432, 20, "postgres"),
            row(8000, 30, "python3"),
        ]);
        s
    }

    fn typed(s: &mut State, text: &str) {
        for c in text.chars() {
            assert_eq!(s.key(Key::Char(c)), Command::Nothing);
        }
    }

    #[test]
    fn typing_filters_by_port_name_user_and_place() {
        let mut s = state();
        typed(&mut s, "pos");
        let names: Vec<&str> = s.visible().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["postgres"]);
        s.key(Key::Backspace);
        s.key(Key::Backspace);
        s.key(Key::Backspace);
        assert_eq!(s.visible().len(), 3);
        typed(&mut s, "800");
        assert_eq!(s.visible()[0].port, 8000);
        assert_eq!(s.visible().len(), 1);
        s.key(Key::Esc);
        typed(&mut s, "ALICE");
        assert_eq!(s.visible().len(), 3, "case-insensitive, by user");
        s.key(Key::Esc);
        let mut r = row(9000, 40, "nginx");
        r.place = "docker:web".into();
        s.merge(vec![r]);
        typed(&mut s, "web");
        assert_eq!(s.visible().len(), 1);
    }

    #[test]
    fn moving_stays_in_bounds() {
        let mut s = state();
        s.key(Key::Up);
        assert_eq!(s.selected(), Some(0));
        s.key(Key::Down);
        s.key(Key::Down);
        s.key(Key::Down);
        assert_eq!(s.selected(), Some(2));
        s.key(Key::Home);
        assert_eq!(s.selected(), Some(0));
        s.key(Key::End);
        assert_eq!(s.selected(), Some(2));
        s.page = 2;
        s.key(Key::PageUp);
        assert_eq!(s.selected(), Some(0));
        s.key(Key::PageDown);
        assert_eq!(s.selected(), Some(2));
        typed(&mut s, "nothing matches this");
        assert_eq!(s.selected(), None);
        assert_eq!(s.key(Key::Enter), Command::Nothing, "no row, no action");
    }

    #[test]
    fn refresh_keeps_the_selection_on_its_row() {
        let mut s = state();
        s.key(Key::Down);
        assert_eq!(s.selected_row().unwrap().pid, Some(20));
        // A new listener sorts before it: the selection follows postgres.
        s.merge(vec![
            row(80, 5, "nginx"),
            row(3000, 10, "node"),
            row(5432, 20, "postgres"),
            row(8000, 30, "python3"),
        ]);
        assert_eq!(s.selected_row().unwrap().pid, Some(20));
        // It is gone: the selection stays in place, within bounds.
        s.merge(vec![row(80, 5, "nginx")]);
        assert_eq!(s.selected_row().unwrap().pid, Some(5));
        s.merge(Vec::new());
        assert_eq!(s.selected(), None);
    }

    #[test]
    fn enter_and_ctrl_k_act_on_the_selected_port() {
        let mut s = state();
        s.key(Key::End);
        let act = |signal| Command::Act {
            port: 8000,
            protocol: Protocol::Tcp,
            signal,
        };
        assert_eq!(s.key(Key::Enter), act(Signal::Terminate));
        assert_eq!(s.key(Key::Kill), act(Signal::Kill));
    }

    #[test]
    fn only_y_says_yes() {
        let mut s = state();
        s.ask("SIGTERM process: 30 (python3)".into());
        assert_eq!(s.question(), Some("SIGTERM process: 30 (python3)"));
        // Enter (the key that asked) is no, and so is anything but y.
        assert_eq!(s.key(Key::Enter), Command::Answer(false));
        assert_eq!(s.question(), None);
        for key in [
            Key::Char('n'),
            Key::Esc,
            Key::Char(' '),
            Key::Kill,
            Key::Tab,
        ] {
            s.ask("?".into());
            assert_eq!(s.key(key), Command::Answer(false), "{key:?}");
        }
        s.ask("?".into());
        assert_eq!(s.key(Key::Char('y')), Command::Answer(true));
        s.ask("?".into());
        assert_eq!(s.key(Key::Quit), Command::Quit);
        assert_eq!(s.filter(), "", "the answer is not typed into the filter");
    }

    #[test]
    fn esc_closes_the_pane_then_clears_the_filter_then_quits() {
        let mut s = state();
        typed(&mut s, "no");
        assert!(matches!(
            s.key(Key::Tab),
            Command::Describe { pid: Some(10), .. }
        ));
        s.set_pane(vec!["parents: 1 (init)".into()]);
        assert_eq!(s.key(Key::Esc), Command::Nothing);
        assert!(s.pane().is_none());
        assert_eq!(s.filter(), "no");
        assert_eq!(s.key(Key::Esc), Command::Nothing);
        assert_eq!(s.filter(), "");
        assert_eq!(s.key(Key::Esc), Command::Quit);
        assert_eq!(state().key(Key::Quit), Command::Quit);
    }
}
