//! Drawing the state with ratatui: a one-line header, the table, the details pane when
//! open, the status line and the footer with the keys (or the pending question). Every
//! cell is already escaped; ratatui clips to the frame, so nothing wraps and no size is
//! too small.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row as TableRow, Table, TableState};

use super::state::State;

/// The footer's keys.
const KEYS: &str = "type: filter  ↑↓ PgUp PgDn Home End: move  Enter: terminate  Ctrl-K: kill  \
                    Tab: details  Esc: clear/close/quit  Ctrl-C: quit";

/// Draws the whole view.
pub(crate) fn draw(frame: &mut Frame<'_>, state: &mut State) {
    let area = frame.area();
    let status_lines = state.status().len().min(3) as u16;
    let [header, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(status_lines),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut title = state.header.clone();
    if !state.filter().is_empty() {
        title.push_str(&format!(" | filter: {}", state.filter()));
    }
    frame.render_widget(
        Paragraph::new(title).style(Style::new().add_modifier(Modifier::BOLD)),
        header,
    );
    let (table_area, pane_area) = match state.pane() {
        Some(_) if body.width >= 60 => {
            let [t, p] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(body);
            (t, Some(p))
        }
        Some(_) => (Rect::default(), Some(body)),
        None => (body, None),
    };
    draw_table(frame, table_area, state);
    if let (Some(area), Some(lines)) = (pane_area, state.pane()) {
        let text: Vec<Line<'_>> = lines.iter().map(|l| Line::raw(l.as_str())).collect();
        frame.render_widget(
            Paragraph::new(text).block(Block::new().borders(Borders::LEFT).title("details")),
            area,
        );
    }
    let shown: Vec<Line<'_>> = state
        .status()
        .iter()
        .rev()
        .take(status_lines as usize)
        .rev()
        .map(|l| Line::raw(l.as_str()))
        .collect();
    frame.render_widget(Paragraph::new(shown), status);
    let (text, style) = match state.question() {
        Some(q) => (
            format!("{q}? [y/N]"),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ),
        None => (KEYS.to_owned(), Style::new().add_modifier(Modifier::DIM)),
    };
    frame.render_widget(Paragraph::new(text).style(style), footer);
}

/// The table: PORT PROTO PID NAME USER ROLE WHERE NOTE, fewer on a narrow terminal. The
/// numbers keep their width; the names share what is left and are cut, never wrapped.
fn draw_table(frame: &mut Frame<'_>, area: Rect, state: &mut State) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    // The header row takes one line.
    state.page = area.height.saturating_sub(1).max(1) as usize;
    let selected = state.selected();
    // The columns that fit: names need room, so the narrow terminal keeps fewer.
    let columns: &[Column] = if area.width < 60 {
        &[
            Column::Port,
            Column::Proto,
            Column::Pid,
            Column::Name,
            Column::Role,
        ]
    } else if area.width < 90 {
        &[
            Column::Port,
            Column::Proto,
            Column::Pid,
            Column::Name,
            Column::User,
            Column::Role,
            Column::Where,
        ]
    } else {
        &[
            Column::Port,
            Column::Proto,
            Column::Pid,
            Column::Name,
            Column::User,
            Column::Role,
            Column::Where,
            Column::Note,
        ]
    };
    let rows: Vec<TableRow<'_>> = state
        .visible()
        .into_iter()
        .map(|r| {
            let spared = r.reason.is_some();
            let cells = columns.iter().map(|c| {
                Cell::from(match c {
                    Column::Port => r.port.to_string(),
                    Column::Proto => r.protocol.to_string(),
                    Column::Pid => r.pid.map_or("-".into(), |p| p.to_string()),
                    Column::Name => r.name.clone(),
                    Column::User => r.user.clone(),
                    // The mark of a row rekt spares; the reason is in NOTE and the pane.
                    Column::Role if spared => format!("{}!", r.role),
                    Column::Role => r.role.to_owned(),
                    Column::Where => r.place.clone(),
                    Column::Note => r.reason.clone().unwrap_or_default(),
                })
            });
            let row = TableRow::new(cells);
            if spared {
                row.style(Style::new().add_modifier(Modifier::DIM))
            } else {
                row
            }
        })
        .collect();
    let widths = columns.iter().map(|c| c.width());
    let header = TableRow::new(columns.iter().map(|c| c.title()))
        .style(Style::new().add_modifier(Modifier::BOLD));
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut table_state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut table_state);
}

/// A column of the table.
#[derive(Debug, Clone, Copy)]
enum Column {
    Port,
    Proto,
    Pid,
    Name,
    User,
    Role,
    Where,
    Note,
}

