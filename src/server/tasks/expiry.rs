//! Expires due approvals. Sleeps until the next deadline, but never longer
//! than half a second, so an approval created with a short `expires_in` in
//! the meantime is expired within about a second of its deadline.

use crate::server::service::Service;
use std::sync::Arc;
use std::time::Duration;

const MAX_SLEEP: Duration = Duration::from_millis(500);

pub async fn run(service: Arc<Service>) {
    loop {
        if let Err(error) = service.expire_due().await {
            tracing::error!(%error, "expiring due approvals failed");
        }
        let sleep = match service.next_expiry().await {
            Ok(Some(deadline)) => {
                let until = deadline - service.now_ms();
                Duration::from_millis(until.clamp(0, MAX_SLEEP.as_millis() as i64) as u64)
            }
            Ok(None) => MAX_SLEEP,
            Err(error) => {
                tracing::error!(%error, "reading the next deadline failed");
                MAX_SLEEP
            }
        };
        tokio::time::sleep(sleep.max(Duration::from_millis(20))).await;
    }
}
