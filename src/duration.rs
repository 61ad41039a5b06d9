//! Durations on the command line: `500ms`, `3s`, `1m`. Whole numbers with a unit, so that
//! `--timeout 5` (seconds? milliseconds?) is an error instead of a guess.

use std::time::Duration;

/// The longest timeout we accept; anything longer is almost certainly a typo.
const MAX: Duration = Duration::from_secs(24 * 60 * 60);

pub fn parse(text: &str) -> Result<Duration, String> {
    let hint = "expected a duration like 500ms, 3s or 1m";
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("invalid duration '{text}': missing unit; {hint}"))?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!("invalid duration '{text}': {hint}"));
    }
    let too_long = || format!("invalid duration '{text}': at most 24h");
    let n: u64 = digits.parse().map_err(|_| too_long())?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(too_long)?),
        "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(too_long)?),
        _ => {
            return Err(format!(
                "invalid duration '{text}': unknown unit '{unit}'; {hint}"
            ));
        }
    };
    if duration > MAX {
        return Err(too_long());
    }
    Ok(duration)
}

/// The shortest way to write `d` in the units `parse` accepts.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_units() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("24h"), Ok(MAX));
    }

    #[test]
    fn rejects_everything_else_without_panicking() {
        for bad in [
            "",
            "5",
            "s",
            "ms",
            "-1s",
            "1.5s",
            "5 s",
            "5sec",
            "1d",
            "5S",
            "25h",
            "99999999999999999999s",
            "18446744073709551615m",
            "1e3ms",
            "٣s",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.starts_with("invalid duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for d in ["500ms", "3s", "1m", "90s", "1500ms", "0s"] {
            assert_eq!(format(parse(d).unwrap()), d);
        }
    }
}
