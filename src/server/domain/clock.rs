//! The one clock. The service owns it and passes `now` down to the store,
//! which never reads the time itself; tests drive a `ManualClock` instead of
//! sleeping until a deadline passes.

use std::sync::atomic::{AtomicI64, Ordering};

/// The time in Unix milliseconds, as every stored time is kept.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that stands still until it is moved.
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn starting_at(now_ms: i64) -> Self {
        Self {
            now_ms: AtomicI64::new(now_ms),
        }
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.now_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}