impl Column {
    fn title(self) -> &'static str {
        match self {
            Column::Port => "PORT",
            Column::Proto => "PROTO",
            Column::Pid => "PID",
            Column::Name => "NAME",
            Column::User => "USER",
            Column::Role => "ROLE",
            Column::Where => "WHERE",
            Column::Note => "NOTE",
        }
    }

    /// The numbers keep their width; the names share what is left.
    fn width(self) -> Constraint {
        match self {
            Column::Port | Column::Proto => Constraint::Length(5),
            Column::Pid => Constraint::Length(7),
            Column::Role => Constraint::Length(10),
            Column::Name | Column::Where => Constraint::Fill(2),
            Column::User => Constraint::Fill(1),
            Column::Note => Constraint::Fill(4),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;
    use crate::view::state::{Key, Row};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn state() -> State {
        let mut s =
            State::new("rekt -i: 2 listening TCP and bound UDP sockets on every port".into());
        s.merge(vec![
            Row {
                port: 8000,
                protocol: Protocol::Tcp,
                pid: Some(41022),
                name: "python3".into(),
                user: "alice".into(),
                role: "holder",
                place: "app.service".into(),
                reason: None,
            },
            Row {
                port: 8080,
                protocol: Protocol::Tcp,
                pid: Some(900),
                name: "docker-proxy".into(),
                user: "root".into(),
                role: "forwarder",
                place: "docker:web".into(),
                reason: Some("it forwards the port for container web (docker)".into()),
            },
        ]);
        s
    }

    fn frame(state: &mut State, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, state)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buffer.area.height {
            let line: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_owned())
                .collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    #[test]
    fn snapshot_wide() {
        let mut s = state();
        let got = frame(&mut s, 100, 8);
        let want = "\
rekt -i: 2 listening TCP and bound UDP sockets on every port
PORT  PROTO PID     NAME            USER    ROLE       WHERE           NOTE
8000  tcp   41022   python3         alice   holder     app.service
8080  tcp   900     docker-proxy    root    forwarder! docker:web      it forwards the port for cont



type: filter  ↑↓ PgUp PgDn Home End: move  Enter: terminate  Ctrl-K: kill  Tab: details  Esc: clear/
";
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn snapshot_question_and_status() {
        let mut s = state();
        s.set_status(vec![
            "terminated 41022 (python3)".into(),
            "port 8000/tcp is free".into(),
        ]);
        s.ask("SIGTERM process: 41022 (python3)".into());
        let got = frame(&mut s, 60, 7);
        let want = "\
rekt -i: 2 listening TCP and bound UDP sockets on every port
PORT  PROTO PID     NAME        USER  ROLE       WHERE
8000  tcp   41022   python3     alice holder     app.service
8080  tcp   900     docker-prox root  forwarder! docker:web
terminated 41022 (python3)
port 8000/tcp is free
SIGTERM process: 41022 (python3)? [y/N]
";
        assert_eq!(got, want, "\n{got}");
    }

    #[test]
    fn snapshot_pane_and_filter() {
        let mut s = state();
        s.key(Key::Char('p'));
        s.key(Key::Char('y'));
        s.set_pane(vec![
            "41022 (python3)".into(),
            "parents: 4100 (bash)".into(),
        ]);
        let got = frame(&mut s, 80, 5);
        assert!(
            got.starts_with(
                "rekt -i: 2 listening TCP and bound UDP sockets on every port | filter: py\n"
            ),
            "{got}"
        );
        assert!(got.contains("│details"), "{got}");
        assert!(got.contains("│parents: 4100 (bash)"), "{got}");
    }

    #[test]
    fn no_size_is_too_small() {
        for (w, h) in [
            (40, 10),
            (20, 5),
            (10, 3),
            (1, 1),
            (0, 0),
            (3, 40),
            (200, 2),
        ] {
            let mut s = state();
            s.set_status(vec!["a".into(); 5]);
            frame(&mut s, w, h);
            s.set_pane(vec!["x".repeat(300)]);
            s.ask("y".repeat(500));
            frame(&mut s, w, h);
        }
        let mut s = state();
        let got = frame(&mut s, 40, 10);
        for line in got.lines() {
            assert!(crate::text::width(line) <= 40, "{line}");
        }
        let want = "\
rekt -i: 2 listening TCP and bound UDP s
PORT  PROTO PID     NAME      ROLE
8000  tcp   41022   python3   holder
8080  tcp   900     docker-pr forwarder!";
        assert!(got.starts_with(want), "\n{got}");
    }
}
