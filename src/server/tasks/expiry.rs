//! Expires due approvals. Sleeps on the service's clock until the next
//! deadline, but never longer than half a second, so an approval created
//! with a short `expires_in` in the meantime (here or on another instance)
//! is expired within about a second of its deadline.

use super::until_due;
use crate::server::service::Service;
use std::sync::Arc;
use std::time::Duration;

const MAX_SLEEP: Duration = Duration::from_millis(500);

pub async fn run(service: Arc<Service>) {
    loop {
        if let Err(error) = service.expire_due().await {
            tracing::error!(%error, "expiring due approvals failed");
        }
        let wait_ms = match service.next_expiry().await {
            Ok(Some(deadline)) => deadline - service.now_ms(),
            Ok(None) => MAX_SLEEP.as_millis() as i64,
            Err(error) => {
                tracing::error!(%error, "reading the next deadline failed");
                MAX_SLEEP.as_millis() as i64
            }
        };
        until_due(&service, wait_ms, MAX_SLEEP).await;
    }
}
