//! Time's side: approvals whose deadline has passed.

use super::error::ServiceResult;
use super::Service;

impl Service {
    /// Expires every due approval; returns how many.
    #[tracing::instrument(name = "expire due", level = "debug", skip_all)]
    pub async fn expire_due(&self) -> ServiceResult<usize> {
        Ok(self.store.expire_due(self.now_ms()).await?.len())
    }

    pub async fn next_expiry(&self) -> ServiceResult<Option<i64>> {
        Ok(self.store.next_expiry().await?)
    }
}
