//! The one clock. The service owns it and passes `now` down to the store,
//! which never reads the time itself; background tasks wait on it too, so
//! tests move a `ManualClock` past a deadline or a retry instead of
//! sleeping until it passes.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::watch;

/// A wait on a clock, owned so it can sit in a `select!`.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The time in Unix milliseconds, as every stored time is kept.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;

    /// Resolves once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that stands still until it is moved; what sleeps on it wakes
/// when a move takes it past their deadline.
pub struct ManualClock {
    now_ms: watch::Sender<i64>,
}

impl ManualClock {
    pub fn starting_at(now_ms: i64) -> Self {
        Self {
            now_ms: watch::Sender::new(now_ms),
        }
    }

    /// Starts at the machine's time, so times shown to people and sent to
    /// webhook receivers look ordinary.
    pub fn starting_now() -> Self {
        Self::starting_at(SystemClock.now_ms())
    }

    pub fn advance(&self, by: Duration) {
        self.now_ms.send_modify(|now| *now += by.as_millis() as i64);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        *self.now_ms.borrow()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let deadline = self.now_ms() + duration.as_millis() as i64;
        let mut now = self.now_ms.subscribe();
        Box::pin(async move {
            // Only an error if the clock is gone, and then no move will come.
            if now.wait_for(|now| *now >= deadline).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_passes_its_deadline() {
        let clock = ManualClock::starting_at(1_000);
        let mut sleep = clock.sleep(Duration::from_millis(500));
        clock.advance(Duration::from_millis(499));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(sleep.as_mut().poll(&mut context).is_pending());
        clock.advance(Duration::from_millis(1));
        sleep.await;
        assert_eq!(clock.now_ms(), 1_500);
    }
}
