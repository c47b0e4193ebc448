//! Slows password guessing, per account and per client address.
//!
//! An attempt is counted as a failure *before* its password is checked (a
//! reservation) and forgiven if it succeeds. Counting after the check would
//! let every request already in flight through: 200 parallel guesses would
//! all get a verdict. Kept in memory, per instance.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins per account before further attempts are refused.
pub const MAX_FAILURES_PER_ACCOUNT: u32 = 10;
/// The window over which failures count, and how long a lockout lasts.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failures within the current window, counted from its first one.
#[derive(Debug, Clone, Copy)]
struct Window {
    failures: u32,
    since: Instant,
}

impl Window {
    fn live(&self) -> bool {
        self.since.elapsed() < FAILURE_WINDOW
    }

    fn retry_after_secs(&self) -> u64 {
        FAILURE_WINDOW
            .saturating_sub(self.since.elapsed())
            .as_secs()
            .max(1)
    }
}

#[derive(Default)]
struct Counts {
    accounts: HashMap<String, Window>,
    addresses: HashMap<IpAddr, Window>,
}

/// Which limit refused an attempt, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    Account { retry_after_secs: u64 },
    Address { retry_after_secs: u64 },
}

impl Locked {
    pub fn retry_after_secs(self) -> u64 {
        match self {
            Locked::Account { retry_after_secs } | Locked::Address { retry_after_secs } => {
                retry_after_secs
            }
        }
    }
}

/// A sign-in counted as failed until it is settled otherwise. Dropping it
/// unsettled (the client went away mid-check) keeps it counted.
#[derive(Debug)]
#[must_use = "settle the attempt once its password has been checked"]
pub struct Attempt {
    email: String,
    address: Option<IpAddr>,
}

pub struct SigninThrottle {
    counts: Mutex<Counts>,
    max_per_address: u32,
}

impl SigninThrottle {
    pub fn new(max_per_address: u32) -> Self {
        Self {
            counts: Mutex::new(Counts::default()),
            max_per_address,
        }
    }

    /// Counts an attempt for `email` from `address` as a failure now, or
    /// refuses it when either is locked out.
    pub fn reserve(&self, email: &str, address: Option<IpAddr>) -> Result<Attempt, Locked> {
        let mut counts = self.counts.lock().expect("throttle lock");
        counts.accounts.retain(|_, window| window.live());
        counts.addresses.retain(|_, window| window.live());
        if let Some(window) = counts.accounts.get(email) {
            if window.failures >= MAX_FAILURES_PER_ACCOUNT {
                return Err(Locked::Account {
                    retry_after_secs: window.retry_after_secs(),
                });
            }
        }
        if let Some(window) = address.and_then(|ip| counts.addresses.get(&ip)) {
            if window.failures >= self.max_per_address {
                return Err(Locked::Address {
                    retry_after_secs: window.retry_after_secs(),
                });
            }
        }
        count(&mut counts.accounts, email.to_owned());
        if let Some(ip) = address {
            count(&mut counts.addresses, ip);
        }
        Ok(Attempt {
            email: email.to_owned(),
            address,
        })
    }

    /// The password was right: the account starts afresh, and the address
    /// is not charged for this attempt.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut counts = self.counts.lock().expect("throttle lock");
        counts.accounts.remove(&attempt.email);
        if let Some(ip) = attempt.address {
            uncount(&mut counts.addresses, &ip);
        }
    }

    /// The password was never checked (the server was busy): not a failure.
    pub fn not_checked(&self, attempt: Attempt) {
        let mut counts = self.counts.lock().expect("throttle lock");
        uncount(&mut counts.accounts, &attempt.email);
        if let Some(ip) = attempt.address {
            uncount(&mut counts.addresses, &ip);
        }
    }
}

fn count<K: Hash + Eq>(windows: &mut HashMap<K, Window>, key: K) {
    windows
        .entry(key)
        .or_insert(Window {
            failures: 0,
            since: Instant::now(),
        })
        .failures += 1;
}

fn uncount<K: Hash + Eq>(windows: &mut HashMap<K, Window>, key: &K) {
    if let Some(window) = windows.get_mut(key) {
        window.failures = window.failures.saturating_sub(1);
        if window.failures == 0 {
            windows.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn an_account_locks_after_ten_reservations_even_before_any_is_settled() {
        let throttle = SigninThrottle::new(1_000);
        let held: Vec<Attempt> = (0..MAX_FAILURES_PER_ACCOUNT)
            .map(|_| throttle.reserve("a@example.com", HOME).expect("allowed"))
            .collect();
        let locked = throttle.reserve("a@example.com", HOME).unwrap_err();
        assert!(matches!(locked, Locked::Account { retry_after_secs } if retry_after_secs > 800));
        assert!(throttle.reserve("b@example.com", HOME).is_ok());
        drop(held);
    }

    #[test]
    fn success_forgives_the_account_and_unchecked_attempts_do_not_count() {
        let throttle = SigninThrottle::new(1_000);
        for _ in 0..MAX_FAILURES_PER_ACCOUNT - 1 {
            let _failed = throttle.reserve("a@example.com", HOME).expect("allowed");
        }
        let ok = throttle.reserve("a@example.com", HOME).expect("allowed");
        throttle.succeeded(ok);
        for _ in 0..MAX_FAILURES_PER_ACCOUNT {
            let attempt = throttle.reserve("a@example.com", HOME).expect("allowed");
            throttle.not_checked(attempt);
        }
        assert!(throttle.reserve("a@example.com", HOME).is_ok());
    }

    #[test]
    fn an_address_locks_across_many_accounts() {
        let throttle = SigninThrottle::new(5);
        for n in 0..5 {
            let _failed = throttle
                .reserve(&format!("u{n}@example.com"), HOME)
                .expect("allowed");
        }
        assert!(matches!(
            throttle.reserve("fresh@example.com", HOME),
            Err(Locked::Address { .. })
        ));
        let elsewhere = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7)));
        assert!(throttle.reserve("fresh@example.com", elsewhere).is_ok());
    }
}
