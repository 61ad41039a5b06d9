//! `text::escape` and `Text` on arbitrary bytes: nothing a terminal acts on gets through,
//! and nothing is lost.
//!
//! Input: any bytes, as a name read from another process could be.
//! Checks: the escaped form contains no byte below 0x20, no 0x7f, no C1 control
//! (U+0080-U+009F), no invisible format or bidi control (U+061C, U+180E, U+200B-U+200F,
//! U+2028-U+202E, U+2060-U+206F, U+FEFF, U+FFF9-U+FFFB, U+E0000-U+E007F) and is valid UTF-8;
//! every backslash starts an escape; `unescape` gives the input back (so the escaping is
//! injective); it is borrowed exactly when the input needed no escaping; `Display`,
//! `escaped()`, `width()` and padding agree with it; the JSON form is the input when that
//! is UTF-8, and serde_json round-trips it.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use rekt::text::{Text, escape, unescape, width};

fn forbidden(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

fuzz_target!(|data: &[u8]| {
    let escaped = escape(data);
    let bytes = escaped.as_bytes();
    assert!(std::str::from_utf8(bytes).is_ok());
    assert!(
        !bytes.iter().any(|&b| b < 0x20 || b == 0x7f),
        "{data:?} -> {escaped:?}"
    );
    assert!(!escaped.chars().any(forbidden), "{data:?} -> {escaped:?}");
    assert!(!escaped.chars().any(char::is_control), "{data:?} -> {escaped:?}");

    // Injective: the escaped form says exactly which bytes there were.
    assert_eq!(
        unescape(&escaped).as_deref(),
        Some(data),
        "{data:?} -> {escaped:?}"
    );
    match &escaped {
        Cow::Borrowed(s) => assert_eq!(s.as_bytes(), data),
        Cow::Owned(s) => assert_ne!(s.as_bytes(), data),
    }

    let text = Text::from(data);
    assert_eq!(text.as_bytes(), data);
    assert_eq!(text.to_string(), escaped);
    assert_eq!(text.escaped(), escaped);
    let w = width(&escaped);
    assert_eq!(text.width(), w);
    let padded = format!("{text:>pad$}", pad = w + 3);
    assert_eq!(width(&padded), w + 3);
    assert!(padded.ends_with(&*escaped));

    let lossless = text.to_str_lossless();
    match std::str::from_utf8(data) {
        Ok(s) => assert_eq!(lossless, s),
        Err(_) => assert!(lossless.contains("\\x")),
    }
    let json = serde_json::to_string(&text).unwrap();
    assert!(!json.bytes().any(|b| b < 0x20), "{json}");
    assert_eq!(serde_json::from_str::<String>(&json).unwrap(), lossless);
});
