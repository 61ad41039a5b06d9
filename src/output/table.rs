//! Aligned text tables: the lookup table (one row per port and owner) and the list table
//! (one row per listening socket and owner).

use std::collections::HashMap;
use std::io::{self, Write};

use super::{Known, Style, words};
use crate::judge::Role;
use crate::lookup::Lookup;
use crate::model::{Owner, ProcessInfo, Socket, SocketKey, Text};
use crate::text;

/// A plain text table: columns padded to their widest cell, two spaces apart, no trailing
/// spaces. Cells are already escaped (text from other processes is `Text`, shown through its
/// `Display`); widths are display widths, so wide characters line up, and padding is
/// computed on the text alone, so colour never breaks alignment.
#[derive(Debug, Default)]
pub(crate) struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(headers: Vec<&'static str>) -> Table {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.headers.len());
        self.rows.push(row);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes the table; with `fit` (a terminal's width), long cells are shortened with an
    /// ellipsis so that rows fit: a name to [`NAME_MAX`] columns, then, while a row is too
    /// wide, PARENTS to its nearest ancestors, then the other free-text columns, each down to
    /// a floor. Numbers, types and states are never cut.
    pub(crate) fn write(
        &self,
        out: &mut impl Write,
        style: Style,
        fit: Option<usize>,
    ) -> io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(text::width(cell));
            }
        }
        // `None`: a column left out, to fit a narrow terminal.
        let mut widths: Vec<Option<usize>> = widths.into_iter().map(Some).collect();
        if let Some(fit) = fit {
            self.shrink(&mut widths, fit);
        }
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for (i, row) in std::iter::once(&header).chain(&self.rows).enumerate() {
            let mut line = String::new();
            for (j, (cell, w)) in row.iter().zip(&widths).enumerate() {
                let Some(w) = *w else { continue };
                let cell = shorten(cell, w, self.headers[j] == "PARENTS");
                line.push_str(&cell);
                let pad = w.saturating_sub(text::width(&cell)) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
            let line = line.trim_end();
            if i == 0 {
                writeln!(out, "{}", style.bold(line))?;
            } else {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    }

    /// Narrows the shrinkable columns, in [`SHRINK_ORDER`], until a row fits in `fit`
    /// columns; then leaves out the columns that say nothing in any row (`-` in UNIT,
    /// SUPERVISOR, CONTAINER). On a terminal too narrow even for that (`-v` has up to 13
    /// columns), rows still wrap, but no cell is cut below its floor.
    fn shrink(&self, widths: &mut [Option<usize>], fit: usize) {
        let column = |name: &str| self.headers.iter().position(|h| *h == name);
        if let Some(name) = column("NAME") {
            widths[name] = widths[name].map(|w| w.min(NAME_MAX));
        }
        let total = |widths: &[Option<usize>]| {
            let shown: Vec<usize> = widths.iter().flatten().copied().collect();
            shown.iter().sum::<usize>() + 2 * shown.len().saturating_sub(1)
        };
        for &(header, floor) in SHRINK_ORDER {
            let over = total(widths).saturating_sub(fit);
            if over == 0 {
                return;
            }
            if let Some(j) = column(header)
                && let Some(w) = widths[j]
            {
                let floor = floor.max(header.len());
                widths[j] = Some(w.saturating_sub(over).max(floor.min(w)));
            }
        }
        for header in ["CONTAINER", "SUPERVISOR", "UNIT"] {
            if total(widths) <= fit {
                return;
            }
            if let Some(j) = column(header)
                && self.rows.iter().all(|r| r[j] == "-")
            {
                widths[j] = None;
            }
        }
    }
}

/// The widest a process name is shown on a terminal: a 250-character executable name would
/// pad every row.
const NAME_MAX: usize = 32;

/// The columns a terminal's width may narrow, first to last, each with the width it keeps.
const SHRINK_ORDER: &[(&str, usize)] = &[
    ("PARENTS", 16),
    ("NAME", 12),
    ("SUPERVISOR", 12),
    ("UNIT", 12),
    ("CONTAINER", 12),
    ("ADDRESS", 12),
];

/// `cell` cut to `width` columns with an ellipsis. A PARENTS chain (`8614 (bash) < 8612
/// (bash) < ...`, nearest first) is cut between ancestors, so that the nearest stay whole.
fn shorten(cell: &str, width: usize, chain: bool) -> std::borrow::Cow<'_, str> {
    const MORE: &str = "\u{2026}";
    if text::width(cell) <= width {
        return cell.into();
    }
    if chain {
        let mut kept = String::new();
        for part in cell.split(" < ") {
            let next = if kept.is_empty() {
                part.to_owned()
            } else {
                format!("{kept} < {part}")
            };
            // Room for the " < …" that says more ancestors follow.
            if text::width(&next) + 4 > width {
                break;
            }
            kept = next;
        }
        if !kept.is_empty() {
            return format!("{kept} < {MORE}").into();
        }
    }
    let mut kept = String::new();
    let mut used = 0;
    for c in cell.chars() {
        let w = text::width(c.encode_utf8(&mut [0; 4]));
        if used + w + 1 > width {
            break;
        }
        used += w;
        kept.push(c);
    }
    kept.push_str(MORE);
    kept.into()
}

