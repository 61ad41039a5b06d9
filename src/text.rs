//! Text that came from another process, and the one sanitizer that makes it safe to print.
//!
//! A process name, a command-line argument, a path, a user or a container name is chosen by
//! whoever started that process, possibly another local user. rekt is often run as root, so
//! such text must never reach the terminal raw: a name like `py\e[31mRED\e]0;TITLE\a`
//! recolours the terminal and sets its title, `two\nlines` forges a table row, `sshd\rpython`
//! shows `python` where the real name is `sshd`, and a name with U+202E RIGHT-TO-LEFT
//! OVERRIDE reads backwards. [`Text`] carries such bytes, and every way to print it
//! ([`Display`](fmt::Display), [`Text::escaped`], [`escape`]) goes through one function.
//!
//! # Escaping rules
//!
//! | input | shown as |
//! |--|--|
//! | BEL, BS, TAB, LF, VT, FF, CR, ESC (0x07-0x0d, 0x1b) | `\a` `\b` `\t` `\n` `\v` `\f` `\r` `\e` |
//! | any other C0 control (0x00-0x1f) | `\xNN`, e.g. NUL is `\x00` |
//! | DEL (0x7f) | `\x7f` |
//! | a backslash | `\\` |
//! | a byte that is not part of valid UTF-8 | `\xNN`, one per byte, e.g. `web\xffserver` |
//! | a C1 control (U+0080-U+009F) | `\u{NN}`, e.g. CSI is `\u{9b}` |
//! | an invisible format or bidi control (list below) | `\u{NNNN}`, e.g. RLO is `\u{202e}` |
//! | everything else, including wide (CJK) characters, emoji, combining marks and spaces | itself |
//!
//! Hex digits are lowercase; `\u{...}` has no leading zeros, as in Rust. The invisible
//! format and bidi controls are: U+061C ARABIC LETTER MARK, U+180E MONGOLIAN VOWEL
//! SEPARATOR, U+200B-U+200F (zero-width space, non-joiner and joiner, LRM, RLM),
//! U+2028-U+202E (line and paragraph separators, the bidi embeddings and overrides
//! LRE RLE PDF LRO RLO), U+2060-U+206F (word joiner, invisible operators, the bidi
//! isolates LRI RLI FSI PDI, the deprecated format characters), U+FEFF (byte order mark),
//! U+FFF9-U+FFFB (interlinear annotation) and U+E0000-U+E007F (tags).
//!
//! Why these:
//!
//! - **C0 and DEL** are what a terminal acts on: ESC starts every escape sequence (colour,
//!   title, cursor movement, OSC 52 clipboard writes), CR and BS move the cursor back over
//!   what was printed, LF starts a forged row. The named escapes are the ones C, bash's
//!   `$'...'` and `printf` use (`\e` for ESC as in bash and GCC); the kernel's own
//!   `/proc/PID/status` writes `\n` and `\\` the same way.
//! - **A backslash** is doubled, so that a name cannot spell `\n` itself and pass for an
//!   escaped newline: the escaped form is unambiguous (the escaping is injective; the fuzz
//!   target `fuzz/fuzz_targets/text.rs` checks that it can be undone).
//! - **Invalid UTF-8** is shown byte by byte, not as U+FFFD: `web\xffserver` and
//!   `web\xfeserver` are different processes and must look different, and a real U+FFFD in a
//!   name stays distinguishable from a broken byte. Raw bytes 0x80-0x9f would otherwise be
//!   8-bit C1 controls to a terminal in a non-UTF-8 mode.
//! - **C1 controls** (U+0080-U+009F, two bytes in UTF-8) are control sequences to terminals
//!   that honour them (U+009B is CSI, U+009D is OSC): they are controls, like C0.
//! - **Format and bidi controls** print nothing, but reorder or hide the text around them:
//!   `\u{202e}` (RLO) makes `exe.sh` read as `hs.exe`, zero-width characters make two
//!   different names look identical, and tags (U+E0000-U+E007F) can carry a whole invisible
//!   ASCII string. The cost: emoji sequences joined by U+200D ZERO WIDTH JOINER and flag
//!   tag sequences show their joiners escaped, which is fine for process names.
//!
//! Compared with the usual tools: `ps` (procps) replaces every control character with `?`,
//! which is safe but loses what the byte was (`a\eb` and `a\nb` both show as `a?b`);
//! `ss -p` (iproute2 6.1) prints process names raw, escape sequences included. rekt does
//! neither: everything printable is shown as it is and everything else as an escape that
//! says exactly which byte or character it was.
//!
//! Spaces, quotes and other printable characters pass through: they cannot move the cursor
//! or change the terminal, and `ps` shows them as they are too.
//!
//! # Widths
//!
//! Column widths use [`width`], the terminal display width (a CJK character is 2 columns, a
//! combining mark 0), not the number of bytes or `char`s: `サーバー` is 4 chars, 12 bytes and 8
//! columns. `Text`'s `Display` pads by display width too, so `{:<10}` lines up.
//!
//! # JSON
//!
//! JSON needs a string, not bytes: [`Text::to_str_lossless`] (and `Serialize`) gives the
//! exact text when it is valid UTF-8, which serde_json then escapes itself (`\n`, `\u001b`),
//! so JSON keeps the real name. Only bytes that are not valid UTF-8, which no JSON string can
//! hold, are written as `\xNN` (four characters: backslash, `x`, two lowercase hex digits).

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};
// unicode-width implements Unicode's East Asian Width (UAX #11) plus the zero-width rules
// (combining marks, default-ignorable characters). It is maintained under the
// unicode-rs organisation, has no dependencies, and is what most Rust terminal tools
// (clap's help wrapping, comfy-table, ratatui) use, so rekt's columns agree with theirs.
// Its "cjk" feature (ambiguous-width characters as 2 columns) is off: terminals outside an
// East Asian locale draw those as 1.
use unicode_width::UnicodeWidthStr;

