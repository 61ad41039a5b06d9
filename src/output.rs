//! Human output: aligned tables on stdout, one-line notes on stderr.

use std::io::{self, Write};

use crate::model::{Owner, ProcessInfo, Socket};

/// A plain text table: columns padded to their widest cell, two spaces apart, no trailing
/// spaces.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: Vec<&'static str>) -> Table {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.headers.len());
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    let pad = w - cell.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// One row of the lookup table: one owner on one port.
pub struct OwnerRow<'a> {
    pub port: u16,
    pub owner: &'a Owner,
    /// The owner's matching sockets on this port.
    pub sockets: Vec<&'a Socket>,
}

/// The rows of the lookup table, one per (port, pid), sorted by port, then PID.
pub fn owner_rows(owners: &[Owner]) -> Vec<OwnerRow<'_>> {
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

/// The lookup table: PORT PID, plus NAME USER TYPE STATE ADDRESS when verbose.
pub fn lookup_table(
    owners: &[Owner],
    verbose: bool,
    info: impl Fn(u32) -> Option<ProcessInfo>,
) -> Table {
    let mut table = if verbose {
        Table::new(vec![
            "PORT", "PID", "NAME", "USER", "TYPE", "STATE", "ADDRESS",
        ])
    } else {
        Table::new(vec!["PORT", "PID"])
    };
    for row in owner_rows(owners) {
        let mut cells = vec![row.port.to_string(), row.owner.pid.to_string()];
        if verbose {
            let info = info(row.owner.pid).unwrap_or_default();
            cells.push(info.name.unwrap_or_else(|| "?".into()));
            cells.push(info.user.unwrap_or_else(|| "?".into()));
            cells.push(joined(row.sockets.iter().map(|s| s.kind().to_owned())));
            cells.push(joined(row.sockets.iter().map(|s| s.state.to_string())));
            cells.push(joined(row.sockets.iter().map(|s| s.local_display())));
        }
        table.push(cells);
    }
    table
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

/// One line per (port, protocol, uid) whose socket has no visible owner, saying what is
/// known and what to do about it.
pub fn hidden_notes(
    hidden: &[Socket],
    incomplete: bool,
    privileged: bool,
    hint: &str,
    user_name: impl Fn(u32) -> String,
) -> Vec<String> {
    let mut keys: Vec<(u16, &'static str, Option<u32>)> = hidden
        .iter()
        .map(|s| (s.port(), s.protocol.as_str(), s.uid))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .map(|(port, proto, uid)| {
            let whose = match uid {
                Some(uid) => format!(" of uid {uid} ({})", user_name(uid)),
                None => String::new(),
            };
            if incomplete && !privileged {
                format!("port {port}/{proto} is held by a process{whose} that you cannot see; {hint}")
            } else {
                format!(
                    "port {port}/{proto} is held by a socket{whose} that no visible process has open \
                     (another PID namespace, or the kernel)"
                )
            }
        })
        .collect()
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
        t.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PORT   PID     NAME\n8000   1       x\n65535  123456\n"
        );
    }
}