/// One row of the lookup table: one owner on one port.
pub(crate) struct OwnerRow<'a> {
    pub(crate) port: u16,
    pub(crate) owner: &'a Owner,
    /// The owner's matching sockets on this port.
    pub(crate) sockets: Vec<&'a Socket>,
}

/// The rows of the lookup table, one per (port, pid), sorted by port, then PID.
pub(crate) fn owner_rows(owners: &[Owner]) -> Vec<OwnerRow<'_>> {
    let mut rows: Vec<OwnerRow<'_>> = owners
        .iter()
        .flat_map(|owner| {
            owner.ports().into_iter().map(move |port| OwnerRow {
                port,
                owner,
                sockets: owner.sockets.iter().filter(|s| s.port() == port).collect(),
            })
        })
        .collect();
    rows.sort_by_key(|r| (r.port, r.owner.pid));
    rows
}

/// The lookup table: PORT PID; NAME USER TYPE STATE ADDRESS when verbose; ROLE when
/// verbose or when an owner is not a plain holder (a client, rekt's caller); PARENTS UNIT
/// SUPERVISOR when verbose, and NETNS last when looking in every network namespace.
pub(crate) fn lookup_table(found: &Lookup, verbose: bool, details: &Known) -> Table {
    let mut headers = vec!["PORT", "PID"];
    if verbose {
        headers.extend(["NAME", "USER", "TYPE", "STATE", "ADDRESS"]);
    }
    let roles = verbose
        || found
            .ownership
            .owners
            .iter()
            .any(|o| details.role(o.pid).is_some_and(|r| *r != Role::Holder));
    if roles {
        headers.push("ROLE");
    }
    // The container an owner runs in or forwards for: a column only when there is one.
    let container_of = |pid: u32| match details.role(pid) {
        Some(Role::Forwarder(f)) => f.container.as_ref(),
        _ => details.container(pid),
    };
    let containers = verbose
        && found
            .ownership
            .owners
            .iter()
            .any(|o| container_of(o.pid).is_some());
    if verbose {
        headers.extend(["PARENTS", "UNIT", "SUPERVISOR"]);
        if containers {
            headers.push("CONTAINER");
        }
        if !found.netns.is_empty() {
            headers.push("NETNS");
        }
    }
    let mut table = Table::new(headers);
    for row in owner_rows(&found.ownership.owners) {
        let mut cells = vec![row.port.to_string(), row.owner.pid.to_string()];
        if verbose {
            let info = details.info(row.owner.pid);
            cells.push(info.map_or_else(|| "?".into(), name_cell));
            cells.push(or_unknown(info.and_then(|i| i.user.as_ref())));
            cells.push(joined(row.sockets.iter().map(|s| s.kind().to_owned())));
            cells.push(joined(row.sockets.iter().map(|s| s.state.to_string())));
            cells.push(joined(
                row.sockets.iter().map(|s| address(found, s, details)),
            ));
        }
        let pid = row.owner.pid;
        if roles {
            let role = details.role(pid).map_or("?", Role::as_str);
            // Without -v there is no CONTAINER column: a forwarder's row names its container.
            cells.push(match container_of(pid) {
                Some(c) if !verbose && matches!(details.role(pid), Some(Role::Forwarder(_))) => {
                    format!("{role} ({})", words::container_cell(c))
                }
                _ => role.to_owned(),
            });
        }
        if verbose {
            let context = details.context(pid);
            cells.push(match context {
                Some(c) if !c.parents.is_empty() => words::chain(&c.parents, details),
                Some(_) => "-".into(),
                None => "?".into(),
            });
            cells.push(
                context
                    .and_then(|c| c.unit.as_ref())
                    .map_or_else(|| "-".into(), |u| u.name.to_string()),
            );
            cells.push(
                context
                    .and_then(|c| c.supervisor.as_ref())
                    .map_or_else(|| "-".into(), words::supervisor_cell),
            );
            if containers {
                cells.push(container_of(pid).map_or_else(|| "-".into(), words::container_cell));
            }
            if !found.netns.is_empty() {
                cells.push(joined(row.sockets.iter().map(|s| netns_label(found, s))));
            }
        }
        table.push(cells);
    }
    table
}

