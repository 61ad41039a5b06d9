//! `duration::parse` on arbitrary UTF-8, and the round trip through `duration::format`.
//!
//! Input: UTF-8 text for `parse`; its first 8 bytes also make a duration to format.
//! Checks: no panic; a parsed duration is at most 24h and a whole number of milliseconds;
//! `format` of a parsed duration parses back to it; every whole-millisecond duration up to
//! 24h formats to text that parses back to it; an error is one line that starts with
//! "invalid duration" and quotes the input.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rekt::internals::{format_duration as format, parse_duration as parse};

const MAX: Duration = Duration::from_secs(24 * 60 * 60);

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match parse(text) {
            Ok(d) => {
                assert!(d <= MAX, "{text:?}: {d:?}");
                assert_eq!(d.subsec_nanos() % 1_000_000, 0, "{text:?}");
                assert_eq!(parse(&format(d)), Ok(d), "{text:?} -> {}", format(d));
            }
            Err(e) => {
                assert!(e.starts_with("invalid duration"), "{text:?}: {e}");
                assert!(e.contains(text), "{text:?}: {e}");
                if !text.contains('\n') {
                    assert!(!e.contains('\n'), "{text:?}: {e}");
                }
            }
        }
    }
    let mut raw = [0u8; 8];
    let n = data.len().min(8);
    raw[..n].copy_from_slice(&data[..n]);
    let ms = u64::from_ne_bytes(raw) % (MAX.as_millis() as u64 + 1);
    let d = Duration::from_millis(ms);
    assert_eq!(parse(&format(d)), Ok(d), "{ms} ms -> {}", format(d));
});
