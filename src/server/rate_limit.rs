//! How fast one caller may do something: a token bucket per caller (an API
//! key for creates). A burst is spent at once; then tokens come back at the
//! steady rate. In memory, per instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A steady rate and the burst allowed on top of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    /// Parses `50/s`, `600/m` or `3600/h`.
    pub fn parse(raw: &str) -> Result<f64, String> {
        let invalid = || format!("{raw:?} is not a rate like 50/s, 600/m or 3600/h");
        let (count, unit) = raw.trim().split_once('/').ok_or_else(invalid)?;
        let count: f64 = count.trim().parse().map_err(|_| invalid())?;
        let seconds = match unit.trim() {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        if !(count.is_finite() && count > 0.0) {
            return Err(invalid());
        }
        Ok(count / seconds)
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `caller`'s bucket; when it is empty, how many
    /// seconds until one is back.
    pub fn take(&self, caller: &str) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let now = Instant::now();
        let bucket = buckets.entry(caller.to_owned()).or_insert(Bucket {
            tokens: self.rate.burst,
            refilled: now,
        });
        let earned = now.duration_since(bucket.refilled).as_secs_f64() * self.rate.per_second;
        bucket.tokens = (bucket.tokens + earned).min(self.rate.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.rate.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_per_unit() {
        assert_eq!(Rate::parse("50/s"), Ok(50.0));
        assert_eq!(Rate::parse("600/m"), Ok(10.0));
        assert_eq!(Rate::parse("3600/h"), Ok(1.0));
        for bad in ["50", "x/s", "0/s", "-1/s", "5/d"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_is_spent_then_each_caller_waits_alone() {
        let limiter = RateLimiter::new(Rate {
            per_second: 1.0,
            burst: 3.0,
        });
        for _ in 0..3 {
            assert_eq!(limiter.take("key_a"), Ok(()));
        }
        assert_eq!(limiter.take("key_a"), Err(1));
        assert_eq!(limiter.take("key_b"), Ok(()));
    }
}
