//! Durations as people write them in flags and settings: `90s`, `24h`.

use std::time::Duration;

/// Parses durations such as `500ms`, `90s`, `30m`, `24h`, `7d`, or plain
/// seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 90s, 30m, 24h or 7d"))?;
    let millis = match unit.trim() {
        "ms" => value,
        "" | "s" => value * 1_000,
        "m" => value * 60_000,
        "h" => value * 3_600_000,
        "d" => value * 86_400_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {raw:?}: use ms, s, m, h or d"
            ))
        }
    };
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5w").is_err());
    }
}
