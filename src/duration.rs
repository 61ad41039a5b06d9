//! Durations on the command line: `500ms`, `3s`, `1.5s`, `1m30s`, `1h2m3s`.
//!
//! Grammar (no spaces anywhere):
//!
//! ```text
//! duration = part+                      units from largest to smallest, each at most once
//! part     = digits [ "." digits ] unit  a fraction only in the last part
//! digits   = one or more of 0-9 (ASCII)
//! unit     = "h" | "m" | "s" | "ms"      in any case: "5S", "500MS", "1M", "1H30M"
//! ```
//!
//! The value must be a whole number of milliseconds and at most 24h. Every number needs its
//! unit, so that `--timeout 5` (seconds? milliseconds?) is an error instead of a guess.
//!
//! Decisions:
//!
//! - **Case.** Units are ASCII case-insensitive. `m` is minutes and `ms` milliseconds
//!   whatever the case: `1M` is one minute, not a month (there is no month unit, and
//!   nothing longer than 24h is accepted anyway), and `1MS` is one millisecond.
//! - **Order.** `1s1m`, `1s1s`, `30s1m` are rejected rather than summed: a unit out of
//!   order or repeated is more likely a typo (`1m1m` for `1h1m`) than meant.
//! - **Fractions** (`1.5s`, `0.25m`, `1m0.5s`) only in the last part, as `1.5m30s` reads like
//!   a typo for `1m30s`. `.5s` and `1.s` are rejected: digits are needed on both sides.
//! - **Below a millisecond** (`1.0005s`, `0.5ms`) is rejected, not rounded: rekt waits in
//!   whole milliseconds, and rounding would silently change what was asked for. Trailing
//!   zeros are fine (`1.500s`, `2.0ms`).
//! - Each part may be any size (`90s`, `1m90s`) as long as the total is at most 24h.
//! - Rejected too: a missing unit (`5`, `1m30`), unknown units (`1d`, `5sec`, `1e3ms`), a
//!   sign (`-1s`, `+1s`), spaces, and digits other than ASCII 0-9.
//!
//! Errors are one line, `invalid duration '...': why`, with the input shown escaped as
//! [`crate::text`] shows names. Parsing never panics: all arithmetic is checked.

use std::fmt::Write as _;
use std::time::Duration;

use crate::error::UsageError;
use crate::text;

/// The longest duration `parse` accepts; anything longer is almost certainly a typo.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub const MAX: Duration = Duration::from_secs(24 * 60 * 60);
const MAX_MS: u64 = MAX.as_millis() as u64;

const HINT: &str = "expected a duration like 500ms, 3s, 1.5s or 1m30s";

/// A unit, smallest first, so that `Ord` says which is larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Millis,
    Secs,
    Mins,
    Hours,
}

impl Unit {
    fn from_text(unit: &str) -> Option<Unit> {
        // `m` and `ms` are told apart by length, never by case.
        [
            ("h", Unit::Hours),
            ("m", Unit::Mins),
            ("s", Unit::Secs),
            ("ms", Unit::Millis),
        ]
        .into_iter()
        .find(|(name, _)| unit.eq_ignore_ascii_case(name))
        .map(|(_, u)| u)
    }

    fn millis(self) -> u64 {
        match self {
            Unit::Millis => 1,
            Unit::Secs => 1000,
            Unit::Mins => 60_000,
            Unit::Hours => 3_600_000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::Secs => "s",
            Unit::Mins => "m",
            Unit::Hours => "h",
        }
    }
}

/// Parses a duration (see the module doc for the grammar).
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn parse(input: &str) -> Result<Duration, UsageError> {
    parse_millis(input)
        .map(Duration::from_millis)
        .map_err(|why| {
            UsageError(format!(
                "invalid duration '{}': {why}",
                text::escape(input.as_bytes())
            ))
        })
}

