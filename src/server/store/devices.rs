//! Browsers that signed in to an account before (OWASP's device cookies):
//! the hash of each one's device token and whose account it was given for,
//! the latest few per person.

use super::StoreResult;
use async_trait::async_trait;

/// How many browsers are remembered per person; older ones are forgotten
/// (they count as unknown devices again).
pub const DEVICES_PER_PERSON: i64 = 20;

#[async_trait]
pub trait DeviceStore {
    /// Remembers a browser that signed in to this person's account.
    async fn remember_device(&self, token_hash: &str, user_id: &str, now: i64) -> StoreResult<()>;
    /// The email of the account this device token was given for, if any.
    async fn device_account(&self, token_hash: &str) -> StoreResult<Option<String>>;
}

macro_rules! device_sql {
    ($store:ty, $db:ty, $row:ty, $conn:ty) => {
        #[async_trait]
        impl DeviceStore for $store {
            async fn remember_device(
                &self,
                token_hash: &str,
                user_id: &str,
                now: i64,
            ) -> StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                sqlx::query(
                    "INSERT INTO sign_in_devices (token_hash, user_id, created_at)
                     VALUES ($1, $2, $3) ON CONFLICT (token_hash) DO NOTHING",
                )
                .bind(token_hash)
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM sign_in_devices WHERE user_id = $1 AND token_hash NOT IN
                         (SELECT token_hash FROM sign_in_devices WHERE user_id = $1
                          ORDER BY created_at DESC, token_hash LIMIT $2)",
                )
                .bind(user_id)
                .bind(crate::server::store::devices::DEVICES_PER_PERSON)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn device_account(&self, token_hash: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT u.email FROM sign_in_devices d JOIN users u ON u.id = d.user_id
                     WHERE d.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.reader)
                .await?)
            }
        }
    };
}

pub(crate) use device_sql;