/// Bytes that came from another process: a name, a path, an argument, a user or a container
/// name. They are kept exactly as read; printing them (`Display`, [`Text::escaped`]) always
/// goes through [`escape`], so `format!("{name}")` can never emit a control character.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Box<[u8]>);

impl Text {
    /// Text from raw bytes, kept as they are (they need not be UTF-8).
    pub fn from_bytes(bytes: impl Into<Box<[u8]>>) -> Text {
        Text(bytes.into())
    }

    /// Text from an OS string: its bytes on Unix; on Windows its WTF-8 form, in which an
    /// unpaired surrogate shows as three escaped bytes (`\xed\xa0\x80` for U+D800).
    pub fn from_os_str(s: &OsStr) -> Text {
        Text::from_bytes(s.as_encoded_bytes())
    }

    /// Text from UTF-16 (a Windows wide string, without its terminating NUL). An unpaired
    /// surrogate is kept as its WTF-8 bytes, as [`Text::from_os_str`] does on Windows.
    pub fn from_wide(wide: &[u16]) -> Text {
        let mut bytes = Vec::with_capacity(wide.len());
        for unit in char::decode_utf16(wide.iter().copied()) {
            match unit {
                Ok(c) => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                Err(e) => {
                    let u = e.unpaired_surrogate();
                    bytes.extend_from_slice(&[
                        0xe0 | (u >> 12) as u8,
                        0x80 | ((u >> 6) & 0x3f) as u8,
                        0x80 | (u & 0x3f) as u8,
                    ]);
                }
            }
        }
        Text::from_bytes(bytes)
    }

    /// The bytes exactly as read.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text as `&str` when it is valid UTF-8 (raw: not safe to print).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The escaped form, safe to print: the same as `Display` (see the module doc).
    pub fn escaped(&self) -> String {
        escape(&self.0).into_owned()
    }