/// The list table: one row per socket and owner, sorted by port (the socket list's order).
/// Sockets without a visible owner get one row with `-` for the owner.
pub(crate) fn list_table(found: &Lookup, verbose: bool, details: &Known) -> Table {
    let mut headers = vec!["PORT", "PROTO", "ADDRESS", "PID", "NAME", "USER"];
    if verbose {
        headers.push("STATE");
    }
    if !found.netns.is_empty() {
        headers.push("NETNS");
    }
    let mut table = Table::new(headers);
    let mut holders: HashMap<SocketKey, Vec<u32>> = HashMap::new();
    for owner in &found.ownership.owners {
        for socket in &owner.sockets {
            holders.entry(socket.key).or_default().push(owner.pid);
        }
    }
    for socket in &found.sockets {
        let pids = holders.get(&socket.key).map(Vec::as_slice).unwrap_or(&[]);
        let mut push = |pid: String, name: String, user: String| {
            let mut cells = vec![
                socket.port().to_string(),
                socket.kind().to_owned(),
                address(found, socket, details),
                pid,
                name,
                user,
            ];
            if verbose {
                cells.push(socket.state.to_string());
            }
            if !found.netns.is_empty() {
                cells.push(netns_label(found, socket));
            }
            table.push(cells);
        };
        if pids.is_empty() {
            // The socket's uid is known even when its process is not.
            let user = socket
                .uid
                .map_or_else(|| "-".into(), |uid| details.user(uid).to_string());
            push("-".into(), "-".into(), user);
        }
        for pid in pids {
            let info = details.info(*pid);
            push(
                pid.to_string(),
                info.map_or_else(|| "?".into(), name_cell),
                or_unknown(info.and_then(|i| i.user.as_ref())),
            );
        }
    }
    table
}

/// The local address. An interface index names an interface in the socket's own network
/// namespace, so with `--all-netns` the index is shown rather than a name from ours.
fn address(found: &Lookup, socket: &Socket, details: &Known) -> String {
    if found.netns.is_empty() {
        socket.local_display(|index| details.interface(index))
    } else {
        socket.local_display(|_| None)
    }
}

