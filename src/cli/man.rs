//! The man page. clap_mangen renders the title, name, description and options from the
//! clap definition; the rest is written here, because its defaults do not fit rekt: its
//! synopsis drops option values and repetition (`[--timeout]`, `[PORT]`), it sends readers
//! to `rekt-completions(1)` and `rekt-man(1)`, which do not exist, and free text such as the
//! examples would be refilled by man into one paragraph.

use std::io;

use clap::CommandFactory;

use crate::cli::{Cli, EXAMPLES};
use crate::exit_codes;

/// The whole page, as roff.
pub(crate) fn page() -> io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    out.extend_from_slice(SYNOPSIS.as_bytes());
    man.render_description_section(&mut out)?;
    let mut options = Vec::new();
    man.render_options_section(&mut options)?;
    out.extend_from_slice(repeated_ports(&options)?.as_bytes());
    out.extend_from_slice(COMMANDS.as_bytes());
    out.extend_from_slice(ROLES.as_bytes());
    out.extend_from_slice(examples().as_bytes());
    out.extend_from_slice(exit_status().as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

const SYNOPSIS: &str = r".SH SYNOPSIS
.B rekt
[\fIOPTIONS\fR] [\fIPORT\fR]...
.br
.B rekt completions
\fISHELL\fR
.br
.B rekt man
";

const COMMANDS: &str = r".SH COMMANDS
.TP
\fBrekt completions\fR \fISHELL\fR
Print a completion script for \fISHELL\fR: bash, zsh, fish, powershell or elvish.
.TP
\fBrekt man\fR
Print this page (roff).
";

const ROLES: &str = r".SH ROLES AND RESTARTS
Each owner has a role, shown in the ROLE column and in JSON.
A \fBholder\fR is signalled.
A \fBclient\fR, whose only sockets on the asked ports are outgoing connections from
ephemeral ports with no listener there, is shown and spared unless
\fB\-\-include\-clients\fR.
A \fBcaller\fR (an ancestor of rekt, up to PID 1: the shell, sudo, the program that ran
rekt) and a \fBprotected\fR PID (0, 1; on Windows 4) are never signalled.
rekt never lists itself.
.PP
A range of ports that would signal more than 8 processes asks once on a terminal; without
one it signals nothing (exit 2) unless \fB\-\-yes\fR.
.PP
A stopped owner gets SIGCONT after SIGTERM, so that it can act on it.
.PP
After a signal, a port that is free is watched for the settle time
(\fB\-\-settle\fR, default 1s, 2s for an owner under supervisord or s6; 0s turns it off).
A process that takes the port in that window is named with its parent chain and
supervisor (systemd unit, pm2, supervisord, runit, s6, daemontools, nodemon, or the shell
loop or script that started it again), with the command that stops the supervisor for
good, and rekt exits 3.
With \fB\-v\fR, PARENTS, UNIT and SUPERVISOR show who started each owner.
";

/// The options section with the positional PORT written `[PORT]...`, as in the synopsis:
/// clap_mangen writes `[PORT]`, which reads as one port at most.
fn repeated_ports(options: &[u8]) -> io::Result<String> {
    let options = std::str::from_utf8(options).map_err(io::Error::other)?;
    Ok(options.replace("\n[\\fIPORT\\fR]\n", "\n[\\fIPORT\\fR]...\n"))
}

/// The examples from `--help`, kept as they are: no filling, no adjusting.
fn examples() -> String {
    let mut roff = String::from(".SH EXAMPLES\n.nf\n");
    for line in EXAMPLES.lines().skip(1) {
        roff.push_str(&literal(line.strip_prefix("  ").unwrap_or(line)));
        roff.push('\n');
    }
    roff.push_str(".fi\n");
    roff
}

/// The exit codes from `--help`, one tagged paragraph each.
fn exit_status() -> String {
    // `  3  partial: ...` starts an entry; more deeply indented lines continue it.
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in exit_codes::HELP.lines().skip(1) {
        let line = line.trim();
        match line.split_once("  ") {
            Some((code, text)) if code.bytes().all(|b| b.is_ascii_digit()) => {
                entries.push((code.to_owned(), text.trim().to_owned()));
            }
            _ => {
                if let Some((_, text)) = entries.last_mut() {
                    text.push(' ');
                    text.push_str(line);
                }
            }
        }
    }
    let mut roff = String::from(".SH EXIT STATUS\n");
    for (code, text) in entries {
        roff.push_str(&format!(".TP\n.B {code}\n{}\n", literal(&text)));
    }
    roff
}

/// `text` as literal roff: a backslash is `\e`, a hyphen-minus `\-` (so that options copy
/// and paste), and a line cannot start a request.
fn literal(text: &str) -> String {
    let escaped = text.replace('\\', r"\e").replace('-', r"\-");
    if escaped.starts_with(['.', '\'']) {
        format!(r"\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_text() -> String {
        String::from_utf8(page().unwrap()).unwrap()
    }

    #[test]
    fn the_synopsis_shows_values_and_repetition() {
        let page = page_text();
        assert!(page.contains("[\\fIPORT\\fR]..."), "{page}");
        assert!(page.contains("\\-\\-timeout"), "{page}");
        // The options section names PORT the same way.
        let options = page.split(".SH OPTIONS\n").nth(1).unwrap();
        assert!(options.contains("\n[\\fIPORT\\fR]...\n"), "{options}");
        assert!(!page.contains("[\\fIPORT\\fR]\n"), "{page}");
    }

    #[test]
    fn no_page_is_named_that_does_not_exist() {
        let page = page_text();
        assert!(!page.contains("rekt-completions"), "{page}");
        assert!(!page.contains("rekt-man"), "{page}");
        assert!(!page.contains("rekt-help"), "{page}");
    }

    #[test]
    fn examples_and_exit_codes_are_not_refilled() {
        let page = page_text();
        let examples = page.split(".SH EXAMPLES\n").nth(1).unwrap();
        assert!(examples.starts_with(".nf\n"), "{examples}");
        let block = &examples[..examples.find(".fi\n").unwrap()];
        assert_eq!(block.lines().count() - 1, EXAMPLES.lines().count() - 1);
        let status = page.split(".SH EXIT STATUS\n").nth(1).unwrap();
        for code in 0..=4 {
            assert!(status.contains(&format!(".TP\n.B {code}\n")), "{status}");
        }
    }
}
