//! Time's side: approvals whose deadline has passed.

use super::error::ServiceResult;
use super::Service;

/// Approvals expired per transaction.
const EXPIRY_BATCH: i64 = 256;

impl Service {
    /// Expires every due approval; returns how many. A burst is expired
    /// in bounded transactions, each committed before the next: its
    /// webhooks start going out, and its waits answer, while the rest of
    /// the burst is still being expired.
    #[tracing::instrument(name = "expire due", level = "debug", skip_all)]
    pub async fn expire_due(&self) -> ServiceResult<usize> {
        let now = self.now_ms();
        let mut expired = 0;
        loop {
            let batch = self.store.expire_due(now, EXPIRY_BATCH).await?.len();
            expired += batch;
            if (batch as i64) < EXPIRY_BATCH {
                return Ok(expired);
            }
        }
    }

    pub async fn next_expiry(&self) -> ServiceResult<Option<i64>> {
        Ok(self.store.next_expiry().await?)
    }
}
