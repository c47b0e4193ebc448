//! When to try again: the retry schedule, jittered so that endpoints that
//! failed together (an outage) are not hit again all in the same second.

use crate::server::duration::parse_duration;
use rand::Rng;
use std::time::Duration;

/// The README's schedule ("Outcome webhooks"): about 24 hours in all.
pub const DEFAULT_SCHEDULE: &str = "5s,30s,2m,10m,30m,1h,2h,4h,8h,8h";

/// Each delay is spread by up to this fraction either way.
const JITTER: f64 = 0.2;

/// `Retry-After` is honoured within these bounds, so an endpoint can neither
/// make us hammer it nor park a message for days.
const RETRY_AFTER_MIN: Duration = Duration::from_secs(1);
const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

/// Delays between attempts: after the first attempt fails, wait `delays[0]`;
/// when all are used up, the message has failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    /// Parses `5s,30s,2m,...`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let delays = raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { delays })
    }

    /// The jittered delay before the next attempt, after `attempts_made`
    /// failed attempts; None when no retry is left.
    pub fn next_delay(&self, attempts_made: i64) -> Option<Duration> {
        let index = usize::try_from(attempts_made.checked_sub(1)?).ok()?;
        let base = *self.delays.get(index)?;
        let factor = rand::thread_rng().gen_range(1.0 - JITTER..=1.0 + JITTER);
        Some(base.mul_f64(factor))
    }

    pub fn total(&self) -> Duration {
        self.delays.iter().sum()
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::parse(DEFAULT_SCHEDULE).expect("the default schedule parses")
    }
}

/// The delay a `Retry-After` header asks for (seconds, or an HTTP date),
/// clamped to sane bounds.
pub fn retry_after(header: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let header = header.trim();
    let asked = match header.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(header).ok()?;
            (at.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(asked.clamp(RETRY_AFTER_MIN, RETRY_AFTER_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spans_about_a_day() {
        let schedule = RetrySchedule::default();
        let total = schedule.total().as_secs();
        assert!((23 * 3600..=25 * 3600).contains(&total), "{total}");
        assert_eq!(schedule.next_delay(0), None);
        assert_eq!(schedule.next_delay(11), None);
    }

    #[test]
    fn delays_are_jittered_within_twenty_percent() {
        let schedule = RetrySchedule::parse("10s, 1m").unwrap();
        for _ in 0..200 {
            let first = schedule.next_delay(1).unwrap().as_millis();
            assert!((8_000..=12_000).contains(&first), "{first}");
            let second = schedule.next_delay(2).unwrap().as_millis();
            assert!((48_000..=72_000).contains(&second), "{second}");
        }
        assert_eq!(schedule.next_delay(3), None);
        assert!(RetrySchedule::parse("5s,soon").is_err());
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let now = chrono::Utc::now();
        assert_eq!(retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("0", now), Some(RETRY_AFTER_MIN));
        assert_eq!(retry_after("999999", now), Some(RETRY_AFTER_MAX));
        let later = (now + chrono::Duration::seconds(120)).to_rfc2822();
        let delay = retry_after(&later, now).unwrap().as_secs();
        assert!((119..=120).contains(&delay), "{delay}");
        assert_eq!(retry_after("whenever", now), None);
    }
}