    /// The terminal display width of the escaped form, for padding columns.
    pub fn width(&self) -> usize {
        width(&escape(&self.0))
    }

    /// For JSON: the exact text when the bytes are valid UTF-8 (control characters
    /// included: the JSON encoder escapes those). Otherwise the valid UTF-8 runs are kept
    /// and each invalid byte is written as the four characters `\xNN`. Unlike
    /// `String::from_utf8_lossy`, no byte is lost to U+FFFD; but a valid name that itself
    /// contains the text `\xff` gives the same string as one with the byte 0xff.
    pub fn to_str_lossless(&self) -> Cow<'_, str> {
        if let Ok(s) = std::str::from_utf8(&self.0) {
            return Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(self.0.len() + 8);
        for chunk in self.0.utf8_chunks() {
            out.push_str(chunk.valid());
            for &b in chunk.invalid() {
                push_hex_byte(&mut out, b);
            }
        }
        Cow::Owned(out)
    }
}

/// Writes the escaped form. A width (`{:<12}`, `{:>12}`, `{:^12}`) pads by display width,
/// not by `char`s, so wide characters line up; a precision (`{:.5}`) is ignored, since
/// cutting the escaped form could cut an escape in half.
impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let escaped = escape(&self.0);
        let Some(want) = f.width() else {
            return f.write_str(&escaped);
        };
        let pad = want.saturating_sub(width(&escaped));
        let (before, after) = match f.align() {
            Some(fmt::Alignment::Right) => (pad, 0),
            Some(fmt::Alignment::Center) => (pad / 2, pad - pad / 2),
            Some(fmt::Alignment::Left) | None => (0, pad),
        };
        let fill = f.fill();
        for _ in 0..before {
            f.write_char(fill)?;
        }
        f.write_str(&escaped)?;
        for _ in 0..after {
            f.write_char(fill)?;
        }
        Ok(())
    }
}

/// `Text("...")` with the escaped form.
impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Text").field(&escape(&self.0)).finish()
    }
}

/// A JSON string: [`Text::to_str_lossless`].
impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_str_lossless())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::from_bytes(s.as_bytes())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::from_bytes(s.into_bytes())
    }
}

impl From<&[u8]> for Text {
    fn from(bytes: &[u8]) -> Text {
        Text::from_bytes(bytes)
    }
}

impl From<Vec<u8>> for Text {
    fn from(bytes: Vec<u8>) -> Text {
        Text::from_bytes(bytes)
    }
}

impl From<&OsStr> for Text {
    fn from(s: &OsStr) -> Text {
        Text::from_os_str(s)
    }
}

impl From<OsString> for Text {
    fn from(s: OsString) -> Text {
        Text::from_bytes(s.into_encoded_bytes())
    }
}

impl From<&Path> for Text {
    fn from(path: &Path) -> Text {
        Text::from_os_str(path.as_os_str())
    }
}

impl From<PathBuf> for Text {
    fn from(path: PathBuf) -> Text {
        Text::from(path.into_os_string())
    }
}

/// Compares the raw bytes: `name == "sshd"`.
impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

/// The escaped form of `bytes` (see the module doc): borrowed when nothing needs escaping,
/// which is the usual case (plain ASCII names).
pub fn escape(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes)
        && !s.chars().any(needs_escape)
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        let mut plain = 0;
        for (i, c) in valid.char_indices() {
            if needs_escape(c) {
                out.push_str(&valid[plain..i]);
                push_escape(&mut out, c);
                plain = i + c.len_utf8();
            }
        }
        out.push_str(&valid[plain..]);
        for &b in chunk.invalid() {
            push_hex_byte(&mut out, b);
        }
    }
    Cow::Owned(out)
}

/// The terminal display width of `s`, which should already be escaped (a control character
/// has no meaningful width). A wide (CJK, most emoji) character counts 2, a combining mark
/// or other zero-width character 0.
pub fn width(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    UnicodeWidthStr::width(s)
}