fn netns_label(found: &Lookup, socket: &Socket) -> String {
    found
        .netns
        .get(&socket.key)
        .map_or_else(|| "?".into(), |ns| ns.label())
}

/// NAME: the name the process goes by; then the executable's file name when it tells more
/// (`server [python3.11]`), and ` (deleted)` when the executable is gone from disk, as ps
/// and lsof say it.
fn name_cell(info: &ProcessInfo) -> String {
    let mut cell = or_unknown(info.shown_name());
    if let Some(exe) = info.exe_name_if_telling() {
        cell = format!("{cell} [{exe}]");
    }
    if info.deleted {
        cell.push_str(" (deleted)");
    }
    cell
}

/// The escaped text, or `?` when it could not be read.
fn or_unknown(value: Option<&Text>) -> String {
    value.map_or_else(|| "?".into(), Text::to_string)
}

/// Distinct values in first-seen order, comma-separated: `tcp,tcp6`.
fn joined(values: impl Iterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_and_trim_line_ends() {
        let mut t = Table::new(vec!["PORT", "PID", "NAME"]);
        t.push(vec!["8000".into(), "1".into(), "x".into()]);
        t.push(vec!["65535".into(), "123456".into(), "".into()]);
        let mut out = Vec::new();
        t.write(&mut out, Style::plain(), None).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PORT   PID     NAME\n8000   1       x\n65535  123456\n"
        );
    }

    #[test]
    fn a_terminal_gets_rows_that_fit() {
        let mut t = Table::new(vec!["PORT", "PID", "NAME", "PARENTS", "UNIT"]);
        let chain = "8614 (bash) < 8612 (bash) < 8600 (tmux: server) < 1484 (systemd)";
        t.push(vec![
            "8000".into(),
            "8614".into(),
            "x".repeat(250),
            chain.into(),
            "-".into(),
        ]);
        let mut out = Vec::new();
        t.write(&mut out, Style::plain(), Some(80)).unwrap();
        let out = String::from_utf8(out).unwrap();
        for line in out.lines() {
            assert!(
                text::width(line) <= 80,
                "{line:?} is {} wide",
                text::width(line)
            );
        }
        let row = out.lines().nth(1).unwrap();
        assert!(
            row.contains(&format!("{}\u{2026}", "x".repeat(NAME_MAX - 1))),
            "{row}"
        );
        assert!(row.contains("8614 (bash) < \u{2026}"), "{row}");
        // Narrower, the columns that say nothing go first.
        let mut narrow = Vec::new();
        t.write(&mut narrow, Style::plain(), Some(40)).unwrap();
        let narrow = String::from_utf8(narrow).unwrap();
        assert!(!narrow.contains("UNIT"), "{narrow}");
        // Piped, nothing is cut.
        let mut piped = Vec::new();
        t.write(&mut piped, Style::plain(), None).unwrap();
        let piped = String::from_utf8(piped).unwrap();
        assert!(piped.contains(&"x".repeat(250)) && piped.contains(chain));
    }

    #[test]
    fn shortening_keeps_whole_ancestors_and_counts_wide_characters() {
        assert_eq!(
            shorten("1 (a) < 2 (b) < 3 (c)", 14, true),
            "1 (a) < \u{2026}"
        );
        assert_eq!(shorten("1 (a) < 2 (b)", 30, true), "1 (a) < 2 (b)");
        assert_eq!(
            shorten("\u{4e2d}\u{6587}\u{540d}", 5, false),
            "\u{4e2d}\u{6587}\u{2026}"
        );
        assert_eq!(shorten("abcdef", 1, false), "\u{2026}");
    }

    #[test]
    fn colour_does_not_move_columns() {
        let mut t = Table::new(vec!["PORT", "PID"]);
        t.push(vec!["8000".into(), "1".into()]);
        let mut out = Vec::new();
        t.write(&mut out, Style::colored(), None).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\x1b[1mPORT  PID\x1b[0m\n8000  1\n"
        );
    }
}
