//! `duration::parse` on arbitrary UTF-8, the round trip through `duration::format`, and an
//! oracle for well-formed durations.
//!
//! Input: UTF-8 text for `parse`; the same bytes also make a duration to format (the first
//! 8) and a well-formed duration with a known value (all of them, see `built`).
//! Checks: no panic; a parsed duration is at most 24h and a whole number of milliseconds;
//! `format` of it is lowercase ASCII and parses back to it; units are case-insensitive (the
//! text in upper or lower case parses to the same result); an error is one line without
//! control characters that starts with "invalid duration '" and quotes the input escaped.
//! Every whole-millisecond duration up to 24h survives `format` then `parse`. A duration
//! built from parts in unit order (`1h2m3.25s`, in mixed case) parses to the value computed
//! independently in nanoseconds, or is an error exactly when that value is over 24h or not
//! whole milliseconds.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rekt::internals::{MAX_DURATION as MAX, format_duration as format, parse_duration as parse};
use rekt::text::escape;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = parse(text);
        match &parsed {
            Ok(d) => {
                assert!(*d <= MAX, "{text:?}: {d:?}");
                assert_eq!(d.subsec_nanos() % 1_000_000, 0, "{text:?}");
                let f = format(*d);
                assert!(
                    f.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.'),
                    "{text:?} -> {f}"
                );
                assert_eq!(parse(&f), Ok(*d), "{text:?} -> {f}");
            }
            Err(e) => {
                assert!(e.0.starts_with("invalid duration '"), "{text:?}: {e}");
                assert!(e.0.contains(&*escape(text.as_bytes())), "{text:?}: {e}");
                assert!(!e.0.chars().any(char::is_control), "{text:?}: {e:?}");
            }
        }
        for cased in [text.to_ascii_uppercase(), text.to_ascii_lowercase()] {
            assert_eq!(parse(&cased).ok(), parsed.clone().ok(), "{text:?} vs {cased:?}");
        }
    }

    let mut raw = [0u8; 8];
    let n = data.len().min(8);
    raw[..n].copy_from_slice(&data[..n]);
    let ms = u64::from_ne_bytes(raw) % (MAX.as_millis() as u64 + 1);
    let d = Duration::from_millis(ms);
    assert_eq!(parse(&format(d)), Ok(d), "{ms} ms -> {}", format(d));

    if let Some((text, nanos)) = built(data) {
        let expected = (nanos % 1_000_000 == 0 && nanos <= MAX.as_nanos())
            .then(|| Duration::from_nanos(nanos as u64));
        assert_eq!(parse(&text).ok(), expected, "{text:?} = {nanos} ns");
    }
});

/// A well-formed duration made from `data`, and its value in nanoseconds: for each unit
/// from h to ms, one byte says whether the part is there, how many fraction digits it has
/// (0-3; a part with a fraction is the last) and the case of its unit; two more bytes give
/// its whole number and one its fraction.
fn built(data: &[u8]) -> Option<(String, u128)> {
    let mut bytes = data.iter().copied();
    let mut text = String::new();
    let mut nanos: u128 = 0;
    for (unit, per_unit) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ] {
        let Some(flags) = bytes.next() else { break };
        if flags & 1 == 0 {
            continue;
        }
        let whole = u16::from_le_bytes([bytes.next()?, bytes.next()?]);
        let digits = u32::from((flags >> 1) & 3);
        text += &whole.to_string();
        nanos += u128::from(whole) * per_unit;
        if digits > 0 {
            let scale = 10u128.pow(digits);
            let fraction = u128::from(bytes.next()?) % scale;
            text += &format!(".{fraction:0width$}", width = digits as usize);
            nanos += fraction * per_unit / scale; // exact: per_unit is a multiple of 1000
        }
        for (i, c) in unit.chars().enumerate() {
            text.push(if flags & (0x10 << i) != 0 { c.to_ascii_uppercase() } else { c });
        }
        if digits > 0 {
            break;
        }
    }
    (!text.is_empty()).then_some((text, nanos))
}