/// Whether `c` is shown as an escape rather than as itself.
fn needs_escape(c: char) -> bool {
    c == '\\' || is_terminal_unsafe(c)
}

/// Whether a terminal could act on `c` or hide text with it: a C0 or C1 control, DEL, or
/// an invisible format or bidi control. JSON output escapes these too (as `\uXXXX`, which
/// keeps the value exact), since a document may be shown on a terminal.
pub fn is_terminal_unsafe(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}') || is_invisible_format(c)
}

/// The format and bidi controls that print nothing but reorder or hide the text around
/// them (see the module doc for the list and why).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// Appends the escape for a character that [`needs_escape`].
fn push_escape(out: &mut String, c: char) {
    let named = match c {
        '\x07' => "\\a",
        '\x08' => "\\b",
        '\t' => "\\t",
        '\n' => "\\n",
        '\x0b' => "\\v",
        '\x0c' => "\\f",
        '\r' => "\\r",
        '\x1b' => "\\e",
        '\\' => "\\\\",
        _ if c.is_ascii() => return push_hex_byte(out, c as u8),
        _ => {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            return;
        }
    };
    out.push_str(named);
}

/// Appends `\xNN` (lowercase hex).
fn push_hex_byte(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// Undoes [`escape`]: the original bytes, or `None` when `escaped` is not something
/// `escape` could have written (an unknown escape, uppercase or missing hex digits, a
/// `\u{...}` for a character that is not escaped, a raw control character). For the fuzz
/// target and the tests, which check that escaping loses nothing; rekt itself never needs
/// it.
#[doc(hidden)]
pub fn unescape(escaped: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if needs_escape(c) {
                return None;
            }
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            continue;
        }
        let byte = match chars.next()? {
            'a' => 0x07,
            'b' => 0x08,
            't' => b'\t',
            'n' => b'\n',
            'v' => 0x0b,
            'f' => 0x0c,
            'r' => b'\r',
            'e' => 0x1b,
            '\\' => b'\\',
            'x' => {
                let hi = lower_hex_digit(chars.next()?)?;
                let lo = lower_hex_digit(chars.next()?)?;
                let b = (hi << 4) | lo;
                // A printable ASCII byte is never escaped; nor are the named controls.
                if (0x20..0x7f).contains(&b) || matches!(b, 0x07..=0x0d | 0x1b) {
                    return None;
                }
                b
            }
            'u' => {
                if chars.next()? != '{' {
                    return None;
                }
                let mut value: u32 = 0;
                let mut digits = 0;
                loop {
                    let d = chars.next()?;
                    if d == '}' {
                        break;
                    }
                    let d = lower_hex_digit(d)?;
                    if digits == 0 && d == 0 || digits == 6 {
                        return None;
                    }
                    value = value << 4 | u32::from(d);
                    digits += 1;
                }
                let c = char::from_u32(value)?;
                if c.is_ascii() || !needs_escape(c) {
                    return None;
                }
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                continue;
            }
            _ => return None,
        };
        out.push(byte);
    }
    Some(out)
}

fn lower_hex_digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        'a'..='f' => Some(c as u8 - b'a' + 10),
        _ => None,
    }
}

/// `text` as one word for a POSIX shell, so that a printed command can be pasted as it is:
/// bare when it is made of safe characters, else in single quotes. A name with a control
/// character (or anything a terminal could act on) or bytes that are not UTF-8 is written
/// in ANSI-C quotes, `$'vx\x1b[2J'`, which bash, zsh and ksh read back as the same bytes:
/// shown safely, and still something to paste.
pub fn shell_word(text: &Text) -> String {
    let bytes = text.as_bytes();
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b);
    if !bytes.is_empty() && bytes.iter().all(|&b| safe(b)) {
        return text.to_string();
    }
    let plain = std::str::from_utf8(bytes)
        .ok()
        .filter(|s| !s.chars().any(|c| c.is_control() || is_terminal_unsafe(c)));
    if let Some(plain) = plain {
        return format!("'{}'", plain.replace('\'', r"'\''"));
    }
    let mut word = String::from("$'");
    let hex = |word: &mut String, b: u8| word.push_str(&format!("\\x{b:02x}"));
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\'' => word.push_str("\\'"),
                '\\' => word.push_str("\\\\"),
                c if c.is_control() || is_terminal_unsafe(c) => {
                    let mut buf = [0u8; 4];
                    for &b in c.encode_utf8(&mut buf).as_bytes() {
                        hex(&mut word, b);
                    }
                }
                c => word.push(c),
            }
        }
        for &b in chunk.invalid() {
            hex(&mut word, b);
        }
    }
    word.push('\'');
    word
}

