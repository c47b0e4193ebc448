//! Work that runs beside the requests for the life of the server: expiring
//! approvals, delivering webhooks, watching for revoked keys and ended
//! sessions. Each task calls the service, never the store.

pub mod expiry;
pub mod revocation_watch;
pub mod webhook_delivery;

use crate::server::domain::clock::Sleep;
use crate::server::service::Service;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A pause, in real time, before looking again at something already due.
const BREATH: Duration = Duration::from_millis(10);

/// Waits `wait_ms` on the service's clock for the next due time. Something
/// already due (zero or less) gets a short breath in real time instead:
/// a pass that leaves it due cannot spin, and a clock moved between the
/// pass and this wait is never waited on again.
fn until_due(service: &Service, wait_ms: i64, at_most: Duration) -> Sleep {
    if wait_ms <= 0 {
        return Box::pin(tokio::time::sleep(BREATH));
    }
    let wait = Duration::from_millis(wait_ms as u64).min(at_most);
    service.sleep(wait)
}

/// How long `join` waits for the tasks once they are told to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The server's background tasks, started and joined in one place. Each
/// has a name for the log; all stop when `stopping` is cancelled.
pub struct BackgroundTasks {
    stopping: CancellationToken,
    running: Vec<(&'static str, JoinHandle<()>)>,
}

impl BackgroundTasks {
    pub fn new(stopping: CancellationToken) -> Self {
        Self {
            stopping,
            running: Vec::new(),
        }
    }

    /// Runs a loop that has nothing to finish: it is dropped when stopping.
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let stopping = self.stopping.clone();
        let handle = tokio::spawn(async move {
            tokio::select! {
                _ = stopping.cancelled() => {}
                _ = task => tracing::error!(task = name, "background task ended on its own"),
            }
        });
        self.running.push((name, handle));
    }

    /// Runs a task that watches the token itself and finishes its work
    /// before it ends (the webhook worker logs attempts under way).
    pub fn spawn_draining(
        &mut self,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        self.running.push((name, tokio::spawn(task)));
    }

    /// Tells every task to stop and waits for each, a while at most.
    pub async fn join(self) {
        self.stopping.cancel();
        for (name, handle) in self.running {
            match tokio::time::timeout(STOP_GRACE, handle).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(task = name, %error, "background task failed"),
                Err(_) => tracing::warn!(task = name, "background task did not stop in time"),
            }
        }
    }
}
