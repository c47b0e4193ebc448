//! The outbox as the delivery worker sees it: claiming due messages,
//! logging each attempt, and knowing when the next one is due.

use super::{writer_stopped, Service, ServiceResult};
use crate::server::domain::{ids, AttemptRecord, ClaimedMessage};
use std::time::Duration;

/// A batch of messages claimed for one lease.
pub struct Claim {
    /// Names the claim in each attempt's record: an attempt under a claim
    /// that lapsed changes nothing but the log.
    pub token: String,
    pub messages: Vec<ClaimedMessage>,
}

impl Service {
    /// Claims up to `limit` due messages for `lease`, skipping the endpoints
    /// in `busy_endpoints` and rows other instances hold.
    pub async fn claim_webhooks(
        &self,
        lease: Duration,
        limit: i64,
        busy_endpoints: &[String],
    ) -> ServiceResult<Claim> {
        let now = self.now_ms();
        let token = ids::new_session_token();
        let messages = self
            .store
            .claim_webhooks(
                now,
                now + lease.as_millis() as i64,
                &token,
                limit,
                busy_endpoints,
            )
            .await?;
        Ok(Claim { token, messages })
    }

    /// Logs an attempt and moves its message and endpoint on, atomically;
    /// concurrent attempts share one commit (group commit).
    pub async fn record_webhook_attempt(&self, attempt: AttemptRecord) -> ServiceResult<()> {
        self.attempt_batches
            .submit(attempt)
            .await
            .map_err(writer_stopped)??;
        Ok(())
    }

    /// When the next pending message is due (None when nothing waits).
    pub async fn next_webhook_due(&self) -> ServiceResult<Option<i64>> {
        Ok(self.store.next_webhook_due().await?)
    }

    /// At start: releases claims a previous run of this process left.
    pub async fn recover_webhook_claims(&self) -> ServiceResult<()> {
        Ok(self.store.recover_webhook_claims().await?)
    }
}