/// The duration in milliseconds, or why not.
fn parse_millis(input: &str) -> Result<u64, String> {
    let too_long = || "at most 24h".to_string();
    if input.is_empty() {
        return Err(HINT.to_string());
    }
    let bytes = input.as_bytes();
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut total: u64 = 0;
    let mut previous: Option<(Unit, bool)> = None; // the last part's unit, and a fraction?
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        i = digits_from(i);
        if i == start {
            return Err(unexpected(input, i));
        }
        let whole = &input[start..i];
        let mut fraction = "";
        if bytes.get(i) == Some(&b'.') {
            let from = i + 1;
            i = digits_from(from);
            if i == from {
                return Err(format!("expected a digit after '.'; {HINT}"));
            }
            fraction = &input[from..i];
        }
        let from = i;
        while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        let number = &input[start..from];
        let unit = match &input[from..i] {
            "" if i == bytes.len() => {
                return Err(format!("missing unit after {number}; {HINT}"));
            }
            "" => return Err(unexpected(input, i)),
            name => Unit::from_text(name)
                .ok_or_else(|| format!("unknown unit '{name}'; the units are h, m, s and ms"))?,
        };
        if let Some((before, with_fraction)) = previous {
            if unit == before {
                return Err(format!("unit '{}' given twice", unit.name()));
            }
            if unit > before {
                return Err(format!(
                    "'{}' after '{}': units go from largest to smallest, as in 1h2m3s",
                    unit.name(),
                    before.name()
                ));
            }
            if with_fraction {
                return Err("only the last part may have a fraction, as in 1m30.5s".into());
            }
        }
        previous = Some((unit, !fraction.is_empty()));
        let millis = part_millis(whole, fraction, unit)?;
        total = total
            .checked_add(millis)
            .filter(|&t| t <= MAX_MS)
            .ok_or_else(too_long)?;
    }
    Ok(total)
}

/// `whole.fraction` in `unit`, in milliseconds; an error when it overflows, is not a whole
/// number of milliseconds, or is more than 24h.
fn part_millis(whole: &str, fraction: &str, unit: Unit) -> Result<u64, String> {
    let too_long = || "at most 24h".to_string();
    let per_unit = unit.millis();
    let mut millis = decimal(whole)
        .and_then(|n| n.checked_mul(per_unit))
        .filter(|&ms| ms <= MAX_MS)
        .ok_or_else(too_long)?;
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        let finer = || "finer than a millisecond".to_string();
        // A fraction with more than 7 significant digits is never whole milliseconds, even
        // of an hour (3,600,000 ms = 2^7 * 3^2 * 5^5 ms); with at most 7, the arithmetic
        // below stays under 10^7 * 3.6 * 10^6, far from overflowing.
        if fraction.len() > 7 {
            return Err(finer());
        }
        let scale = 10u64.pow(fraction.len() as u32);
        let scaled = decimal(fraction).ok_or_else(finer)? * per_unit;
        if !scaled.is_multiple_of(scale) {
            return Err(finer());
        }
        millis = millis
            .checked_add(scaled / scale)
            .filter(|&ms| ms <= MAX_MS)
            .ok_or_else(too_long)?;
    }
    Ok(millis)
}

