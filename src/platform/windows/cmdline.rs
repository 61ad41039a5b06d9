//! A Windows command line split into arguments. Windows hands a process one string, and
//! each program splits it itself; nearly every one does it as the Microsoft C runtime does
//! (and `CommandLineToArgvW`, which rekt does not load shell32 for):
//!
//! - The program name (argv[0]) ends at the first space or tab, or, when it starts with a
//!   quote, at the next quote; backslashes there are plain characters.
//! - Arguments are separated by spaces and tabs outside quotes.
//! - 2n backslashes before a quote give n backslashes, and the quote opens or closes a
//!   quoted part; 2n+1 backslashes before a quote give n backslashes and a literal quote.
//!   Backslashes before anything else are literal.
//! - Inside a quoted part, `""` gives a literal quote and stays inside (the rule of the
//!   C runtime since 2008).
//!
//! A pure function over UTF-16, so the rules are tested here rather than trusted.

const SPACE: u16 = b' ' as u16;
const TAB: u16 = b'\t' as u16;
const QUOTE: u16 = b'"' as u16;
const BACKSLASH: u16 = b'\\' as u16;

/// The arguments of `line`, each as UTF-16.
pub(crate) fn split(line: &[u16]) -> Vec<Vec<u16>> {
    let mut args = Vec::new();
    let mut rest = line;
    // argv[0]: quotes delimit it, nothing is escaped.
    let mut program = Vec::new();
    if rest.first() == Some(&QUOTE) {
        rest = &rest[1..];
        let end = rest.iter().position(|&c| c == QUOTE).unwrap_or(rest.len());
        program.extend_from_slice(&rest[..end]);
        rest = rest.get(end + 1..).unwrap_or_default();
    } else {
        let end = rest
            .iter()
            .position(|&c| c == SPACE || c == TAB)
            .unwrap_or(rest.len());
        program.extend_from_slice(&rest[..end]);
        rest = &rest[end..];
    }
    if line.is_empty() {
        return args;
    }
    args.push(program);

    let mut i = 0;
    loop {
        while i < rest.len() && (rest[i] == SPACE || rest[i] == TAB) {
            i += 1;
        }
        if i >= rest.len() {
            return args;
        }
        let mut arg = Vec::new();
        let mut quoted = false;
        while i < rest.len() {
            let c = rest[i];
            if c == BACKSLASH {
                let run = rest[i..].iter().take_while(|&&c| c == BACKSLASH).count();
                i += run;
                if rest.get(i) == Some(&QUOTE) {
                    arg.extend(std::iter::repeat_n(BACKSLASH, run / 2));
                    if run % 2 == 1 {
                        arg.push(QUOTE);
                        i += 1;
                    }
                } else {
                    arg.extend(std::iter::repeat_n(BACKSLASH, run));
                }
            } else if c == QUOTE {
                if quoted && rest.get(i + 1) == Some(&QUOTE) {
                    arg.push(QUOTE);
                    i += 2;
                } else {
                    quoted = !quoted;
                    i += 1;
                }
            } else if (c == SPACE || c == TAB) && !quoted {
                break;
            } else {
                arg.push(c);
                i += 1;
            }
        }
        args.push(arg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        let wide: Vec<u16> = line.encode_utf16().collect();
        split(&wide)
            .iter()
            .map(|a| String::from_utf16(a).unwrap())
            .collect()
    }

    #[test]
    fn plain_and_quoted_arguments() {
        assert_eq!(
            args(r"node server.js --port 3000"),
            ["node", "server.js", "--port", "3000"]
        );
        assert_eq!(
            args(r#""C:\Program Files\nodejs\node.exe" "C:\my app\index.js"  x"#),
            [
                r"C:\Program Files\nodejs\node.exe",
                r"C:\my app\index.js",
                "x"
            ]
        );
        assert_eq!(args("a\tb  \t c "), ["a", "b", "c"]);
        assert_eq!(args(r#"p a"b c"d"#), ["p", "ab cd"]);
        assert_eq!(args(r#"p """#), ["p", ""]);
        assert_eq!(args(""), Vec::<String>::new());
        assert_eq!(args("p"), ["p"]);
    }

    #[test]
    fn backslashes_before_quotes() {
        // The documented examples (Microsoft, "Parsing C command-line arguments").
        assert_eq!(args(r#"p "abc" d e"#), ["p", "abc", "d", "e"]);
        assert_eq!(args(r#"p a\\b d"e f"g h"#), ["p", r"a\\b", "de fg", "h"]);
        assert_eq!(args(r#"p a\\\"b c d"#), ["p", r#"a\"b"#, "c", "d"]);
        assert_eq!(args(r#"p a\\\\"b c" d e"#), ["p", r"a\\b c", "d", "e"]);
        assert_eq!(args(r#"p a"b"" c d"#), ["p", r#"ab" c d"#]);
        // A path's trailing backslash before the closing quote.
        assert_eq!(args(r#"p "C:\dir\\" x"#), ["p", r"C:\dir\", "x"]);
    }

    #[test]
    fn the_program_name_has_no_escapes() {
        assert_eq!(args(r#""C:\a\"b c"#), [r"C:\a\", "b", "c"]);
        assert_eq!(args(r#"C:\a\"b c"#), [r#"C:\a\"b"#, "c"]);
        // An unclosed quote runs to the end.
        assert_eq!(args(r#""C:\x y"#), [r"C:\x y"]);
    }
}