/// `text` as one word for cmd and PowerShell alike (a Windows service's name): bare when it
/// is made of safe characters, else in double quotes (which no service name contains). A
/// name with a control character is written escaped: shown safely, but not something to
/// paste.
pub(crate) fn windows_word(text: &Text) -> String {
    let bytes = text.as_bytes();
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
    if !bytes.is_empty() && bytes.iter().all(|&b| safe(b)) {
        return text.to_string();
    }
    format!("\"{}\"", text.to_string().replace('"', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Escapes `bytes`, checks that nothing unsafe is left and that it can be undone.
    fn esc(bytes: &[u8]) -> String {
        let e = escape(bytes).into_owned();
        assert!(
            !e.chars().any(|c| c.is_control() || is_invisible_format(c)),
            "{e:?}"
        );
        assert_eq!(unescape(&e).as_deref(), Some(bytes), "{e:?}");
        assert_eq!(Text::from(bytes).to_string(), e);
        assert_eq!(Text::from(bytes).escaped(), e);
        e
    }

    #[test]
    fn plain_names_pass_through_borrowed() {
        for name in ["python3", "sshd", "node server.js", "a-b_c.d@e:f/g", ""] {
            assert!(matches!(escape(name.as_bytes()), Cow::Borrowed(n) if n == name));
        }
        assert!(matches!(
            escape("サーバー".as_bytes()),
            Cow::Borrowed("サーバー")
        ));
        assert!(matches!(escape("naïve 🦀".as_bytes()), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_escape_sequences_are_shown_not_sent() {
        assert_eq!(
            esc(b"py\x1b[31mRED\x1b]0;TITLE\x07"),
            r"py\e[31mRED\e]0;TITLE\a"
        );
        assert_eq!(esc(b"two\nlines"), r"two\nlines");
        assert_eq!(esc(b"sshd\rpython"), r"sshd\rpython");
        assert_eq!(esc(b"\x08\t\x0b\x0c"), r"\b\t\v\f");
    }

    #[test]
    fn other_controls_and_del_are_hex() {
        assert_eq!(esc(b"a\0b"), r"a\x00b");
        assert_eq!(esc(b"\x01\x1f"), r"\x01\x1f");
        assert_eq!(esc(b"rm\x7f"), r"rm\x7f");
    }

    #[test]
    fn a_backslash_cannot_forge_an_escape() {
        assert_eq!(esc(b"\\"), r"\\");
        assert_eq!(esc(br"two\nlines"), r"two\\nlines");
        assert_ne!(esc(br"two\nlines"), esc(b"two\nlines"));
        assert_eq!(esc(br"\xff"), r"\\xff");
        assert_ne!(esc(br"\xff"), esc(b"\xff"));
    }

    #[test]
    fn invalid_utf8_is_shown_byte_by_byte() {
        assert_eq!(esc(b"web\xffserver"), r"web\xffserver");
        // Truncated at the end: the start of a 3-byte sequence and one continuation byte.
        assert_eq!(esc(b"caf\xe2\x82"), r"caf\xe2\x82");
        // Overlong encoding of '/' (0x2f): not UTF-8, so not a slash.
        assert_eq!(esc(b"a\xc0\xafb"), r"a\xc0\xafb");
        // U+D800 encoded as UTF-8: surrogates are not characters.
        assert_eq!(esc(b"\xed\xa0\x80"), r"\xed\xa0\x80");
        // A lone continuation byte in the C1 range: never sent raw as 8-bit CSI.
        assert_eq!(esc(b"\x9b31m"), r"\x9b31m");
        // A real U+FFFD stays itself, unlike a broken byte.
        assert_eq!(esc("a\u{fffd}b".as_bytes()), "a\u{fffd}b");
    }

    #[test]
    fn c1_controls_and_invisible_format_characters_are_escaped() {
        assert_eq!(esc("a\u{9b}31mb".as_bytes()), r"a\u{9b}31mb");
        assert_eq!(esc("\u{80}\u{9f}".as_bytes()), r"\u{80}\u{9f}");
        // RIGHT-TO-LEFT OVERRIDE: "evil\u{202e}hs.exe" would read "evilexe.sh".
        assert_eq!(esc("evil\u{202e}hs.exe".as_bytes()), r"evil\u{202e}hs.exe");
        for c in [
            '\u{61c}',
            '\u{180e}',
            '\u{200b}',
            '\u{200d}',
            '\u{200f}',
            '\u{2028}',
            '\u{2029}',
            '\u{202a}',
            '\u{2060}',
            '\u{2066}',
            '\u{2069}',
            '\u{206f}',
            '\u{feff}',
            '\u{fffb}',
            '\u{e0001}',
            '\u{e007f}',
        ] {
            let e = esc(c.to_string().as_bytes());
            assert_eq!(e, format!("\\u{{{:x}}}", c as u32));
        }
        // Just outside the ranges: printable, passed through.
        for c in [
            '\u{a0}',
            '\u{200a}',
            '\u{2027}',
            '\u{202f}',
            '\u{2070}',
            '\u{e0080}',
        ] {
            assert_eq!(esc(c.to_string().as_bytes()), c.to_string());
        }
    }

    #[test]
    fn widths_are_display_columns() {
        assert_eq!(width("python3"), 7);
        assert_eq!(width("サーバー"), 8);
        assert_eq!(Text::from("サーバー").width(), 8);
        assert_eq!(width("e\u{301}"), 1); // e + combining acute accent
        assert_eq!(width("🦀"), 2);
        assert_eq!(Text::from(&b"a\x1bb"[..]).width(), 4); // a\eb
        assert_eq!(Text::from(&b"\xff"[..]).width(), 4); // \xff
        assert_eq!(width(""), 0);
    }

    #[test]
    fn display_pads_by_display_width() {
        let name = Text::from("サーバー");
        assert_eq!(format!("[{name:<10}]"), "[サーバー  ]");
        assert_eq!(format!("[{name:>10}]"), "[  サーバー]");
        assert_eq!(format!("[{name:^11}]"), "[ サーバー  ]");
        assert_eq!(format!("[{name:4}]"), "[サーバー]");
        let evil = Text::from(&b"a\nb"[..]);
        assert_eq!(format!("[{evil:-<6}]"), r"[a\nb--]");
    }

    #[test]
    fn json_keeps_valid_utf8_exact_and_spells_invalid_bytes() {
        let json = |t: Text| serde_json::to_string(&t).unwrap();
        assert_eq!(json(Text::from("python3")), r#""python3""#);
        // serde_json escapes the control characters itself.
        assert_eq!(json(Text::from("a\x1b[31m\nb")), r#""a\u001b[31m\nb""#);
        assert_eq!(
            json(Text::from(&b"web\xffserver"[..])),
            r#""web\\xffserver""#
        );
        assert_eq!(
            Text::from(&b"\xe3\x82\xb5\xff"[..]).to_str_lossless(),
            "サ\\xff"
        );
        assert!(matches!(
            Text::from("サーバー").to_str_lossless(),
            Cow::Borrowed("サーバー")
        ));
    }

    #[test]
    fn constructors_keep_the_bytes() {
        let t = Text::from(&b"web\xffserver"[..]);
        assert_eq!(t.as_bytes(), b"web\xffserver");
        assert_eq!(t.as_str(), None);
        assert_eq!(Text::from("sshd"), "sshd");
        assert_eq!(Text::from(String::from("sshd")).as_str(), Some("sshd"));
        assert_eq!(
            Text::from(Path::new("/usr/bin/python3")),
            "/usr/bin/python3"
        );
        assert_eq!(Text::from(PathBuf::from("/bin/sh")), "/bin/sh");
        assert!(Text::default().is_empty());
        assert_eq!(format!("{:?}", Text::from("a\nb")), r#"Text("a\\nb")"#);
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let os = OsStr::from_bytes(b"web\xffserver");
            assert_eq!(Text::from(os), t);
            assert_eq!(Text::from(os.to_os_string()), t);
        }
    }

    #[test]
    fn wide_strings_keep_unpaired_surrogates() {
        let wide: Vec<u16> = "サーバー".encode_utf16().collect();
        assert_eq!(Text::from_wide(&wide), "サーバー");
        assert_eq!(
            Text::from_wide(&[0x61, 0xd800, 0x62]).escaped(),
            r"a\xed\xa0\x80b"
        );
        assert_eq!(Text::from_wide(&[0xdfff]).as_bytes(), b"\xed\xbf\xbf");
        assert_eq!(Text::from_wide(&[0xd83e, 0xdd80]), "🦀");
    }

    #[test]
    fn unescape_rejects_what_escape_never_writes() {
        for bad in [
            "\\",
            r"\q",
            r"\x4",
            r"\xFF",
            r"\x41",
            r"\x0a",
            r"\u9b",
            r"\u{}",
            r"\u{09b}",
            r"\u{41}",
            r"\u{e9}",
            r"\u{d800}",
            r"\u{1100000}",
            "a\nb",
            "\u{202e}",
        ] {
            assert_eq!(unescape(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_byte_and_every_pair_round_trip() {
        for a in 0..=255u8 {
            esc(&[a]);
            for b in 0..=255u8 {
                esc(&[a, b, b'x']);
            }
        }
    }

    #[test]
    fn shell_words_are_safe_to_paste() {
        assert_eq!(shell_word(&Text::from("app.service")), "app.service");
        assert_eq!(shell_word(&Text::from("/etc/sv/app")), "/etc/sv/app");
        assert_eq!(shell_word(&Text::from("my app")), "'my app'");
        assert_eq!(shell_word(&Text::from("a;rm -rf /")), "'a;rm -rf /'");
        assert_eq!(shell_word(&Text::from("it's")), r"'it'\''s'");
        assert_eq!(shell_word(&Text::from("")), "''");
        // A control character is shown escaped, never raw, in quotes a shell reads back.
        let hostile = shell_word(&Text::from("x\x1b[2J"));
        assert!(!hostile.contains('\x1b'), "{hostile}");
        assert_eq!(hostile, r"$'x\x1b[2J'");
        assert_eq!(
            shell_word(&Text::from_bytes(&b"vx\xff'\\"[..])),
            r"$'vx\xff\'\\'"
        );
    }

    #[test]
    fn an_ansi_c_quoted_word_is_read_back_by_bash_as_the_same_bytes() {
        let Ok(bash) = std::process::Command::new("bash").arg("--version").output() else {
            return; // no bash here (Windows): the unit test above pins the form.
        };
        assert!(bash.status.success());
        for raw in [
            &b"vx\x1b[2J"[..],
            b"a'b\\c\x07",
            b"\xff\xfe ok",
            "caf\u{e9}\u{202e}".as_bytes(),
        ] {
            let word = shell_word(&Text::from_bytes(raw));
            let out = std::process::Command::new("bash")
                .args(["-c", &format!("printf %s {word}")])
                .output()
                .unwrap();
            assert_eq!(out.stdout, raw, "{word}");
        }
    }
}