/// The value of ASCII digits, `None` on overflow.
fn decimal(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The error for a character that cannot start or continue a part at byte `at`.
fn unexpected(input: &str, at: usize) -> String {
    let Some(c) = input[at..].chars().next() else {
        return HINT.to_string();
    };
    if c.is_whitespace() {
        return "no spaces allowed: write 1m30s, not 1m 30s".to_string();
    }
    if at == 0 && c == '-' {
        return "a duration cannot be negative".to_string();
    }
    format!(
        "unexpected '{}'; {HINT}",
        text::escape(c.to_string().as_bytes())
    )
}

/// `d` in the units `parse` accepts, largest first: `1h30m`, `1m30s`, `1.5s`, `500ms`,
/// `0s`. Whole milliseconds only (anything finer is dropped); `parse(&format(d)) == Ok(d)`
/// for every whole-millisecond `d` up to 24h.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))] // lib.rs: internals
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    let (hours, ms) = (ms / 3_600_000, ms % 3_600_000);
    let (mins, ms) = (ms / 60_000, ms % 60_000);
    let (secs, ms) = (ms / 1000, ms % 1000);
    let mut out = String::new();
    // Writing to a String cannot fail.
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if mins > 0 {
        let _ = write!(out, "{mins}m");
    }
    let _ = match (secs, ms) {
        (0, 0) if out.is_empty() => write!(out, "0s"),
        (0, 0) => Ok(()),
        (0, ms) => write!(out, "{ms}ms"),
        (secs, 0) => write!(out, "{secs}s"),
        (secs, ms) => {
            let fraction = format!("{ms:03}");
            write!(out, "{secs}.{}s", fraction.trim_end_matches('0'))
        }
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Result<Duration, String> {
        Ok(Duration::from_millis(n))
    }

    /// `parse` with the message as a plain string, for comparing.
    fn parse(input: &str) -> Result<Duration, String> {
        super::parse(input).map_err(|e| e.0)
    }

    #[test]
    fn parses_the_documented_units() {
        assert_eq!(parse("500ms"), ms(500));
        assert_eq!(parse("3s"), ms(3000));
        assert_eq!(parse("1m"), ms(60_000));
        assert_eq!(parse("2h"), ms(7_200_000));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse("24h"), Ok(MAX));
        assert_eq!(parse("90s"), ms(90_000));
        assert_eq!(parse("007s"), ms(7000));
    }

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse("1m30s"), ms(90_000));
        assert_eq!(parse("1h2m3s"), ms(3_723_000));
        assert_eq!(parse("1h2m3s4ms"), ms(3_723_004));
        assert_eq!(parse("1s500ms"), ms(1500));
        assert_eq!(parse("1h30s"), ms(3_630_000));
        assert_eq!(parse("1m90s"), ms(150_000));
        assert_eq!(parse("23h60m"), Ok(MAX));
    }

    #[test]
    fn parses_fractions() {
        assert_eq!(parse("1.5s"), ms(1500));
        assert_eq!(parse("0.25m"), ms(15_000));
        assert_eq!(parse("1.5h"), ms(5_400_000));
        assert_eq!(parse("1m30.5s"), ms(90_500));
        assert_eq!(parse("0.001s"), ms(1));
        assert_eq!(parse("1.500s"), ms(1500));
        assert_eq!(parse("2.0ms"), ms(2));
        assert_eq!(
            parse("0.0000001h"),
            Err("invalid duration '0.0000001h': finer than a millisecond".into())
        );
        assert_eq!(
            parse("0.0000005h"),
            Err("invalid duration '0.0000005h': finer than a millisecond".into())
        );
        // 1/3,600,000 of an hour is not representable in decimal, but 0.00001h is 36 ms.
        assert_eq!(parse("0.00001h"), ms(36));
        assert_eq!(parse("1.000000000000000000000000000000s"), ms(1000));
    }

    #[test]
    fn units_in_any_case() {
        assert_eq!(parse("5S"), ms(5000));
        assert_eq!(parse("500MS"), ms(500));
        assert_eq!(parse("500Ms"), ms(500));
        assert_eq!(parse("500mS"), ms(500));
        // M is minutes, not months: m and ms differ by length, never by case.
        assert_eq!(parse("1M"), ms(60_000));
        assert_eq!(parse("1H30M"), ms(5_400_000));
        assert_eq!(parse("1M30S"), ms(90_000));
    }

    #[test]
    fn rejects_everything_else_without_panicking() {
        for bad in [
            "",
            "5",
            "1m30",
            "s",
            "ms",
            "-1s",
            "+1s",
            ".5s",
            "1.s",
            "1..5s",
            "1.5.5s",
            "5 s",
            " 5s",
            "5s ",
            "1m 30s",
            "5sec",
            "5secs",
            "1d",
            "1hr",
            "1e3ms",
            "0x10s",
            "25h",
            "24h1ms",
            "23h61m",
            "1s1m",
            "1s1s",
            "30s1m",
            "1ms1s",
            "1.5m30s",
            "1.0005s",
            "0.5ms",
            "1.5ms",
            "99999999999999999999s",
            "18446744073709551615m",
            "18446744073709551615ms",
            "18446744073709551616ms",
            "5124095576030431h",
            "٣s",
            "５s",
            "1s\n",
            "1s\x1b[31m",
            "1µs",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.starts_with("invalid duration '"), "{bad}: {err}");
            assert!(!err.chars().any(char::is_control), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn errors_say_why() {
        let why = |s: &str| parse(s).unwrap_err();
        assert_eq!(
            why("1m30"),
            "invalid duration '1m30': missing unit after 30; \
             expected a duration like 500ms, 3s, 1.5s or 1m30s"
        );
        assert_eq!(
            why("5"),
            "invalid duration '5': missing unit after 5; \
             expected a duration like 500ms, 3s, 1.5s or 1m30s"
        );
        assert_eq!(
            why("1d"),
            "invalid duration '1d': unknown unit 'd'; the units are h, m, s and ms"
        );
        assert_eq!(
            why("5sec"),
            "invalid duration '5sec': unknown unit 'sec'; the units are h, m, s and ms"
        );
        assert_eq!(why("25h"), "invalid duration '25h': at most 24h");
        assert_eq!(
            why("1s1m"),
            "invalid duration '1s1m': 'm' after 's': units go from largest to smallest, as in 1h2m3s"
        );
        assert_eq!(why("1s1S"), "invalid duration '1s1S': unit 's' given twice");
        assert_eq!(
            why("1.5m30s"),
            "invalid duration '1.5m30s': only the last part may have a fraction, as in 1m30.5s"
        );
        assert_eq!(
            why("1.0005s"),
            "invalid duration '1.0005s': finer than a millisecond"
        );
        assert_eq!(
            why("1m 30s"),
            "invalid duration '1m 30s': no spaces allowed: write 1m30s, not 1m 30s"
        );
        assert_eq!(
            why("-1s"),
            "invalid duration '-1s': a duration cannot be negative"
        );
        assert_eq!(
            why("1s\n"),
            "invalid duration '1s\\n': no spaces allowed: write 1m30s, not 1m 30s"
        );
        assert_eq!(
            why("1s\x1b"),
            "invalid duration '1s\\e': unexpected '\\e'; \
             expected a duration like 500ms, 3s, 1.5s or 1m30s"
        );
    }

    #[test]
    fn formats_in_the_largest_units() {
        let f = |n: u64| format(Duration::from_millis(n));
        assert_eq!(f(0), "0s");
        assert_eq!(f(1), "1ms");
        assert_eq!(f(500), "500ms");
        assert_eq!(f(1000), "1s");
        assert_eq!(f(1500), "1.5s");
        assert_eq!(f(1250), "1.25s");
        assert_eq!(f(1001), "1.001s");
        assert_eq!(f(60_000), "1m");
        assert_eq!(f(60_500), "1m500ms");
        assert_eq!(f(90_000), "1m30s");
        assert_eq!(f(91_500), "1m31.5s");
        assert_eq!(f(3_600_000), "1h");
        assert_eq!(f(3_600_001), "1h1ms");
        assert_eq!(f(3_723_000), "1h2m3s");
        assert_eq!(format(MAX), "24h");
        assert_eq!(format(Duration::from_micros(1500)), "1ms");
    }

    #[test]
    fn formats_round_trip() {
        for d in [
            "500ms",
            "3s",
            "1m",
            "1m30s",
            "1.5s",
            "0s",
            "1h2m3.004s",
            "24h",
        ] {
            assert_eq!(format(parse(d).unwrap()), d);
        }
        for n in (0..=MAX_MS).step_by(997).chain([MAX_MS, MAX_MS - 1]) {
            let d = Duration::from_millis(n);
            assert_eq!(parse(&format(d)), Ok(d), "{n}");
        }
    }
}
