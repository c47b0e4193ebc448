//! How long things take, in words a person reads at a glance.

use chrono::{DateTime, Utc};

/// "just now", "45 s", "4 min", "2 h 5 min", "3 d 4 h".
pub fn humanize(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..=4 => "just now".to_owned(),
        5..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        3600..=86_399 => match (secs % 3600) / 60 {
            0 => format!("{} h", secs / 3600),
            min => format!("{} h {min} min", secs / 3600),
        },
        _ => match (secs % 86_400) / 3600 {
            0 => format!("{} d", secs / 86_400),
            hours => format!("{} d {hours} h", secs / 86_400),
        },
    }
}

/// A measured duration, with the precision a figure deserves: "0.4 s",
/// "4.2 s", "45 s", "4.5 min", "12 min", "2.3 h", "14 h", "2.1 d".
pub fn duration_label(ms: f64) -> String {
    let secs = ms.max(0.0) / 1000.0;
    let (value, unit) = match secs {
        s if s < 60.0 => (s, "s"),
        s if s < 3_600.0 => (s / 60.0, "min"),
        s if s < 86_400.0 => (s / 3_600.0, "h"),
        s => (s / 86_400.0, "d"),
    };
    if value < 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// "just now" or "4 min ago".
pub fn ago(ms: i64) -> String {
    match humanize(ms) {
        now if now == "just now" => now,
        span => format!("{span} ago"),
    }
}

/// How urgent an age looks: amber after 15 minutes, red after an hour, so a
/// backlog is visible at a glance.
pub fn age_class(ms: i64) -> &'static str {
    match ms / 60_000 {
        0..=14 => "age",
        15..=59 => "age age-amber",
        _ => "age age-red",
    }
}

/// A timestamp for tables and tooltips, in UTC so server and browser agree.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// [`stamp`] for Unix milliseconds, with seconds: webhook attempts come
/// seconds apart.
pub fn stamp_ms(ms: i64) -> String {
    chrono::TimeZone::timestamp_millis_opt(&Utc, ms)
        .single()
        .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_measured_durations() {
        assert_eq!(duration_label(400.0), "0.4 s");
        assert_eq!(duration_label(4_200.0), "4.2 s");
        assert_eq!(duration_label(45_000.0), "45 s");
        assert_eq!(duration_label(270_000.0), "4.5 min");
        assert_eq!(duration_label(8_280_000.0), "2.3 h");
        assert_eq!(duration_label(181_440_000.0), "2.1 d");
    }

    #[test]
    fn humanizes_durations() {
        assert_eq!(humanize(-5), "just now");
        assert_eq!(humanize(3_000), "just now");
        assert_eq!(humanize(45_000), "45 s");
        assert_eq!(humanize(4 * 60_000 + 10_000), "4 min");
        assert_eq!(humanize(2 * 3_600_000), "2 h");
        assert_eq!(humanize(2 * 3_600_000 + 5 * 60_000), "2 h 5 min");
        assert_eq!(humanize(3 * 86_400_000 + 4 * 3_600_000), "3 d 4 h");
        assert_eq!(ago(1_000), "just now");
        assert_eq!(ago(90_000), "1 min ago");
    }

    #[test]
    fn ages_turn_amber_then_red() {
        assert_eq!(age_class(60_000), "age");
        assert_eq!(age_class(20 * 60_000), "age age-amber");
        assert_eq!(age_class(2 * 3_600_000), "age age-red");
    }
}
